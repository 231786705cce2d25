"""Value-function-guided KP walks: many walkers advanced together over the graph's CSR arrays.

A path starts at a KP of the partition's discipline drawn by V (see `value_function`),
then steps u -> v with probability proportional to strength(u, v)^gamma * V(v), never
revisiting a KP of its own path, until its target length (uniform in [min_len, max_len])
or a dead end. Paths shorter than `min_len` are discarded and counted. Use counts c(k)
are updated after every batch of walkers (or every step, `coverage_update="step"`), so
later batches go where earlier ones did not. They count every drawn path, discarded ones
included: otherwise a dead-end pocket of unused KPs would keep the highest value and
attract start after start.

Starts are drawn by V over the start pool: the numpy engine exactly by one O(pool) cumulative
sum per batch; the numba engine by a guide table of V_epoch over the pool built with each
epoch proposal, O(1) expected per start, with the same exact rejection step. A step is drawn
from an epoch proposal, corrected exactly by rejection, with an exact fallback (`numpy_step`
describes the three parts). The epoch proposal is rebuilt (O(edges)) only when a batch passed
fewer than half of its proposals, so a run pays it a few times, not per batch.

Engines (`WalkConfig.engine`): "numba" runs the steps per walker in a compiled kernel
(`kernels.advance_walkers`: the same proposal, acceptance test and exact fallback, no
per-step numpy overhead, 32 walkers in flight per thread so their cache misses overlap), on
row blocks of the batch in parallel threads (the kernel releases the GIL); "numpy" is the
vectorised form (`numpy_step`). "auto" picks numba when it can be
imported. The numba engine also compiles the per-batch bookkeeping, which otherwise costs
as much as the steps: the proposal build (per node range, on the threads; its segments are
unnormalised running sums, so ranges need no global offsets), the start draw (by the
guide table, on the threads), use counts (on the threads, each owning disjoint KP chunks) and
gathering kept paths. Both engines draw from the same distributions; they consume random
numbers differently, so their paths differ for one seed. The numba engine's per-segment sums
resolve probabilities to 1e-16 relative: ample for KP graphs.

Determinism: every random number comes from one `numpy.random.Generator(seed)`, consumed
in an order that depends only on the inputs, so the same seed gives the same paths. The
numba engine draws one 64-bit state per walker from it and expands that in the kernel, so
its paths do not depend on the thread count either.

Score of a path: the mean of log V over its KPs at pick time, i.e. the log geometric mean
of the value the path added (popular KPs not yet used score high). Comparable across
path lengths; only meaningful within one run.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from linkqa_pipelines.core.contracts import GraphArrays
from linkqa_pipelines.core.walks.arrays import check_graph_arrays, graph_arrays_from_edges
from linkqa_pipelines.core.walks.numpy_step import NumpyStep
from linkqa_pipelines.core.walks.search import segment_cdf, sorted_search
from linkqa_pipelines.core.walks.types import HAS_NUMBA, WalkConfig, WalkResult, walk_kernels
from linkqa_pipelines.core.walks.value_function import ValueFunction

_REBUILD_BELOW = 0.5  # rebuild the proposal once a batch passed fewer than this share of proposals
_T = TypeVar("_T")
_ROWS_PER_THREAD = 4096  # smaller batches run the kernel on one thread: a hand-off costs more than they do


def sample_paths(arrays: GraphArrays, cfg: WalkConfig, start_mask: np.ndarray | None = None) -> WalkResult:
    """Sample `cfg.n_paths` paths (fewer only if `max_draws` attempts run out) starting inside `start_mask`."""
    return _Sampler(arrays, cfg, start_mask).run()


def load_kernels() -> None:
    """Load the numba engine's compiled kernels now (from numba's on-disk cache; compiled on the
    first run after an install), rather than inside the first `sample_paths` call: 0.3-0.5 s
    once per process, nearly all of it numba loading its typing and target registries (it defers
    that to the first compiled call). A no-op without numba. Benchmarks call it before timing."""
    if HAS_NUMBA:
        ring = np.arange(8)
        tiny = graph_arrays_from_edges(8, ring, (ring + 1) % 8, np.ones(8), np.ones(8))
        sample_paths(tiny, WalkConfig(n_paths=4, min_len=3, max_len=4, engine="numba"))


class _Sampler(NumpyStep):
    """One run of the engine: the graph, use counts and current values, the epoch proposal, the RNG."""

    def __init__(self, arrays: GraphArrays, cfg: WalkConfig, start_mask: np.ndarray | None) -> None:
        check_graph_arrays(arrays)
        self.arrays = arrays
        self.cfg = cfg
        self.rng = np.random.default_rng(cfg.seed)
        n = arrays.n_nodes
        self.value = ValueFunction(arrays.popularity, cfg.value_config)
        self.edge = self.value.edge_factor(arrays.strength)
        self.use = np.zeros(n, dtype=np.int64)
        self.value_now = self.value(self.use)  # V(k) with the current use counts
        self.value_epoch = self.value_now.copy()  # V(k) the proposal was built with (>= value_now)
        self.accept = np.ones(n)  # value_now / value_epoch: the rejection step's acceptance probability
        degree = np.diff(arrays.indptr)
        if start_mask is None:
            mask = degree > 0
        else:
            given = np.asarray(start_mask)
            if given.dtype != np.bool_ or given.shape != (n,):
                raise ValueError(f"start_mask must be a bool array of shape ({n},), got {given.dtype} {given.shape}")
            mask = given & (degree > 0)  # an isolated KP cannot start a path of >= 2 KPs
        self.starts = np.flatnonzero(mask).astype(np.int32)
        self.cdf: np.ndarray | None = None  # epoch proposal over the CSR entries (layout per engine: maybe_rebuild)
        self.segment_start = np.zeros(0)  # numpy engine: cdf at each node's first entry (n + 1)
        self.start_cdf = np.zeros(0)  # numba engine: the epoch's start proposal (`build_start_guide`)
        self.start_guide: np.ndarray | None = None
        self.proposals = 0
        self.window = np.zeros(2, dtype=np.int64)  # this batch: proposals, how many passed the V test
        self.rebuilds = 0
        self.steps = 0
        self.threads = cfg.threads or len(os.sched_getaffinity(0))
        self.pool: ThreadPoolExecutor | None = None  # set by run(); without it kernel blocks run in turn

    def count_use(self, nodes: np.ndarray) -> None:
        if self.cfg.compiled:
            state = (self.use, self.value.popularity_term, float(self.cfg.beta), self.value_now, self.value_epoch)
            shares = self.threads if nodes.shape[0] >= _ROWS_PER_THREAD else 1
            self.in_blocks(lambda i: walk_kernels.count_use(nodes, *state, self.accept, i, shares), shares)
            return
        np.add.at(self.use, nodes, 1)
        now = self.value(self.use.take(nodes), nodes)
        epoch = self.value_epoch.take(nodes)
        self.value_now.put(nodes, now)
        self.accept.put(nodes, np.divide(now, epoch, out=np.ones_like(now), where=epoch > 0))

    # ---- epoch proposal ----------------------------------------------------------
    def maybe_rebuild(self) -> None:
        """Build the proposal before the first batch and whenever a batch passed < half its proposals.

        Layout: numba engine, cdf[j] = running sum of weights within j's segment (node ranges built on
        the threads); numpy engine, one global cumulative array of per-segment normalised weights."""
        drawn, passed = self.window
        self.window[:] = 0
        if self.cfg.rejection_rounds == 0 or (self.cdf is not None and passed >= _REBUILD_BELOW * drawn):
            return
        self.value_epoch[:] = self.value_now
        self.accept[:] = 1.0
        indptr, indices = self.arrays.indptr, self.arrays.indices
        if self.cfg.compiled:
            n_entries: int = indices.shape[0]
            if self.cdf is None:
                self.cdf = np.empty(n_entries)
            graph = (indptr, indices, self.edge, self.value_epoch, self.cdf)
            cut = np.searchsorted(indptr, np.linspace(0, n_entries, self.threads + 1)[1:-1])  # equal edges
            bounds = np.r_[0, cut, indptr.shape[0] - 1]
            self.in_blocks(lambda i: walk_kernels.build_proposal(*graph, bounds[i], bounds[i + 1]), self.threads)
            if self.start_guide is None:
                self.start_cdf = np.empty(self.starts.shape[0] + 1)
                self.start_guide = np.empty(self.starts.shape[0], dtype=np.int64)
            walk_kernels.build_start_guide(self.starts, self.value_epoch, self.start_cdf, self.start_guide)
        else:
            reuse = self.cdf[1:] if self.cdf is not None else None
            weights = np.take(self.value_epoch, indices, out=reuse, mode="clip")  # clip: unbuffered
            weights *= self.edge
            self.cdf = segment_cdf(weights, indptr, out=self.cdf)
            self.segment_start = self.cdf.take(indptr)
        self.rebuilds += 1

    def in_blocks(self, work: Callable[[int], _T], blocks: int) -> list[_T]:
        """work(0), ..., work(blocks - 1) on the run's threads (the kernels release the GIL); in turn
        outside `run` or for one block."""
        if self.pool is None or blocks == 1:
            return [work(i) for i in range(blocks)]
        return list(self.pool.map(work, range(blocks)))

    # ---- drawing -----------------------------------------------------------------
    def draw_starts(self, k: int) -> tuple[np.ndarray, np.ndarray | None]:
        """k start KPs drawn by V_now over the start pool, and the numba engine's per-walker RNG
        states (None for the numpy engine). Numba engine: the epoch's guide table with the
        rejection step (O(1) expected per start), on the run's threads; otherwise, and for the
        rare start left undrawn, exactly by one O(pool) cumulative sum."""
        out = np.full(k, -1, dtype=np.int64)
        state = None
        if self.cfg.compiled:
            state = self.rng.integers(0, 1 << 64, size=k, dtype=np.uint64)
        if state is not None and self.start_guide is not None:
            guide = (self.starts, self.start_cdf, self.start_guide, self.accept)
            bounds = self.row_blocks(k)

            def block(i: int) -> int:
                rows = slice(bounds[i], bounds[i + 1])
                return walk_kernels.draw_starts(*guide, state[rows], out[rows])

            drawn = sum(self.in_blocks(block, bounds.shape[0] - 1))
            self.proposals += drawn
            self.window += (drawn, int(np.count_nonzero(out >= 0)))  # starts too can call for a rebuild
        missing = np.flatnonzero(out < 0)
        if missing.size:
            cdf = np.empty(self.starts.shape[0] + 1)
            cdf[0] = 0.0
            np.cumsum(self.value_now.take(self.starts), out=cdf[1:])
            if not cdf[-1] > 0:
                raise ValueError("no start KP has a positive value: nothing to draw starts from")
            target = np.minimum(self.rng.random(missing.size) * cdf[-1], np.nextafter(cdf[-1], -np.inf))
            out[missing] = self.starts.take(sorted_search(cdf, target))
        return out, state

    def row_blocks(self, rows: int) -> np.ndarray:
        """Bounds of the row blocks a batch is split into for the threads (one block when small)."""
        blocks = max(1, min(self.threads, rows // _ROWS_PER_THREAD))
        return np.linspace(0, rows, blocks + 1).astype(np.int64)

    # ---- run ---------------------------------------------------------------------
    def run(self) -> WalkResult:
        cfg = self.cfg
        batch = cfg.effective_batch_size(self.starts.shape[0])
        max_draws = cfg.max_draws if cfg.max_draws is not None else 10 * cfg.n_paths
        if not np.any(self.value_now[self.starts] > 0):
            max_draws = 0  # nothing can start a path
        kept = _Kept(
            np.empty(cfg.n_paths * cfg.max_len, dtype=np.int32),
            np.empty(cfg.n_paths * cfg.max_len),
            np.empty(cfg.n_paths, dtype=np.int64),
        )
        draws = discarded = 0
        with ThreadPoolExecutor(self.threads) as self.pool:
            while kept.paths < cfg.n_paths and draws < max_draws:
                size = min(batch, cfg.n_paths - kept.paths, max_draws - draws)
                before = kept.paths
                used = self.collect(self.run_batch(size), kept)
                if cfg.coverage_update == "batch":
                    self.count_use(used)
                draws += size
                discarded += size - (kept.paths - before)
        kept.trim()
        lengths = kept.lengths
        offsets = np.zeros(lengths.shape[0] + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        values = kept.values
        scores = np.add.reduceat(np.log(values), offsets[:-1]) / lengths if lengths.size else np.zeros(0)
        return WalkResult(
            nodes=kept.nodes,
            offsets=offsets,
            values=values,
            scores=scores,
            coverage=self.use,
            discarded=discarded,
            steps=self.steps,
            proposals=self.proposals,
            rebuilds=self.rebuilds,
            config=cfg,
        )

    def collect(self, walkers: _Walkers, kept: _Kept) -> np.ndarray:
        """Append the batch's paths of >= min_len KPs to `kept`; returns every KP the batch placed."""
        paths, lengths, min_len = walkers.paths, walkers.lengths, self.cfg.min_len
        if self.cfg.compiled:
            used = np.empty(paths.size, dtype=np.int32)
            buffers = (used, kept.nodes, kept.values, kept.lengths)
            n_used, kept.size, kept.paths = walk_kernels.collect_batch(
                paths, walkers.values, lengths, min_len, *buffers, kept.size, kept.paths
            )
            return used[:n_used]
        keep = lengths >= min_len
        width: int = paths.shape[1]
        filled = np.arange(width) < lengths[:, None]
        nodes = paths[keep][filled[keep]]
        end = kept.size + nodes.shape[0]
        kept.nodes[kept.size : end] = nodes
        kept.values[kept.size : end] = walkers.values[keep][filled[keep]]
        kept.lengths[kept.paths : kept.paths + int(keep.sum())] = lengths[keep]
        kept.size, kept.paths = end, kept.paths + int(keep.sum())
        return paths[filled]

    def run_batch(self, size: int) -> _Walkers:
        """Start `size` new walkers and advance them to their target lengths (or dead ends)."""
        cfg = self.cfg
        self.maybe_rebuild()
        walkers = self.start_walkers(size)
        if cfg.coverage_update == "batch":
            self.advance(walkers, cfg.max_len)
        else:
            self.count_use(walkers.paths[:, 0])
            for t in range(1, cfg.max_len):
                self.advance(walkers, t + 1)
                self.count_use(walkers.paths[:, t].compress(walkers.lengths > t))
        return walkers

    def start_walkers(self, size: int) -> _Walkers:
        """`size` walkers placed on start KPs drawn by V, each with a target length."""
        cfg = self.cfg
        target = self.rng.integers(cfg.min_len, cfg.max_len + 1, size=size)
        start, state = self.draw_starts(size)
        paths = np.full((size, cfg.max_len), -1, dtype=np.int32)
        values = np.zeros((size, cfg.max_len))
        paths[:, 0] = start
        values[:, 0] = self.value_now.take(start)  # V at pick time
        return _Walkers(paths, values, np.ones(size, dtype=np.int64), target, state)

    def advance(self, walkers: _Walkers, stop: int) -> None:
        """Advance every walker to min(target, stop) KPs; a dead end sets its target to its length."""
        before = int(walkers.lengths.sum())
        if self.cfg.compiled:
            self.advance_compiled(walkers, stop)
        else:
            self.advance_numpy(walkers, stop)
        self.steps += int(walkers.lengths.sum()) - before

    def advance_numpy(self, walkers: _Walkers, stop: int) -> None:
        """All walkers at the same length take one vectorised step together (`draw_next`)."""
        paths, lengths, target = walkers.paths, walkers.lengths, walkers.target
        for t in range(int(lengths.min(initial=stop)), stop):
            active = np.flatnonzero((lengths == t) & (target > t))
            if not active.size:
                continue
            node = self.draw_next(active, t, paths)
            found = node >= 0
            target[active.compress(~found)] = t
            active, node = active.compress(found), node.compress(found)
            paths[active, t] = node
            walkers.values[active, t] = self.value_now.take(node)
            lengths[active] = t + 1

    def advance_compiled(self, walkers: _Walkers, stop: int) -> None:
        """The numba kernel over row blocks of the batch, one block per thread."""
        state = walkers.state
        assert state is not None
        rounds = self.cfg.rejection_rounds if self.cdf is not None else 0
        cdf = self.cdf if self.cdf is not None else np.zeros(1)
        shared = (self.arrays.indptr, self.arrays.indices, self.edge, self.value_now, self.accept, cdf, rounds)
        bounds = self.row_blocks(walkers.paths.shape[0])

        def block(i: int) -> tuple[int, int]:
            rows = slice(bounds[i], bounds[i + 1])
            own = (walkers.paths[rows], walkers.values[rows], walkers.lengths[rows], walkers.target[rows], state[rows])
            return walk_kernels.advance_walkers(*shared, *own, stop)

        drawn, passed = (sum(c) for c in zip(*self.in_blocks(block, bounds.shape[0] - 1), strict=True))
        self.proposals += drawn
        self.window += (drawn, passed)


@dataclass
class _Kept:
    """Kept paths of a run, filled batch by batch into buffers sized for n_paths of max_len KPs."""

    nodes: np.ndarray  # int32, KPs of the kept paths, concatenated
    values: np.ndarray  # float64, aligned with nodes
    lengths: np.ndarray  # int64, per kept path
    size: int = 0  # entries of nodes / values filled
    paths: int = 0  # entries of lengths filled

    def trim(self) -> None:
        """Cut the buffers to what was filled (copies, so the unused capacity is freed)."""
        if self.size < self.nodes.shape[0]:
            self.nodes, self.values = self.nodes[: self.size].copy(), self.values[: self.size].copy()
        if self.paths < self.lengths.shape[0]:
            self.lengths = self.lengths[: self.paths].copy()


@dataclass
class _Walkers:
    """One batch of walkers, row-aligned; `state` is the numba engine's per-walker RNG state."""

    paths: np.ndarray  # int32 (size, max_len), -1 past a walker's length
    values: np.ndarray  # float64 (size, max_len), V of each KP when picked
    lengths: np.ndarray  # int64 (size,), KPs placed so far
    target: np.ndarray  # int64 (size,), length to reach; set to the length at a dead end
    state: np.ndarray | None  # uint64 (size,)
