"""Seed ingestion: read every source once, then split the seeds by discipline.

`seed_sources` (unpartitioned) reads all configured files, normalises and validates them,
and writes the accepted seeds, the quarantine and a per-source accounting table. Reading
every source once and letting `seed_qa` partitions select their discipline is cheaper
than each of ~25 partitions re-reading every file.
"""


import os
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetSpec,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
    multi_asset,
)
from dagster_aws.s3 import S3Resource
from pydantic import Field

from linkqa_pipelines.core.contracts import QUARANTINE_SCHEMA, SEED_SCHEMA, conform
from linkqa_pipelines.core.seeds.remote import fetch_s3_sources
from linkqa_pipelines.core.seeds.normalise import normalise_seeds
from linkqa_pipelines.core.seeds.readers import iter_source_files, read_source
from linkqa_pipelines.metadata import counts_md, md_table
from linkqa_pipelines.partitions import discipline_partitions
from linkqa_pipelines.resources.warehouse import WarehouseResource
from linkqa_pipelines.taxonomy import load_taxonomy

class SeedSourcesConfig(Config):
    """Which files to ingest. Empty `sources` means `LINKQA_SEEDS` (comma-separated) or the sample."""

    sources: list[str] = Field(default=[], description="local files/folders or s3:// URIs (keys or prefixes)")
    adapter: str | None = Field(default=None, description="force one adapter for every file (default: detect)")
    max_field_chars: int = Field(default=20_000, description="longer fields are quarantined")


def sample_seed_dir() -> Path:
    return Path(str(resources.files("linkqa_pipelines") / "data" / "sample_seeds"))


def resolve_sources(configured: list[str]) -> list[str]:
    if configured:
        return configured
    env = [s.strip() for s in os.environ.get("LINKQA_SEEDS", "").split(",") if s.strip()]
    return env or [str(sample_seed_dir())]


@multi_asset(
    specs=[
        AssetSpec(
            "seed_sources",
            group_name="seeds",
            kinds={"polars", "parquet"},
            description="All accepted seeds from every source, normalised, deduplicated, mapped to disciplines.",
        ),
        AssetSpec(
            "seed_quarantine",
            group_name="seeds",
            kinds={"polars", "parquet"},
            description="Rejected seed rows with source file, row number, field and reason.",
        ),
    ],
)
def ingest_seeds(
    context: AssetExecutionContext, config: SeedSourcesConfig, warehouse: WarehouseResource, s3: S3Resource
) -> Iterator[MaterializeResult]:
    lake = warehouse.lake()
    sources = resolve_sources(config.sources)
    remote = [s for s in sources if s.startswith("s3://")]
    local_to_uri: dict[str, str] = {}
    paths = iter_source_files([s for s in sources if not s.startswith("s3://")])
    if remote:
        fetched = fetch_s3_sources(s3.get_client(), remote, lake.home / "cache" / "s3")
        local_to_uri = {str(p): "s3://" + p.relative_to(lake.home / "cache" / "s3").as_posix() for p in fetched}
        paths += fetched
    context.log.info(f"ingesting {len(paths)} seed files from {len(sources)} source(s)")

    reads = [read_source(p, adapter=config.adapter) for p in paths]
    raw = pl.concat([r.rows for r in reads], how="diagonal_relaxed") if reads else pl.DataFrame()
    errors = pl.concat([r.errors for r in reads], how="diagonal_relaxed") if reads else None
    taxonomy = load_taxonomy()
    result = normalise_seeds(raw, taxonomy.map_subjects, max_field_chars=config.max_field_chars, read_errors=errors)
    rename = {"source": pl.col("source").replace(local_to_uri)} if local_to_uri else {}
    seeds = conform(result.seeds.with_columns(**rename), SEED_SCHEMA)
    quarantine = conform(result.quarantine.with_columns(**rename), QUARANTINE_SCHEMA)
    accounting = result.accounting.with_columns(**rename)

    lake.write("seed_sources", seeds)
    lake.write("seed_quarantine", quarantine)
    lake.write("seed_accounting", accounting)

    unmapped = (
        seeds.filter(pl.col("discipline") == taxonomy.FALLBACK).group_by("subject").len().sort("len", descending=True)
    )
    if unmapped.height:
        context.log.warning(
            f"{unmapped['len'].sum()} seeds in {unmapped.height} subjects map to no discipline "
            f"and go to '{taxonomy.FALLBACK}': {unmapped['subject'].head(10).to_list()}"
        )
    per_discipline = seeds.group_by("discipline").len().sort("len", descending=True)
    yield MaterializeResult(
        asset_key="seed_sources",
        metadata={
            "dagster/row_count": seeds.height,
            "sources": MetadataValue.md("\n".join(f"- `{s}`" for s in sources)),
            "files": len(paths),
            "rows_in": int(accounting["rows_in"].sum()),
            "quarantined": quarantine.height,
            "duplicates_dropped": int(accounting["duplicates"].sum()),
            "per_discipline": md_table(per_discipline),
            "languages": counts_md(dict(seeds.group_by("language").len().iter_rows())),
            "unmapped_subjects": md_table(unmapped),
            "accounting": md_table(accounting, max_rows=50),
        },
    )
    yield MaterializeResult(
        asset_key="seed_quarantine",
        metadata={
            "dagster/row_count": quarantine.height,
            "by_reason": md_table(quarantine.group_by("field", "reason").len().sort("len", descending=True)),
            "preview": md_table(quarantine.drop("raw"), max_rows=15),
        },
    )


@asset_check(asset="seed_sources", description="rows in = seeds + quarantined + duplicates, for every source")
def seed_rows_accounted(warehouse: WarehouseResource) -> AssetCheckResult:
    accounting = warehouse.lake().read("seed_accounting")
    bad = accounting.filter(pl.col("rows_in") != pl.col("seeds") + pl.col("quarantined") + pl.col("duplicates"))
    return AssetCheckResult(
        passed=bad.is_empty(),
        severity=AssetCheckSeverity.ERROR,
        metadata={"sources": accounting.height, "unbalanced": md_table(bad)},
    )


@asset(
    partitions_def=discipline_partitions,
    deps=["seed_sources"],
    group_name="seeds",
    kinds={"polars", "parquet"},
    description="Normalised seeds of one discipline.",
)
def seed_qa(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    lake = warehouse.lake()
    seeds = lake.scan("seed_sources").filter(pl.col("discipline") == context.partition_key).collect()
    lake.write("seed_qa", seeds, context.partition_key)
    return MaterializeResult(
        metadata={
            "dagster/row_count": seeds.height,
            "languages": counts_md(dict(seeds.group_by("language").len().iter_rows())),
            "qa_types": counts_md(dict(seeds.group_by("qa_type").len().iter_rows())),
            "subjects": md_table(seeds.group_by("subject").len().sort("len", descending=True)),
            "preview": md_table(seeds.select("seed_id", "subject", "language", "question", "answer"), max_rows=5),
        }
    )


@asset_check(asset=seed_qa, description="every multiple-choice answer is a letter among its choices")
def seed_answers_in_choices(warehouse: WarehouseResource) -> AssetCheckResult:
    letters = {chr(65 + i): i for i in range(26)}
    answer_index = pl.col("answer").str.strip_chars().str.to_uppercase().replace_strict(letters, default=None)
    bad = (
        warehouse.lake()
        .scan("seed_qa", schema=SEED_SCHEMA)
        .filter(pl.col("qa_type") == "multiple_choice")
        .filter(answer_index.is_null() | (answer_index >= pl.col("choices").list.len()))
        .select("seed_id", "source", "source_row", "answer")
        .collect()
    )
    return AssetCheckResult(passed=bad.is_empty(), metadata={"violations": md_table(bad)})
