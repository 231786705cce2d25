"""Offline seed difficulty: a transparent grade-level and 1-5 difficulty heuristic per seed, no
model; the offline extractor's KP links carry it.
"""

from __future__ import annotations

import polars as pl

from linkqa_pipelines.core.knowledge_points.documents import check_seeds, optional_column
from linkqa_pipelines.core.knowledge_points.lexicon import CJK_CLASS


def _grade_hint(subject: pl.Expr, adapter: pl.Expr) -> pl.Expr:
    """Grade level a subject or source name states outright (MMLU/CMMLU prefixes, GSM8K, MATH)."""
    s = subject.fill_null("").str.to_lowercase()
    a = adapter.fill_null("")
    return (
        pl.when(s.str.contains(r"elementary|primary|小学") | (a == "gsm8k_jsonl"))
        .then(pl.lit("primary"))
        .when(s.str.contains(r"middle_school|junior_high|初中"))
        .then(pl.lit("middle_school"))
        .when(s.str.contains(r"high_school|senior_high|高中"))
        .then(pl.lit("high_school"))
        .when(s.str.contains(r"college|undergrad|university|大学"))
        .then(pl.lit("undergraduate"))
        .when(s.str.contains(r"professional|graduate|研究生|资格"))
        .then(pl.lit("graduate_professional"))
        .when(s.str.contains(r"competition|olympiad|竞赛") | (a == "math_jsonl"))
        .then(pl.lit("competition"))
        .otherwise(pl.lit(None, dtype=pl.String))
    )


_GRADE_PRIOR = {
    "primary": 0.0,
    "middle_school": 0.5,
    "high_school": 1.0,
    "undergraduate": 1.5,
    "graduate_professional": 2.0,
    "competition": 2.5,
}


_GRADE_FROM_DIFFICULTY = {
    1: "middle_school",
    2: "high_school",
    3: "high_school",
    4: "undergraduate",
    5: "graduate_professional",
}


def offline_seed_difficulty(seeds: pl.DataFrame) -> pl.DataFrame:
    """(seed_id, grade_level, difficulty 1-5) from a transparent heuristic, no model.

    difficulty = ref_difficulty when the source has one (MATH levels are human labels);
    otherwise 1 + grade prior + length + maths + steps, rounded half up and clipped to 1-5, where
      grade prior: primary 0, middle school 0.5, high school 1, undergraduate 1.5,
                   graduate/professional 2, competition 2.5, no hint 1;
      length:      +0.5 above 40 words (Chinese: 60 characters), +1 above 120 (180);
      maths:       +0.5 when the question has digits together with an operator or LaTeX;
      steps:       +0.5 for >= 3 reasoning steps in the explanation (lines, sentences or
                   GSM8K <<calc>> marks), +1 for >= 6.
    grade_level = the subject's hint ("high_school_", "college_", "elementary_",
    "professional_", GSM8K -> primary, MATH -> competition), else from the difficulty
    (1 middle school, 2-3 high school, 4 undergraduate, 5 graduate/professional).
    """
    check_seeds(seeds, "offline_seed_difficulty")
    text = pl.concat_str(
        [pl.col("question"), optional_column(seeds, "choices", pl.List(pl.String())).list.join(" ").fill_null("")],
        separator=" ",
    )
    cjk_chars = text.str.count_matches(f"[{CJK_CLASS}]")
    units = text.str.count_matches(r"\S+") + cjk_chars * 2 / 3
    explanation = optional_column(seeds, "explanation", pl.String())
    steps = explanation.fill_null("").str.count_matches(r"\n|[.;。；](?:\s|$)|<<")
    maths = pl.col("question").str.contains(r"\d") & pl.col("question").str.contains(
        r"[=+*/^√∫∑π<>]|\\[a-z]+|\d\s*-\s*\d"
    )
    hint = _grade_hint(optional_column(seeds, "subject", pl.String()), optional_column(seeds, "adapter", pl.String()))
    score = (
        1.0
        + hint.replace_strict(_GRADE_PRIOR, default=1.0, return_dtype=pl.Float64)
        + pl.when(units > 120).then(1.0).when(units > 40).then(0.5).otherwise(0.0)
        + pl.when(maths).then(0.5).otherwise(0.0)
        + pl.when(steps >= 6).then(1.0).when(steps >= 3).then(0.5).otherwise(0.0)
    )
    ref = optional_column(seeds, "ref_difficulty", pl.Int8())
    difficulty = pl.coalesce(ref.cast(pl.Int64), (score + 0.5).floor().cast(pl.Int64)).clip(1, 5).cast(pl.Int8)
    return seeds.select(
        "seed_id",
        grade_level=pl.coalesce(hint, difficulty.replace_strict(_GRADE_FROM_DIFFICULTY, return_dtype=pl.String)),
        difficulty=difficulty,
    )
