"""The numba kernels against plain one-at-a-time references: interleaving walkers, prefetching
and the guide tables must change speed only, never a single drawn KP."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from linkqa_pipelines.core.contracts import GraphArrays
from linkqa_pipelines.core.walks import graph_arrays_from_edges
from linkqa_pipelines.core.walks import sampler as walks

walk_kernels = pytest.importorskip("linkqa_pipelines.core.walks.kernels")


def power_law_graph(n: int, seed: int) -> GraphArrays:
    """Hubs (long segments, so the binary search runs many halvings), leaves and an isolated pair
    (dead ends), zero-popularity KPs (zero-weight entries)."""
    rng = np.random.default_rng(seed)
    ends = np.minimum(rng.zipf(1.6, size=(6 * n, 2)) - 1, n - 3)
    pairs = {tuple(sorted(p)) for p in ends.tolist() if p[0] != p[1]}
    pairs |= {(n - 2, n - 1)}
    src, dst = np.array(sorted(pairs)).T
    popularity = rng.integers(0, 20, size=n).astype(float)
    return graph_arrays_from_edges(n, src, dst, rng.integers(1, 9, size=src.size).astype(float), popularity)


def uniform(state: np.uint64) -> tuple[np.uint64, float]:
    """The kernels' splitmix64 step, called from Python (which hands the state back as an int)."""
    state, x = walk_kernels._uniform(np.uint64(state))
    return np.uint64(state), x


def one_walker_at_a_time(
    indptr: np.ndarray,
    indices: np.ndarray,
    edge: np.ndarray,
    value_now: np.ndarray,
    accept: np.ndarray,
    cdf: np.ndarray,
    rounds: int,
    paths: np.ndarray,
    values: np.ndarray,
    lengths: np.ndarray,
    target: np.ndarray,
    state: np.ndarray,
    stop: int,
) -> tuple[int, int]:
    """`advance_walkers` written as the textbook loop: walker after walker, step after step,
    `np.searchsorted` for the proposal. Same RNG (the kernel's splitmix64), same exact pass."""
    proposals = passed = 0
    for w in range(paths.shape[0]):
        s, t = state[w], int(lengths[w])
        while 0 < t < min(int(target[w]), stop, paths.shape[1]):  # a row without a start KP is left alone
            lo, hi = int(indptr[paths[w, t - 1]]), int(indptr[paths[w, t - 1] + 1])
            node = -1
            if rounds > 0 and hi > lo and cdf[hi - 1] > 0:
                total = cdf[hi - 1]
                for _ in range(rounds):
                    s, x = uniform(s)
                    s, y = uniform(s)
                    goal = min(x * total, np.nextafter(total, -np.inf))
                    candidate = int(indices[lo + np.searchsorted(cdf[lo:hi], goal, side="right")])
                    proposals += 1
                    if y < accept[candidate]:
                        passed += 1
                        if candidate not in paths[w, :t]:
                            node = candidate
                            break
            if node < 0:
                s, x = uniform(s)
                node = walk_kernels._exact_next(indptr, indices, edge, value_now, paths, w, t, x)
            if node < 0:
                target[w] = t
                break
            paths[w, t], values[w, t] = node, value_now[node]
            t += 1
        lengths[w], state[w] = t, s
    return proposals, passed


@pytest.mark.parametrize("rounds", [8, 1, 0])
@pytest.mark.parametrize("seed", [0, 1])
def test_interleaved_kernel_draws_what_one_walker_at_a_time_draws(rounds: int, seed: int) -> None:
    g = power_law_graph(400, seed)
    rng = np.random.default_rng(seed)
    value_epoch = rng.random(g.n_nodes) * (g.popularity > 0)
    value_now = value_epoch * rng.uniform(0.2, 1.0, size=g.n_nodes)  # V fell since the proposal was built
    value_now[rng.random(g.n_nodes) < 0.2] = 0.0  # and reached 0 for some KPs: never accepted
    accept = np.divide(value_now, value_epoch, out=np.ones(g.n_nodes), where=value_epoch > 0)
    cdf = np.empty(g.indices.shape[0])
    walk_kernels.build_proposal(g.indptr, g.indices, g.strength, value_epoch, cdf, 0, g.n_nodes)
    walkers = 3 * walk_kernels.SLOTS + 5  # slots refill, and the last rounds run part-empty
    start = rng.choice(np.flatnonzero(np.diff(g.indptr) > 0), size=walkers)

    def batch() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # paths ... state
        paths = np.full((walkers, 6), -1, dtype=np.int32)
        paths[:, 0] = start
        lengths = np.ones(walkers, dtype=np.int64)
        lengths[:7] = 6  # already done: left alone
        lengths[7:9] = 0  # no start KP: left alone too
        target = np.random.default_rng(seed + 20).integers(2, 7, size=walkers)
        state = np.random.default_rng(seed + 10).integers(0, 1 << 64, size=walkers, dtype=np.uint64)
        return paths, np.zeros((walkers, 6)), lengths, target, state

    fast, slow = batch(), batch()
    planned = fast[3].copy()
    shared = (g.indptr, g.indices, g.strength, value_now, accept, cdf, rounds)
    drawn = passed = 0
    for stop in (2, 3, 5, 6, 6, 9):  # resumed walkers, as in coverage_update="step"; stop past the row width
        counts = walk_kernels.advance_walkers(*shared, *fast, stop)
        assert counts == one_walker_at_a_time(*shared, *slow, stop)
        drawn, passed = drawn + counts[0], passed + counts[1]
        for a, b in zip(fast, slow, strict=True):
            np.testing.assert_array_equal(a, b)
    paths, _, lengths, target, _ = fast
    assert np.all(lengths[:7] == 6) and np.all(lengths[7:9] == 0) and np.all(paths[7:9, 1:] == -1)
    assert np.all(lengths[9:] == target[9:]) and np.all(target <= planned)
    assert np.any(target[9:] < planned[9:])  # dead ends happened and were recorded
    assert np.mean(lengths[9:] > 1) > 0.5  # and most walkers did get somewhere
    assert not np.isin(paths[:, 1:], np.flatnonzero(value_now == 0)).any()  # V = 0: never picked
    if rounds:
        assert drawn > passed > 0  # proposals were drawn and some failed the V test


def test_start_draw_follows_v_now_and_guide_covers_every_share() -> None:
    rng = np.random.default_rng(3)
    pool = np.flatnonzero(rng.random(300) < 0.7).astype(np.int32)
    value_epoch = rng.pareto(1.2, size=300) * (rng.random(300) < 0.9)  # heavy tail and zeros
    value_now = value_epoch * rng.uniform(0.3, 1.0, size=300)
    accept = np.divide(value_now, value_epoch, out=np.ones(300), where=value_epoch > 0)
    cdf = np.empty(pool.size + 1)
    guide = np.empty(pool.size, dtype=np.int64)
    walk_kernels.build_start_guide(pool, value_epoch, cdf, guide)
    np.testing.assert_allclose(cdf[1:], np.cumsum(value_epoch[pool]))
    top = np.nextafter(cdf[-1], -np.inf)
    for b in range(guide.size):  # draws on either side of every share boundary: the scan starts at or before
        for x in (np.nextafter(b / guide.size, -1.0), b / guide.size, np.nextafter(b / guide.size, 2.0)):
            if not 0.0 <= x < 1.0:
                continue
            goal = min(x * cdf[-1], top)
            assert cdf[guide[min(int(x * guide.size), guide.size - 1)]] <= goal, (b, x)

    k = 200_000
    state = np.random.default_rng(4).integers(0, 1 << 64, size=k, dtype=np.uint64)
    out = np.empty(k, dtype=np.int64)
    drawn = walk_kernels.draw_starts(pool, cdf, guide, accept, state, out)
    assert drawn > k and np.all(np.isin(out, pool))
    share = np.zeros(300)
    share[pool] = value_now[pool] / value_now[pool].sum()
    observed = np.bincount(out, minlength=300) / k
    assert np.all(np.abs(observed - share) <= 5 * np.sqrt(share * (1 - share) / k) + 1e-12)


def test_start_draw_leaves_hopeless_starts_to_the_exact_draw() -> None:
    pool = np.arange(4, dtype=np.int32)
    cdf = np.empty(5)
    guide = np.empty(4, dtype=np.int64)
    walk_kernels.build_start_guide(pool, np.ones(4), cdf, guide)
    out = np.zeros(10, dtype=np.int64)
    state = np.arange(10, dtype=np.uint64)
    drawn = walk_kernels.draw_starts(pool, cdf, guide, np.zeros(4), state, out)  # V_now = 0: all rejected
    assert drawn == 10 * walk_kernels.START_ROUNDS and np.all(out == -1)


def test_start_draws_that_fall_back_to_the_exact_draw_keep_the_distribution() -> None:
    """V_now = V_epoch / 2001 or so on every start KP: a start passes the V test once in ~2000
    proposals, so most starts run out of rounds and are drawn exactly, some are accepted."""
    rng = np.random.default_rng(5)
    n = 40
    src, dst = np.triu_indices(n, 1)
    keep = rng.random(src.size) < 0.3
    g = graph_arrays_from_edges(n, src[keep], dst[keep], np.ones(int(keep.sum())), rng.integers(1, 50, size=n) * 1.0)
    sampler = walks._Sampler(g, walks.WalkConfig(n_paths=1, engine="numba"), None)
    sampler.maybe_rebuild()
    sampler.count_use(np.repeat(np.arange(n, dtype=np.int32), rng.integers(1500, 2500, size=n)))
    k = 100_000
    before = sampler.proposals
    starts, state = sampler.draw_starts(k)
    drawn = sampler.proposals - before
    assert state is not None and state.shape == (k,)
    assert k * walk_kernels.START_ROUNDS * 0.5 < drawn < k * walk_kernels.START_ROUNDS  # mostly fell back, not all
    share = sampler.value_now / sampler.value_now.sum()
    observed = np.bincount(starts, minlength=n) / k
    assert np.all(np.abs(observed - share) <= 5 * np.sqrt(share * (1 - share) / k) + 1e-12)


@pytest.mark.slow
def test_load_kernels_loads_what_a_sampler_run_uses() -> None:
    """In a fresh process: after `load_kernels` a batch-mode run needs no kernel it did not load."""
    script = """
import json, numpy as np
from linkqa_pipelines.core import walks
from linkqa_pipelines.core.walks import kernels as walk_kernels
names = [n for n in dir(walk_kernels) if hasattr(getattr(walk_kernels, n), "signatures")]
walks.load_kernels()
loaded = {n: [str(s) for s in getattr(walk_kernels, n).signatures] for n in names}
rng = np.random.default_rng(0)
src, dst = np.triu_indices(300, 1)
keep = rng.random(src.size) < 0.05
g = walks.graph_arrays_from_edges(300, src[keep], dst[keep], np.ones(int(keep.sum())), np.ones(300))
walks.sample_paths(g, walks.WalkConfig(n_paths=20_000, seed=1, threads=2))
after = {n: [str(s) for s in getattr(walk_kernels, n).signatures] for n in names}
print(json.dumps({"loaded": loaded, "after": after}))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300)
    report = json.loads(done.stdout)
    assert report["loaded"] == report["after"]
    for kernel in (
        "build_proposal",
        "build_start_guide",
        "draw_starts",
        "advance_walkers",
        "count_use",
        "collect_batch",
    ):
        assert report["loaded"][kernel], kernel
