"""Benchmark decontamination: flag QA rows that contain a rare n-gram of an evaluation item.

What counts as overlap (the spec the filter here and the independent audit in `audit.py` share):
- Text: question + choices (one per line), option labels such as "(A)" / "A." removed, then
  normalised as `normalize_expr` does (NFKC, lower case, punctuation -> space) except that the
  formula operators + - ^ = < > % − × ÷ stay, each its own token (a hyphen between two letters,
  "acid-base", is punctuation, and so are a bullet "- " opening a line, "/", mostly "and/or" in
  prose, and "*", mostly Markdown emphasis). `normalize_expr` alone reads MATH's
  "$513^2 - 487^2$" as "513 2 487 2", the same as "513^2 + 487^2", and a short formula question
  as mostly template words. Chinese text is read as characters with spaces removed, other text
  as `CONTAMINATION_TOKEN` words.
- Grams: word 13-grams for English, character 13-grams for Chinese. 13 words is the
  convention of GPT-3 and Llama-2's contamination reports; for Chinese a Han character carries
  roughly 0.6 of a word, so 13 characters (~8 words) is the shortest span that, once
  boilerplate is excluded, is specific to one item: CMMLU's stock phrasings (下列说法中正确的是,
  9 characters) fit inside a 10-character window with one content character, which is how a
  10-character window flagged hundreds of unrelated items.
- Boilerplate: a gram shared by more than `boilerplate_items` benchmark items is a template,
  not content, and is ignored. So is a gram whose tokens are mostly covered by such shared
  `boilerplate_span`-grams: "which of the following is true" + two content words is still
  boilerplate even though the whole 13-gram is rare. Numbers are content, not template: a gram
  with a number (a token holding a digit) outside the boilerplate spans is kept however much
  template surrounds it ("What is the value of 123123 divided by 1001?" is one MATH item, not
  a template; the "Scenario 1 |" of MMLU's moral-scenarios preamble is covered by its spans and
  stays boilerplate). Every item of a benchmark that opens with the same preamble is still
  caught by its own content grams.
- Short items: a question (or a whole item, question + options) shorter than n tokens is
  matched whole, by containment, when it has at least `min_words` words / `min_chars`
  characters and is itself not boilerplate by the same rule (MMLU's "Where should a stoma be
  sited?", 6 words; MATH's "What is the value of $513^2 - 487^2$?", 12 tokens of which the
  first 5 are a template shared by dozens of items). Shorter questions are too generic alone
  and are matched as part of their item's text.
Every QA text is checked with both tokenisations, so an English item copied into a Chinese
question is found too.

Lookup (columnar, no Python loop per gram; 1M items in ~25 CPU-seconds against 30k benchmark
items, bench/decontamination.py): per batch of rows and tokenisation, one prefix sum gives the
hash of every window over contiguous slices; a bitmap over the index's hashes (16 bits per
entry) discards the ~94% of windows that are certainly not indexed, and only the rest meet the
exact sorted lookup. Short items are reached through an anchor (the hash of their first
`min_words`/`min_chars` tokens) instead of one hashing pass per item length; an anchor many short
items share ("what is the value of") costs one exact lookup per short length present, and only
the whole item of the right length and hash matches. The character pass
skips texts with no Han character when every character-mode entry holds one, which is exact:
such an entry can only match a window that contains its Han character.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from linkqa_pipelines.core.language import detect_language
from linkqa_pipelines.core.release.ngrams import (
    ShingleMode,
    all_window_hashes,
    inside_texts,
    ngram_hashes,
    prefix_hashes,
    text_starts,
    token_arrays,
    window_hashes,
    window_positions,
)
from linkqa_pipelines.core.seeds import RAW_SCHEMA, iter_source_files, read_source
from linkqa_pipelines.core.text import WORD_TOKEN, qa_text_expr

_MODE_SALT: dict[ShingleMode, int] = {"word": 0x5744, "char": 0x4348}
_BOILER_SALT = 0xB01
_ANCHOR_SALT = 0xA4C
_ROW_BATCH = 20_000
_FILTER_BITS_PER_ENTRY = 16  # bit filter: ~6% of the windows that are not indexed get past it

# Option labels written inline ("(A) x  (B) y", "A. x", "A、x") and list bullets ("- x"): not
# content, and in the character stream a label letter would break every gram that spans it.
OPTION_LABEL = r"[(（]\s*[A-Ja-j]\s*[)）]|(?m:^)\s*(?:[A-J]\s*[.．、:：)]|-\s)"
# Formula operators, typographic ones (MMLU writes "x − 3 = 6", "8 ÷ 2") as they are: mapping them
# to ASCII would cost a pass over every QA text. Not "*": it is mostly Markdown emphasis, which an
# LLM may put inside a quoted question ("What is **not** true?").
_OPERATOR_CHARS = r"+\-^=<>%−×÷"
_OPERATOR = rf"[{_OPERATOR_CHARS}]"
# A contamination token: a `WORD_TOKEN` or one formula operator.
CONTAMINATION_TOKEN = rf"{WORD_TOKEN}|{_OPERATOR}"


@dataclass(frozen=True)
class DecontaminationSettings:
    """The spec's numbers (module docstring); `linkqa_dataset` takes them from its config."""

    n_words: int = 13
    n_chars: int = 13
    min_words: int = 5
    min_chars: int = 6
    boilerplate_items: int = 10
    boilerplate_span: int = 5

    def __post_init__(self) -> None:
        if not 1 <= self.min_words <= self.n_words or not 1 <= self.min_chars <= self.n_chars:
            raise ValueError(f"need 1 <= min_words <= n_words and 1 <= min_chars <= n_chars: {self}")
        if self.boilerplate_items < 1 or self.boilerplate_span < 1:
            raise ValueError(f"boilerplate_items and boilerplate_span must be >= 1: {self}")

    def gram(self, mode: ShingleMode) -> tuple[int, int]:
        """(n, shortest whole item) of a tokenisation."""
        return (self.n_words, self.min_words) if mode == "word" else (self.n_chars, self.min_chars)


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


def contamination_text_expr(expr: pl.Expr, mode: ShingleMode) -> pl.Expr:
    """Normalised text in the form each tokenisation reads (module docstring): labels removed,
    operators kept and spaced, no spaces for characters."""
    text = expr.fill_null("").str.replace_all(OPTION_LABEL, " ").str.normalize("NFKC").str.to_lowercase()
    for _ in range(2):  # a match consumes the next word's first letter: the second pass reaches "a-b-c"
        text = text.str.replace_all(r"(\p{L})-(\p{L})", "$1 $2")
    spaced = text.str.replace_all(rf"({_OPERATOR})", " $1 ")
    norm = spaced.str.replace_all(rf"[^\p{{L}}\p{{N}}{_OPERATOR_CHARS}]+", " ").str.strip_chars()
    return norm.str.replace_all(" ", "", literal=True) if mode == "char" else norm


def _mode_texts(texts: pl.Series, mode: ShingleMode) -> pl.Series:
    return texts.to_frame("t").select(contamination_text_expr(pl.col("t"), mode))["t"]


def _boilerplate_covered(
    tokens: np.ndarray, lens: np.ndarray, item_of_text: np.ndarray, settings: DecontaminationSettings
) -> np.ndarray:
    """Per flat token: covered by a boilerplate span-gram (one shared by more than
    `boilerplate_items` items)."""
    b = settings.boilerplate_span
    h, text, pos = ngram_hashes(tokens, lens, b, short="skip", salt=_BOILER_SALT)
    starts = np.zeros(lens.shape[0], dtype=np.int64)
    np.cumsum(lens[:-1], out=starts[1:])
    df = pl.DataFrame({"h": h, "item": item_of_text[text]}).unique().group_by("h").len("df")
    boiler = np.sort(df.filter(pl.col("df") > settings.boilerplate_items)["h"].to_numpy())
    at = np.searchsorted(boiler, h)
    hit = at < boiler.shape[0]
    hit[hit] = boiler[at[hit]] == h[hit]
    flat = starts[text[hit]] + pos[hit]
    diff = np.zeros(tokens.shape[0] + 1, dtype=np.int64)
    np.add.at(diff, flat, 1)
    np.add.at(diff, flat + b, -1)
    return np.cumsum(diff[:-1]) > 0


def _prefix_counts(flags: np.ndarray) -> np.ndarray:
    """out[b] - out[a] = how many of flags[a:b] are set."""
    out = np.zeros(flags.shape[0] + 1, dtype=np.int64)
    np.cumsum(flags, out=out[1:])
    return out


def _number_tokens(texts: pl.Series, tokens: np.ndarray, mode: ShingleMode) -> np.ndarray:
    """Per flat token of `_mode_texts` output: it holds an ASCII digit (NFKC has made full-width
    digits ASCII)."""
    if mode == "char":
        return (tokens >= ord("0")) & (tokens <= ord("9"))
    words = texts.str.extract_all(CONTAMINATION_TOKEN).explode().drop_nulls()
    return words.str.contains("[0-9]").to_numpy()


@dataclass(frozen=True)
class BenchmarkIndex:
    """Sorted hashes of the benchmark items' rare grams; `owners[i]` is the item of `hashes[i]`."""

    ids: tuple[str, ...]
    hashes: np.ndarray  # uint64, sorted
    owners: np.ndarray  # int64 index into ids
    gram_counts: np.ndarray  # int64 per item: grams indexed for it
    lengths: dict[ShingleMode, tuple[int, ...]]  # gram lengths present per tokenisation
    settings: DecontaminationSettings
    skipped: int  # items with no indexed gram (too short, or nothing but boilerplate)
    boilerplate: int  # gram occurrences dropped as boilerplate (shared too widely, or mostly boilerplate spans)
    anchors: dict[ShingleMode, np.ndarray]  # sorted hashes of the first min_words/min_chars tokens of short items
    han_only: bool  # every character-mode entry holds a Han character: texts without one need no char pass
    filter_bits: np.ndarray  # uint8 bitmap over the top bits of every indexed hash and anchor

    def may_hold(self, hashes: np.ndarray) -> np.ndarray:
        """False where a hash is certainly not indexed (one bitmap probe each): what is left for
        the exact sorted lookup is the few windows that matter."""
        return _probe_filter(self.filter_bits, hashes)

    @classmethod
    def from_texts(
        cls,
        texts: Sequence[str] | pl.Series,
        ids: Sequence[str] | pl.Series | None = None,
        settings: DecontaminationSettings | None = None,
    ) -> BenchmarkIndex:
        """Index benchmark texts by the module's spec: rare n-grams of each text, plus the whole
        text when it is short. An id may be given to several texts (an item's full text and its
        bare question): they index one item."""
        settings = settings or DecontaminationSettings()
        series = pl.Series("text", list(texts) if not isinstance(texts, pl.Series) else texts, dtype=pl.String)
        text_ids = [str(i) for i in ids] if ids is not None else [str(i) for i in range(series.len())]
        if len(text_ids) != series.len():
            raise ValueError(f"BenchmarkIndex: {len(text_ids)} ids for {series.len()} texts")
        position: dict[str, int] = {}
        item_of_text = np.array([position.setdefault(i, len(position)) for i in text_ids], dtype=np.int64)
        id_list = tuple(position)
        is_zh = (detect_language(series) == "zh").to_numpy()
        frames: list[pl.DataFrame] = []
        anchors: dict[ShingleMode, np.ndarray] = {"word": np.empty(0, np.uint64), "char": np.empty(0, np.uint64)}
        covered = 0
        plan: tuple[tuple[ShingleMode, np.ndarray], ...] = (
            ("word", np.flatnonzero(~is_zh)),
            ("char", np.flatnonzero(is_zh)),
        )
        for mode, rows in plan:
            if rows.shape[0]:
                texts_of_mode, items_of_mode = series.gather(rows), item_of_text[rows]
                frame, dropped, anchors[mode] = _rare_candidates(texts_of_mode, items_of_mode, mode, settings)
                frames.append(frame)
                covered += dropped
        grams = (
            pl.concat(frames)
            if frames
            else pl.DataFrame(
                schema={"h": pl.UInt64, "o": pl.Int64, "k": pl.Int64, "han": pl.Boolean, "mode": pl.String}
            )
        ).with_columns(df=pl.col("o").n_unique().over("h"))
        kept = grams.filter(pl.col("df") <= settings.boilerplate_items).unique(["h", "o"]).sort("h", "o")
        counts = np.bincount(kept["o"].to_numpy(), minlength=len(id_list)).astype(np.int64)
        lengths = {m: tuple(sorted(kept.filter(pl.col("mode") == m)["k"].unique().to_list())) for m in ("word", "char")}
        hashes = kept["h"].to_numpy()
        return cls(
            ids=id_list,
            hashes=hashes,
            owners=kept["o"].to_numpy(),
            gram_counts=counts,
            lengths={"word": lengths["word"], "char": lengths["char"]},
            settings=settings,
            skipped=int((counts == 0).sum()),
            boilerplate=covered + grams.filter(pl.col("df") > settings.boilerplate_items).height,
            anchors=anchors,
            han_only=bool(kept.filter(pl.col("mode") == "char")["han"].all()),
            filter_bits=_bit_filter(np.concatenate([hashes, anchors["word"], anchors["char"]])),
        )

    @classmethod
    def from_frame(cls, benchmarks: pl.DataFrame, settings: DecontaminationSettings | None = None) -> BenchmarkIndex:
        """Index `load_benchmark_questions` output: each item's `text` and its bare `question`,
        so a QA quoting a short question without (or with re-lettered) options is caught too."""
        texts = pl.concat([benchmarks["text"], benchmarks["question"].alias("text")])
        return cls.from_texts(texts, pl.concat([benchmarks["benchmark_id"]] * 2), settings)

    def __len__(self) -> int:
        return len(self.ids)


def _rare_candidates(
    texts: pl.Series, items: np.ndarray, mode: ShingleMode, settings: DecontaminationSettings
) -> tuple[pl.DataFrame, int, np.ndarray]:
    """(h, o, k, han, mode) of every n-gram and every whole short text of `texts` that is content
    by the boilerplate rule (han: it holds a Han character, char mode only), how many were not,
    and the short texts' anchors (hash of their first `min_words`/`min_chars` tokens); the caller
    drops grams shared by too many items."""
    n, shortest = settings.gram(mode)
    mode_texts = _mode_texts(texts, mode)
    tokens, lens = token_arrays(mode_texts, mode, CONTAMINATION_TOKEN)
    covered = _boilerplate_covered(tokens, lens, items, settings)
    free = _prefix_counts(~covered)
    free_numbers = _prefix_counts(~covered & _number_tokens(mode_texts, tokens, mode))

    def is_content(first: np.ndarray, k: int | np.ndarray) -> np.ndarray:
        """Mostly free of boilerplate spans, or holding a number outside them (module docstring)."""
        return (2 * (free[first + k] - free[first]) >= k) | (free_numbers[first + k] > free_numbers[first])

    starts = text_starts(lens)
    prefix, powers = prefix_hashes(tokens)
    text, pos = window_positions(lens, n)
    first = starts[text] + pos
    content = is_content(first, n)
    short = np.flatnonzero((lens >= shortest) & (lens < n))
    k = lens[short]
    short_content = is_content(starts[short], k)
    short, k = short[short_content], k[short_content]
    salts = (np.uint64(_MODE_SALT[mode] << 16)) | k.astype(np.uint64)  # _salt(mode, k) per text
    han = np.zeros(tokens.shape[0] + 1, dtype=np.int64)
    if mode == "char":
        np.cumsum(_is_han(tokens), out=han[1:])
    frame = pl.DataFrame(
        {
            "h": np.concatenate(
                [
                    window_hashes(prefix, powers, first[content], n, _salt(mode, n)),
                    window_hashes(prefix, powers, starts[short], k, salts),
                ]
            ),
            "o": np.concatenate([items[text[content]], items[short]]),
            "k": np.concatenate([np.full(int(content.sum()), n, dtype=np.int64), k]),
            "han": np.concatenate(
                [han[first[content] + n] > han[first[content]], han[starts[short] + k] > han[starts[short]]]
            ),
        },
        schema={"h": pl.UInt64, "o": pl.Int64, "k": pl.Int64, "han": pl.Boolean},
    )
    anchors = np.unique(window_hashes(prefix, powers, starts[short], shortest, _ANCHOR_SALT))
    return frame.with_columns(mode=pl.lit(mode)), int((~content).sum() + (~short_content).sum()), anchors


# Code points that are Han under any definition (CJK unified ideographs, extension A, compatibility
# ideographs, extensions B-G): each is \p{Han} for the query-side regex, so an entry holding one can
# only match a text that `HAN` finds.
_HAN_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3134F))
HAN = r"\p{Han}"


def _is_han(tokens: np.ndarray) -> np.ndarray:
    out = np.zeros(tokens.shape[0], dtype=bool)
    for lo, hi in _HAN_RANGES:
        out |= (tokens >= lo) & (tokens <= hi)
    return out


def _bit_filter(hashes: np.ndarray) -> np.ndarray:
    """A bitmap of 2^b bits (b from the entry count) with the bit of each hash's top b bits set."""
    bits = int(np.clip(np.ceil(np.log2(max(hashes.shape[0], 1) * _FILTER_BITS_PER_ENTRY)), 16, 32))
    slots = hashes >> np.uint64(64 - bits)
    table = np.zeros(1 << (bits - 3), dtype=np.uint8)
    masks = np.left_shift(1, slots & np.uint64(7)).astype(np.uint8)
    np.bitwise_or.at(table, (slots >> np.uint64(3)).astype(np.int64), masks)
    return table


def _probe_filter(table: np.ndarray, hashes: np.ndarray) -> np.ndarray:
    bits = int(table.shape[0]).bit_length() + 2  # table holds 2^(bits-3) bytes
    slots = hashes >> np.uint64(64 - bits)
    byte = table[(slots >> np.uint64(3)).astype(np.int64)]
    return ((byte >> (slots & np.uint64(7)).astype(np.uint8)) & 1).astype(bool)


def _candidate_windows(
    tokens: np.ndarray, lens: np.ndarray, mode: ShingleMode, index: BenchmarkIndex
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(text, position, k, hash) of the windows of the texts that may be indexed grams: every
    n-gram, and every k-token window (k a short item's length) that starts with a short item's
    anchor; the bit filter has dropped those certainly not indexed."""
    n, shortest = index.settings.gram(mode)
    prefix, powers = prefix_hashes(tokens)
    starts = text_starts(lens)
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def keep(text: np.ndarray, pos: np.ndarray, k: int, h: np.ndarray) -> None:
        maybe = index.may_hold(h)
        found.append((text[maybe], pos[maybe], np.full(int(maybe.sum()), k, dtype=np.int32), h[maybe]))

    def windows(k: int, salt: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(text, position, hash) of the k-token windows inside one text that pass the filter"""
        h = all_window_hashes(prefix, powers, k, salt)
        flat = np.flatnonzero(index.may_hold(h))
        text, pos, inside = inside_texts(flat, starts, lens, k)
        return text[inside], pos[inside], h[flat[inside]]

    lengths = index.lengths[mode]
    if n in lengths:
        text, pos, h = windows(n, _salt(mode, n))
        found.append((text, pos, np.full(len(text), n, dtype=np.int32), h))
    shorter = [k for k in lengths if k < n]
    anchors = index.anchors[mode]
    if shorter and anchors.shape[0]:
        text, pos, anchor = windows(shortest, _ANCHOR_SALT)
        at = np.minimum(np.searchsorted(anchors, anchor), anchors.shape[0] - 1)
        hit = anchors[at] == anchor
        text, pos = text[hit], pos[hit]
        for k in shorter:
            fits = pos + k <= lens[text]
            t, p = text[fits], pos[fits]
            keep(t, p, k, window_hashes(prefix, powers, starts[t] + p, k, _salt(mode, k)))
    if not found:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty(0, dtype=np.int32), np.empty(0, dtype=np.uint64)
    text, pos, ks, h = (np.concatenate([f[i] for f in found]) for i in range(4))
    return text, pos, ks, h


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
        words = _mode_texts(texts_all.slice(lo, _ROW_BATCH), "word")  # normalised once; chars = words minus spaces
        for mode, gram_lens in index.lengths.items():
            if not gram_lens:
                continue
            rows = np.arange(words.len())
            mode_texts = words if mode == "word" else words.str.replace_all(" ", "", literal=True)
            if mode == "char" and index.han_only:  # no entry can match a text without a Han character
                rows = np.flatnonzero(mode_texts.str.contains(HAN).fill_null(False).to_numpy())
                mode_texts = mode_texts.gather(rows)
            row, pos, ks, h = _candidate_windows(*token_arrays(mode_texts, mode, CONTAMINATION_TOKEN), mode, index)
            row = rows[row]
            # Sorted queries walk the index in order (cache friendly: ~3x faster than random probes).
            order = np.argsort(h)
            left = np.empty_like(order)
            left[order] = np.searchsorted(index.hashes, h[order], side="left")
            hit = left < index.hashes.shape[0]
            hit[hit] = index.hashes[left[hit]] == h[hit]
            if not hit.any():
                continue
            h, row, pos, ks, left = h[hit], row[hit], pos[hit], ks[hit], left[hit]
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
                        "ngram_n": np.repeat(ks, reps),
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
            else pl.col("t").str.extract_all(CONTAMINATION_TOKEN).list.slice(pl.col("pos"), pl.col("k")).list.join(" ")
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
