"""Compiled (numba) parts of the walk sampler's numba engine.

`advance_walkers` is the inner loop: each walker of a batch runs to its target length in one
call (or up to `stop`, when coverage is updated per step), so the per-step numpy overhead of
the vectorised engine disappears. Same draws as the numpy engine (`numpy_step`): rejection rounds
against the epoch proposal (O(log degree)), then, for the few walkers still pending, an exact
pass over the neighbour slice; 32 walkers are in flight at once, with prefetches, so their
cache misses overlap. The per-batch bookkeeping around it is compiled too, each piece one or
two passes without numpy's temporaries: `build_proposal` (the epoch proposal, per node
range), `build_start_guide` and `draw_starts` (start KPs by V: a guide table and the
rejection step), `count_use` (use counts and V, per KP share) and `collect_batch` (kept paths
into the run's buffers). `sampler` runs `advance_walkers`, `build_proposal`, `draw_starts` and
`count_use` on parallel threads (they release the GIL).

Random numbers: each walker carries one 64-bit state, drawn by the caller from the run's
seeded numpy Generator, and expands it with splitmix64. A walker only touches its own state
and its own output row, so results depend on the seed alone, never on numba's RNG or on how
walkers are split across threads.

Importing this module needs numba; without it `types.HAS_NUMBA` is False and the sampler runs
its numpy engine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.core.typing.templates import Signature
from numba.extending import intrinsic

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
    for i in range(t):  # noqa: SIM110 - numba cannot compile any() over a generator
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


SLOTS = 32  # walkers in flight per `advance_walkers` call (measured best of 16-64 on a 1M-node graph)
START_ROUNDS = 64  # proposals per start before `draw_starts` leaves it to the exact draw
# What a slot of `advance_walkers` does on its next visit; each stage reads what the previous one prefetched.
_EMPTY, _SEGMENT, _TOTAL, _SEARCH, _PICK, _TEST = 0, 1, 2, 3, 4, 5


@intrinsic
def _prefetch_intrinsic(typingctx: Any, array: Any, index: Any) -> tuple[Signature, Callable[..., Any]] | None:  # noqa: ARG001 - numba's intrinsic protocol passes the typing context
    """Start loading array[index] (1-D, any layout) into the cache without waiting for it
    (`llvm.prefetch`: read, keep in all levels). numba has no prefetch of its own. The `.p0`
    overload name assumes LLVM's opaque pointers (LLVM >= 15: every numba the pin allows).

    Typing: numba's typing/lowering objects, llvmlite's IR builder and cgutils are untyped, hence
    the `Any` parameters and the `cast`s on their results."""
    if not isinstance(array, types.Array) or array.ndim != 1 or not isinstance(index, types.Integer):
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        array_type = signature.args[0]
        view = context.make_array(array_type)(context, builder, args[0])
        item = cast(Any, cgutils.get_item_pointer(context, builder, array_type, view, [args[1]], wraparound=False))
        byte = ir.IntType(8).as_pointer()
        address = builder.bitcast(item, byte)
        flag = ir.IntType(32)
        prefetch_type = ir.FunctionType(ir.VoidType(), [byte, flag, flag, flag])
        hint = cast(Any, cgutils.get_or_insert_function(builder.module, prefetch_type, "llvm.prefetch.p0"))
        builder.call(hint, [address, flag(0), flag(3), flag(1)])
        return context.get_dummy_value()

    # isinstance() narrowed the numba types to Array[Unknown] / Integer[Unknown] (generic in the stubs)
    return types.void(cast(types.Type, array), cast(types.Type, index)), codegen


# How jitted code calls the intrinsic, `_prefetch(array, index)`: numba supplies `typingctx` itself,
# while numba's stubs type the call with the typing function's parameters (and a `Never` result).
_prefetch = cast(Callable[[np.ndarray, int], None], _prefetch_intrinsic)


@numba.njit(cache=True, nogil=True, inline="always")
def _next_walker(
    g: int,
    next_row: int,
    row: np.ndarray,
    length: np.ndarray,
    end: np.ndarray,
    rng: np.ndarray,
    at: np.ndarray,
    stage: np.ndarray,
    indptr: np.ndarray,
    paths: np.ndarray,
    lengths: np.ndarray,
    target: np.ndarray,
    state: np.ndarray,
    stop: int,
) -> int:
    """After slot g's walker stepped or hit a dead end: finish it if it is done (length and RNG
    state back to the batch), taking rows until one still has steps, and send the slot to
    load the segment of its walker's last KP (or leave it empty). Returns the next row."""
    while True:
        w = row[g]
        if w >= 0:
            if length[g] < end[g]:
                at[g] = paths[w, length[g] - 1]
                _prefetch(indptr, at[g])
                stage[g] = _SEGMENT
                return next_row
            lengths[w] = length[g]
            state[w] = rng[g]
            row[g] = -1
        if next_row == paths.shape[0]:
            stage[g] = _EMPTY
            return next_row
        w = next_row
        next_row += 1
        row[g], length[g], rng[g] = w, lengths[w], state[w]
        end[g] = min(target[w], stop, paths.shape[1]) if lengths[w] > 0 else 0  # no start KP: nothing to do


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
    rounds > 0, `cdf` is the epoch proposal (`build_proposal`) and `accept` = V_now / V_epoch:
    a step tries up to `rounds` proposals (accepted with probability accept[v], rejected if v
    is in the path), then draws exactly (`_exact_next`), as it does when rounds = 0 or the
    segment has no mass under V_epoch.

    Why slots: a step is a chain of dependent cache misses (indptr, the segment's total, one
    per halving of the binary search over a hub's long segment, indices, accept) that one
    walker cannot overlap, so a walker-at-a-time loop waits on memory most of the time. Here
    `SLOTS` walkers are in flight, each a small state machine (`_SEGMENT` ... `_TEST`): a visit
    does one stage's work on data the previous visit prefetched and prefetches what the next
    stage reads, then moves to the next slot, so ~SLOTS loads are under way at once
    ("asynchronous memory access chaining", Kocberber et al., VLDB 2015; 2.4x the one-walker
    loop on a 1M-node graph). A slot whose walker is done takes the next row. Each walker
    consumes its own RNG state in the order a one-walker loop would: paths do not depend on
    the interleaving. Returns (proposals drawn, proposals that passed the V test).
    """
    row = np.full(SLOTS, -1, dtype=np.int64)  # walker in the slot, -1: none
    length = np.zeros(SLOTS, dtype=np.int64)
    end = np.zeros(SLOTS, dtype=np.int64)  # length this call takes the walker to
    tries = np.zeros(SLOTS, dtype=np.int64)  # proposals spent on the current step
    at = np.zeros(SLOTS, dtype=np.int64)  # the walker's last KP
    lo = np.zeros(SLOTS, dtype=np.int64)  # its segment in the CSR
    hi = np.zeros(SLOTS, dtype=np.int64)
    total = np.zeros(SLOTS)  # proposal mass of the segment
    top = np.zeros(SLOTS)  # highest admissible goal: just below the total
    rng = np.zeros(SLOTS, dtype=np.uint64)
    goal = np.zeros(SLOTS)
    test = np.zeros(SLOTS)  # uniform of the V test
    base = np.zeros(SLOTS, dtype=np.int64)  # search: the first entry > goal is in [base, base + width]
    width = np.zeros(SLOTS, dtype=np.int64)
    candidate = np.zeros(SLOTS, dtype=np.int64)
    stage = np.zeros(SLOTS, dtype=np.int64)
    next_row = 0
    for g in range(SLOTS):
        next_row = _next_walker(
            g, next_row, row, length, end, rng, at, stage, indptr, paths, lengths, target, state, stop
        )
    proposals = 0
    passed = 0
    busy = SLOTS
    while busy > 0:
        busy = 0  # slots that still hold a walker
        for g in range(SLOTS):
            now = stage[g]
            if now == _EMPTY:
                continue
            busy += 1
            if now == _SEARCH:  # one branch-free halving, or the last comparison
                if width[g] > 1:
                    half = width[g] >> 1
                    base[g] += half * (cdf[base[g] + half] <= goal[g])
                    width[g] -= half
                    _prefetch(cdf, base[g] + (width[g] >> 1))
                else:
                    base[g] += cdf[base[g]] <= goal[g]
                    _prefetch(indices, base[g])
                    stage[g] = _PICK
                continue
            if now == _PICK:
                candidate[g] = indices[base[g]]
                _prefetch(accept, candidate[g])
                _prefetch(value_now, candidate[g])
                stage[g] = _TEST
                continue
            node = -2  # the step's outcome: a KP, -1 for a dead end, -2 for "propose"
            if now == _SEGMENT:
                lo[g], hi[g] = indptr[at[g]], indptr[at[g] + 1]
                if rounds > 0 and hi[g] > lo[g]:
                    _prefetch(cdf, hi[g] - 1)
                    stage[g] = _TOTAL
                    continue
                rng[g], x = _uniform(rng[g])  # no proposal: the exact pass decides
                node = _exact_next(indptr, indices, edge, value_now, paths, row[g], length[g], x)
            elif now == _TOTAL:
                total[g] = cdf[hi[g] - 1]
                if total[g] > 0.0:
                    top[g] = np.nextafter(total[g], -np.inf)
                    tries[g] = 0
                else:  # dead under V_epoch: the exact pass decides
                    rng[g], x = _uniform(rng[g])
                    node = _exact_next(indptr, indices, edge, value_now, paths, row[g], length[g], x)
            else:  # _TEST
                proposals += 1
                if test[g] < accept[candidate[g]]:
                    passed += 1
                    if not _in_path(paths, row[g], length[g], candidate[g]):
                        node = candidate[g]
                if node == -2:
                    tries[g] += 1
                    if tries[g] >= rounds:
                        rng[g], x = _uniform(rng[g])
                        node = _exact_next(indptr, indices, edge, value_now, paths, row[g], length[g], x)
            if node == -2:  # draw the next proposal and start its search
                rng[g], x = _uniform(rng[g])
                rng[g], test[g] = _uniform(rng[g])
                goal[g] = min(x * total[g], top[g])
                base[g] = lo[g]
                width[g] = hi[g] - lo[g]
                _prefetch(cdf, base[g] + (width[g] >> 1))
                stage[g] = _SEARCH
                continue
            w, t = row[g], length[g]
            if node < 0:
                target[w] = t
                end[g] = t
            else:
                paths[w, t] = node
                values[w, t] = value_now[node]
                length[g] = t + 1
            next_row = _next_walker(
                g, next_row, row, length, end, rng, at, stage, indptr, paths, lengths, target, state, stop
            )
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
def build_start_guide(pool: np.ndarray, value: np.ndarray, cdf: np.ndarray, guide: np.ndarray) -> None:
    """The epoch's start proposal, in place: cdf[i + 1] = the running sum of value over pool[:i + 1]
    (cdf[0] = 0), and guide[b] = the first i with cdf[i + 1] above the b-th of len(guide) equal
    shares of the total, a hair low so that rounding can only make a draw scan further (Chen and
    Asau's guide table: a draw starts at its share's entry and scans forward, O(1) expected)."""
    cdf[0] = 0.0
    for i in range(pool.shape[0]):
        cdf[i + 1] = cdf[i] + value[pool[i]]
    total = cdf[pool.shape[0]]
    i = 0
    for b in range(guide.shape[0]):
        floor = b * (total / guide.shape[0]) * (1.0 - 1e-9)
        while i < pool.shape[0] - 1 and cdf[i + 1] <= floor:
            i += 1
        guide[b] = i


@numba.njit(cache=True, nogil=True)
def draw_starts(
    pool: np.ndarray,
    cdf: np.ndarray,
    guide: np.ndarray,
    accept: np.ndarray,
    state: np.ndarray,
    out: np.ndarray[tuple[int], np.dtype[np.int64]],
) -> int:
    """out[i] = a pool KP drawn by V_now with walker i's RNG state: proposed by V_epoch through the
    guide table, accepted with probability accept = V_now / V_epoch (rejection sampling, exact like
    the walk steps), else proposed again; -1 after `START_ROUNDS` rejections (V_now far below
    V_epoch everywhere: the caller draws those exactly). Phases over all pending walkers, like
    `advance_walkers`, so their cache misses overlap. Returns the proposals drawn."""
    total = cdf[pool.shape[0]]
    if not total > 0.0:  # nothing to draw from (an empty pool, or V_epoch = 0 on all of it)
        out[:] = -1
        return 0
    top = np.nextafter(total, -np.inf)
    shares = guide.shape[0]
    pending = np.arange(out.shape[0])
    entry = np.empty(out.shape[0], dtype=np.int64)
    goal = np.empty(out.shape[0])
    test = np.empty(out.shape[0])
    left = out.shape[0]
    proposals = 0
    for _ in range(START_ROUNDS):
        if left == 0:
            break
        for i in range(left):
            w: int = pending[i]
            state[w], x = _uniform(state[w])
            state[w], test[i] = _uniform(state[w])
            goal[i] = min(x * total, top)
            entry[i] = guide[min(int(x * shares), shares - 1)]
        for i in range(left):  # from the guide's entry to the one whose interval holds the goal
            j = entry[i]
            while cdf[j + 1] <= goal[i]:
                j += 1
            entry[i] = j
        kept = 0
        for i in range(left):
            node = pool[entry[i]]
            if test[i] < accept[node]:
                out[pending[i]] = node
            else:
                pending[kept] = pending[i]
                kept += 1
        proposals += left
        left = kept
    for i in range(left):
        out[pending[i]] = -1
    return proposals


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
