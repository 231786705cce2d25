"""The difficulty stage's model tasks (judge, enhancement) and how many harder items a mix lacks."""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from linkqa_pipelines.core.difficulty.enhance import OFFLINE_ENHANCE_MODEL, offline_enhance, validate_enhance
from linkqa_pipelines.core.difficulty.heuristic import OFFLINE_DIFFICULTY_MODEL
from linkqa_pipelines.core.difficulty.judge import offline_judge, validate_judge
from linkqa_pipelines.core.llm.task import ModelTask

HARD = 4  # levels >= HARD count as "hard" when deciding how many variants to make

JUDGE_TASK = ModelTask(
    stage="difficulty_judge", offline_model=OFFLINE_DIFFICULTY_MODEL, offline=offline_judge, validate=validate_judge
)
ENHANCE_TASK = ModelTask(
    stage="difficulty_enhance",
    offline_model=OFFLINE_ENHANCE_MODEL,
    offline=offline_enhance,
    validate=validate_enhance,
)


def hard_shortfall(scored: pl.DataFrame, target: Mapping[int, float]) -> int:
    """How many more items at levels >= HARD the target mix needs, given the scored set."""
    want = sum(share for level, share in target.items() if level >= HARD) * scored.height
    have = scored.filter(pl.col("difficulty") >= HARD).height
    return max(0, round(want - have))
