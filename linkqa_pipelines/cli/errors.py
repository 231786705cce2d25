"""How the CLI fails: one line naming what failed, a hint, and the exit code; a traceback only
with --debug.

Every command raises `CLIError` for expected failures; `report` turns any exception into the
user's one line, peeling Dagster's wrappers off to the project's own error.
"""

from __future__ import annotations

import sys
import traceback

from linkqa_pipelines.cli.parser import EXIT_ERROR


class CLIError(Exception):
    """An expected failure the CLI reports in one line (plus a hint) with its exit code."""

    def __init__(self, message: str, hint: str | None = None, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.hint = hint
        self.code = code


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
