"""The v1 surface heuristic (KPs linked, parts, length, numbers, formulas, blended with the seeds'
human reference difficulty): the pipeline's offline score until the calibrated estimator
(`composition.offline_difficulty`) replaced it. Kept only as the baseline
`bench/difficulty_calibration.py` prints beside the new figures; the pipeline does not call it.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from linkqa_pipelines.core.text import qa_text_expr, token_estimate_expr

SURFACE_MODEL = "offline-heuristic-v1"
_PARTS = r"(?i)\bpart \d+\s*:|第\s*\d+\s*部分|additional part|附加部分"
_FORMULA = r"\$|\\(?:frac|sqrt|sum|int|log|sin|cos|tan|lim)|[=≤≥±×÷∑∫√∞^]|\d\s*[-+*/]\s*\d"


@dataclass(frozen=True)
class HeuristicWeights:
    """Weights of `offline_difficulty`; the raw score starts at 1 and each feature adds:

    - `kp` per knowledge point beyond the first (at most `kp_cap` of them): linking KPs is
      what LinkSyn makes questions hard with;
    - `step` per part/sub-question beyond the first (at most `step_cap`): composed and
      multi-step questions need more reasoning steps;
    - `length` per doubling of the estimated token count beyond 40 tokens (at most 2);
    - `number` if the text has digits, `formula` if it has a formula (LaTeX, operators,
      arithmetic): quantitative questions need computation.
    When the seeds carry a human reference difficulty (MATH levels) the result is blended:
    (1 - seed_ref) * heuristic + seed_ref * mean seed level. Rounded, clipped to 1-5.
    """

    kp: float = 0.5
    kp_cap: int = 4
    step: float = 0.5
    step_cap: int = 3
    length: float = 0.5
    number: float = 0.25
    formula: float = 0.5
    seed_ref: float = 0.4


WEIGHTS = HeuristicWeights()


def heuristic_features(frame: pl.DataFrame, w: HeuristicWeights = WEIGHTS) -> pl.DataFrame:
    """Add feature columns, `difficulty_raw` and the 1-5 `difficulty_score` to a frame with
    question, choices, kp_ids and seed_ref (nullable mean seed reference difficulty)."""
    text = qa_text_expr()
    unlabelled = text.str.replace_all(_PARTS, "")  # "Part 2:" is structure, not a quantity
    feats = frame.with_columns(
        f_kps=pl.col("kp_ids").list.len().fill_null(0).cast(pl.Int64),
        f_steps=pl.max_horizontal(
            pl.col("question").str.count_matches(_PARTS), pl.col("question").str.count_matches(r"[?？]"), pl.lit(1)
        ).cast(pl.Int64),
        f_tokens=token_estimate_expr(text),
        f_number=unlabelled.str.contains(r"\d"),
        f_formula=unlabelled.str.contains(_FORMULA),
    )
    heuristic = (
        1.0
        + w.kp * (pl.col("f_kps") - 1).clip(0, w.kp_cap)
        + w.step * (pl.col("f_steps") - 1).clip(0, w.step_cap)
        + w.length * (pl.col("f_tokens").clip(1, None) / 40.0).log(2).clip(0.0, 2.0)
        + w.number * pl.col("f_number").cast(pl.Float64)
        + w.formula * pl.col("f_formula").cast(pl.Float64)
    )
    raw = (
        pl.when(pl.col("seed_ref").is_not_null())
        .then((1.0 - w.seed_ref) * heuristic + w.seed_ref * pl.col("seed_ref"))
        .otherwise(heuristic)
    )
    return feats.with_columns(difficulty_raw=raw).with_columns(
        difficulty_score=(pl.col("difficulty_raw") + 0.5).floor().clip(1, 5).cast(pl.Int8)
    )


def seed_reference(qa: pl.DataFrame, seeds: pl.DataFrame | None) -> pl.DataFrame:
    """qa_id -> mean ref_difficulty of its seeds (null when none has one)."""
    if seeds is None or "ref_difficulty" not in seeds.columns:
        return qa.select("qa_id", seed_ref=pl.lit(None, pl.Float64))
    return (
        qa.select("qa_id", "seed_ids")
        .explode("seed_ids")
        .join(seeds.select(pl.col("seed_id").alias("seed_ids"), "ref_difficulty"), on="seed_ids", how="left")
        .group_by("qa_id", maintain_order=True)
        .agg(seed_ref=pl.col("ref_difficulty").cast(pl.Float64).mean())
    )


def surface_difficulty(qa: pl.DataFrame, seeds: pl.DataFrame | None = None) -> pl.DataFrame:
    """Heuristic difficulty (see `HeuristicWeights`), vectorised: fills `difficulty` (1-5),
    `difficulty_method` (`SURFACE_MODEL`) and `difficulty_raw`.

    `seeds` (seed_id, ref_difficulty) adds the seed reference blend.
    """
    scored = heuristic_features(qa.join(seed_reference(qa, seeds), on="qa_id", how="left", maintain_order="left"))
    return scored.with_columns(difficulty=pl.col("difficulty_score"), difficulty_method=pl.lit(SURFACE_MODEL)).drop(
        "seed_ref", "difficulty_score", "f_kps", "f_steps", "f_tokens", "f_number", "f_formula"
    )
