"""`seed_files`: new, changed or removed seed files start a backfill of the disciplines they touch.

The sensor watches the sources ingestion reads (the `inputs` resource: `LINKQA_SEEDS`, or the
bundled sample), local folders and `s3://` prefixes alike. Its cursor keeps each file's
fingerprint (size and mtime, or the S3 ETag) and the disciplines its seeds fell into; a file whose
fingerprint is new is read (alone, as ingestion reads it) to learn its disciplines. A changed or
removed file also touches the disciplines it had before. It then asks for the disciplines that
are new as partitions, and for one backfill of the whole graph over the touched ones: ingestion,
their per-discipline stages, and the global stages between and after them.

The first evaluation has no cursor, so every file is new to it: turning the sensor on over a
fresh home runs everything the seeds touch.
"""

from __future__ import annotations

from pathlib import Path

from dagster import AssetSelection, DefaultSensorStatus, SensorEvaluationContext, SensorResult, SkipReason, sensor
from dagster_aws.s3 import S3Resource

from linkqa_pipelines.core.seeds import fetch_s3_sources
from linkqa_pipelines.core.seeds.watch import (
    SeedFile,
    WatchState,
    file_disciplines,
    local_seed_files,
    s3_seed_files,
    seed_changes,
)
from linkqa_pipelines.defs.automation.backfill import graph_backfill
from linkqa_pipelines.defs.seeds.config import PipelineInputs
from linkqa_pipelines.lib.lake_resource import LakeResource
from linkqa_pipelines.lib.partitions import partition_requests, registered_disciplines
from linkqa_pipelines.taxonomy import load_taxonomy

SENSOR_NAME = "seed_files"


@sensor(
    name=SENSOR_NAME,
    asset_selection=AssetSelection.all(),
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.STOPPED,
    description="New, changed or removed seed files (local or s3://) -> one backfill of the disciplines they touch.",
)
def seed_files(
    context: SensorEvaluationContext, inputs: PipelineInputs, lake: LakeResource, s3: S3Resource
) -> SensorResult | SkipReason:
    sources = inputs.seed_sources([])
    remote = [s for s in sources if s.startswith("s3://")]
    client = s3.get_client() if remote else None
    files: list[SeedFile] = local_seed_files([s for s in sources if not s.startswith("s3://")])
    if remote:
        files += s3_seed_files(client, remote)
    cache = lake.home_path / "cache" / "s3"  # ingestion's download cache, keyed by ETag
    map_subjects = load_taxonomy().map_subjects

    def disciplines_of(uri: str) -> tuple[str, ...]:
        path = fetch_s3_sources(client, [uri], cache)[0] if uri.startswith("s3://") else Path(uri)
        return file_disciplines(path, map_subjects)

    changes = seed_changes(WatchState.loads(context.cursor), files, disciplines_of)
    if not changes.any:
        return SkipReason(f"no new, changed or removed seed file among {len(files)}")
    context.log.info(
        f"{len(changes.changed)} new or changed, {len(changes.removed)} removed seed file(s); "
        f"disciplines touched: {', '.join(changes.disciplines) or 'none (ingestion only)'}"
    )
    seeded = {d for uri in changes.changed for d in changes.state.files[uri].disciplines}
    registered = registered_disciplines(context.instance)
    # A discipline only a removed file had, and never registered, has no partition to refresh.
    targets = [d for d in changes.disciplines if d in seeded or d in registered]
    if context.repository_def is None:
        raise RuntimeError(f"sensor {SENSOR_NAME} needs its repository (the asset graph) to request a backfill")
    return SensorResult(
        run_requests=[graph_backfill(context.repository_def, targets, SENSOR_NAME)],
        dynamic_partitions_requests=partition_requests(registered, seeded),
        cursor=changes.state.dumps(),
    )
