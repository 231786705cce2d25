"""`linkqa run`: the pipeline, stage by stage, on the local Dagster instance, and its verdict.

Checks the command line and the model backend (preflight) first, runs every stage in order (each
stage one in-process run over all its disciplines, every run tagged with this invocation's run
group), holds the KP graph lock from the graph stage on (so concurrent runs on one home cannot
mix graph versions, and a partition built on a replaced graph fails the run), and
stops after a stage whose failure rate is over --max-failure-rate (or any failure with --strict)
and ends with the exit code: 0 released, 3 too many failures, 4 empty release.
"""

from __future__ import annotations

import argparse
import os
import time
import urllib.parse
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from linkqa_pipelines.cli.errors import CLIError
from linkqa_pipelines.cli.parser import EXIT_EMPTY, EXIT_FAILURES, EXIT_OK, EXIT_USAGE, LLM_FLAGS
from linkqa_pipelines.cli.progress import StageProgress, partitioned_steps
from linkqa_pipelines.cli.stages import (
    RUN_GROUP_TAG,
    StageFailures,
    StageResult,
    over_limit,
    run_stage,
    stage_failures,
)
from linkqa_pipelines.cli.summary import print_summary, table_console


def cmd_run(args: argparse.Namespace) -> int:
    from dagster import DagsterInstance
    from rich.console import Console
    from rich.markup import escape

    from linkqa_pipelines.core.home_lock import HomeLock
    from linkqa_pipelines.definitions import build_definitions
    from linkqa_pipelines.lib.partitions import key_ranges, registered_disciplines
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
    llm["retry_failed"] = args.retry_failed or None  # None: the resource's default (not retried)
    checked = preflight_llm(llm)
    run_group = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    console.print(f"[bold]linkqa run[/bold]  home={linkqa_home()}  dagster_home={os.environ['DAGSTER_HOME']}")
    console.print(
        f"runs tagged {RUN_GROUP_TAG}={run_group}; with `dagster dev` on this DAGSTER_HOME: {ui_link(run_group)}"
    )
    for line in checked.checks:
        console.print(f"preflight: {escape(line)}")
    llm["response_format"] = checked.response_format
    # One "planned" event per asset for a stage's run, not one per asset and discipline: each event is a
    # write to the instance's SQLite (a quarter of a sample run's events). Dagster's cost: a failed stage's
    # partitions show as missing rather than failed in the UI; the run itself shows failed, and the CLI's
    # last lines and the run_failures table say which stage and why.
    os.environ.setdefault("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "true")
    with HomeLock(linkqa_home(), "instance").exclusive():  # concurrent runs on a fresh home
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
    progress = StageProgress(console)

    def stage(name: str, job_name: str, disciplines: Sequence[str], run_config: dict[str, Any]) -> None:
        """Run one stage (all its disciplines in one run per key range), then stop the run if its
        failures are over the limit."""
        job = defs.resolve_job_def(job_name)
        ranges = key_ranges(registered_disciplines(instance), disciplines) if disciplines else [[]]
        ran: list[StageResult] = []
        for keys in ranges:
            label = escape(
                f"{name} [{len(keys)} disciplines]" if len(keys) > 1 else name + "".join(f" [{k}]" for k in keys)
            )
            with progress.stage(label, len(keys) * partitioned_steps(job) if keys else 1):
                try:
                    res = run_stage(job, instance, name, keys, run_config, debug=args.debug, run_group=run_group)
                except Exception as exc:
                    raise StageError(label, exc) from exc
            shown = ", ".join(f"{k}={v:,}" for k, v in res.rows.items())
            console.print(f"  [green]done[/green] {label} in {res.seconds:.1f}s  {shown}")
            for warning in res.warnings:
                console.print(f"  [yellow]warning[/yellow] {escape(warning)}")
            for check in res.failed_checks:
                console.print(f"  [red]check failed[/red] {escape(check)} (its metadata in the UI says why)")
            ran.append(res)
        results.extend(ran)
        bad = over_limit(stage_failures(name, ran), args.max_failure_rate, args.strict)
        if bad:
            raise RunVerdict(bad)

    lock = HomeLock(linkqa_home(), "kp_graph")

    def waiting(holder: str) -> None:
        console.print(f"[yellow]waiting:[/yellow] another linkqa run on this home is using the KP graph ({holder})")

    try:
        stage("ingest", "ingest_job", [], {"ops": {"ingest_seeds": {"config": ingest_config}}})
        present = set(registered_disciplines(instance))
        disciplines = [d for d in (wanted or known) if d in present]
        skipped = sorted(set(wanted or []) - present)
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
        with lock.exclusive(waiting):  # one run rebuilds the catalog and graph at a time ...
            stage("catalog+graph", "graph_job", [], {})
            lock.shared(waiting)  # ... and none rebuilds it while this run still reads it
            stage("walks+synthesis+verification+difficulty", "discipline_synthesis_job", disciplines, walk_config)
            check_graph_current(disciplines)
            stage("global dedup+decontamination", "screen_job", [], {})
            stage("dataset (difficulty mix)", "discipline_dataset_job", disciplines, {})
            stage("release", "release_job", [], {})
            check_graph_current(disciplines)
    except RunVerdict as verdict:
        print_summary(table_console(), results, time.perf_counter() - started)
        limit = "any failure (--strict)" if args.strict else f"--max-failure-rate {args.max_failure_rate:g}"
        for failures in verdict.failures:
            console.print(f"[red]failed:[/red] {escape(failures.line())}")
        console.print(f"[red]linkqa run stopped:[/red] over {limit}; exit code {EXIT_FAILURES}")
        return EXIT_FAILURES
    print_summary(table_console(), results, time.perf_counter() - started)
    console.print(f"warehouse: {linkqa_home() / 'warehouse.duckdb'}   release: {linkqa_home() / 'release'}")
    console.print(f"runs of this invocation: {ui_link(run_group)}")
    return _verdict(console, results)


def ui_link(run_group: str) -> str:
    """The `dagster dev` runs page filtered to one `linkqa run` (its run-group tag)."""
    return "http://127.0.0.1:3000/runs?" + urllib.parse.urlencode({"q[]": f"tag:{RUN_GROUP_TAG}={run_group}"})


def check_graph_current(disciplines: Sequence[str]) -> None:
    """Fail loudly when this run's walk paths were built on a KP graph another run has replaced
    (the same test as the walks check `walk_paths_on_current_graph`)."""
    import polars as pl

    from linkqa_pipelines.core.lake import Lake
    from linkqa_pipelines.defs.graph.version import VERSION_COLUMN, current_version, stale_disciplines
    from linkqa_pipelines.settings import linkqa_home

    lake = Lake(linkqa_home())
    current = current_version(lake.scan("kp_seed_links"))
    stale = stale_disciplines(lake.scan("walk_paths").filter(pl.col("discipline").is_in(list(disciplines))), current)
    if stale.height:
        found = sorted({str(v) for v in stale[VERSION_COLUMN]})
        raise CLIError(
            f"mixed KP graph versions: walk_paths of {stale['discipline'].unique().sort().to_list()} were built on "
            f"graph {found}, but the current graph is {current} (another run on this home rebuilt it)",
            "run `linkqa run` again on this home (one at a time) to rebuild every stage on one graph",
        )


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
    released = sum(r.rows["linkqa_dataset"] for r in results)
    if released == 0:
        console.print(
            "[red]linkqa run: the release is empty[/red]: no item survived the difficulty mix, dedup and "
            f"decontamination (see the tables above and linkqa_dataset_rejects); exit code {EXIT_EMPTY}"
        )
        return EXIT_EMPTY
    disciplines = sum(1 for r in results for rows in r.partition_rows().values() if rows.get("linkqa_dataset"))
    where = f"{disciplines} discipline" + ("s" if disciplines != 1 else "")
    console.print(f"[green]linkqa run: released {released:,} items in {where}[/green]")
    return EXIT_OK


def preflight_llm(llm: dict[str, Any]) -> Any:
    """Settings and endpoint checks before any work; a failure is exit code 2 with what is missing."""
    from linkqa_pipelines.core.llm import LLMSettings
    from linkqa_pipelines.core.llm.preflight import PreflightError, preflight
    from linkqa_pipelines.settings import linkqa_home

    try:
        settings = LLMSettings.from_env(**llm)
        checked = preflight(settings, linkqa_home(), fixed=settings.response_format if _format_fixed(llm) else None)
        verifier = _verifier_overrides()
        if verifier and settings.backend != "offline":
            # the verifier's resource takes the generator's response format: its endpoint must accept it
            found = preflight(LLMSettings.from_env(**(llm | verifier)), linkqa_home(), fixed=checked.response_format)
            checked.checks.extend(f"verifier: {line}" for line in found.checks)
        return checked
    except (PreflightError, ValueError) as exc:
        raise CLIError(str(exc), "`linkqa doctor` runs these checks alone", EXIT_USAGE) from exc


def _verifier_overrides() -> dict[str, Any]:
    """The LINKQA_VERIFY_* endpoint settings that differ from the generator's (empty: the generator
    verifies); the key comes from the variable LINKQA_VERIFY_API_KEY_ENV names, which must be set."""
    from linkqa_pipelines.defs.verification.config import VERIFY_LLM_ENV

    given = {f: os.environ[v].strip() for f, v in VERIFY_LLM_ENV.items() if os.environ.get(v, "").strip()}
    key_env = given.pop("api_key_env", None)
    if key_env:
        if not os.environ.get(key_env, "").strip():
            raise ValueError(f"LINKQA_VERIFY_API_KEY_ENV names {key_env}, which is not set")
        given["api_key"] = os.environ[key_env].strip()
    return given


def _format_fixed(llm: dict[str, Any]) -> bool:
    return llm.get("response_format") is not None or bool(os.environ.get("LINKQA_LLM_RESPONSE_FORMAT", "").strip())
