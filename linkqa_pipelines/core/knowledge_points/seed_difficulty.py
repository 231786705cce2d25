"""Per-seed grade level and difficulty that the offline extractor's KP links carry.

The difficulty is the calibrated seed level of the difficulty stage (`core.difficulty.seed_levels`:
a human `ref_difficulty` where the source has one, else the estimator fitted to human labels),
rounded to 1-5, so the KP stage and the difficulty stage agree on every seed. The KP stage only
adds the grade level, which a subject or source name often states outright.
"""

from __future__ import annotations

import polars as pl

from linkqa_pipelines.core.difficulty import seed_levels
from linkqa_pipelines.core.knowledge_points.documents import check_seeds, optional_column


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


_GRADE_FROM_DIFFICULTY = {
    1: "middle_school",
    2: "high_school",
    3: "high_school",
    4: "undergraduate",
    5: "graduate_professional",
}


def seed_grade_and_difficulty(seeds: pl.DataFrame) -> pl.DataFrame:
    """(seed_id, grade_level, difficulty Int8 1-5) per seed.

    difficulty = the calibrated seed level (`core.difficulty.seed_levels`), rounded half up and
    clipped to 1-5; grade_level = the subject's or source's hint ("high_school_", "college_",
    "elementary_", "professional_", GSM8K -> primary, MATH -> competition), else read off the
    difficulty (1 middle school, 2-3 high school, 4 undergraduate, 5 graduate/professional).
    """
    check_seeds(seeds, "seed_grade_and_difficulty")
    levels = seed_levels(seeds)["seed_level"]
    difficulty = (levels + 0.5).floor().clip(1, 5).cast(pl.Int8)
    hint = _grade_hint(optional_column(seeds, "subject", pl.String()), optional_column(seeds, "adapter", pl.String()))
    return seeds.select("seed_id").with_columns(
        grade_level=pl.coalesce(
            seeds.select(hint).to_series(),
            difficulty.replace_strict(_GRADE_FROM_DIFFICULTY, return_dtype=pl.String),
        ),
        difficulty=difficulty,
    )
