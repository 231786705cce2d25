"""Checks on the walks: a partition walked on a KP graph that has been rebuilt since is stale."""

import polars as pl
from dagster import AssetCheckResult, AssetCheckSeverity, AssetIn, asset_check

from linkqa_pipelines.defs.graph.version import VERSION_COLUMN, current_version, stale_disciplines
from linkqa_pipelines.lib.metadata import table_preview
from linkqa_pipelines.lib.partitions import discipline_partitions


@asset_check(
    asset="walk_paths",
    partitions_def=discipline_partitions,
    additional_ins={"kp_seed_links": AssetIn("kp_seed_links")},
    description="the partition was walked on the current KP graph (graph_version equals kp_seed_links'); "
    "a concurrent run that rebuilt the graph makes it stale: rerun the discipline's walks and later stages",
)
def walk_paths_on_current_graph(walk_paths: pl.LazyFrame, kp_seed_links: pl.LazyFrame) -> AssetCheckResult:
    current = current_version(kp_seed_links)
    stale = stale_disciplines(walk_paths, current)
    return AssetCheckResult(
        passed=stale.is_empty(),
        severity=AssetCheckSeverity.ERROR,
        metadata={f"current_{VERSION_COLUMN}": str(current), "stale": table_preview(stale)},
    )
