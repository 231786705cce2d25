"""The tables printed after `linkqa run`: rows per asset and discipline, time per stage, LLM use,
and where rows left the pipeline with the top reasons.

Presentation only: it reads the stage records (`stages.py`) and the reject tables, and decides
nothing about the run's exit code.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any

from linkqa_pipelines.cli.stages import StageResult, stage_failures

# Where rows leave the pipeline: (step, rows in, rows out, the table that keeps the rest). A reject
# table's reasons are read per step: the dataset's rejects repeat the screening's, so only its
# own (the target mix) count there.
FLOW: tuple[tuple[str, tuple[str, ...], str, str | None], ...] = (
    ("ingest", ("seed_sources", "seed_quarantine"), "seed_sources", "seed_quarantine"),
    ("walks", ("walk_paths", "walk_paths_unseeded"), "walk_paths", "walk_paths_unseeded"),
    ("synthesis", ("walk_paths",), "synthesized_qa", None),
    ("verification", ("synthesized_qa",), "qa_verification", None),
    ("difficulty", ("qa_verification",), "difficulty_scored_qa", None),
    ("screening", ("difficulty_scored_qa",), "screened_qa", "screened_qa_rejects"),
    ("dataset", ("screened_qa",), "linkqa_dataset", "linkqa_dataset_rejects"),
)
REJECT_STAGES = {"linkqa_dataset_rejects": "target_mix"}


def _flow_table(results: Sequence[StageResult]) -> Any:
    """Rows in and out per step with the top reasons rows left (quarantine, failures, unusable
    paths, dedup, decontamination, mix), read from the runs' metadata and the reject tables."""
    from rich.table import Table

    totals: Counter[str] = Counter()
    for r in results:
        totals.update(r.rows)
    reasons: dict[str, Counter[str]] = {}
    stages = dict.fromkeys(r.stage for r in results)
    for f in (f for st in stages for f in stage_failures(st, [r for r in results if r.stage == st])):
        asset_name = f.what.split(" ")[0]
        reasons.setdefault("ingest" if asset_name == "seed" else asset_name, Counter()).update(f.reasons)
    table = Table(title="Where rows went")
    for name in ("step", "in", "out", "left out", "top reasons"):
        table.add_column(name, justify="right" if name in ("in", "out", "left out") else "left")
    for step, ins, out, rest in FLOW:
        if out not in totals:
            continue
        n_in = sum(totals[a] for a in ins)
        why = reasons.get(step, Counter()) + reasons.get(out, Counter())
        if rest == "walk_paths_unseeded" and totals[rest]:
            why["path got fewer than two seeds"] += totals[rest]
        elif rest is not None and rest != "seed_quarantine":
            why.update(_reject_reasons(rest, REJECT_STAGES.get(rest)))
        top = "; ".join(f"{n:,}x {reason}" for reason, n in why.most_common(3))
        table.add_row(step, f"{n_in:,}", f"{totals[out]:,}", f"{max(n_in - totals[out], 0):,}", top)
    return table


def _reject_reasons(table: str, stage: str | None) -> Counter[str]:
    """Reasons in a reject table (dedup, decontamination, verification, target mix), counted."""
    import polars as pl

    from linkqa_pipelines.core.lake import Lake, LakeError
    from linkqa_pipelines.settings import linkqa_home

    try:
        rows = Lake(linkqa_home()).scan(table)
        if stage is not None:
            rows = rows.filter(pl.col("stage") == stage)
        counts = rows.group_by("stage", "reason").len().collect()
    except (OSError, LakeError, pl.exceptions.PolarsError):  # no such table yet: no reasons to show
        return Counter()
    return Counter({f"{st}: {reason}": n for st, reason, n in counts.iter_rows()})


def print_summary(console: Any, results: Sequence[StageResult], total: float) -> None:
    from rich.table import Table

    unpartitioned = Table(title="Rows per asset")
    unpartitioned.add_column("asset")
    unpartitioned.add_column("rows", justify="right")
    per_partition: dict[str, dict[str, int]] = {}
    for r in results:
        if not r.partitions:
            for asset_name, n in r.rows.items():
                unpartitioned.add_row(asset_name, f"{n:,}")
        for partition, counts in r.partition_rows().items():
            per_partition.setdefault(partition, {}).update(counts)
    console.print(unpartitioned)
    assets = list(dict.fromkeys(a for counts in per_partition.values() for a in counts))
    if assets:
        grid = Table(title="Rows per discipline partition")
        grid.add_column("discipline")
        for asset_name in assets:
            grid.add_column(asset_name, justify="right")
        for partition, counts in per_partition.items():
            grid.add_row(partition, *(f"{counts.get(a, 0):,}" for a in assets))
        grid.add_row("total", *(f"{sum(c.get(a, 0) for c in per_partition.values()):,}" for a in assets))
        console.print(grid)

    stages = Table(title="Time per stage (in steps: the assets' own work; the rest is Dagster's run overhead)")
    for name in ("stage", "runs", "disciplines", "seconds", "in steps"):
        stages.add_column(name, justify="left" if name == "stage" else "right")
    by_stage: dict[str, list[StageResult]] = {}
    for r in results:
        by_stage.setdefault(r.stage, []).append(r)
    for stage, rs in by_stage.items():
        n = sum(len(r.partitions) for r in rs)
        seconds, in_steps = sum(r.seconds for r in rs), sum(sum(r.step_seconds.values()) for r in rs)
        stages.add_row(stage, str(len(rs)), f"{n:,}" if n else "-", f"{seconds:.1f}", f"{in_steps:.1f}")
    in_steps = sum(sum(r.step_seconds.values()) for r in results)
    stages.add_row("total (with start-up and summary)", str(len(results)), "", f"{total:.1f}", f"{in_steps:.1f}")
    console.print(stages)

    llm = Table(title="LLM use per stage (summed over partitions)")
    counters = {
        "llm_requests": "requests",
        "llm_calls": "calls",
        "llm_cache_hits": "cached",
        "llm_retries": "retries",
        "llm_failures": "failed",
        "llm_prompt_tokens": "tok in",
        "llm_completion_tokens": "tok out",
        "llm_cost_usd": "USD",
    }
    llm.add_column("asset")
    llm.add_column("backend")
    for label in counters.values():
        llm.add_column(label, justify="right")
    totals: dict[tuple[str, str], dict[str, float]] = {}
    for m in (m for r in results for m in r.materialized):
        if "llm_backend" in m.metadata:
            acc = totals.setdefault((m.asset, str(m.metadata["llm_backend"])), dict.fromkeys(counters, 0.0))
            for c in counters:
                acc[c] += float(m.metadata.get(c) or 0)
    for (asset_name, backend), acc in totals.items():
        llm.add_row(
            asset_name, backend, *(f"{acc[c]:.2f}" if c == "llm_cost_usd" else f"{int(acc[c]):,}" for c in counters)
        )
    if llm.row_count:
        console.print(llm)
    for m in (m for r in results for m in r.materialized):  # screening's reasons are in the flow table
        evaluation = m.metadata.get("evaluation_split_seeds") if m.asset == "seed_sources" else None
        if evaluation:
            console.print(
                f"[yellow]{evaluation:,} seeds came from benchmark test splits: their copies are removed "
                "from the release as contamination[/yellow]"
            )
    console.print(_flow_table(results))
    quarantined = next((r.rows.get("seed_quarantine") for r in results if "seed_quarantine" in r.rows), 0)
    console.print(f"quarantined seed rows: {quarantined:,} (table seed_quarantine)")


def table_console() -> Any:
    """Tables at their full width when piped or logged (a terminal keeps its own width)."""
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=1000)
