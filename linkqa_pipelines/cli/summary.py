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

# Where rows leave the pipeline: (step, rows in, rows out, the table that keeps the rest, its reason column)
FLOW: tuple[tuple[str, tuple[str, ...], str, str | None], ...] = (
    ("ingest", ("seed_sources", "seed_quarantine"), "seed_sources", "seed_quarantine"),
    ("walks", ("walk_paths", "walk_paths_unseeded"), "walk_paths", "walk_paths_unseeded"),
    ("synthesis", ("walk_paths",), "synthesized_qa", None),
    ("difficulty", ("synthesized_qa",), "difficulty_scored_qa", None),
    ("dataset", ("difficulty_scored_qa",), "linkqa_dataset", "linkqa_dataset_rejects"),
)


def _flow_table(results: Sequence[StageResult]) -> Any:
    """Rows in and out per step with the top reasons rows left (quarantine, failures, unusable
    paths, dedup, decontamination, mix), read from the runs' metadata and the reject tables."""
    from rich.table import Table

    totals: Counter[str] = Counter()
    for r in results:
        totals.update(r.rows)
    reasons: dict[str, Counter[str]] = {}
    for f in (f for st in dict.fromkeys(r.stage for r in results) for f in stage_failures(st, results)):
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
        if rest == "linkqa_dataset_rejects":
            why.update(_reject_reasons())
        top = "; ".join(f"{n:,}x {reason}" for reason, n in why.most_common(3))
        table.add_row(step, f"{n_in:,}", f"{totals[out]:,}", f"{max(n_in - totals[out], 0):,}", top)
    return table


def _reject_reasons() -> Counter[str]:
    """Reasons in linkqa_dataset_rejects (dedup, decontamination, target mix), counted."""
    import polars as pl

    from linkqa_pipelines.core.lake import Lake
    from linkqa_pipelines.settings import linkqa_home

    try:
        counts = Lake(linkqa_home()).scan("linkqa_dataset_rejects").group_by("stage", "reason").len().collect()
    except (OSError, pl.exceptions.PolarsError):
        return Counter()
    return Counter({f"{st}: {reason}": n for st, reason, n in counts.iter_rows()})


def print_summary(console: Any, results: Sequence[StageResult], total: float) -> None:
    from rich.table import Table

    unpartitioned = Table(title="Rows per asset")
    unpartitioned.add_column("asset")
    unpartitioned.add_column("rows", justify="right")
    per_partition: dict[str, dict[str, int]] = {}
    for r in results:
        for asset_name, n in r.rows.items():
            if r.partition is None:
                unpartitioned.add_row(asset_name, f"{n:,}")
            else:
                per_partition.setdefault(r.partition, {})[asset_name] = n
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

    stages = Table(title="Time per stage")
    stages.add_column("stage")
    stages.add_column("runs", justify="right")
    stages.add_column("seconds", justify="right")
    by_stage: dict[str, list[StageResult]] = {}
    for r in results:
        by_stage.setdefault(r.stage, []).append(r)
    for stage, rs in by_stage.items():
        stages.add_row(stage, str(len(rs)), f"{sum(r.seconds for r in rs):.1f}")
    stages.add_row("total", str(len(results)), f"{total:.1f}")
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
    for r in results:
        for asset_name, meta in r.metadata.items():
            if "llm_backend" in meta:
                acc = totals.setdefault((asset_name, str(meta["llm_backend"])), dict.fromkeys(counters, 0.0))
                for c in counters:
                    acc[c] += float(meta.get(c) or 0)
    for (asset_name, backend), acc in totals.items():
        llm.add_row(
            asset_name, backend, *(f"{acc[c]:.2f}" if c == "llm_cost_usd" else f"{int(acc[c]):,}" for c in counters)
        )
    if llm.row_count:
        console.print(llm)
    for r in results:  # why items did not reach the release (an empty release says why here)
        screened = r.metadata.get("screened_qa", {})
        if "removed_by_reason" in screened:
            console.print(
                f"left out by global dedup and decontamination (table screened_qa_rejects):\n"
                f"{screened['removed_by_reason']}"
            )
        evaluation = r.metadata.get("seed_sources", {}).get("evaluation_split_seeds")
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
