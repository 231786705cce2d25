"""Difficulty targets and selection: the 1-5 levels, per-discipline target mixes (built-in
default or YAML), and `select_to_target`, which turns scored QA into the released mix.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import polars as pl
import yaml

LEVELS: tuple[int, ...] = (1, 2, 3, 4, 5)
DEFAULT_TARGET: dict[int, float] = {1: 0.10, 2: 0.20, 3: 0.30, 4: 0.25, 5: 0.15}


def _check_target(raw: object, where: str) -> dict[int, float]:
    """Levels 1-5 -> share, missing levels 0; the shares must sum to 1 (+-0.01).

    `raw` comes from YAML as well as from callers, hence the runtime check of its shape.
    """
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: expected a mapping of difficulty level -> share, got {type(raw).__name__}")
    target = dict.fromkeys(LEVELS, 0.0)
    for key, value in cast(Mapping[Any, Any], raw).items():
        try:
            level = int(key)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: key {key!r} is not a difficulty level 1-5") from None
        if level not in LEVELS:
            raise ValueError(f"{where}: key {key!r} is not a difficulty level 1-5")
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise ValueError(f"{where}: share of level {level} is {value!r}, expected a number >= 0")
        target[level] = float(value)
    total = sum(target.values())
    if abs(total - 1.0) > 0.01:
        raise ValueError(f"{where}: shares sum to {total:.4f}, expected 1")
    return {level: share / total for level, share in target.items()}


@dataclass(frozen=True)
class DifficultyTargets:
    """Per-discipline difficulty mixes with a default for disciplines not listed."""

    default: dict[int, float] = field(default_factory=lambda: dict(DEFAULT_TARGET))
    disciplines: dict[str, dict[int, float]] = field(default_factory=dict[str, dict[int, float]])

    def for_discipline(self, discipline: str) -> dict[int, float]:
        return self.disciplines.get(discipline, self.default)


def load_targets(path: Path | str | None) -> DifficultyTargets:
    """Read targets from YAML; None gives the built-in default for every discipline.

    Layout::

        default: {1: 0.1, 2: 0.2, 3: 0.3, 4: 0.25, 5: 0.15}   # optional
        disciplines:                                          # optional
          mathematics: {1: 0.05, 2: 0.15, 3: 0.3, 4: 0.3, 5: 0.2}
    """
    if path is None:
        return DifficultyTargets()
    path = Path(path)
    loaded: object = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(loaded, Mapping):
        raise ValueError(f"{path}: expected a mapping with 'default' and/or 'disciplines'")
    data = cast(Mapping[Any, Any], loaded)
    unknown = set(data) - {"default", "disciplines"}
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)}; expected 'default' and/or 'disciplines'")
    default = _check_target(data["default"], f"{path}: default") if "default" in data else dict(DEFAULT_TARGET)
    per: object = data.get("disciplines") or {}
    if not isinstance(per, Mapping):
        raise ValueError(f"{path}: 'disciplines' must map discipline names to targets")
    return DifficultyTargets(
        default=default,
        disciplines={
            str(d): _check_target(t, f"{path}: disciplines.{d}") for d, t in cast(Mapping[Any, Any], per).items()
        },
    )


def _apportion(n: int, target: Mapping[int, float]) -> dict[int, int]:
    """Largest-remainder split of n rows over levels (ties to the lower level): sums to n."""
    exact = {level: n * target[level] for level in LEVELS}
    counts = {level: math.floor(v) for level, v in exact.items()}
    by_remainder = sorted(LEVELS, key=lambda level: (-(exact[level] - counts[level]), level))
    for level in by_remainder[: n - sum(counts.values())]:
        counts[level] += 1
    return counts


def select_to_target(
    qa: pl.DataFrame,
    target: Mapping[int, float],
    n: int | None = None,
    seed: int = 0,
    *,
    id_col: str = "qa_id",
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Pick rows whose difficulty mix matches `target` (level -> share) as closely as possible.

    `n` rows are wanted, split over levels by largest remainder; a level with fewer rows
    than wanted gives all it has and the shortfall is reported as its `deficit` — never
    filled from other levels, which would distort the mix. `n=None` takes the largest n
    the available rows meet exactly on every level that has rows (levels with none are
    reported as deficits). Within a level rows are drawn at random with `seed`, in a way
    that depends only on the set of rows, not their order. Selected rows keep input order.

    Returns (selected, report) with report columns difficulty, target_share, available,
    wanted, selected, deficit, selected_share.
    """
    shares = _check_target(target, "target")
    if n is not None and n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if qa["difficulty"].null_count():
        bad = qa.filter(pl.col("difficulty").is_null())[id_col].head(5).to_list()
        raise ValueError(f"{qa['difficulty'].null_count()} rows have no difficulty (e.g. {bad}); score them first")
    outside = qa.filter(~pl.col("difficulty").is_in(LEVELS))
    if outside.height:
        raise ValueError(f"difficulty outside 1-5 in {outside.height} rows, e.g. {outside[id_col].head(5).to_list()}")
    counts = dict(qa.group_by("difficulty").len().iter_rows())
    available = {level: int(counts.get(level, 0)) for level in LEVELS}
    if n is None:
        limits = [available[lv] / shares[lv] for lv in LEVELS if shares[lv] > 0 and available[lv] > 0]
        n = math.floor(min(limits) + 1e-9) if limits else 0
    wanted = _apportion(n, shares)
    take = {level: min(available[level], wanted[level]) for level in LEVELS}

    ranked = (
        qa.with_columns(_row=pl.int_range(pl.len()))
        .sort(id_col)
        .with_columns(_u=pl.Series(np.random.default_rng(seed).random(qa.height)))
        .with_columns(_rank=pl.col("_u").rank("ordinal").over("difficulty"))
    )
    quota = pl.DataFrame({"difficulty": list(LEVELS), "_take": [take[lv] for lv in LEVELS]}).cast(
        {"difficulty": qa.schema["difficulty"]}
    )
    selected = (
        ranked.join(quota, on="difficulty")
        .filter(pl.col("_rank") <= pl.col("_take"))
        .sort("_row")
        .drop("_row", "_u", "_rank", "_take")
    )
    total = max(selected.height, 1)
    report = pl.DataFrame(
        {
            "difficulty": list(LEVELS),
            "target_share": [shares[lv] for lv in LEVELS],
            "available": [available[lv] for lv in LEVELS],
            "wanted": [wanted[lv] for lv in LEVELS],
            "selected": [take[lv] for lv in LEVELS],
            "deficit": [wanted[lv] - take[lv] for lv in LEVELS],
            "selected_share": [take[lv] / total for lv in LEVELS],
        },
        schema={
            "difficulty": pl.Int8,
            "target_share": pl.Float64,
            "available": pl.Int64,
            "wanted": pl.Int64,
            "selected": pl.Int64,
            "deficit": pl.Int64,
            "selected_share": pl.Float64,
        },
    )
    return selected, report
