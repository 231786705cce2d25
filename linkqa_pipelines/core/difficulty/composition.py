"""Offline difficulty of synthesized QA, from its seeds' calibrated levels and how the parts combine.

An offline item (`OFFLINE_SYNTH_MODEL`: template compositions and offline enhancements) is a set
of seed questions asked together; each must be solved, so the item is a conjunction of parts. A
part of level d is solved with probability p(d) = sigmoid(SLOPE * (3 - d)) (level 1 ~ 0.90,
3 = 0.50, 5 ~ 0.10). Parts along one knowledge path are not independent — whoever solves the
hardest part usually solves the related easier ones — so the item's solve probability is

    P = p(d_max) * prod over the other parts of p(d_j) ** DEPENDENCE

and its level is the d with p(d) = P: d = 3 - logit(P) / SLOPE. Two level-1 recall parts give
1.4 (level 1), two level-3 parts 3.5 (4), a level-4 with a level-2 part 4.3 (4), two level-4
parts 4.8 (5): the hardest part sets the floor, easier parts add little, part count alone adds
nothing. Seed levels come from `seed_levels` (human `ref_difficulty` where the seed has one,
else the calibrated text estimate).

A model-written item is one new question that uses its seeds' knowledge: its offline level is
the calibrated estimate of its own text, never below its hardest seed's level — unless the model
was asked for a level (`requested_level`, possibly below its seeds'), when it is the estimate of
its text alone (the judge scores these when a model is configured; this is the fallback).
"""

from __future__ import annotations

import polars as pl

from linkqa_pipelines.core.difficulty.calibrated import CALIBRATED_MODEL, CalibratedWeights, estimate
from linkqa_pipelines.core.synthesis import OFFLINE_SYNTH_MODEL

OFFLINE_DIFFICULTY_MODEL = CALIBRATED_MODEL
SLOPE = 1.1
DEPENDENCE = 0.5


def _log_p(level: pl.Expr) -> pl.Expr:
    """log sigmoid(SLOPE * (3 - level)), stable for the 1-5 range."""
    return -((-SLOPE * (3.0 - level)).exp().log1p())


def conjunction_level(levels: pl.Expr) -> pl.Expr:
    """Level of an item whose parts (a list column of part levels) must all be solved (see module)."""
    log_p = levels.list.eval(_log_p(pl.element())).list
    joint = (1.0 - DEPENDENCE) * log_p.min() + DEPENDENCE * log_p.sum()  # hardest part in full, others damped
    logit = joint - (-joint.exp()).log1p()
    return (3.0 - logit / SLOPE).clip(1.0, 5.0)


def part_levels(qa: pl.DataFrame, levels: pl.DataFrame | None) -> pl.DataFrame:
    """(qa_id, seed_levels list[Float64]) for QA rows: the levels (`levels`: the `seed_levels`
    frame of their seeds, computed once per step by the caller) of the seeds each names, in its
    seed_ids order (seeds not in `levels` are left out; a QA with none gets null)."""
    if levels is None or levels.height == 0:
        return qa.select("qa_id", seed_levels=pl.lit(None, pl.List(pl.Float64)))
    return (
        qa.select("qa_id", pl.col("seed_ids").alias("seed_id"))
        .explode("seed_id")
        .join(levels.select("seed_id", "seed_level"), on="seed_id", how="left", maintain_order="left")
        .group_by("qa_id", maintain_order=True)
        .agg(seed_levels=pl.col("seed_level").drop_nulls())
    )


def combined_raw(
    frame: pl.DataFrame, weights: CalibratedWeights | None = None, features: pl.DataFrame | None = None
) -> pl.Series:
    """Continuous 1-5 difficulty of QA rows with question, choices, rationale, model and
    seed_levels (and optionally requested_level): the conjunction of the parts for offline items,
    else the item's own estimate, floored at its hardest seed unless a level was requested (see
    module). `features`: the rows' `text_features` when the caller has them already."""
    if frame.height == 0:  # nothing to estimate: skip the text features' fixed cost
        return pl.Series("difficulty_raw", [], dtype=pl.Float64)
    own = estimate(frame, weights, solution="rationale", features=features)["difficulty_raw"]
    has_parts = pl.col("seed_levels").list.len().fill_null(0) > 0
    asked = pl.col("requested_level").is_not_null() if "requested_level" in frame.columns else pl.lit(False)
    return frame.select(
        pl.when((pl.col("model") == OFFLINE_SYNTH_MODEL) & has_parts)
        .then(conjunction_level(pl.col("seed_levels")))
        .when(asked)
        .then(pl.lit(own))
        .otherwise(pl.max_horizontal(pl.lit(own), pl.col("seed_levels").list.max()))
        .alias("difficulty_raw")
    ).to_series()


def offline_difficulty(
    qa: pl.DataFrame,
    levels: pl.DataFrame | None = None,
    *,
    only_missing: bool = False,
    weights: CalibratedWeights | None = None,
) -> pl.DataFrame:
    """Offline difficulty (see module): fills `difficulty` (1-5), `difficulty_method`
    (`OFFLINE_DIFFICULTY_MODEL`) and `difficulty_raw` (continuous 1-5). `levels` is the
    `seed_levels` frame of the seeds the rows name.

    With `only_missing` rows that already have a difficulty (e.g. from a model judge) keep it
    and its method; their difficulty_raw is null, and only the other rows are estimated.
    """
    if qa["qa_id"].n_unique() != qa.height:
        raise ValueError("offline_difficulty: qa_id is not unique")
    keep = pl.col("difficulty").is_not_null() if only_missing else pl.lit(False)
    todo = qa.filter(~keep)
    with_parts = todo.join(part_levels(todo, levels), on="qa_id", how="left", maintain_order="left")
    levels_raw = todo.select("qa_id", difficulty_raw=combined_raw(with_parts, weights))
    method = pl.col("difficulty_method") if "difficulty_method" in qa.columns else pl.lit(None, pl.String)
    scored = qa.drop([c for c in ("difficulty_raw",) if c in qa.columns]).join(
        levels_raw.rename({"difficulty_raw": "_raw"}), on="qa_id", how="left", maintain_order="left"
    )
    return scored.with_columns(
        difficulty=pl.when(keep).then(pl.col("difficulty")).otherwise(level_expr(pl.col("_raw"))).cast(pl.Int8),
        difficulty_method=pl.when(keep).then(method).otherwise(pl.lit(OFFLINE_DIFFICULTY_MODEL)),
        difficulty_raw=pl.when(keep).then(None).otherwise(pl.col("_raw")),
    ).drop("_raw")


def level_expr(raw: pl.Expr) -> pl.Expr:
    """Continuous 1-5 value -> integer level, half up."""
    return (raw + 0.5).floor().clip(1, 5).cast(pl.Int8)
