"""Settings of `synthesized_qa`."""

from __future__ import annotations

from typing import Literal

from dagster import Config
from pydantic import Field

QA_PER_PATH_MODEL = 3  # items per path a model is asked for by default
QA_PER_PATH_OFFLINE = 1  # the offline composition makes one item per path


class SynthesisConfig(Config):
    qa_type: Literal["auto", "multiple_choice", "free_form"] = Field(
        default="auto", description="auto: multiple choice when most of a path's seeds are"
    )
    n_choices: int = Field(default=4, description="options per multiple-choice question")
    max_seeds: int = Field(default=5, description="seeds per prompt")
    qa_per_path: int | None = Field(
        default=None,
        ge=1,
        description=f"distinct items asked for per path in one request; default {QA_PER_PATH_MODEL} with a model "
        f"backend, {QA_PER_PATH_OFFLINE} offline (the offline composition makes one item per path)",
    )

    level_aware: bool = Field(
        default=True,
        description="where the discipline's difficulty target needs easier items than composing all of a path's "
        "walk seeds gives, compose easier seeds linked to the path instead; with a model backend, also ask each "
        "item for a level, the target split over all items (core/difficulty/supply.py)",
    )

    def items_per_path(self, backend: str) -> int:
        """`qa_per_path` for this backend: offline always 1, a model the configured number or the default."""
        if backend == "offline":
            return QA_PER_PATH_OFFLINE
        return self.qa_per_path or QA_PER_PATH_MODEL
