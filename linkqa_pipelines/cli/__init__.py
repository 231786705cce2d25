"""`linkqa`: run the whole pipeline in-process on the local Dagster instance, and inspect results.

Runs are recorded in the Dagster instance under `DAGSTER_HOME` (default
`LINKQA_HOME/dagster`), so `dagster dev` started with the same home shows every run,
materialization and the lineage afterwards.

This package's entry point: `main` parses the command line, prepares the home and dispatches to
one command; the commands live beside it (`run`: the pipeline run and its verdict, `inspect`:
doctor, query, tables; `show`: one item's story), with the parser, the error reporting, the stage bookkeeping and the
summary tables in their own modules.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

from linkqa_pipelines.cli.errors import CLIError, report
from linkqa_pipelines.cli.inspect import cmd_doctor, cmd_query, cmd_tables
from linkqa_pipelines.cli.parser import (
    EXIT_CODES,
    EXIT_EMPTY,
    EXIT_ERROR,
    EXIT_FAILURES,
    EXIT_OK,
    EXIT_USAGE,
    build_parser,
)
from linkqa_pipelines.cli.run import StageError, cmd_run
from linkqa_pipelines.cli.show import cmd_show

__all__ = [
    "EXIT_CODES",
    "EXIT_EMPTY",
    "EXIT_ERROR",
    "EXIT_FAILURES",
    "EXIT_OK",
    "EXIT_USAGE",
    "CLIError",
    "build_parser",
    "main",
]


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
        _write_instance_yaml(instance_dir)
        probe = home / ".linkqa-write-probe"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        where = exc.filename or home
        raise CLIError(
            f"LINKQA_HOME {home} is not writable: {where}: {exc.strerror or exc}",
            "pass a writable --home (or set LINKQA_HOME)",
        ) from exc


OLD_LOCAL_INSTANCE_YAML = "telemetry:\n  enabled: false\n"
"""What linkqa wrote before the pooled event log: the same storage folders, so it is upgraded."""


def _write_instance_yaml(instance_dir: Path) -> None:
    """A new home, or one whose dagster.yaml linkqa wrote (today's or the older text), gets the
    local instance of today (`local_instance_yaml`: also right after the home moved); a file anyone
    else wrote (Postgres, custom storage) is left alone. Written whole by a rename, so a concurrent
    `linkqa` on the same home reads either file, never half of one."""
    from linkqa_pipelines.lib.instance_storage import LOCAL_INSTANCE_MARK, local_instance_yaml

    config = instance_dir / "dagster.yaml"
    wanted = local_instance_yaml(instance_dir)
    found = config.read_text(encoding="utf-8") if config.exists() else None
    if found == wanted or (
        found is not None and found != OLD_LOCAL_INSTANCE_YAML and not found.startswith(LOCAL_INSTANCE_MARK)
    ):
        return
    partial = config.with_name(f".dagster.yaml.{os.getpid()}")
    partial.write_text(wanted, encoding="utf-8")
    partial.replace(config)


def main(argv: Sequence[str] | None = None) -> int:
    """The `linkqa` program. Run as the program (`argv` None: the command line), the objects still
    alive at the end are frozen out of the garbage collector before the process exits: the
    interpreter's last collections otherwise walk every object of Dagster's and the stages'
    modules, 1-2 s of a sample run's wall time spent freeing memory the exit returns anyway."""
    code = _command(argv)
    if argv is None:
        gc.freeze()
    return code


def _command(argv: Sequence[str] | None) -> int:
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
        if args.command == "show":
            return cmd_show(args)
        return cmd_query(args.sql)
    except StageError as exc:
        return report(exc.error, args.debug, f"{exc.label}: ")
    except Exception as exc:  # every other failure: one line, never a traceback unless --debug
        return report(exc, args.debug)
