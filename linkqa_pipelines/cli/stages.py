"""What one stage run produced and how many of its items failed.

`run_stage` executes one job in process, over every partition it is given in one run (a key
range, as a single-run backfill), tagged with the `linkqa run`'s run group, and keeps its row
counts, metadata, failed checks and warnings per asset partition; `stage_failures` counts
quarantined seed rows and failed model requests from that metadata. Both the run's verdict
(`run.py`) and the summary tables (`summary.py`) read these records, so they live apart from
either.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

RUN_GROUP_TAG = "linkqa/run_group"


@dataclass
class Materialized:
    """One asset partition (or unpartitioned asset) a run materialized."""

    asset: str
    partition: str | None
    metadata: dict[str, Any]

    @property
    def rows(self) -> int | None:
        value = self.metadata.get("dagster/row_count")
        return None if value is None else int(value)


@dataclass
class StageResult:
    stage: str
    partitions: tuple[str, ...]  # empty for an unpartitioned stage
    seconds: float
    run_id: str = ""
    materialized: list[Materialized] = field(default_factory=list[Materialized])
    failed_checks: list[str] = field(default_factory=list[str])
    warnings: list[str] = field(default_factory=list[str])
    step_seconds: dict[str, float] = field(default_factory=dict[str, float])  # each step's own time

    @property
    def rows(self) -> Counter[str]:
        """Rows per asset, summed over the run's partitions."""
        totals: Counter[str] = Counter()
        for m in self.materialized:
            if m.rows is not None:
                totals[m.asset] += m.rows
        return totals

    def partition_rows(self) -> dict[str, dict[str, int]]:
        """Rows per partition and asset."""
        out: dict[str, dict[str, int]] = {}
        for m in self.materialized:
            if m.partition is not None and m.rows is not None:
                out.setdefault(m.partition, {})[m.asset] = m.rows
        return out


def _metadata_value(value: Any) -> Any:
    return getattr(value, "value", value)


def _log_config(debug: bool) -> dict[str, Any]:
    """Dagster's console log: everything with --debug; otherwise none (warnings are echoed in one
    line each after the run, errors by the CLI, and the UI keeps the full log)."""
    return {"loggers": {"console": {"config": {"log_level": "DEBUG" if debug else "CRITICAL"}}}}


def run_tags(run_group: str, partitions: Sequence[str]) -> dict[str, str]:
    """The run group on every run; several partitions become one run over their key range."""
    from linkqa_pipelines.lib.partitions import range_tags

    return {RUN_GROUP_TAG: run_group, **(range_tags(partitions) if len(partitions) > 1 else {})}


def run_stage(
    job: Any,
    instance: Any,
    stage: str,
    partitions: Sequence[str],
    run_config: dict[str, Any],
    *,
    debug: bool,
    run_group: str,
) -> StageResult:
    """One in-process run over `partitions` (none: an unpartitioned stage); its warnings are kept
    as one line each (the UI has the full log)."""
    started = time.perf_counter()
    result = job.execute_in_process(
        instance=instance,
        partition_key=partitions[0] if len(partitions) == 1 else None,
        run_config={**_log_config(debug), **run_config},
        tags=run_tags(run_group, partitions),
        raise_on_error=True,
    )
    out = StageResult(stage, tuple(partitions), time.perf_counter() - started, result.run_id)
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        meta = {k: _metadata_value(v) for k, v in mat.metadata.items()}
        out.materialized.append(Materialized(mat.asset_key.to_user_string(), mat.partition, meta))
    for event in result.all_events:
        if event.is_step_success and event.step_key:
            out.step_seconds[event.step_key] = event.event_specific_data.duration_ms / 1000
    for check in result.get_asset_check_evaluations():
        if not check.passed and check.severity.value == "ERROR":
            out.failed_checks.append(f"{check.asset_key.to_user_string()}: {check.check_name}")
    for entry in instance.all_logs(result.run_id):
        if entry.level >= logging.WARNING and not entry.is_dagster_event and entry.user_message:
            out.warnings.append(f"{entry.step_key or stage}: {entry.user_message.strip().splitlines()[0]}")
    return out


@dataclass
class StageFailures:
    """One stage's failures over all its runs: what was attempted, what failed, the top reasons."""

    stage: str
    what: str  # "seed rows quarantined", "synthesized_qa requests failed", ...
    total: int = 0
    failed: int = 0
    reasons: Counter[str] = field(default_factory=Counter[str])

    @property
    def rate(self) -> float:
        return self.failed / self.total if self.total else 0.0

    def line(self) -> str:
        top = "; ".join(f"{n:,}x {reason}" for reason, n in self.reasons.most_common(3))
        return f"{self.stage}: {self.failed:,} of {self.total:,} {self.what} ({self.rate:.1%})" + (
            f"; most often: {top}" if top else ""
        )


def stage_failures(stage: str, results: Sequence[StageResult]) -> list[StageFailures]:
    """Failures of one stage from its runs' metadata: quarantined seed rows, failed model requests
    (every model task of an asset, e.g. difficulty's judge and `enhance_` tasks), per partition."""
    found: dict[str, StageFailures] = {}
    for m in (m for r in results for m in r.materialized):
        meta = m.metadata
        if m.asset == "seed_sources" and "rows_in" in meta:
            acc = found.setdefault(m.asset, StageFailures(stage, "seed rows quarantined"))
            acc.total += int(meta["rows_in"])
            acc.failed += int(meta.get("quarantined") or 0)
            acc.reasons.update(meta.get("quarantine_reasons") or {})
        for key in meta:
            if not key.endswith("llm_requests"):
                continue
            prefix = key.removesuffix("llm_requests")
            task = f"{m.asset} {prefix.rstrip('_')}".strip()
            acc = found.setdefault(task, StageFailures(stage, f"{task} requests failed"))
            acc.total += int(meta[key] or 0)
            acc.failed += int(meta.get(f"{prefix}llm_failures") or 0)
            acc.reasons.update(meta.get(f"{prefix}llm_failure_reasons") or {})
    return list(found.values())


def over_limit(failures: Sequence[StageFailures], max_rate: float, strict: bool) -> list[StageFailures]:
    return [f for f in failures if f.failed and (strict or f.rate > max_rate)]
