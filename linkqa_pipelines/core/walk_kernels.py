"""Compiled (numba) inner loop of the walk sampler: one batch of walkers over the CSR arrays.

Each walker runs to its target length in one call (or up to `stop`, when coverage is updated
per step), so the per-step numpy overhead of the vectorised engine disappears. Same draws as
the numpy engine in `walks`: rejection rounds against the epoch proposal (O(log degree)),
then, for the few walkers still pending, an exact pass over the neighbour slice.

Random numbers: each walker carries one 64-bit state, drawn by the caller from the run's
seeded numpy Generator, and expands it with splitmix64. A walker only touches its own state
and its own output row, so results depend on the seed alone, never on numba's RNG or on how
walkers are split across threads (the kernel releases the GIL; `walks` runs row blocks of a
batch on a thread pool).

Importing this module needs numba; `walks` falls back to its numpy engine without it.
"""

from __future__ import annotations

import numba
import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2^-53


@numba.njit(cache=True, nogil=True, inline="always")
def _uniform(state: np.uint64) -> tuple[np.uint64, float]:
    """splitmix64: the next state and a uniform in [0, 1) with 53 random bits."""
    state = state + _GOLDEN
    z = (state ^ (state >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    z = z ^ (z >> np.uint64(31))
    return state, (z >> np.uint64(11)) * _TO_UNIT


@numba.njit(cache=True, nogil=True, inline="always")
def _in_path(paths: np.ndarray, w: int, t: int, node: int) -> bool:
    for i in range(t):
        if paths[w, i] == node:
            return True
    return False


@numba.njit(cache=True, nogil=True)
def _exact_next(
    indptr: np.ndarray,
    indices: np.ndarray,
    edge: np.ndarray,
    value_now: np.ndarray,
    paths: np.ndarray,
    w: int,
    t: int,
    u: float,
) -> int:
    """Neighbour of paths[w, t-1] drawn by strength^gamma * V_now over those not in the path
    (inverse CDF by a second, accumulating pass); -1 at a dead end."""
    at = paths[w, t - 1]
    lo, hi = indptr[at], indptr[at + 1]
    total = 0.0
    for j in range(lo, hi):
        if not _in_path(paths, w, t, indices[j]):
            total += edge[j] * value_now[indices[j]]
    if not total > 0.0:
        return -1
    goal = u * total
    acc = 0.0
    last = -1
    for j in range(lo, hi):
        node = indices[j]
        weight = edge[j] * value_now[node]
        if weight > 0.0 and not _in_path(paths, w, t, node):
            acc += weight
            last = node
            if acc > goal:
                return node
    return last  # only reached if rounding left goal at the very top


@numba.njit(cache=True, nogil=True)
def advance_walkers(
    indptr: np.ndarray,
    indices: np.ndarray,
    edge: np.ndarray,
    value_now: np.ndarray,
    accept: np.ndarray,
    cdf: np.ndarray,
    segment_start: np.ndarray,
    rounds: int,
    paths: np.ndarray,
    values: np.ndarray,
    lengths: np.ndarray,
    target: np.ndarray,
    state: np.ndarray,
    stop: int,
) -> tuple[int, int]:
    """Advance every walker (row) from lengths[w] to min(target[w], stop) KPs, in place.

    A dead end sets target[w] = lengths[w], so later calls leave the walker alone. With
    rounds > 0, `cdf` / `segment_start` are the epoch proposal and `accept` = V_now / V_epoch.
    Returns (proposals drawn, proposals that passed the V test) for the rebuild heuristic.
    """
    proposals = 0
    passed = 0
    for w in range(paths.shape[0]):
        s = state[w]
        t = lengths[w]
        end_t = min(target[w], stop)
        while t < end_t:
            at = paths[w, t - 1]
            node = -1
            if rounds > 0:
                base, end = segment_start[at], segment_start[at + 1]
                if end > base:
                    top = np.nextafter(end, -np.inf)
                    for _ in range(rounds):
                        s, x = _uniform(s)
                        s, y = _uniform(s)
                        goal = min(base + x * (end - base), top)
                        a, b = indptr[at] + 1, indptr[at + 1]  # first p in [a, b] with cdf[p] > goal
                        while a < b:
                            mid = (a + b) >> 1
                            if cdf[mid] > goal:
                                b = mid
                            else:
                                a = mid + 1
                        candidate = indices[a - 1]
                        proposals += 1
                        if y < accept[candidate]:
                            passed += 1
                            if not _in_path(paths, w, t, candidate):
                                node = candidate
                                break
            if node < 0:
                s, x = _uniform(s)
                node = _exact_next(indptr, indices, edge, value_now, paths, w, t, x)
            if node < 0:
                target[w] = t
                break
            paths[w, t] = node
            values[w, t] = value_now[node]
            t += 1
        lengths[w] = t
        state[w] = s
    return proposals, passed


@numba.njit(cache=True, nogil=True)
def build_proposal(
    indptr: np.ndarray,
    indices: np.ndarray,
    edge: np.ndarray,
    value: np.ndarray,
    cdf: np.ndarray,
    segment_start: np.ndarray,
) -> None:
    """The epoch proposal in place, as `walks.segment_cdf` builds it: cdf (len(indices) + 1) holds
    edge * value[neighbour] normalised within each node's segment and summed over all entries;
    segment_start[u] = cdf[indptr[u]]. One fused pass instead of numpy's six over the edges."""
    acc = 0.0
    cdf[0] = 0.0
    for u in range(indptr.shape[0] - 1):
        lo, hi = indptr[u], indptr[u + 1]
        segment_start[u] = acc
        total = 0.0
        for j in range(lo, hi):
            weight = edge[j] * value[indices[j]]
            cdf[j + 1] = weight
            total += weight
        scale = 1.0 / total if total > 0.0 else 0.0
        for j in range(lo, hi):
            acc += cdf[j + 1] * scale
            cdf[j + 1] = acc
    segment_start[indptr.shape[0] - 1] = acc
