"""Settings of `synthesized_qa`."""

from __future__ import annotations

from typing import Literal

from dagster import Config
from pydantic import Field


class SynthesisConfig(Config):
    qa_type: Literal["auto", "multiple_choice", "free_form"] = Field(
        default="auto", description="auto: multiple choice when most of a path's seeds are"
    )
    n_choices: int = Field(default=4, description="options per multiple-choice question")
    max_seeds: int = Field(default=5, description="seeds per prompt")
