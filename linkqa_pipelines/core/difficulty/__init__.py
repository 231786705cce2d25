"""Pure logic of the difficulty stage (no Dagster): score QA difficulty (1-5), make QA harder,
select a target mix.

- `calibrated`: the offline estimator of an item's difficulty from its text, fit to human labels
  (weights in data/difficulty_weights.yaml); `seed_levels` is the per-seed call;
- `composition`: a synthesized item's offline level from its seeds' levels and how its parts
  combine (`offline_difficulty`);
- two LLM-layer tasks, each with request builder, offline algorithm, validator and frame:
  `judge` (explicit dimensions, combined with the solver check) and `enhance`;
- `supply`: which of a path's seeds synthesis composes so the discipline's target levels get supply
  (`level_aware_paths`: its easiest seeds where the target needs easier items);
- `targets`: per-discipline level targets and discipline shares, quota selection
  (`select_to_target`, `discipline_quotas`, `discipline_plan`) and the achieved-vs-target report (`mix_report`).
`heuristic` is the v1 surface score, kept as the calibration bench's baseline.
"""

from linkqa_pipelines.core.difficulty.calibrated import CALIBRATED_MODEL, estimate, load_weights, seed_levels
from linkqa_pipelines.core.difficulty.composition import OFFLINE_DIFFICULTY_MODEL, offline_difficulty
from linkqa_pipelines.core.difficulty.enhance import (
    OFFLINE_ENHANCE_MODEL,
    REJECTED_VARIANT_SCHEMA,
    build_enhance_requests,
    enhanced_frame,
    keep_harder,
    offline_enhance,
    rejected_variants,
    validate_enhance,
)
from linkqa_pipelines.core.difficulty.judge import (
    DIMENSIONS,
    build_judge_requests,
    combine_with_solver,
    judge_frame,
    offline_judge,
    solver_answers,
    validate_judge,
)
from linkqa_pipelines.core.difficulty.supply import (
    LEVEL_AWARE_SCHEMA,
    level_aware_paths,
    needs_easier,
    requested_levels,
    requests_vs_scores,
)
from linkqa_pipelines.core.difficulty.targets import (
    DEFAULT_TARGET,
    DISCIPLINE_PLAN_SCHEMA,
    MIX_REPORT_SCHEMA,
    DifficultyTargets,
    discipline_plan,
    discipline_quotas,
    discipline_shares,
    enhancement_plan,
    load_targets,
    mix_report,
    select_to_target,
)
from linkqa_pipelines.core.difficulty.task import ENHANCE_TASK, JUDGE_TASK

__all__ = [
    "CALIBRATED_MODEL",
    "DEFAULT_TARGET",
    "DIMENSIONS",
    "DISCIPLINE_PLAN_SCHEMA",
    "ENHANCE_TASK",
    "JUDGE_TASK",
    "LEVEL_AWARE_SCHEMA",
    "MIX_REPORT_SCHEMA",
    "OFFLINE_DIFFICULTY_MODEL",
    "OFFLINE_ENHANCE_MODEL",
    "REJECTED_VARIANT_SCHEMA",
    "DifficultyTargets",
    "build_enhance_requests",
    "build_judge_requests",
    "combine_with_solver",
    "discipline_plan",
    "discipline_quotas",
    "discipline_shares",
    "enhanced_frame",
    "enhancement_plan",
    "estimate",
    "judge_frame",
    "keep_harder",
    "level_aware_paths",
    "load_targets",
    "load_weights",
    "mix_report",
    "needs_easier",
    "offline_difficulty",
    "offline_enhance",
    "offline_judge",
    "rejected_variants",
    "requested_levels",
    "requests_vs_scores",
    "seed_levels",
    "select_to_target",
    "solver_answers",
    "validate_enhance",
    "validate_judge",
]
