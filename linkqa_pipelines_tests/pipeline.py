"""Run parts of the real code location in-process, with the resources bound to a home."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dagster import AssetKey, DagsterInstance, ExecuteInProcessResult

from linkqa_pipelines.definitions import build_definitions
from linkqa_pipelines.lib.partitions import range_tags, register_disciplines, seeded_disciplines


def materialize_assets(
    home: Path,
    names: Sequence[str] | None,
    *,
    job: str | None = None,
    partition: str | Sequence[str] | None = None,
    run_config: Mapping[str, Any] | None = None,
    llm: Mapping[str, Any] | None = None,
    resources: Mapping[str, Any] | None = None,
    instance: DagsterInstance | None = None,
    raise_on_error: bool = True,
) -> ExecuteInProcessResult:
    """Materialize `names` (with their checks), or a whole `job` of those `linkqa run` executes when
    `names` is None; upstream tables come from the lake.

    `partition` is one discipline, or several run in one run as a key range (as a single-run
    backfill does); they are registered as discipline partitions first, as ingestion would."""
    defs = build_definitions(home=str(home), llm=llm, resources=resources)
    job_def = defs.resolve_job_def(job) if job else defs.resolve_implicit_global_asset_job_def()
    instance = instance or DagsterInstance.ephemeral()
    keys = seeded_disciplines([partition] if isinstance(partition, str) else partition or [])
    if keys:
        register_disciplines(instance, keys)
    return job_def.execute_in_process(
        asset_selection=[AssetKey(n) for n in names] if names is not None else None,
        partition_key=keys[0] if len(keys) == 1 else None,
        run_config=dict(run_config or {}),
        instance=instance,
        raise_on_error=raise_on_error,
        tags=range_tags(keys) if len(keys) > 1 else None,
    )
