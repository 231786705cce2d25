"""Pure logic of the difficulty stage (no Dagster): score QA difficulty (1-5), make QA harder,
select a target mix.

Two LLM-layer tasks, each with request builder, offline algorithm, validator and frame:
`judge` (offline: the documented `heuristic`) and `enhance`; and `targets`, the selection that
turns scored QA into the released mix (`select_to_target` with per-discipline `load_targets`).
"""

from linkqa_pipelines.core.difficulty.enhance import (
    OFFLINE_ENHANCE_MODEL,
    build_enhance_requests,
    enhanced_frame,
    offline_enhance,
    validate_enhance,
)
from linkqa_pipelines.core.difficulty.heuristic import OFFLINE_DIFFICULTY_MODEL, offline_difficulty
from linkqa_pipelines.core.difficulty.judge import build_judge_requests, judge_frame, offline_judge, validate_judge
from linkqa_pipelines.core.difficulty.targets import DEFAULT_TARGET, DifficultyTargets, load_targets, select_to_target
from linkqa_pipelines.core.difficulty.task import ENHANCE_TASK, HARD, JUDGE_TASK, hard_shortfall

__all__ = [
    "DEFAULT_TARGET",
    "ENHANCE_TASK",
    "HARD",
    "JUDGE_TASK",
    "OFFLINE_DIFFICULTY_MODEL",
    "OFFLINE_ENHANCE_MODEL",
    "DifficultyTargets",
    "build_enhance_requests",
    "build_judge_requests",
    "enhanced_frame",
    "hard_shortfall",
    "judge_frame",
    "load_targets",
    "offline_difficulty",
    "offline_enhance",
    "offline_judge",
    "select_to_target",
    "validate_enhance",
    "validate_judge",
]
