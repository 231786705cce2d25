"""What one stage run produced and how many of its items failed.

`run_stage` executes one job in process and keeps its row counts, metadata and warnings;
`stage_failures` counts quarantined seed rows and failed model requests from that metadata.
Both the run's verdict (`run.py`) and the summary tables (`summary.py`) read these records,
so they live apart from either.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class StageResult:
    stage: str
    partition: str | None
    seconds: float
    rows: dict[str, int] = field(default_factory=dict[str, int])
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict[str, dict[str, Any]])
    warnings: list[str] = field(default_factory=list[str])


def _metadata_value(value: Any) -> Any:
    return getattr(value, "value", value)


def _log_config(debug: bool) -> dict[str, Any]:
    """Dagster's console log: everything with --debug; otherwise none (warnings are echoed in one
    line each after the run, errors by the CLI, and the UI keeps the full log)."""
    return {"loggers": {"console": {"config": {"log_level": "DEBUG" if debug else "CRITICAL"}}}}


def run_stage(
    job: Any, instance: Any, stage: str, partition: str | None, run_config: dict[str, Any], debug: bool
) -> StageResult:
    """One in-process run; its warnings are kept as one line each (the UI has the full log)."""
    started = time.perf_counter()
    result = job.execute_in_process(
        instance=instance,
        partition_key=partition,
        run_config={**_log_config(debug), **run_config},
        raise_on_error=True,
    )
    out = StageResult(stage, partition, time.perf_counter() - started)
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        name = mat.asset_key.to_user_string()
        meta = {k: _metadata_value(v) for k, v in mat.metadata.items()}
        out.metadata[name] = meta
        if "dagster/row_count" in meta:
            out.rows[name] = int(meta["dagster/row_count"])
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
    (every model task of an asset, e.g. difficulty's judge and `enhance_` tasks)."""
    found: dict[str, StageFailures] = {}
    for r in results:
        for asset_name, meta in r.metadata.items():
            if asset_name == "seed_sources" and "rows_in" in meta:
                acc = found.setdefault(asset_name, StageFailures(stage, "seed rows quarantined"))
                acc.total += int(meta["rows_in"])
                acc.failed += int(meta.get("quarantined") or 0)
                acc.reasons.update(meta.get("quarantine_reasons") or {})
            for key in meta:
                if not key.endswith("llm_requests"):
                    continue
                prefix = key.removesuffix("llm_requests")
                task = f"{asset_name} {prefix.rstrip('_')}".strip()
                acc = found.setdefault(task, StageFailures(stage, f"{task} requests failed"))
                acc.total += int(meta[key] or 0)
                acc.failed += int(meta.get(f"{prefix}llm_failures") or 0)
                acc.reasons.update(meta.get(f"{prefix}llm_failure_reasons") or {})
    return list(found.values())


def over_limit(failures: Sequence[StageFailures], max_rate: float, strict: bool) -> list[StageFailures]:
    return [f for f in failures if f.failed and (strict or f.rate > max_rate)]
