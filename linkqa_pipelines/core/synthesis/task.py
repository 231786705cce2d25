"""Synthesis as a model task, and the seeds a set of paths (or items) names."""

from __future__ import annotations

import polars as pl

from linkqa_pipelines.core.llm.task import ModelTask
from linkqa_pipelines.core.synthesis.offline import OFFLINE_SYNTH_MODEL, offline_synthesis
from linkqa_pipelines.core.synthesis.results import validate_composition, validate_synthesis

SYNTHESIS_TASK = ModelTask(
    stage="synthesized_qa",
    offline_model=OFFLINE_SYNTH_MODEL,
    offline=offline_synthesis,
    validate=validate_synthesis,
    offline_validate=validate_composition,
)


def path_seeds(seeds: pl.LazyFrame, rows: pl.DataFrame) -> pl.DataFrame:
    """Only the seeds that `rows` (paths or QA items, with `seed_ids`) name, read columnar."""
    wanted = rows.select(pl.col("seed_ids").explode().alias("seed_id")).unique()
    return seeds.join(wanted.lazy(), on="seed_id", how="semi").collect()
