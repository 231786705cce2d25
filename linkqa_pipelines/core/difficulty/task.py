"""The difficulty stage's model tasks: the judge and enhancement."""

from __future__ import annotations

from linkqa_pipelines.core.difficulty.composition import OFFLINE_DIFFICULTY_MODEL
from linkqa_pipelines.core.difficulty.enhance import OFFLINE_ENHANCE_MODEL, offline_enhance, validate_enhance
from linkqa_pipelines.core.difficulty.judge import offline_judge, validate_judge
from linkqa_pipelines.core.llm.task import ModelTask

JUDGE_TASK = ModelTask(
    stage="difficulty_judge", offline_model=OFFLINE_DIFFICULTY_MODEL, offline=offline_judge, validate=validate_judge
)
ENHANCE_TASK = ModelTask(
    stage="difficulty_enhance",
    offline_model=OFFLINE_ENHANCE_MODEL,
    offline=offline_enhance,
    validate=validate_enhance,
)
