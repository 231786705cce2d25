"""The one place that reads the environment: paths, and the settings the definitions bind as `EnvVar`s.

Resources get an `EnvVar` for every `LINKQA_*` variable that is set (so the UI shows where a
value came from and masks secrets) and the field's default otherwise; run config from the
launchpad or from `linkqa run` flags overrides either. Nothing reads the environment at import
time or inside an asset.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dagster import EnvVar

DEFAULT_HOME = ".linkqa"
EXECUTORS = ("multiprocess", "k8s")


def linkqa_home(env: Mapping[str, str] | None = None) -> Path:
    """`LINKQA_HOME` (default `./.linkqa`): lake, warehouse, caches and the Dagster instance."""
    env = os.environ if env is None else env
    return Path(env.get("LINKQA_HOME") or DEFAULT_HOME).expanduser().resolve()


def dagster_home(env: Mapping[str, str] | None = None) -> Path:
    """`DAGSTER_HOME` (default `LINKQA_HOME/dagster`)."""
    env = os.environ if env is None else env
    value = env.get("DAGSTER_HOME")
    return Path(value).expanduser().resolve() if value else linkqa_home(env) / "dagster"


def executor_choice(env: Mapping[str, str] | None = None) -> str:
    """`LINKQA_EXECUTOR`: how a launched run executes its steps.

    `multiprocess` (default): Dagster's default executor, every step a process inside the run's
    own process or pod. `k8s`: dagster-k8s's `k8s_job_executor`, every step its own Kubernetes
    Job, so the `dagster-k8s/config` op tags of the model-backed steps (GPU requests with
    `LINKQA_LLM_BACKEND=vllm`) shape only those steps' pods. `linkqa run` executes in process
    either way."""
    env = os.environ if env is None else env
    value = env.get("LINKQA_EXECUTOR", "").strip().lower() or EXECUTORS[0]
    if value not in EXECUTORS:
        raise ValueError(f"LINKQA_EXECUTOR={value!r} is not one of {', '.join(EXECUTORS)}")
    return value


def env_fields(
    names: Mapping[str, str],
    ints: frozenset[str] = frozenset(),
    env: Mapping[str, str] | None = None,
    floats: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Resource fields bound to the environment variables that are set (`field -> variable`).

    Dagster's `EnvVar` has string and int forms only, so float fields take the variable's value
    when the definitions load (a bad number fails there, naming the variable)."""
    env = os.environ if env is None else env
    fields: dict[str, Any] = {}
    for field, var in names.items():
        value = env.get(var, "").strip()
        if not value:
            continue
        if field in floats:
            try:
                fields[field] = float(value)
            except ValueError:
                raise ValueError(f"{var}={value!r} is not a number") from None
        else:
            fields[field] = EnvVar.int(var) if field in ints else EnvVar(var)
    return fields
