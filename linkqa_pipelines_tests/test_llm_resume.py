"""Crash safety of the response cache: SIGKILL mid-batch then resume, and processes sharing the cache."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from linkqa_pipelines.core.llm import LLMClient
from linkqa_pipelines_tests import llm_kill_worker
from linkqa_pipelines_tests.fake_openai_server import FakeOpenAIServer

WORKER = Path(llm_kill_worker.__file__)
N = 160


def spawn(server: FakeOpenAIServer, home: Path, first: int, last: int, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), server.base_url, str(home), str(first), str(last), str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def cached_rows(home: Path) -> int:
    with sqlite3.connect(home / "cache" / "llm_responses.sqlite") as db:
        return int(db.execute("select count(*) from responses").fetchone()[0])


@pytest.mark.slow
def test_sigkill_mid_batch_then_resume_resends_only_what_never_succeeded(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with FakeOpenAIServer(latency=0.04) as server:
        worker = spawn(server, home, 0, N, tmp_path / "killed.json")
        deadline = time.monotonic() + 30
        while server.snapshot()[1] < N // 3:  # a third answered: well into the batch
            assert worker.poll() is None, worker.communicate()
            assert time.monotonic() < deadline, "worker made no progress"
            time.sleep(0.01)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
        assert worker.returncode == -signal.SIGKILL
        killed_total, killed_answered, _ = server.snapshot()
        committed = cached_rows(home)
        assert N // 4 <= committed < N and killed_answered - committed <= 8  # at most the in-flight were lost

        resumed = LLMClient(llm_kill_worker.settings(server.base_url, home)).generate(
            "resume", "p", llm_kill_worker.batch(0, N)
        )
        resent = server.snapshot()[0] - killed_total
        s = resumed.stats
        assert s.cache_hits == committed  # every committed response served from the cache ...
        assert s.calls - s.retries == N - committed  # ... and exactly the rest sent once each
        assert resent == s.calls

        reference = LLMClient(llm_kill_worker.settings(server.base_url, tmp_path / "fresh")).generate(
            "resume", "p", llm_kill_worker.batch(0, N)
        )
    assert all(r.ok for r in resumed.results) and all(r.ok for r in reference.results)
    assert [(r.key, r.parsed) for r in resumed.results] == [(r.key, r.parsed) for r in reference.results]


@pytest.mark.slow
def test_processes_share_the_cache(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with FakeOpenAIServer(latency=0.01) as server:
        outs = [tmp_path / "a.json", tmp_path / "b.json"]
        workers = [spawn(server, home, 0, 100, outs[0]), spawn(server, home, 40, 140, outs[1])]
        for w in workers:
            _, err = w.communicate(timeout=60)
            assert w.returncode == 0, err.decode()[-2000:]
        a, b = (orjson.loads(p.read_bytes())["results"] for p in outs)
        assert all("error" not in v for v in [*a.values(), *b.values()])
        assert all(a[k] == b[k] for k in set(a) & set(b))  # overlapping requests got the same answers
        assert cached_rows(home) == 140

        before = server.total
        again = LLMClient(llm_kill_worker.settings(server.base_url, home)).generate(
            "resume", "p", llm_kill_worker.batch(0, 140)
        )
        assert server.total == before and again.stats.cache_hits == 140
        assert {r.key: r.parsed for r in again.results} == {**a, **b}
