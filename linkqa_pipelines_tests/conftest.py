"""Fixtures shared by the test modules.

- `shared_data`: paths into the real public datasets in `../shared/data` (beside the clone).
  A missing dataset skips the test locally and fails it under `CI=true`.
- `linkqa_home` / `linkqa_env`: a fresh LINKQA_HOME (DAGSTER_HOME inside it) set in this process's
  environment, and the matching environment for `linkqa` / `dagster` child processes.
- `fake_openai`: starts loopback OpenAI-compatible servers (`fake_openai_server.py`) and stops them
  after the test.

Every test also runs with no ambient LINKQA_* or DAGSTER_HOME setting (`_hermetic_env`): a
developer's `LINKQA_LLM_BACKEND=openai` or CI's shared LINKQA_HOME never reaches a test.

This module imports nothing from `linkqa_pipelines`, so it keeps working while modules move.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from linkqa_pipelines_tests.fake_openai_server import FakeOpenAIServer

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
"""The real datasets (mmlu/, cmmlu/, gsm8k/, math/): `<clone>/../shared/data`, never copied in."""

_AMBIENT = ("LINKQA_", "DAGSTER_HOME")


def in_ci() -> bool:
    """True under a CI runner (`CI=true`), where a missing dataset is a failure, not a skip."""
    return os.environ.get("CI", "").strip().lower() == "true"


@pytest.fixture(scope="session")
def shared_data() -> Callable[..., Path]:
    """`shared_data("mmlu", "test")` -> the path of that dataset file or folder under ../shared/data.

    When it is absent the calling test (or fixture) is skipped, or fails under CI=true, where the
    datasets must be present. Session-scoped so module-scoped fixtures can use it too.
    """

    def locate(*parts: str) -> Path:
        path = SHARED_DATA.joinpath(*parts)
        if not path.exists():
            where = "/".join(("../shared/data", *parts))
            if in_ci():
                pytest.fail(f"{where} absent ({path}): CI=true needs the real datasets beside the clone", pytrace=False)
            pytest.skip(f"{where} absent: {path}")
        return path

    return locate


@pytest.fixture(autouse=True)
def _hermetic_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Drop ambient LINKQA_* / DAGSTER_HOME settings and point both homes at a fresh directory.

    The directory is outside `tmp_path`, so tests that list or scan their `tmp_path` see only what
    they wrote there.
    """
    for name in list(os.environ):
        if name.startswith(_AMBIENT):
            monkeypatch.delenv(name)
    home = tmp_path_factory.mktemp("linkqa_home")
    (home / "dagster").mkdir()
    monkeypatch.setenv("LINKQA_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    return home


@pytest.fixture
def linkqa_home(_hermetic_env: Path) -> Path:
    """This test's LINKQA_HOME (already set in the environment), with DAGSTER_HOME = LINKQA_HOME/dagster."""
    return _hermetic_env


@pytest.fixture
def linkqa_env(linkqa_home: Path) -> dict[str, str]:
    """Environment for a `linkqa` / `dagster` child process: `linkqa_home`, offline LLM backend and
    no other inherited LINKQA_* / DAGSTER_* setting."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LINKQA_", "DAGSTER_"))}
    env.update(LINKQA_HOME=str(linkqa_home), DAGSTER_HOME=str(linkqa_home / "dagster"), LINKQA_LLM_BACKEND="offline")
    return env


@pytest.fixture
def fake_openai() -> Iterator[Callable[..., FakeOpenAIServer]]:
    """`fake_openai(**options)` starts a `FakeOpenAIServer(**options)` on 127.0.0.1; all stop after the test."""
    servers: list[FakeOpenAIServer] = []

    def start(**options: Any) -> FakeOpenAIServer:
        server = FakeOpenAIServer(**options).start()
        servers.append(server)
        return server

    yield start
    for server in reversed(servers):
        server.stop()
