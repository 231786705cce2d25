"""Pure logic of the seeds stage (no Dagster): read raw benchmark files, normalise them into seeds."""

from linkqa_pipelines.core.seeds.adapters import last_boxed, mmlu_csv
from linkqa_pipelines.core.seeds.normalise import NormalisedSeeds, normalise_seeds
from linkqa_pipelines.core.seeds.raw import RAW_SCHEMA, SeedSourceError
from linkqa_pipelines.core.seeds.remote import RemoteSourceError, fetch_s3_sources
from linkqa_pipelines.core.seeds.sources import detect_adapter, iter_source_files, read_source, read_sources

__all__ = [
    "RAW_SCHEMA",
    "NormalisedSeeds",
    "RemoteSourceError",
    "SeedSourceError",
    "detect_adapter",
    "fetch_s3_sources",
    "iter_source_files",
    "last_boxed",
    "mmlu_csv",
    "normalise_seeds",
    "read_source",
    "read_sources",
]
