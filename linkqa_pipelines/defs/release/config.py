"""Settings of `linkqa_dataset` and `linkqa_release`."""

from __future__ import annotations

from dagster import Config
from pydantic import Field


class DatasetConfig(Config):
    benchmarks: list[str] = Field(
        default=[], description="benchmark files/folders to decontaminate against (default: the inputs resource)"
    )
    dedup_threshold: float = Field(default=0.8, description="MinHash Jaccard at which two questions are duplicates")
    targets_path: str = Field(default="", description="difficulty targets YAML; empty = packaged")
    max_rows: int = Field(default=0, description="cap per discipline (0 = as many as the target mix allows)")
    seed: int = Field(default=0, description="random seed of the target-mix selection")


class ReleaseConfig(Config):
    name: str = Field(default="LinkQA synthetic QA", description="dataset name on the card")
    version: str = Field(default="0.1.0", description="dataset version on the card")
    shard_rows: int = Field(default=100_000, description="rows per shard file")
