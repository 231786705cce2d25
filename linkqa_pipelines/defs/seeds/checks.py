"""Checks on ingestion: nothing is lost (answers and schemas: `defs/contract_checks.py`)."""

import polars as pl
from dagster import AssetCheckResult, AssetCheckSeverity, AssetIn, asset_check

from linkqa_pipelines.lib.metadata import table_preview


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
