"""Text helpers shared by synthesis, difficulty and release: normalisation, rough token counts,
character shingles, and the QA text (question plus choices) those stages read.

One definition each, so that "the same text" and "similar text" mean the same thing in answer
validation, difficulty features, dedup and decontamination. Language detection stays in
`core.language` (a separate job with its own script statistics).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

# A "word" token: one Han character, or a run of other letters/digits.
WORD_TOKEN = r"\p{Han}|[\p{L}\p{N}--\p{Han}]+"


def normalize_expr(expr: pl.Expr) -> pl.Expr:
    """NFKC, lower case, every run of non letters/digits -> one space, trimmed.

    Makes copies that differ only in case, width, punctuation or spacing compare equal.
    """
    return expr.str.normalize("NFKC").str.to_lowercase().str.replace_all(r"[^\p{L}\p{N}]+", " ").str.strip_chars()


def normalize_texts(texts: Sequence[str]) -> list[str]:
    """`normalize_expr` for a few Python strings (validators)."""
    return pl.Series("t", list(texts), dtype=pl.String).to_frame().select(normalize_expr(pl.col("t")))["t"].to_list()


def token_estimate_expr(expr: pl.Expr) -> pl.Expr:
    """Rough token count: Han characters plus runs of other letters/digits.

    Close enough to BPE counts for statistics and difficulty features, and free of a
    tokenizer dependency.
    """
    return expr.str.count_matches(WORD_TOKEN).cast(pl.Int64)


def shingle_set(norm: str, k: int) -> set[str]:
    """Character k-grams of already normalised text (the whole text when shorter than k)."""
    if len(norm) <= k:
        return {norm} if norm else set()
    return {norm[i : i + k] for i in range(len(norm) - k + 1)}


def char_shingles(text: str, k: int = 5) -> set[str]:
    """Character k-grams of the normalised text (the whole text when shorter than k)."""
    return shingle_set(normalize_texts([text])[0], k)


def qa_text_expr(text_col: str = "question", include_choices: bool = True) -> pl.Expr:
    """A QA's text as dedup, decontamination and difficulty read it: the question, then its
    choices one per line (two items with the same stem and different options differ)."""
    if not include_choices:
        return pl.col(text_col)
    return pl.concat_str([pl.col(text_col), pl.col("choices").list.join("\n")], separator="\n", ignore_nulls=True)
