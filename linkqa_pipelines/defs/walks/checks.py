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


MIN_USABLE_SHARE = 0.5  # below this most of a discipline's walks fail to link two seeds: look at its KPs


@asset_check(
    asset="walk_paths",
    partitions_def=discipline_partitions,
    additional_ins={"walk_paths_unseeded": AssetIn("walk_paths_unseeded")},
    description=f"at least {MIN_USABLE_SHARE:.0%} of each discipline's sampled paths got two or more linked seeds "
    "(usable for synthesis); the unseeded rest is in walk_paths_unseeded",
)
def walk_paths_usable_share(walk_paths: pl.DataFrame, walk_paths_unseeded: pl.DataFrame) -> AssetCheckResult:
    usable = walk_paths.group_by("discipline").len("usable")
    unseeded = walk_paths_unseeded.group_by("discipline").len("unseeded")
    shares = (
        usable.join(unseeded, on="discipline", how="full", coalesce=True)
        .fill_null(0)
        .with_columns(usable_share=pl.col("usable") / (pl.col("usable") + pl.col("unseeded")))
        .sort("discipline")
    )
    low = shares.filter(pl.col("usable_share") < MIN_USABLE_SHARE)
    n_usable, n_unseeded = int(shares["usable"].sum()), int(shares["unseeded"].sum())
    return AssetCheckResult(
        passed=low.is_empty(),
        severity=AssetCheckSeverity.WARN,
        metadata={
            "usable_share": n_usable / (n_usable + n_unseeded) if n_usable + n_unseeded else 0.0,
            "below_minimum": table_preview(low),
        },
    )
