"""One backfill through the whole asset graph for chosen discipline partitions.

Why a backfill and not runs of a job, nor automation conditions: the graph alternates
per-discipline and global stages (seeds -> KPs per discipline -> one KP catalog and graph ->
walks, synthesis, difficulty per discipline -> one global screening -> dataset per discipline ->
one release). Dagster's asset backfill orders exactly that: a global asset runs once, after every
targeted partition upstream of it, and each partitioned stage takes all its partitions in one run
(the assets' backfill policy). Eager automation conditions cannot keep to chosen partitions here:
every global asset in the middle fans an update out to every partition downstream of it, and
fires again for each upstream partition that lands.

Sensors launch backfills with `RunRequest.for_asset_graph_subset` (the sensor daemon hands them
to the backfill daemon; schedules cannot), which Dagster 1.13 marks as not yet public.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from dagster import RepositoryDefinition, RunRequest

# The one private import of the package: a sensor can launch a backfill only by handing Dagster an
# AssetGraphSubset, for which 1.13 has no public constructor yet.
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset  # noqa: TID251

from linkqa_pipelines.defs.jobs import ingest_job

TRIGGER_TAG = "linkqa/trigger"


def graph_subset(repository: RepositoryDefinition, disciplines: Iterable[str]) -> AssetGraphSubset:
    """Every materializable asset: the partitioned ones for `disciplines` only, the global ones
    whole. With no discipline, only ingestion (a changed file that yields no seeds still changes
    the quarantine and the accounting)."""
    asset_graph = repository.asset_graph
    keys = sorted(set(disciplines))
    if not keys:
        return AssetGraphSubset(non_partitioned_asset_keys=ingest_job.selection.resolve(asset_graph))
    partitioned = {}
    whole = set()
    for key in asset_graph.materializable_asset_keys:
        partitions_def = asset_graph.get(key).partitions_def
        if partitions_def is None:
            whole.add(key)
        else:
            partitioned[key] = partitions_def.empty_subset().with_partition_keys(keys)
    return AssetGraphSubset(partitions_subsets_by_asset_key=partitioned, non_partitioned_asset_keys=whole)


def graph_backfill(
    repository: RepositoryDefinition, disciplines: Iterable[str], trigger: str, tags: Mapping[str, str] | None = None
) -> RunRequest:
    """A request the sensor daemon turns into one backfill of `graph_subset`, tagged with what asked."""
    subset = graph_subset(repository, disciplines)
    return RunRequest.for_asset_graph_subset(subset, tags={TRIGGER_TAG: trigger, **(tags or {})})
