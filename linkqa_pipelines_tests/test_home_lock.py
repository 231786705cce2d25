"""Advisory locks on a home: exclusive against readers, naming who holds them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from linkqa_pipelines.core.home_lock import HomeLock


def test_lock_is_exclusive_against_readers_and_names_its_holder(tmp_path: Path) -> None:
    writer, reader = HomeLock(tmp_path, "kp_graph"), HomeLock(tmp_path, "kp_graph")
    waits: list[str] = []
    with writer.exclusive():
        with pytest.raises(TimeoutError, match=rf"pid {os.getpid()} since"):
            reader.shared(waits.append, timeout=0.3)
        assert waits and waits[0].startswith(f"pid {os.getpid()}")
        writer.shared()  # the writer now only reads: other readers may join
        with reader.shared(timeout=1), HomeLock(tmp_path, "kp_graph") as other, pytest.raises(TimeoutError):
            other.exclusive(timeout=0.3)
