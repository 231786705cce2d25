"""Raw reader rows -> validated, normalised, deduplicated seeds, a quarantine and per-source accounting.

Everything is columnar: text cleaning, validation (one quarantine row per rejected row,
naming the first failing field), answer resolution, language, duplicates. The only
per-row Python is the seed_id digest, because Polars' own hash is not stable across
versions and ids must survive upgrades.

Every input row ends in exactly one of: seeds, quarantine, duplicates, so per source
`rows_in == seeds + quarantined + duplicates` (the `accounting` frame; the asset checks it).
A file that could not be read at all is one quarantined row in. Control characters removed
from a row's text are not silent either: `control_chars_removed` counts those rows per source.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from linkqa_pipelines.core.contracts import QUARANTINE_SCHEMA, SEED_SCHEMA, conform, empty_frame
from linkqa_pipelines.core.language import detect_language
from linkqa_pipelines.core.seeds.raw import RAW_PREVIEW_CHARS, RAW_SCHEMA

ACCOUNTING_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),
    "rows_in": pl.Int64(),
    "seeds": pl.Int64(),
    "quarantined": pl.Int64(),
    "duplicates": pl.Int64(),
    "control_chars_removed": pl.Int64(),  # rows (any destination) whose text lost control characters
}
MAX_CHOICES = 26  # answers are letters A-Z
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
# Whitespace that is not already a single plain space; matching only these keeps regex work
# proportional to the untidy spots rather than to every space.
_ODD_SPACE = r"\s{2,}|[^\S ]"
_ODD_LINE_SPACE = r"[^\S\n]{2,}|[^\S \n]"


@dataclass(frozen=True)
class NormalisedSeeds:
    """The three destinations of input rows, and the per-source counts that prove none was lost."""

    seeds: pl.DataFrame  # SEED_SCHEMA, input order, unique seed_id
    quarantine: pl.DataFrame  # QUARANTINE_SCHEMA: read errors + rejected rows
    duplicates: pl.DataFrame  # source, duplicates: exact duplicates dropped per source
    accounting: pl.DataFrame  # ACCOUNTING_SCHEMA, one row per source


def clean_line(text: pl.Expr) -> pl.Expr:
    """NFC, every whitespace run (newlines too) -> one space, stripped: for answers, choices, subjects."""
    return text.str.normalize("NFC").str.replace_all(_CONTROL, "").str.replace_all(_ODD_SPACE, " ").str.strip_chars()


def clean_text(text: pl.Expr) -> pl.Expr:
    """NFC and tidy whitespace but keep line structure: for questions and explanations, where
    newlines separate statements, options (I. II. III.) or code lines. Runs of other whitespace
    become one space, lines are stripped, at most one blank line survives."""
    return (
        text.str.normalize("NFC")
        .str.replace_all(r"\r\n?", "\n")
        .str.replace_all(_CONTROL, "")
        .str.replace_all(_ODD_LINE_SPACE, " ")
        .str.replace_all(r" ?\n ?", "\n")
        .str.replace_all(r"\n{3,}", "\n\n")
        .str.strip_chars()
    )


def _letter(index: pl.Expr) -> pl.Expr:
    return pl.lit(_LETTERS).str.slice(index, 1)


def _too_long(field: str, chars: pl.Expr, limit: int) -> tuple[str, pl.Expr, pl.Expr]:
    return field, chars > limit, pl.format(f"{field} has {{}} characters, over the limit of {limit}", chars)


def _failure(max_chars: int) -> pl.Expr:
    """Struct(field, reason) of the first failing check, null for a valid row (expects cleaned columns)."""
    question, answer, choices = pl.col("question"), pl.col("answer"), pl.col("choices")
    n_choices = choices.list.len()
    blank = pl.element().is_null() | (pl.element() == "")
    first_blank = choices.list.eval(pl.int_range(pl.len()).filter(blank).first()).list.first()
    longest = choices.list.eval(pl.element().str.len_chars()).list.max()
    longest_at = choices.list.eval(pl.element().str.len_chars().arg_max()).list.first()
    checks: list[tuple[str, pl.Expr, pl.Expr]] = [
        ("question", question.is_null(), pl.lit("missing field 'question'")),
        ("question", question == "", pl.lit("empty question")),
        _too_long("question", question.str.len_chars(), max_chars),
        ("choices", n_choices < 2, pl.format("fewer than two choices ({})", n_choices)),
        ("choices", n_choices > MAX_CHOICES, pl.format(f"more than {MAX_CHOICES} choices ({{}})", n_choices)),
        ("choices", first_blank.is_not_null(), pl.format("choice {} is empty", _letter(first_blank))),
        (
            "choices",
            longest > max_chars,
            pl.format(f"choice {{}} has {{}} characters, over the limit of {max_chars}", _letter(longest_at), longest),
        ),
        ("answer", answer.is_null(), pl.lit("missing field 'answer'")),
        ("answer", answer == "", pl.lit("empty answer")),
        _too_long("answer", answer.str.len_chars(), max_chars),
        (
            "answer",
            choices.is_not_null() & pl.col("answer_index").is_null(),
            pl.format(
                "answer '{}' is neither a letter among the {} choices (A-{}) nor the text of a choice",
                answer.str.slice(0, 80),
                n_choices,
                _letter(n_choices - 1),
            ),
        ),
        _too_long("explanation", pl.col("explanation").str.len_chars(), max_chars),
        (
            "ref_difficulty",
            ~pl.col("ref_difficulty").is_between(1, 5),
            pl.format("difficulty {} is outside 1-5", pl.col("ref_difficulty")),
        ),
    ]
    chain = pl.when(checks[0][1]).then(pl.struct(field=pl.lit(checks[0][0]), reason=checks[0][2]))
    for field, failing, reason in checks[1:]:
        chain = chain.when(failing).then(pl.struct(field=pl.lit(field), reason=reason))
    return chain.otherwise(None)


def _answer_index() -> pl.Expr:
    """0-based index of the multiple-choice answer: a letter (`B`, `(b)`, `B.`) within range, else
    the choice whose text equals the answer exactly; null when neither."""
    choices, answer = pl.col("choices"), pl.col("answer")
    letter = answer.str.extract(r"^\(?([A-Za-z])[).:]?$", 1).str.to_uppercase()
    by_letter = letter.replace_strict(list(_LETTERS), list(range(len(_LETTERS))), default=None, return_dtype=pl.Int64)
    by_text = (
        pl.concat_list(answer, choices)
        .list.eval(pl.int_range(pl.len() - 1).filter(pl.element().slice(1) == pl.element().first()).first())
        .list.first()
    )
    return pl.when(by_letter < choices.list.len()).then(by_letter).otherwise(by_text)


def _seed_ids(frame: pl.DataFrame) -> pl.Series:
    """sha1(file name, question, choices)[:16]; the file name, not the path, so moving a folder keeps ids."""
    keys = frame.select(
        pl.concat_str(
            pl.col("source").str.extract(r"([^/\\]+)$", 1),
            pl.col("question"),
            pl.col("choices").list.join("\x1e").fill_null(""),
            separator="\x1f",
        )
    ).to_series()
    return pl.Series("seed_id", [hashlib.sha1(k.encode()).hexdigest()[:16] for k in keys], dtype=pl.String)


def _has_control() -> pl.Expr:
    """True for a raw row whose text holds a control character that cleaning removes (NUL, ESC, ...)."""
    columns = ("subject", "question", "answer", "explanation")
    texts = [pl.col(c).str.contains(_CONTROL).fill_null(False) for c in columns]
    in_choices = pl.col("choices").list.eval(pl.element().str.contains(_CONTROL).fill_null(False)).list.any()
    return pl.any_horizontal(*texts, in_choices.fill_null(False))


def _raw_preview() -> pl.Expr:
    columns = ["subject", "question", "choices", "answer", "explanation", "ref_difficulty"]
    return pl.struct(columns).struct.json_encode().str.slice(0, RAW_PREVIEW_CHARS).alias("raw")


def normalise_seeds(
    raw: pl.DataFrame,
    map_subjects: Callable[[pl.Series], pl.Series],
    *,
    max_field_chars: int = 20_000,
    read_errors: pl.DataFrame | None = None,
) -> NormalisedSeeds:
    """Normalise and validate reader rows (RAW_SCHEMA) of any number of sources.

    `map_subjects` maps a subject column to disciplines (the taxonomy's `map_subjects`).
    `read_errors` are the readers' unparseable rows; they join the quarantine and the counts.
    Exact duplicates (question + choices + answer after normalisation, across sources) keep
    the first occurrence in input order.
    """
    raw = empty_frame(RAW_SCHEMA) if raw.width == 0 else conform(raw, RAW_SCHEMA).select(list(RAW_SCHEMA))
    read_errors = (
        empty_frame(QUARANTINE_SCHEMA)
        if read_errors is None or read_errors.width == 0
        else conform(read_errors, QUARANTINE_SCHEMA).select(list(QUARANTINE_SCHEMA))
    )
    frame = (
        raw.with_row_index("_order")
        .with_columns(_control=_has_control())
        .with_columns(
            clean_text(pl.col("question")),
            clean_text(pl.col("explanation")),
            clean_line(pl.col("answer")),
            clean_line(pl.col("subject")),
            pl.col("choices").list.eval(clean_line(pl.element())),
        )
        .with_columns(answer_index=_answer_index())
        .with_columns(_failure=_failure(max_field_chars))
    )
    rejected = frame.filter(pl.col("_failure").is_not_null())
    valid = frame.filter(pl.col("_failure").is_null()).with_columns(
        answer=pl.when(pl.col("choices").is_not_null())
        .then(_letter(pl.col("answer_index")))
        .otherwise(pl.col("answer")),
    )
    valid = valid.with_columns(_seed_ids(valid))

    is_duplicate = ~pl.struct("question", "choices", "answer").is_first_distinct()
    duplicates = valid.filter(is_duplicate)
    unique = valid.filter(~is_duplicate)
    # Same file name, question and choices but another answer: the same seed_id would name two
    # seeds, so later ones are quarantined as conflicts rather than silently overwriting.
    first = pl.col("_order").min().over("seed_id")
    conflicts = unique.filter(pl.col("_order") != first).join(
        unique.filter(pl.col("_order") == first).select(
            "seed_id", first_source="source", first_row="source_row", first_answer="answer"
        ),
        on="seed_id",
    )
    seeds = unique.filter(pl.col("_order") == first)

    originals = raw.with_row_index("_order").select("_order", _raw_preview())
    quarantine = pl.concat(
        [
            read_errors,
            rejected.join(originals, on="_order").select(
                "source", "source_row", pl.col("_failure").struct.unnest(), "raw"
            ),
            conflicts.join(originals, on="_order").select(
                "source",
                "source_row",
                "raw",
                field=pl.lit("answer"),
                reason=pl.format(
                    "answer '{}' conflicts with {} row {} (answer '{}'): same file name, question and choices",
                    "answer",
                    "first_source",
                    "first_row",
                    "first_answer",
                ),
            ),
        ],
        how="diagonal_relaxed",
    ).sort("source", "source_row", maintain_order=True)

    subjects = seeds["subject"].unique(maintain_order=True)
    disciplines = pl.DataFrame({"subject": subjects, "discipline": map_subjects(subjects).cast(pl.String)})
    seeds = seeds.join(disciplines, on="subject", how="left", nulls_equal=True).sort("_order")
    seeds = seeds.with_columns(
        language=detect_language(
            seeds.select(
                pl.concat_str(pl.col("question"), pl.col("choices").list.join(" ").fill_null(""), separator=" ")
            ).to_series(),
            no_evidence=None,
        ),
        qa_type=pl.when(pl.col("choices").is_null()).then(pl.lit("free_form")).otherwise(pl.lit("multiple_choice")),
    ).with_columns(  # a bare formula (`8 + 8 / 2 =`) speaks its source's language
        pl.col("language").fill_null(pl.col("language").drop_nulls().mode().first().over("source")).fill_null("other")
    )
    seeds = conform(seeds, SEED_SCHEMA).select(list(SEED_SCHEMA))
    quarantine = conform(quarantine, QUARANTINE_SCHEMA).select(list(QUARANTINE_SCHEMA))
    accounting = _accounting(raw, read_errors, seeds, quarantine, duplicates, frame.filter(pl.col("_control")))
    return NormalisedSeeds(
        seeds=seeds,
        quarantine=quarantine,
        duplicates=accounting.select("source", "duplicates"),
        accounting=accounting,
    )


def _accounting(
    raw: pl.DataFrame,
    read_errors: pl.DataFrame,
    seeds: pl.DataFrame,
    quarantine: pl.DataFrame,
    duplicates: pl.DataFrame,
    controlled: pl.DataFrame,
) -> pl.DataFrame:
    """Per source: rows read (parsed + unparseable), where each ended up, and rows cleaned of control characters."""
    rows_in = (
        pl.concat([raw.select("source"), read_errors.select("source")])
        .group_by("source", maintain_order=True)
        .agg(rows_in=pl.len())
    )
    counts = [
        frame.group_by("source").agg(pl.len().alias(name))
        for frame, name in (
            (seeds, "seeds"),
            (quarantine, "quarantined"),
            (duplicates, "duplicates"),
            (controlled, "control_chars_removed"),
        )
    ]
    table = rows_in
    for count in counts:
        table = table.join(count, on="source", how="left")
    table = table.with_columns(pl.col("seeds", "quarantined", "duplicates", "control_chars_removed").fill_null(0))
    return conform(table, ACCOUNTING_SCHEMA).select(list(ACCOUNTING_SCHEMA))
