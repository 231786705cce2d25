"""Which KP graph a table was built on, and the lock that keeps concurrent runs on one home from
mixing graphs.

The graph version is a content hash of the catalog nodes and the seed links `kp_graph` built,
stored as the `graph_version` column of `kp_seed_links` and in its metadata; `walk_paths`
copies the version it read into each of its partitions, so a partition built on a graph that
was rebuilt since can be found (`stale_disciplines`, the walks check, the CLI).

`GraphLock` is an advisory file lock in the home (`locks/kp_graph.lock`): a run rebuilding the
catalog and graph holds it exclusively, a run reading the graph (walks through release) holds it
shared until it ends, so one run never rebuilds the graph under another that is still using it.
The same kind of lock under another name serialises other home-wide steps (`GraphLock(home, name)`:
the CLI creates the Dagster instance under `locks/instance.lock`, because two processes creating
a fresh SQLite instance at once race on its tables).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import polars as pl

VERSION_COLUMN = "graph_version"


def graph_version(catalog: pl.DataFrame, seed_links: pl.DataFrame) -> str:
    """12 hex digits over the graph's nodes and seed links (row order does not matter)."""
    digest = hashlib.sha1()
    for frame in (catalog.select("kp_id", "node"), seed_links.select("seed_id", "kp_id", "node", "discipline")):
        digest.update(frame.hash_rows(seed=0).sort().to_numpy().tobytes())
    return digest.hexdigest()[:12]


def current_version(seed_links: pl.LazyFrame) -> str | None:
    """The version of the graph in the lake (None before any graph was built)."""
    schema = seed_links.collect_schema()
    if VERSION_COLUMN not in schema:
        return None
    versions = seed_links.select(pl.col(VERSION_COLUMN).unique()).collect()[VERSION_COLUMN].drop_nulls()
    return versions[0] if versions.len() == 1 else None


def stale_disciplines(walk_paths: pl.LazyFrame, current: str | None) -> pl.DataFrame:
    """Per discipline the graph versions its walk paths were built on, where they are not `current`."""
    if VERSION_COLUMN not in walk_paths.collect_schema():
        return pl.DataFrame(schema={"discipline": pl.String, VERSION_COLUMN: pl.String})
    return (
        walk_paths.select("discipline", VERSION_COLUMN)
        .unique()
        .filter(pl.col(VERSION_COLUMN).is_null() | (pl.col(VERSION_COLUMN) != pl.lit(current, pl.String)))
        .sort("discipline")
        .collect()
    )


class GraphLock:
    """Exclusive to rebuild the catalog and graph, shared to read it; waits, saying who holds it."""

    def __init__(self, home: Path, name: str = "kp_graph") -> None:
        self.path = home / "locks" / f"{name}.lock"
        self._fd: int | None = None

    def _take(self, mode: int, on_wait: Callable[[str], None] | None, timeout: float) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + timeout
        warned = False
        while True:
            try:
                fcntl.flock(self._fd, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"{self.path}: another linkqa run on this home still holds the KP graph lock "
                        f"after {timeout:.0f}s ({self.holder()})"
                    ) from None
                if on_wait is not None and not warned:
                    on_wait(self.holder())
                    warned = True
                time.sleep(0.2)
        if mode == fcntl.LOCK_EX:
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, f"pid {os.getpid()} since {time.strftime('%H:%M:%S')}".encode(), 0)

    def holder(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8").strip() or "holder unknown"
        except OSError:
            return "holder unknown"

    def exclusive(self, on_wait: Callable[[str], None] | None = None, timeout: float = 3600.0) -> GraphLock:
        self._take(fcntl.LOCK_EX, on_wait, timeout)
        return self

    def shared(self, on_wait: Callable[[str], None] | None = None, timeout: float = 3600.0) -> GraphLock:
        """Shared (also turns a held exclusive lock into a shared one)."""
        self._take(fcntl.LOCK_SH, on_wait, timeout)
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> GraphLock:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
