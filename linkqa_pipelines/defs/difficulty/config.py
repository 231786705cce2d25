"""Settings of `difficulty_scored_qa` and where the difficulty targets come from."""

from __future__ import annotations

from importlib import resources

from dagster import Config
from pydantic import Field

from linkqa_pipelines.core.difficulty import DifficultyTargets, load_targets


class DifficultyConfig(Config):
    targets_path: str = Field(default="", description="YAML of per-discipline difficulty mixes; empty = packaged")
    enhance: bool = Field(
        default=True,
        description="rewrite items harder where a level is short of its target (kept only if >= 1 level harder)",
    )


def difficulty_targets(path: str) -> DifficultyTargets:
    return load_targets(path or str(resources.files("linkqa_pipelines") / "data" / "difficulty_targets.yaml"))
