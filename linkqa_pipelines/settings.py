"""Where things live on this machine: one place reads the environment for paths."""

from __future__ import annotations

import os
from pathlib import Path


def linkqa_home() -> Path:
    """`LINKQA_HOME` (default `./.linkqa`): lake, warehouse, caches and the Dagster instance."""
    return Path(os.environ.get("LINKQA_HOME", ".linkqa")).expanduser().resolve()


def dagster_home() -> Path:
    """`DAGSTER_HOME` (default `LINKQA_HOME/dagster`)."""
    env = os.environ.get("DAGSTER_HOME")
    return Path(env).expanduser().resolve() if env else linkqa_home() / "dagster"
