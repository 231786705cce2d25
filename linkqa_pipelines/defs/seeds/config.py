"""What `seed_sources` reads, and where its settings come from."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from dagster import Config, ConfigurableResource
from pydantic import Field

from linkqa_pipelines.core.difficulty.targets import DifficultyTargets, load_targets

TARGETS_FILE = "data/difficulty_targets.yaml"


class SeedSourcesConfig(Config):
    """Run config of one ingestion; empty `sources` means the `inputs` resource's seeds."""

    sources: list[str] = Field(default=[], description="local files/folders or s3:// URIs (keys or prefixes)")
    adapter: str | None = Field(default=None, description="force one adapter for every file (default: detect)")
    max_field_chars: int = Field(default=20_000, description="longer fields are quarantined")
    strict: bool = Field(default=False, description="an unreadable file fails the run instead of being quarantined")


class PipelineInputs(ConfigurableResource):
    """Files the pipeline reads: seed sources and the evaluation benchmarks to decontaminate against."""

    seeds: str = Field(
        default="", description="LINKQA_SEEDS: comma-separated files/folders/s3:// URIs (empty = the bundled sample)"
    )
    benchmarks: str = Field(default="", description="LINKQA_BENCHMARKS: comma-separated benchmark files/folders")
    difficulty_targets: str = Field(
        default="",
        description="LINKQA_DIFFICULTY_TARGETS: YAML of the per-discipline level mixes and discipline shares "
        "(empty = the packaged data/difficulty_targets.yaml)",
    )

    def seed_sources(self, configured: list[str]) -> list[str]:
        listed = configured or _split(self.seeds)
        return listed or [str(sample_seed_dir())]

    def benchmark_paths(self, configured: list[str]) -> list[str]:
        return configured or _split(self.benchmarks)

    def targets(self) -> DifficultyTargets:
        """The one difficulty target of a run: synthesis's level-aware supply, enhancement, the
        screening keep rule, selection, the mix check and the release's report all read it here."""
        return load_targets(self.difficulty_targets or str(resources.files("linkqa_pipelines") / TARGETS_FILE))


def _split(value: str) -> list[str]:
    return [s.strip() for s in value.split(",") if s.strip()]


def sample_seed_dir() -> Path:
    return Path(str(resources.files("linkqa_pipelines") / "data" / "sample_seeds"))
