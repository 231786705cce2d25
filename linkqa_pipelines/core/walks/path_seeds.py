"""Seeds for each sampled path: the real questions the synthesiser fuses along the path.

For every path, the candidates are the seeds linked to any of its KPs. What makes a path
strongly linked is a seed that tests two *consecutive* KPs of it together, so selection is
greedy in this order:

1. seeds covering a consecutive KP pair not yet covered (most new pairs, then most new KPs);
2. then seeds covering path KPs not yet covered (most new KPs, then most pairs);
3. then, only while fewer than `min_seeds` are chosen, the best remaining seed (pairs first,
   then coverage), so a path whose KPs one seed already covers still gets `min_seeds`.

Within each of these classes, a seed from the same subject as the one picked before it comes
first when there is one (`subject` column of `seed_links`, which `kp_seed_links` carries):
consecutive seeds of a path then read as one topic
("college biology" after "high school biology" is another subject of the same discipline).

It stops at `max_seeds`. A seed may serve at most `max_seed_reuse` paths (earlier paths
first), so one very central question does not anchor the whole corpus; a path that ends
up short of `min_seeds` is not synthesised and so does not use up its seeds. Ties are broken
by a random key per seed drawn from `seed`, deterministic for a given seed.

Candidate generation is columnar (Polars joins over path positions and seed links); only
the greedy choice loops, per path, over its small candidate set (numpy bitmasks of path
positions). A path that cannot get `min_seeds` keeps what it got and an explicit `reason`.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from linkqa_pipelines.core.walks.types import Paths, flatten_paths

MAX_PATH_LEN = 62  # positions are bits of an int64 mask

PATH_SEEDS_SCHEMA: dict[str, pl.DataType] = {
    "path_index": pl.UInt32(),  # position in the input paths (matches `with_row_index`)
    "seed_ids": pl.List(pl.String()),  # in pick order; for a path with a reason, what it could get
    "covered_kps": pl.Int32(),  # path KPs linked to at least one chosen seed
    "pair_seeds": pl.Int32(),  # chosen seeds that contain two consecutive path KPs
    "reason": pl.String(),  # null when min_seeds were found, else why not
}


def _check_links(seed_links: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Distinct (seed_id, node) links, and (seed_id, subject) per seed (null subjects when the
    column is absent); a seed given two subjects is an error."""
    missing = [c for c in ("seed_id", "node") if c not in seed_links.columns]
    if missing:
        raise ValueError(f"seed_links is missing columns {missing} (has {seed_links.columns})")
    links = seed_links.select(pl.col("seed_id").cast(pl.String), pl.col("node").cast(pl.Int64)).with_row_index("row")
    bad = links.filter(pl.col("seed_id").is_null() | pl.col("node").is_null())
    if bad.height:
        row = bad.row(0, named=True)
        field = "seed_id" if row["seed_id"] is None else "node"
        raise ValueError(f"seed_links row {row['row']}: {field} is null ({bad.height} rows with nulls)")
    subject = pl.col("subject").cast(pl.String) if "subject" in seed_links.columns else pl.lit(None, dtype=pl.String)
    subjects = seed_links.select(pl.col("seed_id").cast(pl.String), subject=subject).unique()
    twice = subjects.filter(pl.col("seed_id").is_duplicated())["seed_id"].unique().sort()
    if twice.len():
        raise ValueError(f"seed_links: seed_ids with two subjects: {twice.head(5).to_list()}")
    return links.select("seed_id", "node").unique(), subjects


def select_path_seeds(
    paths: Paths,
    seed_links: pl.DataFrame,
    *,
    min_seeds: int = 2,
    max_seeds: int = 5,
    max_seed_reuse: int = 3,
    seed: int = 0,
) -> pl.DataFrame:
    """One row per path (`PATH_SEEDS_SCHEMA`), in path order; `seed_links` has columns seed_id, node
    and optionally subject (then each pick prefers the previous seed's subject)."""
    if not 1 <= min_seeds <= max_seeds:
        raise ValueError(f"need 1 <= min_seeds <= max_seeds, got {min_seeds}, {max_seeds}")
    if max_seed_reuse < 1:
        raise ValueError(f"max_seed_reuse must be >= 1, got {max_seed_reuse}")
    nodes, offsets = flatten_paths(paths)
    lengths = np.diff(offsets)
    if lengths.size and lengths.max() > MAX_PATH_LEN:
        raise ValueError(f"paths longer than {MAX_PATH_LEN} KPs are not supported (got {lengths.max()})")
    links, subjects = _check_links(seed_links)
    path_index = np.repeat(np.arange(lengths.size, dtype=np.int64), lengths)
    position = np.arange(nodes.size) - np.repeat(offsets[:-1], lengths)
    steps = pl.DataFrame({"path": path_index, "pos": position, "node": nodes, "bit": np.left_shift(1, position)})

    # (path, seed) candidates with bitmasks of covered positions and of covered consecutive pairs
    hits = steps.join(links, on="node", how="inner").select("path", "pos", "bit", "seed_id")
    nxt = hits.select("path", "seed_id", (pl.col("pos") - 1).alias("pos"), pl.lit(True).alias("has_next"))
    candidates = (
        hits.join(nxt, on=["path", "seed_id", "pos"], how="left")
        .group_by("path", "seed_id")
        .agg(
            pl.col("bit").sum().alias("mask"),
            pl.col("bit").filter(pl.col("has_next").fill_null(False)).sum().alias("pairs"),
        )
    )
    names = candidates.select("seed_id").unique().sort("seed_id").with_row_index("sid")
    candidates = candidates.join(names, on="seed_id").sort("path", "sid")
    seed_names = names["seed_id"].to_numpy()
    tie = np.random.default_rng(seed).random(seed_names.size)
    subject = _subject_codes(names, subjects)
    return _greedy(candidates, lengths, seed_names, tie, subject, min_seeds, max_seeds, max_seed_reuse)


def _subject_codes(names: pl.DataFrame, subjects: pl.DataFrame) -> np.ndarray:
    """Subject code per candidate seed (`names` order); -1 for a seed with no known subject, which
    matches no other seed."""
    codes = subjects.select("seed_id", code=pl.col("subject").rank("dense").cast(pl.Int64).fill_null(0) - 1)
    return names.join(codes, on="seed_id", how="left", maintain_order="left")["code"].fill_null(-1).to_numpy()


def _greedy(
    candidates: pl.DataFrame,
    lengths: np.ndarray,
    seed_names: np.ndarray,
    tie: np.ndarray,
    subject: np.ndarray,
    min_seeds: int,
    max_seeds: int,
    max_seed_reuse: int,
) -> pl.DataFrame:
    n_paths = lengths.size
    cand_path = candidates["path"].to_numpy()
    cand_sid = candidates["sid"].to_numpy()
    cand_mask = candidates["mask"].to_numpy()
    cand_pairs = candidates["pairs"].to_numpy()
    starts = np.searchsorted(cand_path, np.arange(n_paths + 1))
    used = np.zeros(seed_names.size, dtype=np.int64)
    out_seeds: list[list[str]] = []
    covered_kps = np.zeros(n_paths, dtype=np.int32)
    pair_seeds = np.zeros(n_paths, dtype=np.int32)
    reasons: list[str | None] = []
    for p in range(n_paths):
        lo, hi = starts[p], starts[p + 1]
        sid, mask, pairs = cand_sid[lo:hi], cand_mask[lo:hi], cand_pairs[lo:hi]
        free = used[sid] < max_seed_reuse
        n_pairs = np.bitwise_count(pairs)
        chosen: list[int] = []
        covered = covered_pairs = 0
        while len(chosen) < max_seeds and free.any():
            new_pairs = np.bitwise_count(pairs & ~covered_pairs)
            new_kps = np.bitwise_count(mask & ~covered)
            if (new_pairs[free] > 0).any():
                key, useful = (new_pairs, new_kps), new_pairs > 0
            elif (new_kps[free] > 0).any():
                key, useful = (new_kps, n_pairs), new_kps > 0
            elif len(chosen) < min_seeds:
                key, useful = ((n_pairs > 0).astype(np.int64), np.bitwise_count(mask)), free
            else:
                break
            # Same subject as the previous pick, among the seeds that serve this class.
            previous = subject[sid[chosen[-1]]] if chosen else -1
            same = useful & (previous >= 0) & (subject[sid] == previous)
            # lexsort: last key is primary; the random tie key comes first (least significant)
            order = np.lexsort((tie[sid], key[1], key[0], same, free))
            pick = int(order[-1])
            chosen.append(pick)
            free[pick] = False
            covered |= int(mask[pick])
            covered_pairs |= int(pairs[pick])
        reason = None
        if len(chosen) < min_seeds:
            linked = hi - lo
            if linked == 0:
                reason = "no seed is linked to any KP of the path"
            elif linked < min_seeds:
                reason = f"only {linked} seed(s) linked to the path's KPs (min_seeds={min_seeds})"
            else:
                reason = f"only {len(chosen)} of {linked} linked seeds still under max_seed_reuse={max_seed_reuse}"
        else:
            used[sid[chosen]] += 1  # a path without enough seeds is not synthesised: it uses none up
        out_seeds.append(seed_names[sid[chosen]].tolist())
        covered_kps[p] = int(covered).bit_count()
        pair_seeds[p] = int(np.count_nonzero(n_pairs[chosen]))
        reasons.append(reason)
    return pl.DataFrame(
        {
            "path_index": np.arange(n_paths, dtype=np.uint32),
            "seed_ids": out_seeds,
            "covered_kps": covered_kps,
            "pair_seeds": pair_seeds,
            "reason": reasons,
        },
        schema=PATH_SEEDS_SCHEMA,
    )
