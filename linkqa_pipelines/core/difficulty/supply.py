"""Level-aware supply: which of a path's seeds synthesis composes, so the discipline's compositions
can meet its difficulty target.

Composing every seed a walk found (up to `max_seeds`) gives an item at least as hard as its
hardest part (`composition`), and enhancement only makes items harder: a discipline whose
target asks for levels 1-2 gets almost none from real seeds that way. But a path's linked seeds
differ in level, and an item composed of its k easiest seeds (k >= 2, still a fusion of seeds
linked along the path) is as easy as those seeds allow. `level_aware_paths` predicts each
path's level with all its seeds and with its k easiest ones (`conjunction_level` of the seeds'
`seed_levels`: exactly what the offline score will say, and the seeds' level for a model-written
item), then narrows paths one at a time, always the move that most raises the scarcest level
relative to its target share (lexicographic max-min of supply / share over the target's
levels), until no move helps. Nothing is relabelled: a narrowed path's item is scored like any
other, from the seeds it names. Two paths never end up naming the same seed set (their
compositions would be duplicates).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

import polars as pl

from linkqa_pipelines.core.difficulty.composition import conjunction_level, level_expr
from linkqa_pipelines.core.difficulty.targets import LEVELS, check_target

LEVEL_AWARE_SCHEMA: dict[str, pl.DataType] = {
    "difficulty": pl.Int8(),
    "target_share": pl.Float64(),
    "all_seeds": pl.Int64(),  # paths at this level composing all their seeds
    "level_aware": pl.Int64(),  # paths at this level after narrowing
}


def _options(paths: pl.DataFrame, levels: pl.DataFrame, max_seeds: int) -> pl.DataFrame:
    """(path_id, k, seed_ids, level) for k = 2..n: the path's k easiest of its first `max_seeds`
    seeds, in the path's pick order (k = n: all of them), with the predicted level."""
    parts = (
        paths.select("path_id", pl.col("seed_ids").list.head(max_seeds).alias("seed_id"))
        .with_columns(pos=pl.int_ranges(pl.col("seed_id").list.len()))
        .explode("seed_id", "pos")
        .join(levels.select("seed_id", "seed_level"), on="seed_id", how="left")
    )
    unknown = parts.filter(pl.col("seed_level").is_null() & pl.col("seed_id").is_not_null())
    if unknown.height:
        raise ValueError(f"{unknown.height} path seeds have no seed level, e.g. {unknown['seed_id'].head(5).to_list()}")
    ranked = (
        parts.drop_nulls("seed_id")
        .sort("path_id", "seed_level", "pos")
        .with_columns(ease=pl.int_range(1, pl.len() + 1).over("path_id"), n=pl.len().over("path_id"))
    )
    ks = ranked.select("path_id", "n").unique().with_columns(k=pl.int_ranges(2, pl.col("n") + 1)).explode("k")
    return (
        ks.drop_nulls("k")
        .join(ranked, on="path_id")
        .filter(pl.col("ease") <= pl.col("k"))
        .sort("path_id", "k", "pos")
        .group_by("path_id", "k", maintain_order=True)
        .agg(pl.col("seed_id").alias("seed_ids"), pl.col("seed_level").alias("levels"), n=pl.col("n").first())
        .with_columns(level=level_expr(conjunction_level(pl.col("levels"))))
        .drop("levels")
    )


def level_aware_paths(
    paths: pl.DataFrame, levels: pl.DataFrame, target: Mapping[int, float], *, max_seeds: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(`paths` with `seed_ids` narrowed where that brings the predicted mix closer to `target`,
    report): see module. `levels` is the `seed_levels` frame of the paths' seeds. A path with
    fewer than two seeds is left as it is (synthesis refuses it with its path id).

    The report (`LEVEL_AWARE_SCHEMA`) counts the paths per predicted level before and after.
    """
    shares = check_target(target, "target")
    options = _options(paths, levels, max_seeds)
    full = options.filter(pl.col("k") == pl.col("n")).select("path_id", "level")
    found = dict(full.group_by("level").len().iter_rows())
    counts = {lv: int(found.get(lv, 0)) for lv in LEVELS}  # paths per predicted level now
    before = dict(counts)
    taken = {frozenset(s) for s in options.filter(pl.col("k") == pl.col("n"))["seed_ids"].to_list()}
    # per (from level, to level): the narrower options, fewest seeds dropped first, then path id
    moves: dict[tuple[int, int], deque[tuple[str, list[str]]]] = {}
    narrower = options.join(full.rename({"level": "from"}), on="path_id").filter(
        (pl.col("k") < pl.col("n")) & (pl.col("level") != pl.col("from"))
    )
    for path_id, seed_ids, src, dst in (
        narrower.sort(pl.col("k"), "path_id", descending=[True, False])
        .select("path_id", "seed_ids", "from", "level")
        .iter_rows()
    ):
        moves.setdefault((src, dst), deque()).append((path_id, seed_ids))
    chosen: dict[str, list[str]] = {}
    while True:
        best: tuple[tuple[float, ...], tuple[int, int]] | None = None
        for src, dst in moves:
            queue = moves[(src, dst)]
            while queue and (queue[0][0] in chosen or frozenset(queue[0][1]) in taken):
                queue.popleft()  # path already narrowed, or a seed set another path composes
            if not queue:
                continue
            score = _leximin({**counts, src: counts[src] - 1, dst: counts[dst] + 1}, shares)
            if best is None or score > best[0]:
                best = (score, (src, dst))
        if best is None or best[0] <= _leximin(counts, shares):
            break
        src, dst = best[1]
        path_id, seed_ids = moves[(src, dst)].popleft()
        chosen[path_id] = seed_ids
        taken.add(frozenset(seed_ids))
        counts[src] -= 1
        counts[dst] += 1
    narrowed = pl.DataFrame(
        {"path_id": list(chosen), "_narrowed": list(chosen.values())},
        schema={"path_id": pl.String, "_narrowed": pl.List(pl.String)},
    )
    out = (
        paths.join(narrowed, on="path_id", how="left", maintain_order="left")
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


def _leximin(counts: Mapping[int, int], shares: Mapping[int, float]) -> tuple[float, ...]:
    """Supply / target share per level the target asks for, ascending: the selection meets the
    target with as many rows as the scarcest level allows, then the next."""
    return tuple(sorted(counts[lv] / shares[lv] for lv in LEVELS if shares[lv] > 0))
