"""Run parts of the real code location in-process, with the resources bound to a home."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl
from dagster import AssetKey, DagsterInstance, ExecuteInProcessResult

from linkqa_pipelines.core.lake import Lake
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
    backfill does). The instance gets the discipline partitions ingestion would have registered
    (those of the seeds in the home's lake) plus these, so a global asset reading every partition
    of a per-discipline one sees them even on a fresh ephemeral instance."""
    defs = build_definitions(home=str(home), llm=llm, resources=resources)
    job_def = defs.resolve_job_def(job) if job else defs.resolve_implicit_global_asset_job_def()
    instance = instance or DagsterInstance.ephemeral()
    keys = seeded_disciplines([partition] if isinstance(partition, str) else partition or [])
    register_disciplines(instance, [*_ingested_disciplines(home), *keys])
    return job_def.execute_in_process(
        asset_selection=[AssetKey(n) for n in names] if names is not None else None,
        partition_key=keys[0] if len(keys) == 1 else None,
        run_config=dict(run_config or {}),
        instance=instance,
        raise_on_error=raise_on_error,
        tags=range_tags(keys) if len(keys) > 1 else None,
    )


def _ingested_disciplines(home: Path) -> list[str]:
    lake = Lake(home)
    if not lake.files("seed_sources"):
        return []
    return lake.scan("seed_sources").select(pl.col("discipline").unique()).collect()["discipline"].to_list()


def check_outcomes(result: Any) -> dict[str, bool]:
    """Each asset check a run evaluated, by name, and whether it passed."""
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
