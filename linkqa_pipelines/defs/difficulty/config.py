"""Settings of `difficulty_scored_qa` (its targets are the `inputs` resource's: `PipelineInputs.targets`)."""

from __future__ import annotations

from dagster import Config
from pydantic import Field


class DifficultyConfig(Config):
    enhance: bool = Field(
        default=True,
        description="rewrite items harder where a level is short of its target (kept only if >= 1 level harder)",
    )
