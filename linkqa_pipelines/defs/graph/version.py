"""Which KP graph a table was built on, and the lock that keeps concurrent runs on one home from
mixing graphs.

The graph version is a content hash of the catalog nodes and the seed links `kp_graph` built,
stored as the `graph_version` column of `kp_seed_links` and in its metadata; `walk_paths`
copies the version it read into each of its partitions, so a partition built on a graph that
was rebuilt since can be found (`stale_disciplines`, the walks check, the CLI).

The CLI holds `core.home_lock.HomeLock(home, "kp_graph")` exclusively while a run rebuilds the
catalog and graph and shared while a run reads it (walks through release), so one run never
rebuilds the graph under another that is still using it.
"""

from __future__ import annotations

import hashlib

import polars as pl

VERSION_COLUMN = "graph_version"


def graph_version(catalog: pl.DataFrame, seed_links: pl.DataFrame) -> str:
    """12 hex digits over the graph's nodes and seed links (row order does not matter)."""
    digest = hashlib.sha1()
    for frame in (catalog.select("kp_id", "node"), seed_links.select("seed_id", "kp_id", "node", "discipline")):
        digest.update(frame.hash_rows(seed=0).sort().to_numpy().tobytes())
    return digest.hexdigest()[:12]


def current_version(seed_links: pl.LazyFrame) -> str | None:
    """The version of the graph in the lake (None before any graph was built)."""
    schema = seed_links.collect_schema()
    if VERSION_COLUMN not in schema:
        return None
    versions = seed_links.select(pl.col(VERSION_COLUMN).unique()).collect()[VERSION_COLUMN].drop_nulls()
    return versions[0] if versions.len() == 1 else None


def stale_disciplines(walk_paths: pl.LazyFrame, current: str | None) -> pl.DataFrame:
    """Per discipline the graph versions its walk paths were built on, where they are not `current`."""
    if VERSION_COLUMN not in walk_paths.collect_schema():
        return pl.DataFrame(schema={"discipline": pl.String, VERSION_COLUMN: pl.String})
    return (
        walk_paths.select("discipline", VERSION_COLUMN)
        .unique()
        .filter(pl.col(VERSION_COLUMN).is_null() | (pl.col(VERSION_COLUMN) != pl.lit(current, pl.String)))
        .sort("discipline")
        .collect()
    )
