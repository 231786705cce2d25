"""`nightly_stale_refresh`: once a night, one backfill of the stale seeded partitions through the
whole graph (it replaces the schedule that fired one loose run of one job per taxonomy discipline).

Stale means what Dagster itself calls stale or missing, restricted to the two causes this
pipeline has besides new seeds (the `seed_files` sensor handles those): a partition of some
asset was never materialized (a new discipline, a run that failed before finishing), or its
latest materialization was made by another code version (an algorithm, model or package
upgrade: `lib/metadata.code_version`). A global asset that is missing or out of date makes every
seeded partition stale, since each reads it downstream. Unchanged inputs and code are left alone:
the nightly does not recompute identical output. Only seeded disciplines are partitions at all,
so seedless ones are never scheduled.

A sensor and not a schedule, because only the sensor daemon launches backfills; it fires on
the first evaluation after each NIGHTLY_HOUR_UTC:00 UTC, its cursor being the tick handled.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from dagster import (
    AssetRecordsFilter,
    AssetSelection,
    DagsterInstance,
    DefaultSensorStatus,
    RepositoryDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from linkqa_pipelines.defs.automation.backfill import graph_backfill
from linkqa_pipelines.lib.partitions import registered_disciplines

SENSOR_NAME = "nightly_stale_refresh"
NIGHTLY_HOUR_UTC = 2
CODE_VERSION_TAG = "dagster/code_version"  # the tag Dagster puts on each materialization


def latest_tick(now: datetime) -> datetime:
    """The last NIGHTLY_HOUR_UTC:00 UTC at or before `now`."""
    tick = now.astimezone(UTC).replace(hour=NIGHTLY_HOUR_UTC, minute=0, second=0, microsecond=0)
    return tick if tick <= now else tick - timedelta(days=1)


def stale_disciplines(instance: DagsterInstance, repository: RepositoryDefinition, seeded: Sequence[str]) -> list[str]:
    """The seeded disciplines some asset partition is missing for, or was made by another code version."""
    asset_graph = repository.asset_graph
    stale: set[str] = set()
    for key in asset_graph.materializable_asset_keys:
        node = asset_graph.get(key)
        if not node.is_partitioned:
            latest = instance.get_latest_materialization_code_versions([key]).get(key)
            if latest is None or (node.code_version is not None and latest != node.code_version):
                return list(seeded)
            continue
        for discipline in seeded:
            records = instance.fetch_materializations(
                AssetRecordsFilter(asset_key=key, asset_partitions=[discipline]), limit=1
            ).records
            made = records[0].asset_materialization if records else None
            made_by = (made.tags or {}).get(CODE_VERSION_TAG) if made is not None else None
            if made is None or (node.code_version is not None and made_by != node.code_version):
                stale.add(discipline)
    return [d for d in seeded if d in stale]


@sensor(
    name=SENSOR_NAME,
    asset_selection=AssetSelection.all(),
    minimum_interval_seconds=600,
    default_status=DefaultSensorStatus.STOPPED,
    description=f"Nightly after {NIGHTLY_HOUR_UTC:02d}:00 UTC: one backfill of the seeded partitions that are missing "
    "or were made by another code version, through the whole graph.",
)
def nightly_stale_refresh(context: SensorEvaluationContext) -> SensorResult | SkipReason:
    tick = latest_tick(datetime.now(UTC)).isoformat()
    if context.cursor is None:
        return SensorResult(skip_reason=SkipReason(f"first evaluation: waiting for the tick after {tick}"), cursor=tick)
    if context.cursor >= tick:
        return SkipReason(f"the tick of {tick} is handled")
    if context.repository_def is None:
        raise RuntimeError(f"sensor {SENSOR_NAME} needs its repository (the asset graph) to request a backfill")
    seeded = registered_disciplines(context.instance)
    stale = stale_disciplines(context.instance, context.repository_def, seeded)
    if not stale:
        reason = (
            f"tick {tick}: all {len(seeded)} seeded partitions are up to date" if seeded else "no seeded partitions"
        )
        return SensorResult(skip_reason=SkipReason(reason), cursor=tick)
    context.log.info(f"tick {tick}: {len(stale)} of {len(seeded)} seeded partitions stale: {', '.join(stale)}")
    return SensorResult(run_requests=[graph_backfill(context.repository_def, stale, SENSOR_NAME)], cursor=tick)
