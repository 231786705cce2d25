"""`record_run_failures`: every failed run of this code location, where a person looks for it.

Each failure becomes a row of the lake table `run_failures` (one file per run, so the view lists
them all: `linkqa query "select * from run_failures"`, and `linkqa doctor` shows the latest) and a
runless materialization of the `run_failures` asset, so the UI's asset page lists them with the
run, job, partitions, failed steps and error as metadata, and plots the running count. Error
text passes the LLM layer's redactor first: an API key in an exception never lands in either.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import polars as pl
from dagster import (
    AssetMaterialization,
    AssetSpec,
    DefaultSensorStatus,
    MetadataValue,
    RunFailureSensorContext,
    run_failure_sensor,
)
from dagster_shared.error import SerializableErrorInfo

from linkqa_pipelines.core.lake import Lake
from linkqa_pipelines.core.llm.redact import Redactor
from linkqa_pipelines.core.llm.settings import API_KEY_ENV
from linkqa_pipelines.lib.lake_resource import LakeResource
from linkqa_pipelines.lib.metadata import OWNERS, table_metadata

TABLE = "run_failures"
RUN_FAILURE_SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.String(),
    "job_name": pl.String(),
    "failed_at": pl.Datetime("us", "UTC"),
    "partitions": pl.String(),  # the run's partition key or key range; empty for a global run
    "backfill_id": pl.String(),
    "tags": pl.String(),  # the run's dagster/* and linkqa/* tags as JSON (trigger, run group)
    "failed_steps": pl.List(pl.String()),
    "error": pl.String(),  # each failed step's error and its causes, outermost first
    "cause": pl.String(),  # the innermost cause of the first failed step: what went wrong
}
ERROR_CHARS = 2_000
_SECRET_ENV = (*API_KEY_ENV, "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")

run_failures_spec = AssetSpec(
    TABLE,
    group_name="operations",
    description="Runs that failed: run, job, partitions, failed steps and the (redacted) error. "
    "Recorded by the record_run_failures sensor.",
    owners=list(OWNERS),
    kinds={"parquet"},
    metadata=table_metadata(TABLE, RUN_FAILURE_SCHEMA),
)


def _partitions(tags: dict[str, str]) -> str:
    if "dagster/partition" in tags:
        return tags["dagster/partition"]
    start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    return f"{start}...{end}" if start and end else ""


def _error_chain(info: SerializableErrorInfo | None) -> list[str]:
    """The error and its causes, outermost first (Dagster wraps the asset's own exception)."""
    messages: list[str] = []
    while info is not None:
        messages.append(info.message.strip())
        info = info.cause
    return messages or ["no error recorded"]


@run_failure_sensor(
    name="record_run_failures",
    default_status=DefaultSensorStatus.STOPPED,
    description="Records each failed run in the lake table run_failures and on the run_failures asset.",
)
def record_run_failures(context: RunFailureSensorContext, lake: LakeResource) -> None:
    run = context.dagster_run
    tags = {k: v for k, v in run.tags.items() if k.startswith(("dagster/", "linkqa/"))}
    redact = Redactor(*(os.environ.get(name) for name in _SECRET_ENV))
    failures = context.get_step_failure_events()
    steps = [e.step_key for e in failures if e.step_key]
    chains = [_error_chain(e.step_failure_data.error) for e in failures]
    step_errors = [f"{e.step_key}: {' <- caused by: '.join(chain)}" for e, chain in zip(failures, chains, strict=True)]
    error = redact("\n".join(step_errors) or (context.failure_event.message or "run failed"))[:ERROR_CHARS]
    cause = redact(chains[0][-1] if chains else (context.failure_event.message or "run failed"))[:ERROR_CHARS]
    row = {
        "run_id": run.run_id,
        "job_name": run.job_name,
        "failed_at": datetime.now(UTC),
        "partitions": _partitions(tags),
        "backfill_id": tags.get("dagster/backfill", ""),
        "tags": json.dumps(tags, sort_keys=True),
        "failed_steps": steps,
        "error": error,
        "cause": cause,
    }
    store = lake.lake()
    uri = store.write(TABLE, pl.DataFrame([row], schema=RUN_FAILURE_SCHEMA), {"run": run.run_id})
    recorded = len(store.files(TABLE))
    context.instance.report_runless_asset_event(
        AssetMaterialization(
            TABLE,
            description=f"run {run.run_id} of {run.job_name} failed",
            metadata={
                "run_id": run.run_id,
                "job_name": run.job_name,
                "partitions": row["partitions"],
                "failed_steps": MetadataValue.json(steps),
                "cause": MetadataValue.text(cause),
                "error": MetadataValue.text(error),
                "failures_recorded": recorded,
                "lake_uri": uri,
            },
        )
    )
    context.log.info(f"run {run.run_id} ({run.job_name}) failed; recorded in {TABLE} ({recorded} in all)")


def recent_run_failures(lake: Lake, limit: int = 5) -> list[str]:
    """One line per recorded failure, newest first (what `linkqa doctor` prints)."""
    if not lake.files(TABLE):
        return []
    rows = lake.read(TABLE).sort("failed_at", descending=True).head(limit)
    return [
        f"{r['failed_at']:%Y-%m-%d %H:%M} UTC run {r['run_id'][:8]} {r['job_name']}"
        + (f" [{r['partitions']}]" if r["partitions"] else "")
        + f": {', '.join(r['failed_steps']) or 'run'}: {r['cause'].splitlines()[0][:200]}"
        for r in rows.iter_rows(named=True)
    ]
