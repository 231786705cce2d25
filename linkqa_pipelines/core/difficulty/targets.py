"""Difficulty targets and selection: the 1-5 levels, per-discipline level targets and discipline
shares of the whole dataset (built-in default or YAML), the quotas they imply
(`discipline_quotas`, `select_to_target`), what enhancement must add (`enhancement_plan`), and the
achieved-vs-target report per discipline and for the whole dataset (`mix_report`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
import polars as pl
import yaml

LEVELS: tuple[int, ...] = (1, 2, 3, 4, 5)
K = TypeVar("K", int, str)
DEFAULT_TARGET: dict[int, float] = {1: 0.10, 2: 0.20, 3: 0.30, 4: 0.25, 5: 0.15}


def check_target(raw: object, where: str) -> dict[int, float]:
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
    """Per-discipline difficulty mixes with a default for disciplines not listed, and the share of
    the whole dataset each discipline should hold (empty: no discipline share control)."""

    default: dict[int, float] = field(default_factory=lambda: dict(DEFAULT_TARGET))
    disciplines: dict[str, dict[int, float]] = field(default_factory=dict[str, dict[int, float]])
    shares: dict[str, float] = field(default_factory=dict[str, float])

    def for_discipline(self, discipline: str) -> dict[int, float]:
        return self.disciplines.get(discipline, self.default)


def load_targets(path: Path | str | None) -> DifficultyTargets:
    """Read targets from YAML; None gives the built-in default for every discipline.

    Layout::

        default: {1: 0.1, 2: 0.2, 3: 0.3, 4: 0.25, 5: 0.15}   # optional
        disciplines:                                          # optional
          mathematics: {1: 0.05, 2: 0.15, 3: 0.3, 4: 0.3, 5: 0.2}
        discipline_shares: {mathematics: 0.6, physics: 0.4}   # optional, sums to 1
    """
    if path is None:
        return DifficultyTargets()
    path = Path(path)
    loaded: object = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(loaded, Mapping):
        raise ValueError(f"{path}: expected a mapping with 'default' and/or 'disciplines'")
    data = cast(Mapping[Any, Any], loaded)
    unknown = set(data) - {"default", "disciplines", "discipline_shares"}
    if unknown:
        raise ValueError(
            f"{path}: unknown keys {sorted(unknown)}; expected 'default', 'disciplines', 'discipline_shares'"
        )
    default = check_target(data["default"], f"{path}: default") if "default" in data else dict(DEFAULT_TARGET)
    per: object = data.get("disciplines") or {}
    if not isinstance(per, Mapping):
        raise ValueError(f"{path}: 'disciplines' must map discipline names to targets")
    return DifficultyTargets(
        default=default,
        disciplines={
            str(d): check_target(t, f"{path}: disciplines.{d}") for d, t in cast(Mapping[Any, Any], per).items()
        },
        shares=_check_shares(data.get("discipline_shares") or {}, f"{path}: discipline_shares"),
    )


def _check_shares(raw: object, where: str) -> dict[str, float]:
    """discipline -> share of the dataset, each >= 0, summing to 1 (+-0.01); empty is allowed."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: expected a mapping of discipline -> share")
    shares: dict[str, float] = {}
    for key, value in cast(Mapping[Any, Any], raw).items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise ValueError(f"{where}: share of {key} is {value!r}, expected a number >= 0")
        shares[str(key)] = float(value)
    total = sum(shares.values())
    if shares and abs(total - 1.0) > 0.01:
        raise ValueError(f"{where}: shares sum to {total:.4f}, expected 1")
    return {d: v / total for d, v in shares.items()} if shares else {}


def discipline_quotas(
    shares: Mapping[str, float], supply: Mapping[str, int], total: int | None = None
) -> dict[str, int]:
    """Rows per discipline for a dataset of `total` rows split by `shares` (largest remainder).

    `total=None` takes the largest total every discipline with a share can supply at its share
    (each discipline's supply = how many rows its level target lets it select, see
    `select_to_target`); a discipline with a scarce few (under `SCARCE_LEVEL` of all the supply and
    under 5 rows) or none is a deficit there, not a cap on the whole dataset, as a scarce level is
    within a discipline. Disciplines without a share get 0; a discipline short of its quota is
    reported (`discipline_plan`), never made up from another.
    """
    wanted = {d: s for d, s in shares.items() if s > 0}
    if not wanted:
        return {}
    if total is None:
        total = _largest_n({d: supply.get(d, 0) for d in wanted}, wanted)
    exact = {d: total * s for d, s in wanted.items()}
    counts = {d: math.floor(v) for d, v in exact.items()}
    for d in sorted(wanted, key=lambda d: (-(exact[d] - counts[d]), d))[: total - sum(counts.values())]:
        counts[d] += 1
    return {d: counts.get(d, 0) for d in shares}


DISCIPLINE_PLAN_SCHEMA: dict[str, pl.DataType] = {
    "discipline": pl.String(),
    "target_share": pl.Float64(),  # of the whole dataset (discipline_shares)
    "screened": pl.Int64(),  # rows in the pool
    "supply": pl.Int64(),  # rows its level target lets it select
    "quota": pl.Int64(),  # rows its share of the dataset wants
    "deficit": pl.Int64(),  # quota - supply when short
    "cause": pl.String(),  # why it is short, or what bounds the dataset's size; "" otherwise
}


def discipline_plan(pool: pl.DataFrame, targets: DifficultyTargets) -> pl.DataFrame:
    """The whole-dataset discipline quotas for a pool of scored rows (discipline, difficulty) of
    every discipline (`DISCIPLINE_PLAN_SCHEMA`, one row per discipline of the pool or of the
    shares); empty when `targets` sets no discipline shares. A discipline's supply is the largest
    selection its level target allows (`select_to_target` with n=None); the quotas split the
    largest total the shares allow (`discipline_quotas`). Selecting a discipline's `min(quota,
    supply)` rows (`select_to_target(n=...)`) meets both its level mix and its share."""
    if not targets.shares:
        return pl.DataFrame(schema=DISCIPLINE_PLAN_SCHEMA)
    counts = pool.group_by("discipline", "difficulty").len()
    disciplines = sorted(set(pool["discipline"].to_list()) | set(targets.shares))
    screened: dict[str, int] = {}
    supply: dict[str, int] = {}
    for d in disciplines:
        got = dict(counts.filter(pl.col("discipline") == d).select("difficulty", "len").iter_rows())
        available = {lv: int(got.get(lv, 0)) for lv in LEVELS}
        screened[d] = sum(available.values())
        supply[d] = _largest_n(available, targets.for_discipline(d))
    quotas = discipline_quotas(targets.shares, supply)
    total = sum(quotas.values())
    bounded = [d for d in quotas if quotas[d] and quotas[d] == supply[d]]
    rows: list[dict[str, Any]] = []
    for d in disciplines:
        share, quota = targets.shares.get(d, 0.0), quotas.get(d, 0)
        if share == 0:
            cause = "no share in discipline_shares: left out"
        elif supply[d] < quota:
            cause = (
                f"supply: {supply[d]} of its {screened[d]} screened items fit its level target, its "
                f"{share:.1%} of the {total}-row dataset wants {quota}"
            )
        elif d in bounded:
            cause = f"bounds the dataset's size: all {supply[d]} items its level target allows are taken"
        else:
            cause = ""
        rows.append(
            {
                "discipline": d,
                "target_share": share,
                "screened": screened[d],
                "supply": supply[d],
                "quota": quota,
                "deficit": max(quota - supply[d], 0),
                "cause": cause,
            }
        )
    return pl.DataFrame(rows, schema=DISCIPLINE_PLAN_SCHEMA)


def discipline_shares(dataset: pl.DataFrame, plan: pl.DataFrame) -> pl.DataFrame:
    """The discipline shares a dataset (discipline column) achieved against `plan`
    (`discipline_plan`): discipline, target_share, achieved_share, items, quota, supply,
    gap_points, within_5_points, cause (the plan's; for a discipline selected below what its plan
    allowed, that it was, e.g. capped by linkqa_dataset's max_rows)."""
    if plan.is_empty():
        return plan.clear()
    sizes = dataset.group_by("discipline").len("items")
    total = max(dataset.height, 1)
    return (
        plan.join(sizes, on="discipline", how="left")
        .with_columns(pl.col("items").fill_null(0).cast(pl.Int64))
        .select(
            "discipline",
            "target_share",
            achieved_share=pl.col("items") / total,
            items="items",
            quota="quota",
            supply="supply",
            gap_points=(100 * (pl.col("items") / total - pl.col("target_share"))).round(2),
            within_5_points=(100 * (pl.col("items") / total - pl.col("target_share"))).abs() <= 5,
            cause=pl.when(pl.col("items") < pl.min_horizontal("quota", "supply"))
            .then(
                pl.format(
                    "selected {} of the {} its plan allows (see linkqa_dataset's metadata)",
                    "items",
                    pl.min_horizontal("quota", "supply"),
                )
            )
            .otherwise(pl.col("cause")),
        )
    )


SCARCE_LEVEL = 0.02  # below this share of a pool's rows (or 5 rows) a level is a deficit, not a cap on its size


def apportion(n: int, target: Mapping[int, float]) -> dict[int, int]:
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
    the available rows meet exactly on every level with a usable supply (levels with none, or
    with a scarce few, give what they have and are reported as deficits; see `_largest_n`).
    Within a level rows are drawn at random with `seed`, in a way that depends only on the set
    of rows, not their order. Selected rows keep input order.

    Returns (selected, report) with report columns difficulty, target_share, available,
    wanted, selected, deficit, selected_share and cause (why a level fell short, "" when not;
    counts harder variants when `qa` has `enhanced_from`).
    """
    shares = check_target(target, "target")
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
        n = _largest_n(available, shares)
    wanted = apportion(n, shares)
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
            "cause": [_cause(qa, lv, available[lv], wanted[lv]) for lv in LEVELS],
        },
        schema={
            "difficulty": pl.Int8,
            "target_share": pl.Float64,
            "available": pl.Int64,
            "wanted": pl.Int64,
            "selected": pl.Int64,
            "deficit": pl.Int64,
            "selected_share": pl.Float64,
            "cause": pl.String,
        },
    )
    return selected, report


def _largest_n(available: Mapping[K, int], shares: Mapping[K, float]) -> int:
    """The largest n the keys (levels, or disciplines) with a usable supply meet exactly at their
    shares. A key holding fewer than 5 rows, or fewer than `SCARCE_LEVEL` of them, gives all it
    has and is reported as a deficit instead of capping n: one stray level-2 item must not shrink a
    discipline of hundreds to five, nor one level-3 item the sample's 24 mathematics items to one."""
    supplied = [k for k in shares if shares[k] > 0 and available.get(k, 0) > 0]
    total = sum(available.values())
    usable = [k for k in supplied if available[k] >= max(5, SCARCE_LEVEL * total)] or supplied
    limits = [available[k] / shares[k] for k in usable]
    return math.floor(min(limits) + 1e-9) if limits else 0


def _cause(qa: pl.DataFrame, level: int, available: int, wanted: int) -> str:
    """Why `level` is short: enhancement only makes items harder, so a level is filled from the
    levels below it — when none holds an item (level 1 always), nothing can fill it."""
    if available >= wanted:
        return ""
    short = f"supply: {available} scored items at level {level}, {wanted} wanted"
    easier = qa.filter(pl.col("difficulty") < level).height
    if easier == 0:
        return (
            f"{short}; no item scored below level {level}, and enhancement only makes items harder, so nothing "
            "can fill it (the seeds are not that easy: difficulty_scored_qa's seed_levels; the easiest compositions "
            "of the paths' linked seeds: synthesized_qa's level_aware_supply)"
        )
    if "enhanced_from" not in qa.columns:
        return f"{short}; enhancement not run"
    variants = qa.filter(pl.col("enhanced_from").is_not_null() & (pl.col("difficulty") == level)).height
    return (
        f"{short} ({variants} of them harder variants, from {easier} easier items); enhancement did not make "
        "enough (see difficulty_scored_qa's enhancement metadata and difficulty_rejected_variants)"
    )


def enhancement_plan(scored: pl.DataFrame, target: Mapping[int, float], n: int | None = None) -> pl.DataFrame:
    """Which items to rewrite harder so the mix can meet `target` with `n` rows (None: as many
    as scored): (qa_id, difficulty, aim) rows.

    For each level short of its quota (highest first), items one level below it are taken (then
    two levels below, and so on) from levels that hold more than their own quota, lowest
    qa_id first; `aim` is the level they should reach. A variant is kept only if it scores at
    least one level above its original, so a candidate from level L-1 fills level L.
    """
    shares = check_target(target, "target")
    wanted = apportion(scored.height if n is None else n, shares)
    available = {lv: int(c) for lv, c in scored.group_by("difficulty").len().iter_rows()}
    spare = {lv: max(0, available.get(lv, 0) - wanted[lv]) for lv in LEVELS}
    need = {lv: max(0, wanted[lv] - available.get(lv, 0)) for lv in LEVELS}
    picks: dict[int, int] = {}  # source level -> how many taken so far
    plan: list[pl.DataFrame] = []
    ordered = scored.select("qa_id", "difficulty").sort("qa_id")
    for aim in sorted(LEVELS, reverse=True):
        for source in range(aim - 1, 0, -1):
            take = min(need[aim], spare[source])
            if take <= 0:
                continue
            start = picks.get(source, 0)
            chosen = ordered.filter(pl.col("difficulty") == source).slice(start, take)
            plan.append(chosen.with_columns(aim=pl.lit(aim, pl.Int8)))
            picks[source] = start + chosen.height
            spare[source] -= chosen.height
            need[aim] -= chosen.height
    if not plan:
        return pl.DataFrame(schema={"qa_id": pl.String, "difficulty": pl.Int8, "aim": pl.Int8})
    return pl.concat(plan).cast({"difficulty": pl.Int8})


def mix_report(dataset: pl.DataFrame, targets: DifficultyTargets) -> pl.DataFrame:
    """Achieved against target, per discipline and for the whole dataset ("(all)").

    Rows: scope (discipline or "(all)"), difficulty, target_share, achieved_share, items,
    gap_points (achieved - target, percentage points), within_5_points; and per scope
    the discipline share achieved vs target (difficulty null; a discipline with a share and no
    rows shows its share row only). The whole dataset's level target is the discipline targets
    weighted by the disciplines' achieved sizes.
    """
    total = max(dataset.height, 1)
    counts = dataset.group_by("discipline", "difficulty").len()
    sizes = dict(dataset.group_by("discipline").len().iter_rows())
    rows: list[dict[str, Any]] = []
    overall_target = dict.fromkeys(LEVELS, 0.0)
    for discipline in sorted(set(sizes) | {d for d, s in targets.shares.items() if s > 0}):
        target = targets.for_discipline(discipline)
        size = int(sizes.get(discipline, 0))
        got = dict(counts.filter(pl.col("discipline") == discipline).select("difficulty", "len").iter_rows())
        for lv in LEVELS if size else ():
            overall_target[lv] += target[lv] * size / total
            rows.append(_mix_row(discipline, lv, target[lv], int(got.get(lv, 0)), size))
        rows.append(_mix_row(discipline, None, targets.shares.get(discipline), size, total))
    got_all = dict(dataset.group_by("difficulty").len().iter_rows())
    rows += [_mix_row("(all)", lv, overall_target[lv], int(got_all.get(lv, 0)), total) for lv in LEVELS]
    return pl.DataFrame(rows, schema=MIX_REPORT_SCHEMA)


MIX_REPORT_SCHEMA: dict[str, pl.DataType] = {
    "scope": pl.String(),
    "difficulty": pl.Int8(),
    "target_share": pl.Float64(),
    "achieved_share": pl.Float64(),
    "items": pl.Int64(),
    "gap_points": pl.Float64(),
    "within_5_points": pl.Boolean(),
}


def _mix_row(scope: str, level: int | None, target: float | None, items: int, of: int) -> dict[str, Any]:
    achieved = items / of if of else 0.0
    gap = None if target is None else round(100 * (achieved - target), 2)
    return {
        "scope": scope,
        "difficulty": level,
        "target_share": target,
        "achieved_share": achieved,
        "items": items,
        "gap_points": gap,
        "within_5_points": None if gap is None else abs(gap) <= 5,
    }
