"""Seed ingestion: read every source once, then split the seeds by discipline.

`ingest_seeds` (unpartitioned) reads all configured files, normalises and validates them, and
returns the accepted seeds, the quarantine and a per-source accounting table. Reading every
source once and letting `seed_qa` partitions select their discipline is cheaper than each of
~25 partitions re-reading every file. It also makes the discipline partitions exactly the
disciplines that now have seeds (`register_disciplines`), so seedless ones are never run.
"""

import polars as pl
from dagster import AssetExecutionContext, MetadataValue, asset, multi_asset
from dagster_aws.s3 import S3Resource

from linkqa_pipelines.core.contracts import QUARANTINE_SCHEMA, SEED_SCHEMA, conform
from linkqa_pipelines.core.release import evaluation_split_expr
from linkqa_pipelines.core.seeds import fetch_s3_sources, iter_source_files, normalise_seeds, read_sources
from linkqa_pipelines.defs.seeds.config import PipelineInputs, SeedSourcesConfig
from linkqa_pipelines.lib.lake_resource import LakeResource
from linkqa_pipelines.lib.metadata import counts_table, table_metadata, table_out, table_preview, top_reasons
from linkqa_pipelines.lib.partitions import (
    discipline_backfill_policy,
    discipline_partitions,
    per_discipline,
    register_disciplines,
)
from linkqa_pipelines.taxonomy import load_taxonomy

KINDS = {"polars", "parquet"}


@multi_asset(
    outs={
        "seed_sources": table_out(
            "seed_sources",
            KINDS,
            "All accepted seeds from every source, normalised, deduplicated, mapped to disciplines.",
        ),
        "seed_quarantine": table_out(
            "seed_quarantine",
            KINDS,
            "Rejected seed rows with source file, row number, field and reason.",
        ),
        "seed_accounting": table_out(
            "seed_accounting",
            KINDS,
            "Per source: rows in, seeds kept, rows quarantined, exact duplicates dropped.",
        ),
    },
    group_name="seeds",
)
def ingest_seeds(
    context: AssetExecutionContext,
    config: SeedSourcesConfig,
    inputs: PipelineInputs,
    lake: LakeResource,
    s3: S3Resource,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    sources = inputs.seed_sources(config.sources)
    remote = [s for s in sources if s.startswith("s3://")]
    local_to_uri: dict[str, str] = {}
    paths = iter_source_files([s for s in sources if not s.startswith("s3://")])
    if remote:
        cache = lake.home_path / "cache" / "s3"
        fetched = fetch_s3_sources(s3.get_client(), remote, cache)
        local_to_uri = {str(p): "s3://" + p.relative_to(cache).as_posix() for p in fetched}
        paths += fetched
    context.log.info(f"ingesting {len(paths)} seed files from {len(sources)} source(s)")

    reads = read_sources(paths, adapter=config.adapter, strict=config.strict)
    unreadable = [r.errors.row(0, named=True) for r in reads if r.errors.height and r.errors["source_row"][0] is None]
    for row in unreadable:
        context.log.warning(f"{row['source']}: {row['reason']} (quarantined; the other files are still read)")
    raw = pl.concat([r.rows for r in reads], how="diagonal_relaxed") if reads else pl.DataFrame()
    errors = pl.concat([r.errors for r in reads], how="diagonal_relaxed") if reads else None
    taxonomy = load_taxonomy()
    result = normalise_seeds(raw, taxonomy.map_subjects, max_field_chars=config.max_field_chars, read_errors=errors)
    rename = {"source": pl.col("source").replace(local_to_uri)} if local_to_uri else {}
    seeds = conform(result.seeds.with_columns(**rename), SEED_SCHEMA)
    quarantine = conform(result.quarantine.with_columns(**rename), QUARANTINE_SCHEMA)
    accounting = result.accounting.with_columns(**rename)

    unmapped = (
        seeds.filter(pl.col("discipline") == taxonomy.FALLBACK).group_by("subject").len().sort("len", descending=True)
    )
    if unmapped.height:
        context.log.warning(
            f"{unmapped['len'].sum()} seeds in {unmapped.height} subjects map to no discipline "
            f"and go to '{taxonomy.FALLBACK}': {unmapped['subject'].head(10).to_list()}"
        )
    evaluation = seeds.filter(evaluation_split_expr())
    if evaluation.height:
        context.log.warning(
            f"SEEDING FROM EVALUATION SPLITS: {evaluation.height} of {seeds.height} seeds come from benchmark test "
            f"splits ({evaluation['source'].n_unique()} files). They are indexed for decontamination, so every "
            "synthesized item that keeps their wording is removed from the release: expect a much smaller release. "
            "Seed from dev/validation/training splits instead."
        )
    by_discipline = seeds.group_by("discipline").len().sort("len", descending=True)
    change = register_disciplines(context.instance, by_discipline["discipline"], prune=True)
    if change.added or change.removed:
        context.log.info(f"discipline partitions: added {change.added}, removed (no seeds left) {change.removed}")
    context.add_output_metadata(
        {
            "sources": MetadataValue.md("\n".join(f"- `{s}`" for s in sources)),
            "files": len(paths),
            "rows_in": int(accounting["rows_in"].sum()),
            "quarantined": quarantine.height,
            "unreadable_files": len(unreadable),
            "quarantine_reasons": top_reasons(quarantine["reason"]),
            "control_chars_removed": int(accounting["control_chars_removed"].sum()),
            "duplicates_dropped": int(accounting["duplicates"].sum()),
            "evaluation_split_seeds": evaluation.height,
            "per_discipline": table_preview(by_discipline),
            "partitions_added": MetadataValue.json(change.added),
            "partitions_removed": MetadataValue.json(change.removed),
            "languages": counts_table(dict(seeds.group_by("language").len().iter_rows())),
            "unmapped_subjects": table_preview(unmapped),
            "accounting": table_preview(accounting, max_rows=50),
        },
        output_name="seed_sources",
    )
    context.add_output_metadata(
        {
            "by_reason": table_preview(quarantine.group_by("field", "reason").len().sort("len", descending=True)),
            "preview": table_preview(quarantine.drop("raw"), max_rows=15),
        },
        output_name="seed_quarantine",
    )
    return seeds, quarantine, accounting


@asset(
    partitions_def=discipline_partitions,
    backfill_policy=discipline_backfill_policy,
    group_name="seeds",
    kinds=KINDS,
    metadata=table_metadata("seed_qa"),
    description="Normalised seeds of one discipline.",
)
@per_discipline
def seed_qa(context: AssetExecutionContext, seed_sources: pl.LazyFrame) -> pl.DataFrame:
    seeds = seed_sources.filter(pl.col("discipline") == context.partition_key).collect()
    context.add_output_metadata(
        {
            "languages": counts_table(dict(seeds.group_by("language").len().iter_rows())),
            "qa_types": counts_table(dict(seeds.group_by("qa_type").len().iter_rows())),
            "subjects": table_preview(seeds.group_by("subject").len().sort("len", descending=True)),
            "preview": table_preview(seeds.select("seed_id", "subject", "language", "question", "answer"), max_rows=5),
        }
    )
    return seeds
