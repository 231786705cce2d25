"""The commands that look without running the pipeline: `doctor` (home, recent run failures, model backend),
`query` (SQL on the warehouse) and `tables`.

Kept apart from `run.py` so the read-only commands stay small; `doctor` shares the run's preflight.
"""

from __future__ import annotations

import argparse

from linkqa_pipelines.cli.errors import CLIError
from linkqa_pipelines.cli.parser import EXIT_OK, LLM_FLAGS
from linkqa_pipelines.cli.run import preflight_llm


def cmd_doctor(args: argparse.Namespace) -> int:
    from linkqa_pipelines.core.lake import Lake
    from linkqa_pipelines.defs.automation.failures import recent_run_failures
    from linkqa_pipelines.settings import linkqa_home

    print(f"home: {linkqa_home()} (writable)")
    failures = recent_run_failures(Lake(linkqa_home()))
    print(
        f"recent run failures ({len(failures)} shown; table run_failures):"
        if failures
        else "run failures: none recorded"
    )
    for line in failures:
        print(f"  {line}")
    checked = preflight_llm({flag: getattr(args, flag) for flag in LLM_FLAGS})
    for line in checked.checks:
        print(f"ok: {line}")
    return EXIT_OK


def cmd_query(sql: str) -> int:
    import duckdb

    from linkqa_pipelines.core.lake import Lake
    from linkqa_pipelines.settings import linkqa_home

    lake = Lake(linkqa_home())
    if not lake.warehouse_path.exists():
        raise CLIError(f"no warehouse at {lake.warehouse_path}", "`linkqa run` builds it (or pass the right --home)")
    try:
        with lake.connect(read_only=True) as con:
            con.sql(sql).show(max_rows=50)
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
