"""Language of seed texts (`zh`, `en`, `other`) from script counts, vectorised with Polars regexes.

Seeds only need the language to route prompts and report mixes, so script statistics are
enough and cost microseconds per row. Two things make naive letter shares wrong on real
benchmarks, and both are handled here:
- LaTeX commands (`\\frac`, `\\leqslant`) and one-letter variables (`x`, `f`) are Latin
  letters inside Chinese maths questions; commands are removed and only Latin runs of two
  or more letters (words) count;
- a Han character carries about as much as a short English word, so Han characters count
  `HAN_WEIGHT` times against Latin letters.
Japanese (kana) and Korean (Hangul) are `other`.
"""

from __future__ import annotations

import polars as pl

HAN_WEIGHT = 3  # one Han character ~ one word ~ three to five Latin letters
ZH_MIN_SHARE = 0.5  # weighted Han share from which a text is Chinese
EN_MIN_SHARE = 0.8  # Latin-word share from which a text is English
SAMPLE_CHARS = 1_000  # the start of a text decides; long passages add cost, not information
LANGUAGES = ("en", "zh", "other")

# Script classes removed one after another; each count is the length the removal took away.
# Runs (`+`) keep the number of regex matches small, which is what costs time.
_STEPS = (
    ("han", r"\p{Han}+"),
    ("kana_hangul", r"[\p{Hiragana}\p{Katakana}\p{Hangul}]+"),
    ("latin_words", r"\p{Latin}{2,}"),
    ("latin_single", r"\p{Latin}+"),
    ("other_letters", r"\p{L}+"),
)


def detect_language(texts: pl.Series, *, no_evidence: str | None = "other") -> pl.Series:
    """`zh` / `en` / `other` for every text.

    Texts without a word or a CJK character (`(1+i)^10 =`, null) get `no_evidence`; pass
    None to get nulls and decide from context, as the seed normaliser does per source.
    """
    text = pl.col("text")
    frame = pl.DataFrame({"text": texts.cast(pl.String)}).select(
        text.fill_null("").str.slice(0, SAMPLE_CHARS).str.replace_all(r"\\[A-Za-z]+", " ")
    )
    for name, pattern in _STEPS:
        frame = frame.with_columns(text.str.replace_all(pattern, "").alias("rest")).with_columns(
            (text.str.len_chars() - pl.col("rest").str.len_chars()).alias(name), text=pl.col("rest")
        )
    han, kana_hangul, words = pl.col("han"), pl.col("kana_hangul"), pl.col("latin_words")
    weighted = HAN_WEIGHT * han + words + kana_hangul + pl.col("other_letters")
    language = (
        pl.when((han > 0) & (HAN_WEIGHT * han >= ZH_MIN_SHARE * weighted) & (4 * kana_hangul < han))
        .then(pl.lit("zh"))
        .when((words > 0) & (words >= EN_MIN_SHARE * weighted))
        .then(pl.lit("en"))
        .when(weighted == 0)
        .then(pl.lit(no_evidence, pl.String))
        .otherwise(pl.lit("other"))
    )
    return frame.select(language.alias(texts.name or "language")).to_series()


def language_of(text: str | None) -> str:
    """Language of one text (for single prompts; use `detect_language` for columns)."""
    return str(detect_language(pl.Series([text], dtype=pl.String))[0])
