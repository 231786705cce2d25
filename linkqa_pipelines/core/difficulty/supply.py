"""Level-aware supply: which of a path's linked seeds synthesis composes, so the discipline's
compositions can meet its difficulty target.

Composing every seed a walk picked (up to `max_seeds`) gives an item at least as hard as its
hardest part (`composition`), and enhancement only makes items harder: a discipline whose
target asks for levels 1-2 gets almost none from real seeds that way. But the seeds linked to a
path's KPs differ in level, and an item composed of easier ones (two or more, still a fusion of
seeds linked along the path) is as easy as those seeds are. `level_aware_paths` predicts each
path's level with all its walk seeds and with each narrower choice (`conjunction_level` of the
seeds' `seed_levels`: exactly what the offline score will say, and the seeds' level for a
model-written item):

- its k easiest walk seeds (k >= 2), in the walk's order;
- with `links` (seed <-> KP), pairs of the `POOL` easiest other seeds linked to a KP of the path
  in the path's language (a walk of two seeds has no easier subset).

It then narrows paths one at a time, always the move that most raises the scarcest level
relative to its target share (lexicographic max-min of supply / share over the target's levels),
until no move helps; walk subsets before linked pairs, fewest seeds dropped first. Nothing is
relabelled: a narrowed path's item is scored like any other, from the seeds it names. Two paths
never compose the same seed set (their items would be duplicates), and no seed ends up in more
than `max_reuse` compositions (the walk's own rule, so one easy question does not anchor many).

A model is not bound to its seeds' level: `requested_levels` asks each item slot for a level, the
target split over all slots and matched to the paths by how easy their seeds are, so the
discipline's target has supply at every level (offline compositions cannot follow a request).
"""

from __future__ import annotations

import itertools
from collections import Counter, deque
from collections.abc import Mapping

import polars as pl

from linkqa_pipelines.core.difficulty.composition import conjunction_level, level_expr
from linkqa_pipelines.core.difficulty.targets import LEVELS, apportion, check_target

POOL = 4
"""Linked seeds per path (its easiest, outside its walk) whose pairs are candidate compositions."""

LEVEL_AWARE_SCHEMA: dict[str, pl.DataType] = {
    "difficulty": pl.Int8(),
    "target_share": pl.Float64(),
    "all_seeds": pl.Int64(),  # paths at this level composing all their walk seeds
    "level_aware": pl.Int64(),  # paths at this level after narrowing
}


def _walk_options(paths: pl.DataFrame, levels: pl.DataFrame, max_seeds: int) -> pl.DataFrame:
    """(path_id, k, n, seed_ids) for k = 2..n: the path's k easiest of its first `max_seeds`
    walk seeds, in the walk's order (k = n: all of them)."""
    parts = (
        paths.select("path_id", pl.col("seed_ids").list.head(max_seeds).alias("seed_id"))
        .with_columns(pos=pl.int_ranges(pl.col("seed_id").list.len()))
        .explode("seed_id", "pos")
        .drop_nulls("seed_id")
        .join(levels.select("seed_id", "seed_level"), on="seed_id", how="left")
    )
    unknown = parts.filter(pl.col("seed_level").is_null())
    if unknown.height:
        raise ValueError(f"{unknown.height} path seeds have no seed level, e.g. {unknown['seed_id'].head(5).to_list()}")
    ranked = parts.sort("path_id", "seed_level", "pos").with_columns(
        ease=pl.int_range(1, pl.len() + 1).over("path_id"), n=pl.len().over("path_id")
    )
    ks = ranked.select("path_id", "n").unique().with_columns(k=pl.int_ranges(2, pl.col("n") + 1)).explode("k")
    return (
        ks.drop_nulls("k")
        .join(ranked.drop("n"), on="path_id")
        .filter(pl.col("ease") <= pl.col("k"))
        .sort("path_id", "k", "pos")
        .group_by("path_id", "k", maintain_order=True)
        .agg(pl.col("n").first(), seed_ids=pl.col("seed_id"))
    )


def _linked_pairs(paths: pl.DataFrame, levels: pl.DataFrame, links: pl.DataFrame) -> pl.DataFrame:
    """(path_id, seed_ids) pairs of the `POOL` easiest seeds linked to a KP of the path, outside
    its walk seeds and in its first seed's language (`levels` needs a language column)."""
    language = levels.select("seed_id", "language")
    walk = paths.select("path_id", pl.col("seed_ids").alias("walk"))
    pool = (
        paths.select("path_id", pl.col("kp_ids").alias("kp_id"), first=pl.col("seed_ids").list.first())
        .explode("kp_id")
        .join(links.select("seed_id", "kp_id"), on="kp_id")
        .join(language.rename({"seed_id": "first", "language": "path_language"}), on="first")
        .join(levels.select("seed_id", "seed_level", "language"), on="seed_id")
        .filter(pl.col("language") == pl.col("path_language"))
        .join(walk, on="path_id")
        .filter(~pl.col("walk").list.contains(pl.col("seed_id")))
        .unique(["path_id", "seed_id"])
        .sort("path_id", "seed_level", "seed_id")
        .group_by("path_id", maintain_order=True)
        .agg(pl.col("seed_id").head(POOL))
    )
    rows = [(path_id, list(pair)) for path_id, seeds in pool.iter_rows() for pair in itertools.combinations(seeds, 2)]
    return pl.DataFrame(rows, schema={"path_id": pl.String, "seed_ids": pl.List(pl.String)}, orient="row")


def _predicted(options: pl.DataFrame, levels: pl.DataFrame) -> pl.DataFrame:
    """`options` (seed_ids lists) with the level their seeds' composition scores."""
    numbered = options.with_row_index("option")
    parts = (
        numbered.select("option", "seed_ids")
        .explode("seed_ids")
        .join(levels.select("seed_id", "seed_level"), left_on="seed_ids", right_on="seed_id", how="left")
        .group_by("option")
        .agg(pl.col("seed_level"))
    )
    level = parts.select("option", level=level_expr(conjunction_level(pl.col("seed_level"))))
    return numbered.join(level, on="option", how="left").drop("option")


def _walk_levels(paths: pl.DataFrame, levels: pl.DataFrame, max_seeds: int) -> tuple[pl.DataFrame, dict[str, int]]:
    """(the walk options, path -> the level of composing all its walk seeds)."""
    walk = _walk_options(paths, levels, max_seeds)
    full = walk.filter(pl.col("k") == pl.col("n")).select("path_id", "seed_ids")
    return walk, dict(_predicted(full, levels).select("path_id", "level").iter_rows())


def _improvable(counts: Counter[int], shares: Mapping[int, float]) -> bool:
    """Whether moving one path to a lower level could bring the mix closer to the target."""
    now = _leximin(counts, shares)
    return any(
        _leximin(counts - Counter({src: 1}) + Counter({dst: 1}), shares) > now
        for src in LEVELS
        if counts[src]
        for dst in LEVELS
        if dst < src
    )


def needs_easier(paths: pl.DataFrame, levels: pl.DataFrame, target: Mapping[int, float], *, max_seeds: int) -> bool:
    """Whether easier compositions than the walks' would bring the paths' predicted mix closer to
    `target` (`levels`: the walk seeds' `seed_levels`): when not, `level_aware_paths` changes
    nothing, and the seeds linked beyond the walks need not be read."""
    _, now = _walk_levels(paths, levels, max_seeds)
    return _improvable(Counter(now.values()), check_target(target, "target"))


def level_aware_paths(
    paths: pl.DataFrame,
    levels: pl.DataFrame,
    target: Mapping[int, float],
    *,
    max_seeds: int,
    links: pl.DataFrame | None = None,
    max_reuse: int = 3,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(`paths` with `seed_ids` narrowed where that brings the predicted mix closer to `target`,
    report): see module. `levels` is the `seed_levels` frame (plus `language` when `links` is
    given) of every seed named or linked; `links` (seed_id, kp_id) offers seeds linked to a path's
    KPs beyond its walk's. A path with fewer than two seeds is left as it is (synthesis refuses it
    with its path id).

    The report (`LEVEL_AWARE_SCHEMA`) counts the paths per predicted level before and after.
    """
    shares = check_target(target, "target")
    walk, now = _walk_levels(paths, levels, max_seeds)  # path -> predicted level
    counts = Counter(now.values())
    before = {lv: counts[lv] for lv in LEVELS}
    candidates = [walk.filter(pl.col("k") < pl.col("n")).select("path_id", "seed_ids", rank="k")]
    if links is not None and _improvable(counts, shares):
        candidates.append(_linked_pairs(paths, levels, links).with_columns(rank=pl.lit(0, pl.Int64)))
    full = walk.filter(pl.col("k") == pl.col("n")).select("path_id", "seed_ids")
    composed = {p: list(s) for p, s in full.iter_rows()}
    uses = Counter(s for seeds in composed.values() for s in seeds)
    taken = {frozenset(s) for s in composed.values()}
    moves: dict[tuple[int, int], deque[tuple[str, list[str]]]] = {}
    for path_id, seed_ids, level in (
        _predicted(pl.concat(candidates), levels)
        .filter(pl.col("path_id").is_in(list(now)))
        .sort("rank", "path_id", descending=[True, False])
        .select("path_id", "seed_ids", "level")
        .iter_rows()
    ):
        if level < now[path_id]:
            moves.setdefault((now[path_id], level), deque()).append((path_id, seed_ids))

    def usable(path_id: str, seeds: list[str]) -> bool:
        new = set(seeds) - set(composed[path_id])
        return frozenset(seeds) not in taken and all(uses[s] < max_reuse for s in new)

    narrowed: set[str] = set()
    while True:
        best: tuple[tuple[float, ...], tuple[int, int]] | None = None
        for (src, dst), queue in moves.items():
            while queue and (queue[0][0] in narrowed or not usable(*queue[0])):
                queue.popleft()  # path already narrowed, a seed set composed already, or a seed used up
            if queue:
                trial = counts.copy()
                trial[src] -= 1
                trial[dst] += 1
                score = _leximin(trial, shares)
                if best is None or score > best[0]:
                    best = (score, (src, dst))
        if best is None or best[0] <= _leximin(counts, shares):
            break
        src, dst = best[1]
        path_id, seeds = moves[(src, dst)].popleft()
        uses.subtract(composed[path_id])
        uses.update(seeds)
        taken.add(frozenset(seeds))
        composed[path_id] = seeds
        narrowed.add(path_id)
        counts[src] -= 1
        counts[dst] += 1
    chosen = pl.DataFrame(
        {"path_id": sorted(narrowed), "_narrowed": [composed[p] for p in sorted(narrowed)]},
        schema={"path_id": pl.String, "_narrowed": pl.List(pl.String)},
    )
    out = (
        paths.join(chosen, on="path_id", how="left", maintain_order="left")
        .with_columns(seed_ids=pl.coalesce("_narrowed", "seed_ids"))
        .drop("_narrowed")
    )
    report = pl.DataFrame(
        {
            "difficulty": list(LEVELS),
            "target_share": [shares[lv] for lv in LEVELS],
            "all_seeds": [before[lv] for lv in LEVELS],
            "level_aware": [counts[lv] for lv in LEVELS],
        },
        schema=LEVEL_AWARE_SCHEMA,
    )
    return out, report


def requested_levels(
    paths: pl.DataFrame, levels: pl.DataFrame, target: Mapping[int, float], *, per_path: int, max_seeds: int
) -> pl.DataFrame:
    """(path_id, requested_levels list[Int8]): the level each of a path's `per_path` items is
    asked for, when a model writes them. The discipline's target is split over all item slots
    (largest remainder, so the slots' levels match the target as closely as whole items can),
    and the sorted slot levels go to the paths sorted by the level of composing their seeds
    (`seed_levels` frame `levels`): the easiest paths are asked for the easiest items, a path's
    slots get consecutive levels. A model may miss the level; the judge and solver score what it
    wrote and the selection counts that, so a request is a steer, never a label."""
    if per_path < 1:
        raise ValueError(f"per_path must be at least 1, got {per_path}")
    shares = check_target(target, "target")
    _, predicted = _walk_levels(paths, levels, max_seeds)
    order = sorted(paths["path_id"].to_list(), key=lambda p: (predicted.get(p, 0), p))
    slots = [lv for lv, n in sorted(apportion(len(order) * per_path, shares).items()) for _ in range(n)]
    chunks = [slots[i * per_path : (i + 1) * per_path] for i in range(len(order))]
    return pl.DataFrame(
        {"path_id": order, "requested_levels": chunks},
        schema={"path_id": pl.String, "requested_levels": pl.List(pl.Int8)},
    )


def requests_vs_scores(scored: pl.DataFrame) -> pl.DataFrame:
    """Per level asked for (`requested_level`), how the items asked for it scored (`difficulty`):
    items, mean level, share at that level and within one. Shows whether the model follows
    level requests; empty when nothing was asked (or the rows predate `requested_level`)."""
    if "requested_level" not in scored.columns:
        scored = scored.with_columns(requested_level=pl.lit(None, pl.Int8))
    asked = scored.filter(pl.col("requested_level").is_not_null(), pl.col("difficulty").is_not_null())
    return (
        asked.group_by("requested_level")
        .agg(
            items=pl.len(),
            mean_scored=pl.col("difficulty").cast(pl.Float64).mean().round(2),
            at_level=(pl.col("difficulty") == pl.col("requested_level")).mean().round(3),
            within_one=((pl.col("difficulty") - pl.col("requested_level")).abs() <= 1).mean().round(3),
        )
        .sort("requested_level")
    )


def _leximin(counts: Mapping[int, int], shares: Mapping[int, float]) -> tuple[float, ...]:
    """Supply / target share per level the target asks for, ascending: the selection meets the
    target with as many rows as the scarcest level allows, then the next."""
    return tuple(sorted(counts[lv] / shares[lv] for lv in LEVELS if shares[lv] > 0))
