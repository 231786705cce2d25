"""Compiled (numba) parts of the walk sampler's numba engine.

`advance_walkers` is the inner loop: each walker of a batch runs to its target length in one
call (or up to `stop`, when coverage is updated per step), so the per-step numpy overhead of
the vectorised engine disappears. Same draws as the numpy engine in `walks`: rejection rounds
against the epoch proposal (O(log degree)), then, for the few walkers still pending, an exact
pass over the neighbour slice. The per-batch bookkeeping around it is compiled too, each
piece one or two passes without numpy's temporaries: `build_proposal` (the epoch proposal,
per node range), `draw_starts` (start KPs by V), `count_use` (use counts and V, per KP
share) and `collect_batch` (kept paths into the run's buffers). `walks` runs
`advance_walkers`, `build_proposal` and `count_use` on parallel threads (they release the GIL).

Random numbers: each walker carries one 64-bit state, drawn by the caller from the run's
seeded numpy Generator, and expands it with splitmix64. A walker only touches its own state
and its own output row, so results depend on the seed alone, never on numba's RNG or on how
walkers are split across threads.

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
    rounds > 0, `cdf` is the epoch proposal (`build_proposal`) and `accept` = V_now / V_epoch.
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
            lo, hi = indptr[at], indptr[at + 1]
            node = -1
            if rounds > 0 and hi > lo and cdf[hi - 1] > 0.0:  # dead under V_epoch: the exact pass decides
                total = cdf[hi - 1]
                top = np.nextafter(total, -np.inf)
                for _ in range(rounds):
                    s, x = _uniform(s)
                    s, y = _uniform(s)
                    goal = min(x * total, top)
                    a, b = lo, hi - 1  # first p in [lo, hi - 1] with cdf[p] > goal (cdf[hi - 1] is)
                    while a < b:
                        mid = (a + b) >> 1
                        if cdf[mid] > goal:
                            b = mid
                        else:
                            a = mid + 1
                    candidate = indices[a]
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
    indptr: np.ndarray, indices: np.ndarray, edge: np.ndarray, value: np.ndarray, cdf: np.ndarray, first: int, last: int
) -> None:
    """The epoch proposal of nodes first..last-1, in place: cdf[j] = the running sum of
    edge * value[neighbour] within j's segment (not normalised: a draw scales its uniform by
    the segment's last entry, so a segment needs no global offset and node ranges build
    independently, on parallel threads). Zero-weight entries repeat the previous sum, so the
    search for the first entry above the target never lands on them."""
    for u in range(first, last):
        acc = 0.0
        for j in range(indptr[u], indptr[u + 1]):
            acc += edge[j] * value[indices[j]]
            cdf[j] = acc


@numba.njit(cache=True, nogil=True)
def draw_starts(pool: np.ndarray, value: np.ndarray, uniforms: np.ndarray, order: np.ndarray, out: np.ndarray) -> None:
    """out[i] = the pool KP picked by uniforms[i] from the inverse CDF of value over the pool:
    the numpy engine's cumsum + searchsorted, as one merge of the targets, sorted by `order`
    (numpy's argsort: several times faster than numba's), with the running sum (two sequential
    passes over the pool instead of a cache-missing binary search per start)."""
    total = 0.0
    for i in range(pool.shape[0]):
        total += value[pool[i]]
    top = np.nextafter(total, -np.inf)
    q = 0
    acc = 0.0  # the same sums in the same order as the first pass: bit-identical
    for i in range(pool.shape[0]):
        acc += value[pool[i]]
        while q < order.shape[0] and min(uniforms[order[q]] * total, top) < acc:
            out[order[q]] = pool[i]
            q += 1


@numba.njit(cache=True, nogil=True, inline="always")
def _owner(k: int, shares: int) -> int:
    """Which of `shares` threads updates KP k: a Fibonacci hash of its 1024-KP chunk (a multiply
    and a shift, where `%` costs a slow integer division per KP)."""
    return (((k >> 10) * 0x9E3779B1) & 0xFFFFFFFF) * shares >> 32


@numba.njit(cache=True, nogil=True)
def count_use(
    nodes: np.ndarray,
    use: np.ndarray,
    popularity_term: np.ndarray,
    beta: float,
    value_now: np.ndarray,
    value_epoch: np.ndarray,
    accept: np.ndarray,
    share: int,
    shares: int,
) -> None:
    """c(k) += 1 per occurrence in `nodes`, then V_now and V_now / V_epoch of those KPs
    (`ValueFunction` and the numpy engine's update, fused into two passes over `nodes`).

    Only KPs owned by `share` (`_owner`): calls for every share, on parallel threads, update
    disjoint 1024-KP chunks (no races, no shared cache lines; any split gives the same
    counts). The work is latency-bound (random KPs of big arrays), so threads pay off."""
    for i in range(nodes.shape[0]):
        k = nodes[i]
        if _owner(k, shares) == share:
            use[k] += 1
    for i in range(nodes.shape[0]):
        k = nodes[i]
        if _owner(k, shares) == share:
            if beta == 0.0:
                now = popularity_term[k]
            elif beta == 1.0:  # x ** 1 == x: skips a libm pow per KP
                now = popularity_term[k] / (1.0 + use[k])
            else:
                now = popularity_term[k] / (1.0 + use[k]) ** beta
            value_now[k] = now
            accept[k] = now / value_epoch[k] if value_epoch[k] > 0.0 else 1.0


@numba.njit(cache=True, nogil=True)
def collect_batch(
    paths: np.ndarray,
    values: np.ndarray,
    lengths: np.ndarray,
    min_len: int,
    used: np.ndarray,
    kept_nodes: np.ndarray,
    kept_values: np.ndarray,
    kept_lengths: np.ndarray,
    at_node: int,
    at_path: int,
) -> tuple[int, int, int]:
    """A finished batch: every placed KP into `used` (use counts include discarded paths), and
    the paths of >= min_len KPs appended to the kept buffers from at_node / at_path on.
    Returns (KPs in `used`, new at_node, new at_path)."""
    n_used = 0
    for w in range(paths.shape[0]):
        length = lengths[w]
        keep = length >= min_len
        for t in range(length):
            used[n_used] = paths[w, t]
            n_used += 1
            if keep:
                kept_nodes[at_node] = paths[w, t]
                kept_values[at_node] = values[w, t]
                at_node += 1
        if keep:
            kept_lengths[at_path] = length
            at_path += 1
    return n_used, at_node, at_path
