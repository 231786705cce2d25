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


def linkqa_home(env: Mapping[str, str] | None = None) -> Path:
    """`LINKQA_HOME` (default `./.linkqa`): lake, warehouse, caches and the Dagster instance."""
    env = os.environ if env is None else env
    return Path(env.get("LINKQA_HOME") or DEFAULT_HOME).expanduser().resolve()


def dagster_home(env: Mapping[str, str] | None = None) -> Path:
    """`DAGSTER_HOME` (default `LINKQA_HOME/dagster`)."""
    env = os.environ if env is None else env
    value = env.get("DAGSTER_HOME")
    return Path(value).expanduser().resolve() if value else linkqa_home(env) / "dagster"


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
