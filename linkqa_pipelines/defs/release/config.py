"""Settings of `linkqa_dataset` and `linkqa_release`."""

from __future__ import annotations

from dagster import Config
from pydantic import Field

from linkqa_pipelines.core.release import KEPT_VERIFICATION, DecontaminationSettings

_SPEC = DecontaminationSettings()


class BenchmarkConfig(Config):
    benchmarks: list[str] = Field(
        default=[], description="benchmark files/folders to decontaminate against (default: the inputs resource)"
    )


class ScreenConfig(Config):
    """Global dedup and decontamination (see core/release/decontamination.py for the spec)."""

    keep_verification: list[str] = Field(
        default=list(KEPT_VERIFICATION),
        description="verification statuses of model-written items that stay (the rest are rejected); offline items "
        "are unverified by construction and stay, disclosed on the card",
    )
    dedup_threshold: float = Field(default=0.8, description="shingle Jaccard at which two items are duplicates")
    n_words: int = Field(default=_SPEC.n_words, description="word n-gram length for non-Chinese text")
    n_chars: int = Field(default=_SPEC.n_chars, description="character n-gram length for Chinese text")
    min_words: int = Field(default=_SPEC.min_words, description="shortest question matched whole (words)")
    min_chars: int = Field(default=_SPEC.min_chars, description="shortest question matched whole (characters)")
    boilerplate_items: int = Field(
        default=_SPEC.boilerplate_items, description="a gram in more benchmark items than this is boilerplate"
    )
    boilerplate_span: int = Field(default=_SPEC.boilerplate_span, description="token length of boilerplate spans")

    def settings(self) -> DecontaminationSettings:
        return DecontaminationSettings(
            n_words=self.n_words,
            n_chars=self.n_chars,
            min_words=self.min_words,
            min_chars=self.min_chars,
            boilerplate_items=self.boilerplate_items,
            boilerplate_span=self.boilerplate_span,
        )


class DatasetConfig(Config):
    max_rows: int = Field(default=0, description="cap per discipline (0 = as many as the target mix allows)")
    seed: int = Field(default=0, description="random seed of the target-mix selection")


class ReleaseConfig(Config):
    name: str = Field(default="LinkQA synthetic QA", description="dataset name on the card")
    version: str = Field(default="0.1.0", description="dataset version on the card")
    shard_rows: int = Field(default=100_000, description="rows per shard file")
