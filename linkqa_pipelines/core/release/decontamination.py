"""Benchmark decontamination: flag QA rows that share long n-grams with benchmark items.

The test is the one GPT-3 and most data reports use — any shared long n-gram counts as
overlap — with two tokenisations, because Chinese has no word boundaries:
- English (and other space-separated scripts): word 13-grams of the normalised text;
- Chinese (`core.language.detect_language` says zh): character 10-grams of the normalised text with
  spaces and punctuation removed. Ten Han characters carry about as much as 13 English
  words do in specificity, and punctuation edits do not hide a copy.
Benchmark items shorter than n tokens (many CMMLU questions) are indexed as one gram of
their whole length when they have at least `min_tokens` tokens, so a QA containing the whole
item is still caught; shorter ones are too generic to flag on and are counted in
`BenchmarkIndex.skipped`. Every QA text is checked with both tokenisations, so an English
item copied into a Chinese question is found too. Grams that occur in many benchmark items
(templates such as MMLU's moral-scenario preamble) are not indexed: they say nothing about
which item was copied, and an item is still caught by its own content.

Benchmark text = question + choices (newline separated), the same text `find_contaminated`
builds for a QA: a copied question is caught by its own n-grams, a copied item with its
options by those spanning question and options as well.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from linkqa_pipelines.core.language import detect_language
from linkqa_pipelines.core.release.ngrams import ShingleMode, ngram_hashes, token_arrays
from linkqa_pipelines.core.seeds import RAW_SCHEMA, iter_source_files, read_source
from linkqa_pipelines.core.text import WORD_TOKEN, normalize_expr, qa_text_expr

_MODE_SALT: dict[ShingleMode, int] = {"word": 0x5744, "char": 0x4348}
_ROW_BATCH = 20_000

CONTAMINATION_SCHEMA: dict[str, pl.DataType] = {
    "qa_id": pl.String(),
    "benchmark_id": pl.String(),
    "ngram_n": pl.Int32(),  # length of the shown gram (n, or a whole short item / question)
    "mode": pl.String(),  # word | char
    "overlap": pl.Int64(),  # distinct benchmark grams (of any length) found in the QA
    "benchmark_coverage": pl.Float64(),  # overlap / benchmark item's gram count
    "matched_ngram": pl.String(),  # one matched gram, as text, for inspection
}

BENCHMARK_SCHEMA: dict[str, pl.DataType] = {
    "benchmark_id": pl.String(),  # <benchmark>/<subject>/<1-based data row>
    "benchmark": pl.String(),  # mmlu | cmmlu | gsm8k | math | file name
    "subject": pl.String(),
    "source": pl.String(),
    "source_row": pl.Int64(),
    "question": pl.String(),
    "choices": pl.List(pl.String()),
    "text": pl.String(),  # question + choices, what the index is built on
}


def _salt(mode: ShingleMode, k: int) -> int:
    return (_MODE_SALT[mode] << 16) | k


def _mode_texts(texts: pl.Series, mode: ShingleMode) -> pl.Series:
    """Normalised text in the form each tokenisation reads (no spaces for characters)."""
    norm = texts.fill_null("").to_frame("t").select(normalize_expr(pl.col("t")))["t"]
    return norm.str.replace_all(" ", "", literal=True) if mode == "char" else norm


@dataclass(frozen=True)
class BenchmarkIndex:
    """Sorted gram hashes of benchmark items; `owners[i]` is the item of `hashes[i]`."""

    ids: tuple[str, ...]
    hashes: np.ndarray  # uint64, sorted
    owners: np.ndarray  # int64 index into ids
    gram_counts: np.ndarray  # int64 per item: grams indexed for it
    lengths: dict[ShingleMode, tuple[int, ...]]  # gram lengths present per tokenisation
    n: int
    n_zh: int
    min_tokens: int
    skipped: int  # items with no indexed gram (too short, or nothing but boilerplate)
    boilerplate: int  # distinct grams dropped for occurring in more than `max_items` items

    @classmethod
    def from_texts(
        cls,
        texts: Sequence[str] | pl.Series,
        ids: Sequence[str] | pl.Series | None = None,
        *,
        n: int = 13,
        n_zh: int = 10,
        min_tokens: int = 8,
        max_items: int = 10,
    ) -> BenchmarkIndex:
        """Index benchmark texts: word n-grams for non-Chinese items, char n_zh-grams for Chinese.

        An id may be given to several texts (an item's full text and its bare question):
        they index one item. Grams shared by more than `max_items` items are templates, not
        content (all 895 MMLU moral_scenarios items open with the same 30 words): matching
        them would tie a QA to every item of the template, so they are left out and counted
        in `boilerplate`.
        """
        series = pl.Series("text", list(texts) if not isinstance(texts, pl.Series) else texts, dtype=pl.String)
        text_ids = [str(i) for i in ids] if ids is not None else [str(i) for i in range(series.len())]
        if len(text_ids) != series.len():
            raise ValueError(f"BenchmarkIndex: {len(text_ids)} ids for {series.len()} texts")
        position: dict[str, int] = {}
        item_of_text = np.array([position.setdefault(i, len(position)) for i in text_ids], dtype=np.int64)
        id_list = tuple(position)
        if not min_tokens <= min(n, n_zh):
            raise ValueError(f"min_tokens ({min_tokens}) must not exceed n ({n}) or n_zh ({n_zh})")
        is_zh = (detect_language(series) == "zh").to_numpy()
        hash_parts: list[np.ndarray] = []
        owner_parts: list[np.ndarray] = []
        lengths: dict[ShingleMode, set[int]] = {"word": set(), "char": set()}
        plan: tuple[tuple[ShingleMode, int, np.ndarray], ...] = (
            ("word", n, np.flatnonzero(~is_zh)),
            ("char", n_zh, np.flatnonzero(is_zh)),
        )
        for mode, k, rows in plan:
            tokens, lens = token_arrays(_mode_texts(series.gather(rows), mode), mode)
            groups = [(k, lens >= k)] + [(m, lens == m) for m in range(min_tokens, k)]
            for gram_len, member in groups:
                if not member.any():
                    continue
                sel = np.flatnonzero(member)
                sub_tokens = tokens[np.repeat(member, lens)]
                h, owner, _ = ngram_hashes(sub_tokens, lens[sel], gram_len, short="skip", salt=_salt(mode, gram_len))
                hash_parts.append(h)
                owner_parts.append(item_of_text[rows[sel][owner]])
                lengths[mode].add(gram_len)
        hashes = np.concatenate(hash_parts) if hash_parts else np.empty(0, np.uint64)
        owners = np.concatenate(owner_parts) if owner_parts else np.empty(0, np.int64)
        grams = pl.DataFrame({"h": hashes, "o": owners}).unique().with_columns(df=pl.len().over("h"))
        boilerplate = grams.filter(pl.col("df") > max_items)["h"].n_unique()
        kept = grams.filter(pl.col("df") <= max_items).sort("h", "o")
        hashes, owners = kept["h"].to_numpy(), kept["o"].to_numpy()
        counts = np.bincount(owners, minlength=len(id_list)).astype(np.int64)
        return cls(
            ids=id_list,
            hashes=hashes,
            owners=owners,
            gram_counts=counts,
            lengths={m: tuple(sorted(v)) for m, v in lengths.items()},
            n=n,
            n_zh=n_zh,
            min_tokens=min_tokens,
            skipped=int((counts == 0).sum()),
            boilerplate=boilerplate,
        )

    @classmethod
    def from_frame(cls, benchmarks: pl.DataFrame, **kwargs: int) -> BenchmarkIndex:
        """Index `load_benchmark_questions` output: each item's `text` and its bare `question`,
        so a QA quoting a short question without (or with re-lettered) options is caught too."""
        texts = pl.concat([benchmarks["text"], benchmarks["question"].alias("text")])
        return cls.from_texts(texts, pl.concat([benchmarks["benchmark_id"]] * 2), **kwargs)

    def __len__(self) -> int:
        return len(self.ids)


def find_contaminated(
    qa: pl.DataFrame,
    index: BenchmarkIndex,
    *,
    text_col: str = "question",
    id_col: str = "qa_id",
    include_choices: bool = True,
) -> pl.DataFrame:
    """One row per (QA, benchmark item) sharing at least one indexed gram (CONTAMINATION_SCHEMA),
    most overlapping first. An empty frame means no QA overlaps the benchmarks."""
    for col in (text_col, id_col) + (("choices",) if include_choices else ()):
        if col not in qa.columns:
            raise ValueError(f"find_contaminated: column {col!r} missing (columns: {qa.columns})")
    texts_all = qa.select(qa_text_expr(text_col, include_choices).alias("t"))["t"]
    qa_ids = qa[id_col]
    found: list[pl.DataFrame] = []
    for lo in range(0, qa.height, _ROW_BATCH):
        texts = texts_all.slice(lo, _ROW_BATCH)
        for mode, gram_lens in index.lengths.items():
            mode_texts = _mode_texts(texts, mode)
            tokens, lens = token_arrays(mode_texts, mode)
            for k in gram_lens:
                h, row, pos = ngram_hashes(tokens, lens, k, short="skip", salt=_salt(mode, k))
                left = np.searchsorted(index.hashes, h, side="left")
                hit = left < index.hashes.shape[0]
                hit[hit] = index.hashes[left[hit]] == h[hit]
                if not hit.any():
                    continue
                h, row, pos, left = h[hit], row[hit], pos[hit], left[hit]
                right = np.searchsorted(index.hashes, h, side="right")
                reps = right - left
                entry = np.repeat(left, reps) + (np.arange(int(reps.sum())) - np.repeat(np.cumsum(reps) - reps, reps))
                found.append(
                    pl.DataFrame(
                        {
                            "row": np.repeat(row, reps) + lo,
                            "owner": index.owners[entry],
                            "h": np.repeat(h, reps),
                            "pos": np.repeat(pos, reps),
                            "ngram_n": np.full(entry.shape[0], k, dtype=np.int32),
                            "mode": [mode] * entry.shape[0],
                        }
                    )
                )
    if not found:
        return pl.DataFrame(schema=CONTAMINATION_SCHEMA)
    hits = (
        pl.concat(found)
        .sort("row", "owner", "ngram_n", "pos", descending=[False, False, True, False])
        .group_by("row", "owner", maintain_order=True)  # shown: the longest matched gram, first in the text
        .agg(pl.col("h").n_unique().alias("overlap"), pl.col("mode", "ngram_n", "pos").first())
        .sort("row", "overlap", "owner", descending=[False, True, False])
    )
    rows = hits["row"].to_numpy()
    return pl.DataFrame(
        {
            "qa_id": qa_ids.gather(rows),
            "benchmark_id": pl.Series([index.ids[o] for o in hits["owner"].to_list()], dtype=pl.String),
            "ngram_n": hits["ngram_n"],
            "mode": hits["mode"],
            "overlap": hits["overlap"].cast(pl.Int64),
            "benchmark_coverage": hits["overlap"] / pl.Series(index.gram_counts[hits["owner"].to_numpy()]),
            "matched_ngram": _gram_texts(texts_all.gather(rows), hits),
        },
        schema=CONTAMINATION_SCHEMA,
    )


def _gram_texts(texts: pl.Series, hits: pl.DataFrame) -> pl.Series:
    """The matched gram of each hit as text, as its tokenisation saw it (vectorised per mode)."""
    out = pl.Series("matched_ngram", [None] * texts.len(), dtype=pl.String)
    for mode in ("char", "word"):
        sel = np.flatnonzero((hits["mode"] == mode).to_numpy())
        if sel.shape[0] == 0:
            continue
        frame = pl.DataFrame({"t": _mode_texts(texts.gather(sel), mode), "pos": hits["pos"].gather(sel)})
        frame = frame.with_columns(k=hits["ngram_n"].gather(sel))
        expr = (
            pl.col("t").str.slice(pl.col("pos"), pl.col("k"))
            if mode == "char"
            else pl.col("t").str.extract_all(WORD_TOKEN).list.slice(pl.col("pos"), pl.col("k")).list.join(" ")
        )
        out = out.scatter(sel, frame.select(expr)["t"])
    return out


def load_benchmark_questions(paths: Iterable[Path | str]) -> pl.DataFrame:
    """Benchmark items (BENCHMARK_SCHEMA) from files or folders the seed adapters read:
    MMLU/CMMLU CSVs, GSM8K/MATH JSONL, generic tables.

    The benchmark is named by the adapter (mmlu, cmmlu, gsm8k, math; the file name for
    generic files), the subject by the adapter's subject. Unlike seeds, a benchmark row that
    cannot be read is not quarantined: it raises naming file, row and field, because a
    benchmark silently missing items lets copies of them through.
    """
    frames: list[pl.DataFrame] = []
    for path in iter_source_files(list(paths)):
        read = read_source(path)
        if read.errors.height:
            e = read.errors.row(0, named=True)
            raise ValueError(
                f"{e['source']}: data row {e['source_row']}: field {e['field']!r}: {e['reason']} "
                f"({read.errors.height} unreadable rows in the file)"
            )
        name = read.rows["adapter"][0].removesuffix("_csv").removesuffix("_jsonl") if read.rows.height else ""
        benchmark = path.stem if name in ("", "generic") else name
        frames.append(read.rows.with_columns(benchmark=pl.lit(benchmark)))
    rows = pl.concat(frames) if frames else pl.DataFrame(schema={**RAW_SCHEMA, "benchmark": pl.String()})
    blank = rows.filter(pl.col("question").fill_null("").str.strip_chars() == "")
    if blank.height:
        e = blank.row(0, named=True)
        raise ValueError(f"{e['source']}: data row {e['source_row']}: field 'question' is empty")
    subject = pl.col("subject").fill_null(pl.col("benchmark"))
    return rows.select(
        benchmark_id=pl.concat_str(pl.col("benchmark"), subject, pl.col("source_row").cast(pl.String), separator="/"),
        benchmark="benchmark",
        subject=subject,
        source="source",
        source_row="source_row",
        question="question",
        choices="choices",
        text=qa_text_expr(),
    ).cast(pl.Schema(BENCHMARK_SCHEMA))  # a Schema: cast()'s Mapping parameter has a key type dict[str, DataType] fails
