"""`linkqa`: run the whole pipeline in-process on the local Dagster instance, and inspect results.

Runs are recorded in the Dagster instance under `DAGSTER_HOME` (default
`LINKQA_HOME/dagster`), so `dagster dev` started with the same home shows every run,
materialization and the lineage afterwards.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LLM_FLAGS = ("backend", "base_url", "model", "response_format", "concurrency")
DEFAULT_MAX_FAILURE_RATE = 0.05

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_FAILURES, EXIT_EMPTY = 0, 1, 2, 3, 4
EXIT_CODES = f"""exit codes:
  {EXIT_OK}  success
  {EXIT_ERROR}  a stage could not run, or a command failed: its error is printed in one line (--debug: traceback)
  {EXIT_USAGE}  bad command line or settings: unknown discipline, incomplete LLM settings, endpoint unreachable
     or refusing the key (the preflight that `linkqa doctor` runs alone)
  {EXIT_FAILURES}  too many failures: a stage's failure rate (quarantined rows, failed model requests) is over
     --max-failure-rate, or any failure with --strict; the run stops after that stage
  {EXIT_EMPTY}  the release is empty
The last lines name the stage, how many failed and the most frequent reasons."""


class CLIError(Exception):
    """An expected failure the CLI reports in one line (plus a hint) with its exit code."""

    def __init__(self, message: str, hint: str | None = None, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.hint = hint
        self.code = code


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)  # accepted before or after the subcommand
    common.add_argument(
        "--home", default=argparse.SUPPRESS, help="LINKQA_HOME: lake, warehouse, caches, Dagster instance (./.linkqa)"
    )
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="tracebacks and Dagster's log on the console"
    )
    parser = argparse.ArgumentParser(
        prog="linkqa",
        description="LinkQA Pipelines: seed QA -> knowledge points -> KP graph -> walks -> synthesized QA.",
        parents=[common],
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run",
        parents=[common],
        help="materialize the whole asset graph",
        description="Materialize every asset, stage by stage, for all disciplines that have seeds "
        "(or --disciplines), recording runs on the local Dagster instance. With a model backend a "
        "preflight checks the settings and the endpoint first.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--seeds", nargs="+", metavar="PATH", help="seed files/folders or s3:// URIs (default: sample)")
    run.add_argument("--adapter", help="force one seed adapter: mmlu_csv, cmmlu_csv, gsm8k_jsonl, math_jsonl, generic")
    run.add_argument("--disciplines", help="comma-separated discipline ids (default: every discipline with seeds)")
    run.add_argument("--paths", type=int, metavar="N", help="walk paths to sample per discipline")
    run.add_argument(
        "--max-failure-rate",
        type=float,
        default=DEFAULT_MAX_FAILURE_RATE,
        metavar="R",
        help="stop with exit code 3 when a stage's share of failures (quarantined seed rows, failed model "
        f"requests) is over R (default {DEFAULT_MAX_FAILURE_RATE:g}: a few bad rows or flaky requests pass, "
        "a broken file layout or endpoint does not)",
    )
    run.add_argument(
        "--strict",
        action="store_true",
        help="any failure fails the run: an unreadable seed file stops ingestion, any quarantined row or "
        "failed request gives exit code 3",
    )
    _llm_arguments(run)

    doctor = sub.add_parser(
        "doctor",
        parents=[common],
        help="check the home and the model backend (settings, endpoint, structured-output mode) without running",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _llm_arguments(doctor)
    sub.add_parser("disciplines", parents=[common], help="list discipline ids (partition keys)")
    sub.add_parser("tables", parents=[common], help="list the warehouse's tables")
    query = sub.add_parser(
        "query", parents=[common], help="run SQL on the DuckDB warehouse, e.g. 'select count(*) from seed_qa'"
    )
    query.add_argument("sql")
    return parser


def _llm_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=["offline", "openai", "vllm"], help="LLM backend (env LINKQA_LLM_BACKEND)")
    parser.add_argument("--base-url", help="OpenAI-compatible endpoint (env LINKQA_LLM_BASE_URL)")
    parser.add_argument("--model", help="model name (env LINKQA_LLM_MODEL); the key comes from LINKQA_LLM_API_KEY")
    parser.add_argument(
        "--response-format",
        choices=["json_schema", "json_object", "text"],
        help="structured output mode (default: the strongest the endpoint accepts, found by the preflight)",
    )
    parser.add_argument("--concurrency", type=int, help="requests in flight per stage (default 64)")


@dataclass
class StageResult:
    stage: str
    partition: str | None
    seconds: float
    rows: dict[str, int] = field(default_factory=dict[str, int])
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict[str, dict[str, Any]])
    warnings: list[str] = field(default_factory=list[str])


def _configure_env(args: argparse.Namespace) -> None:
    """`--home` becomes LINKQA_HOME, so the resources, the instance and `dagster dev` agree; the
    home must be writable (checked here, so a read-only or full disk is one line, not a traceback)."""
    if getattr(args, "home", None):
        os.environ["LINKQA_HOME"] = str(Path(args.home).expanduser().resolve())
    from linkqa_pipelines.settings import dagster_home, linkqa_home

    home = linkqa_home()
    try:
        home.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("DAGSTER_HOME", str(dagster_home()))
        instance_dir = Path(os.environ["DAGSTER_HOME"])
        instance_dir.mkdir(parents=True, exist_ok=True)
        config = instance_dir / "dagster.yaml"
        if not config.exists():  # a local instance: SQLite storage beside it, no telemetry
            config.write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
        probe = home / ".linkqa-write-probe"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        where = exc.filename or home
        raise CLIError(
            f"LINKQA_HOME {home} is not writable: {where}: {exc.strerror or exc}",
            "pass a writable --home (or set LINKQA_HOME)",
        ) from exc


def _metadata_value(value: Any) -> Any:
    return getattr(value, "value", value)


def _log_config(debug: bool) -> dict[str, Any]:
    """Dagster's console log: everything with --debug; otherwise none (warnings are echoed in one
    line each after the run, errors by the CLI, and the UI keeps the full log)."""
    return {"loggers": {"console": {"config": {"log_level": "DEBUG" if debug else "CRITICAL"}}}}


def _run_stage(
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
    console.print(_flow_table(results))
    quarantined = next((r.rows.get("seed_quarantine") for r in results if "seed_quarantine" in r.rows), 0)
    console.print(f"quarantined seed rows: {quarantined:,} (table seed_quarantine)")


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


def cmd_run(args: argparse.Namespace) -> int:
    from dagster import DagsterInstance
    from rich.console import Console
    from rich.markup import escape

    from linkqa_pipelines.definitions import build_definitions
    from linkqa_pipelines.settings import linkqa_home
    from linkqa_pipelines.taxonomy import load_taxonomy

    console = Console(stderr=True, soft_wrap=True, highlight=False)
    known = load_taxonomy().discipline_ids
    wanted: list[str] | None = None
    if args.disciplines:
        wanted = [d.strip() for d in args.disciplines.split(",") if d.strip()]
        unknown = sorted(set(wanted) - set(known))
        if unknown:
            raise CLIError(f"unknown discipline(s) {unknown}", "`linkqa disciplines` lists them", EXIT_USAGE)
    if not 0 <= args.max_failure_rate <= 1:
        raise CLIError(f"--max-failure-rate {args.max_failure_rate} is not between 0 and 1", code=EXIT_USAGE)

    llm = {flag: getattr(args, flag) for flag in LLM_FLAGS}
    checked = _preflight(llm)
    console.print(f"[bold]linkqa run[/bold]  home={linkqa_home()}  dagster_home={os.environ['DAGSTER_HOME']}")
    for line in checked.checks:
        console.print(f"preflight: {escape(line)}")
    llm["response_format"] = checked.response_format
    instance = DagsterInstance.get()
    defs = build_definitions(llm=llm)
    ingest_config: dict[str, Any] = {"strict": args.strict}
    if args.seeds:
        ingest_config["sources"] = [s if s.startswith("s3://") else str(Path(s).resolve()) for s in args.seeds]
    if args.adapter:
        ingest_config["adapter"] = args.adapter
    walk_config = {"ops": {"walk_paths": {"config": {"n_paths": args.paths}}}} if args.paths else {}

    results: list[StageResult] = []
    started = time.perf_counter()

    def stage(name: str, job_name: str, partitions: Sequence[str | None], run_config: dict[str, Any]) -> None:
        """Run one stage (every partition), then stop the run if its failures are over the limit."""
        job = defs.resolve_job_def(job_name)
        ran: list[StageResult] = []
        for i, partition in enumerate(partitions, 1):
            label = escape(f"{name} [{partition}] ({i}/{len(partitions)})" if partition else name)
            with console.status(f"running {label} ..."):
                try:
                    res = _run_stage(job, instance, name, partition, run_config, args.debug)
                except Exception as exc:
                    raise StageError(label, exc) from exc
            shown = ", ".join(f"{k}={v:,}" for k, v in res.rows.items())
            console.print(f"  [green]done[/green] {label} in {res.seconds:.1f}s  {shown}")
            for warning in res.warnings:
                console.print(f"  [yellow]warning[/yellow] {escape(warning)}")
            ran.append(res)
        results.extend(ran)
        bad = over_limit(stage_failures(name, ran), args.max_failure_rate, args.strict)
        if bad:
            raise RunVerdict(bad)

    try:
        stage("ingest", "ingest_job", [None], {"ops": {"ingest_seeds": {"config": ingest_config}}})
        present = _disciplines_with_seeds()
        disciplines = [d for d in (wanted or known) if d in present]
        skipped = sorted(set(wanted or []) - set(present))
        if skipped:
            console.print(f"[yellow]no seeds for {skipped}: skipped[/yellow]")
        if not disciplines:
            failures = stage_failures("ingest", results)
            raise CLIError(
                "no discipline has seeds: nothing to do" + (f" ({failures[0].line()})" if failures else ""),
                "`linkqa query 'select source, field, reason from seed_quarantine'` shows why rows were rejected",
            )
        # Stage calls, in order (other stages are added here, one call each).
        stage("seeds+knowledge points", "discipline_seed_job", disciplines, {})
        stage("catalog+graph", "graph_job", [None], {})
        stage("walks+synthesis+difficulty", "discipline_synthesis_job", disciplines, walk_config)
        stage("global dedup+decontamination", "screen_job", [None], {})
        stage("dataset (difficulty mix)", "discipline_dataset_job", disciplines, {})
        stage("release", "release_job", [None], {})
    except RunVerdict as verdict:
        _print_summary(_table_console(), results, time.perf_counter() - started)
        limit = "any failure (--strict)" if args.strict else f"--max-failure-rate {args.max_failure_rate:g}"
        for failures in verdict.failures:
            console.print(f"[red]failed:[/red] {escape(failures.line())}")
        console.print(f"[red]linkqa run stopped:[/red] over {limit}; exit code {EXIT_FAILURES}")
        return EXIT_FAILURES
    _print_summary(_table_console(), results, time.perf_counter() - started)
    console.print(f"warehouse: {linkqa_home() / 'warehouse.duckdb'}   release: {linkqa_home() / 'release'}")
    return _verdict(console, results)


class StageError(Exception):
    """A stage's run raised: the CLI reports the stage and the user's error in one line."""

    def __init__(self, label: str, error: Exception) -> None:
        super().__init__(label)
        self.label = label
        self.error = error


class RunVerdict(Exception):
    """A stage finished with failures over the limit: the run stops there with exit code 3."""

    def __init__(self, failures: list[StageFailures]) -> None:
        super().__init__("; ".join(f.line() for f in failures))
        self.failures = failures


def _verdict(console: Any, results: Sequence[StageResult]) -> int:
    """The last lines: every failure there was (all under the limit), and what was released."""
    from rich.markup import escape

    stages = dict.fromkeys(r.stage for r in results)
    failures = [f for st in stages for f in stage_failures(st, [r for r in results if r.stage == st]) if f.failed]
    for f in failures:
        console.print(f"[yellow]failures (under the limit):[/yellow] {escape(f.line())}")
    released = sum(n for r in results for a, n in r.rows.items() if a == "linkqa_dataset")
    if released == 0:
        console.print(
            "[red]linkqa run: the release is empty[/red]: no item survived the difficulty mix, dedup and "
            f"decontamination (see the tables above and linkqa_dataset_rejects); exit code {EXIT_EMPTY}"
        )
        return EXIT_EMPTY
    disciplines = sum(1 for r in results for a, n in r.rows.items() if a == "linkqa_dataset" and n)
    console.print(f"[green]linkqa run: released {released:,} items in {disciplines} disciplines[/green]")
    return EXIT_OK


def _table_console() -> Any:
    """Tables at their full width when piped or logged (a terminal keeps its own width)."""
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=1000)


def _preflight(llm: dict[str, Any]) -> Any:
    """Settings and endpoint checks before any work; a failure is exit code 2 with what is missing."""
    from linkqa_pipelines.core.llm import LLMSettings
    from linkqa_pipelines.core.llm.preflight import PreflightError, preflight
    from linkqa_pipelines.settings import linkqa_home

    try:
        settings = LLMSettings.from_env(**llm)
        return preflight(settings, linkqa_home(), fixed=settings.response_format if _format_fixed(llm) else None)
    except (PreflightError, ValueError) as exc:
        raise CLIError(str(exc), "`linkqa doctor` runs these checks alone", EXIT_USAGE) from exc


def _format_fixed(llm: dict[str, Any]) -> bool:
    return llm.get("response_format") is not None or bool(os.environ.get("LINKQA_LLM_RESPONSE_FORMAT", "").strip())


def cmd_doctor(args: argparse.Namespace) -> int:
    from linkqa_pipelines.settings import linkqa_home

    print(f"home: {linkqa_home()} (writable)")
    checked = _preflight({flag: getattr(args, flag) for flag in LLM_FLAGS})
    for line in checked.checks:
        print(f"ok: {line}")
    return EXIT_OK


def _disciplines_with_seeds() -> set[str]:
    import polars as pl

    from linkqa_pipelines.core.lake import Lake
    from linkqa_pipelines.settings import linkqa_home

    seeds = Lake(linkqa_home()).scan("seed_sources").select(pl.col("discipline").unique()).collect()
    return set(seeds["discipline"].to_list())


def cmd_query(sql: str) -> int:
    import duckdb

    from linkqa_pipelines.core.lake import Lake
    from linkqa_pipelines.settings import linkqa_home

    lake = Lake(linkqa_home())
    if not lake.warehouse_path.exists():
        raise CLIError(f"no warehouse at {lake.warehouse_path}", "`linkqa run` builds it (or pass the right --home)")
    try:
        con = lake.connect(read_only=True)
        try:
            con.sql(sql).show(max_rows=50)
        finally:
            con.close()
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0]
        raise CLIError(f"query failed: {first}", "`linkqa tables` lists the tables") from exc
    return EXIT_OK


def cmd_tables() -> int:
    from linkqa_pipelines.core.lake import Lake
    from linkqa_pipelines.settings import linkqa_home

    tables = Lake(linkqa_home()).tables()
    if not tables:
        raise CLIError(f"no tables under {linkqa_home()} yet", "`linkqa run` makes them (or pass the right --home)")
    print("\n".join(tables))
    return EXIT_OK


def user_error(exc: BaseException) -> BaseException:
    """The error a user should see: Dagster's wrappers peeled off down to the project's own error."""
    seen: set[int] = set()
    while type(exc).__module__.startswith("dagster") and exc.__cause__ is not None and id(exc) not in seen:
        seen.add(id(exc))
        exc = exc.__cause__
    return exc


def describe(exc: BaseException) -> tuple[str, str]:
    """One line naming what failed (file, row, field, byte when the error knows them) and a hint."""
    import sqlite3

    import duckdb

    from linkqa_pipelines.core.llm.types import LLMBackendError
    from linkqa_pipelines.core.seeds import RemoteSourceError, SeedSourceError

    text = (str(exc).strip().splitlines() or [""])[0]
    if isinstance(exc, (SeedSourceError, RemoteSourceError)):
        return text, "fix the file or leave it out of --seeds; without --strict an unreadable file is quarantined"
    if isinstance(exc, LLMBackendError):
        return text, "check --base-url, --model and the key; `linkqa doctor` checks them"
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or text}", "check the path, its permissions and free disk space"
    if isinstance(exc, (sqlite3.OperationalError, duckdb.IOException)) and "lock" in text.lower():
        return f"database locked: {text}", "another linkqa process uses this home: wait for it or pass another --home"
    return f"{type(exc).__name__}: {text}", "run again with --debug for the traceback"


def report(exc: BaseException, debug: bool, where: str = "") -> int:
    """Print an error in one line (stderr) plus a hint; the traceback only with --debug."""
    if isinstance(exc, CLIError):
        message, hint, code = str(exc), exc.hint, exc.code
    else:
        cause = user_error(exc)
        message, hint = describe(cause)
        code = EXIT_ERROR
        if debug:
            traceback.print_exception(cause, file=sys.stderr)
    print(f"error: {where}{message}", file=sys.stderr)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.debug = getattr(args, "debug", False)
    if not args.debug:  # Dagster's preview/beta notices are for developers, not a run's output
        from dagster import BetaWarning, PreviewWarning

        warnings.filterwarnings("ignore", category=PreviewWarning)
        warnings.filterwarnings("ignore", category=BetaWarning)
        logging.getLogger("linkqa_pipelines").addHandler(logging.NullHandler())  # runs' warnings are echoed
    try:
        _configure_env(args)
        if args.command == "run":
            return cmd_run(args)
        if args.command == "doctor":
            return cmd_doctor(args)
        if args.command == "disciplines":
            from linkqa_pipelines.taxonomy import load_taxonomy

            for d in load_taxonomy().disciplines:
                print(f"{d.id:32} {d.name} / {d.label_zh}")
            return EXIT_OK
        if args.command == "tables":
            return cmd_tables()
        return cmd_query(args.sql)
    except StageError as exc:
        return report(exc.error, args.debug, f"{exc.label}: ")
    except Exception as exc:  # every other failure: one line, never a traceback unless --debug
        return report(exc, args.debug)


if __name__ == "__main__":
    sys.exit(main())
