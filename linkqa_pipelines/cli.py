"""`linkqa`: run the whole pipeline in-process on the local Dagster instance, and inspect results.

Runs are recorded in the Dagster instance under `DAGSTER_HOME` (default
`LINKQA_HOME/dagster`), so `dagster dev` started with the same home shows every run,
materialization and the lineage afterwards.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LLM_FLAGS = ("backend", "base_url", "model", "response_format", "concurrency")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="linkqa",
        description="LinkQA Pipelines: seed QA -> knowledge points -> KP graph -> walks -> synthesized QA.",
    )
    parser.add_argument("--home", help="LINKQA_HOME: lake, warehouse, caches, Dagster instance (default ./.linkqa)")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run",
        help="materialize the whole asset graph",
        description="Materialize every asset, stage by stage, for all disciplines that have seeds "
        "(or --disciplines), recording runs on the local Dagster instance.",
    )
    run.add_argument("--seeds", nargs="+", metavar="PATH", help="seed files/folders or s3:// URIs (default: sample)")
    run.add_argument("--adapter", help="force one seed adapter: mmlu_csv, cmmlu_csv, gsm8k_jsonl, math_jsonl, generic")
    run.add_argument("--disciplines", help="comma-separated discipline ids (default: every discipline with seeds)")
    run.add_argument("--paths", type=int, metavar="N", help="walk paths to sample per discipline")
    run.add_argument("--backend", choices=["offline", "openai", "vllm"], help="LLM backend (env LINKQA_LLM_BACKEND)")
    run.add_argument("--base-url", help="OpenAI-compatible endpoint (env LINKQA_LLM_BASE_URL)")
    run.add_argument("--model", help="model name (env LINKQA_LLM_MODEL); the key comes from LINKQA_LLM_API_KEY")
    run.add_argument("--response-format", choices=["json_schema", "json_object", "text"], help="structured output mode")
    run.add_argument("--concurrency", type=int, help="requests in flight per stage (default 64)")

    sub.add_parser("disciplines", help="list discipline ids (partition keys)")
    sub.add_parser("tables", help="list the warehouse's tables")
    query = sub.add_parser("query", help="run SQL on the DuckDB warehouse, e.g. 'select count(*) from seed_qa'")
    query.add_argument("sql")
    return parser


@dataclass
class StageResult:
    stage: str
    partition: str | None
    seconds: float
    rows: dict[str, int] = field(default_factory=dict)
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)


def _configure_env(args: argparse.Namespace) -> None:
    """`--home` becomes LINKQA_HOME, so the resources, the instance and `dagster dev` agree."""
    if args.home:
        os.environ["LINKQA_HOME"] = str(Path(args.home).expanduser().resolve())
    from linkqa_pipelines.settings import dagster_home, linkqa_home

    linkqa_home().mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DAGSTER_HOME", str(dagster_home()))
    instance_dir = Path(os.environ["DAGSTER_HOME"])
    instance_dir.mkdir(parents=True, exist_ok=True)
    config = instance_dir / "dagster.yaml"
    if not config.exists():  # a local instance: SQLite storage beside it, no telemetry
        config.write_text("telemetry:\n  enabled: false\n", encoding="utf-8")


def _metadata_value(value: Any) -> Any:
    return getattr(value, "value", value)


QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _run_stage(job: Any, instance: Any, stage: str, partition: str | None, run_config: dict) -> StageResult:
    """One in-process run; Dagster's console log is kept to warnings (the UI has the full log)."""
    started = time.perf_counter()
    result = job.execute_in_process(
        instance=instance, partition_key=partition, run_config={**QUIET, **run_config}, raise_on_error=True
    )
    out = StageResult(stage, partition, time.perf_counter() - started)
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        name = mat.asset_key.to_user_string()
        meta = {k: _metadata_value(v) for k, v in mat.metadata.items()}
        out.metadata[name] = meta
        if "dagster/row_count" in meta:
            out.rows[name] = int(meta["dagster/row_count"])
    return out


def _print_summary(console: Any, results: Sequence[StageResult], total: float) -> None:
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
    quarantined = next((r.rows.get("seed_quarantine") for r in results if "seed_quarantine" in r.rows), 0)
    console.print(f"quarantined seed rows: {quarantined:,} (table seed_quarantine)")


def cmd_run(args: argparse.Namespace) -> int:
    from dagster import DagsterInstance
    from rich.console import Console
    from rich.markup import escape

    from linkqa_pipelines.core.llm import LLMSettings
    from linkqa_pipelines.definitions import build_definitions
    from linkqa_pipelines.settings import linkqa_home
    from linkqa_pipelines.taxonomy import load_taxonomy

    console = Console(stderr=True)
    known = load_taxonomy().discipline_ids
    wanted: list[str] | None = None
    if args.disciplines:
        wanted = [d.strip() for d in args.disciplines.split(",") if d.strip()]
        unknown = sorted(set(wanted) - set(known))
        if unknown:
            console.print(f"[red]unknown discipline(s) {unknown}; see `linkqa disciplines`[/red]")
            return 2

    instance = DagsterInstance.get()
    llm = {flag: getattr(args, flag) for flag in LLM_FLAGS}
    defs = build_definitions(llm=llm)
    backend = LLMSettings.from_env(**llm).backend
    ingest_config: dict[str, Any] = {}
    if args.seeds:
        ingest_config["sources"] = [s if s.startswith("s3://") else str(Path(s).resolve()) for s in args.seeds]
    if args.adapter:
        ingest_config["adapter"] = args.adapter
    walk_config = {"ops": {"walk_paths": {"config": {"n_paths": args.paths}}}} if args.paths else {}

    console.print(f"[bold]linkqa run[/bold]  home={linkqa_home()}  dagster_home={os.environ['DAGSTER_HOME']}")
    console.print(f"LLM backend: [bold]{backend}[/bold]")
    results: list[StageResult] = []
    started = time.perf_counter()

    def stage(name: str, job_name: str, partitions: Sequence[str | None], run_config: dict) -> None:
        job = defs.resolve_job_def(job_name)
        for i, partition in enumerate(partitions, 1):
            label = escape(f"{name} [{partition}] ({i}/{len(partitions)})" if partition else name)
            with console.status(f"running {label} ..."):
                res = _run_stage(job, instance, name, partition, run_config)
            shown = ", ".join(f"{k}={v:,}" for k, v in res.rows.items())
            console.print(f"  [green]done[/green] {label} in {res.seconds:.1f}s  {shown}")
            results.append(res)

    try:
        stage(
            "ingest",
            "ingest_job",
            [None],
            {"ops": {"ingest_seeds": {"config": ingest_config}}} if ingest_config else {},
        )
        present = _disciplines_with_seeds()
        disciplines = [d for d in (wanted or known) if d in present]
        skipped = sorted(set(wanted or []) - set(present))
        if skipped:
            console.print(f"[yellow]no seeds for {skipped}: skipped[/yellow]")
        if not disciplines:
            console.print("[red]no discipline has seeds: nothing to do (see seed_quarantine)[/red]")
            return 1
        stage("seeds+knowledge points", "discipline_seed_job", disciplines, {})
        stage("catalog+graph", "graph_job", [None], {})
        stage("walks+synthesis+difficulty", "discipline_synthesis_job", disciplines, walk_config)
        stage("global dedup+decontamination", "screen_job", [None], {})
        stage("dataset (difficulty mix)", "discipline_dataset_job", disciplines, {})
        stage("release", "release_job", [None], {})
    except Exception as exc:  # report the user's error, not Dagster's wrapper
        cause = exc.__cause__ or exc
        console.print(f"[red]linkqa run failed:[/red] {type(cause).__name__}: {cause}")
        return 1
    _print_summary(Console(), results, time.perf_counter() - started)
    console.print(f"warehouse: {linkqa_home() / 'warehouse.duckdb'}   release: {linkqa_home() / 'release'}")
    return 0


def _disciplines_with_seeds() -> set[str]:
    import polars as pl

    from linkqa_pipelines.core.lake import Lake
    from linkqa_pipelines.settings import linkqa_home

    seeds = Lake(linkqa_home()).scan("seed_sources").select(pl.col("discipline").unique()).collect()
    return set(seeds["discipline"].to_list())


def cmd_query(sql: str) -> int:
    from linkqa_pipelines.core.lake import Lake
    from linkqa_pipelines.settings import linkqa_home

    con = Lake(linkqa_home()).connect(read_only=True)
    try:
        con.sql(sql).show(max_rows=50)
    finally:
        con.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_env(args)
    if args.command == "run":
        return cmd_run(args)
    if args.command == "disciplines":
        from linkqa_pipelines.taxonomy import load_taxonomy

        for d in load_taxonomy().disciplines:
            print(f"{d.id:32} {d.name} / {d.label_zh}")
        return 0
    if args.command == "tables":
        from linkqa_pipelines.core.lake import Lake
        from linkqa_pipelines.settings import linkqa_home

        print("\n".join(Lake(linkqa_home()).tables()))
        return 0
    return cmd_query(args.sql)


if __name__ == "__main__":
    sys.exit(main())
