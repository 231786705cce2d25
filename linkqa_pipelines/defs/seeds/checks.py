"""Checks on ingestion: nothing is lost, and multiple-choice answers point at a choice."""

import polars as pl
from dagster import AssetCheckResult, AssetCheckSeverity, AssetIn, asset_check

from linkqa_pipelines.lib.metadata import table_preview
from linkqa_pipelines.lib.partitions import discipline_partitions


@asset_check(
    asset="seed_sources",
    additional_ins={"seed_accounting": AssetIn("seed_accounting")},
    description="rows in = seeds + quarantined + duplicates, for every source",
)
def seed_rows_accounted(seed_accounting: pl.DataFrame) -> AssetCheckResult:
    bad = seed_accounting.filter(pl.col("rows_in") != pl.col("seeds") + pl.col("quarantined") + pl.col("duplicates"))
    return AssetCheckResult(
        passed=bad.is_empty(),
        severity=AssetCheckSeverity.ERROR,
        metadata={"sources": seed_accounting.height, "unbalanced": table_preview(bad)},
    )


@asset_check(
    asset="seed_qa",
    partitions_def=discipline_partitions,
    description="every multiple-choice answer is a letter among its choices (the partition just built)",
)
def seed_answers_in_choices(seed_qa: pl.DataFrame) -> AssetCheckResult:
    letters = {chr(65 + i): i for i in range(26)}
    answer_index = pl.col("answer").str.strip_chars().str.to_uppercase().replace_strict(letters, default=None)
    bad = (
        seed_qa.filter(pl.col("qa_type") == "multiple_choice")
        .filter(answer_index.is_null() | (answer_index >= pl.col("choices").list.len()))
        .select("seed_id", "source", "source_row", "answer")
    )
    return AssetCheckResult(passed=bad.is_empty(), metadata={"violations": table_preview(bad)})
