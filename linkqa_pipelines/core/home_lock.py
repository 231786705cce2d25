"""Advisory locks on a LinkQA home (`<home>/locks/<name>.lock`), shared by every process that
uses the home: Dagster's run workers, concurrent `linkqa run`s, the CLI's queries.

`flock` locks belong to an open file, not to a process, so a lock is held from `exclusive()` or
`shared()` until `release()` whatever else the process opens or closes. Users: the KP graph
(`kp_graph`: rebuilt exclusively, read shared; see `defs.graph.version`), the Dagster instance
(`instance`: two processes creating a fresh SQLite instance at once race on its tables) and the
DuckDB warehouse (`warehouse`: `core.lake.Lake.connect`).
"""

from __future__ import annotations

import fcntl
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType


class HomeLock:
    """Exclusive to change what the lock guards, shared to read it; waits, saying who holds it."""

    def __init__(self, home: Path, name: str) -> None:
        self.name = name
        self.path = home / "locks" / f"{name}.lock"
        self._fd: int | None = None

    def _take(self, mode: int, on_wait: Callable[[str], None] | None, timeout: float) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + timeout
        warned = False
        delay = 0.02
        while True:
            try:
                fcntl.flock(self._fd, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"{self.path}: another process on this home still holds the {self.name} lock "
                        f"after {timeout:.0f}s ({self.holder()})"
                    ) from None
                if on_wait is not None and not warned:
                    on_wait(self.holder())
                    warned = True
                time.sleep(delay * (1 + random.random()))  # jittered: many waiters do not wake in step
                delay = min(delay * 2, 0.2)
        if mode == fcntl.LOCK_EX:
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, f"pid {os.getpid()} since {time.strftime('%H:%M:%S')}".encode(), 0)

    def holder(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8").strip() or "holder unknown"
        except OSError:
            return "holder unknown"

    def exclusive(self, on_wait: Callable[[str], None] | None = None, timeout: float = 3600.0) -> HomeLock:
        self._take(fcntl.LOCK_EX, on_wait, timeout)
        return self

    def shared(self, on_wait: Callable[[str], None] | None = None, timeout: float = 3600.0) -> HomeLock:
        """Shared (also turns a held exclusive lock into a shared one)."""
        self._take(fcntl.LOCK_SH, on_wait, timeout)
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> HomeLock:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
