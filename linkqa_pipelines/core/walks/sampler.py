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
epoch proposal (below), O(1) expected per start, with the same exact rejection step.
How a step is drawn, for all active walkers of a batch at once:

1. Proposal (O(log degree) per walker). Once per "epoch" the sampler builds, over the whole
   CSR, the inverse CDF of strength^gamma * V_epoch(v) normalised within each node's
   neighbour segment, as one global cumulative array. A walker at u maps one uniform into
   u's segment and finds its neighbour by a binary search bounded to that segment,
   vectorised over all walkers (`bounded_search`).
2. Exact correction. V only falls as use counts grow, so the proposal is accepted with
   probability V_now(v) / V_epoch(v) <= 1, and rejected if v is already in the walker's
   path, whose cdf interval is then cut out of that walker's later proposals: rejection
   sampling, so an accepted draw has exactly the target distribution. Rejected walkers try
   again, up to `rejection_rounds` times.
3. Fallback (O(degree) per walker). The few walkers still pending draw from the exact
   target by a vectorised inverse CDF over their gathered neighbour segments (np.repeat of
   walker ids, segment-normalised cumsum, one uniform each, searchsorted), in chunks of at
   most `max_gather` neighbour entries, so a hub with a huge degree keeps memory bounded.
   It is also what decides dead ends (no admissible neighbour). `rejection_rounds=0` uses
   only this path.

Why not only step 3: its cost is the degree of the walker's KP, and walkers sit on hubs
(a random walk visits KPs in proportion to degree), so on a power-law graph it gathers
~70 entries per step at 1M nodes; steps 1-2 cost a few cache lines. The epoch proposal is
rebuilt (O(edges)) only when a batch passed fewer than half of its proposals, so a run
pays it a few times, not per batch.

Engines (`WalkConfig.engine`): "numba" runs steps 1-3 per walker in a compiled kernel
(`walk_kernels.advance_walkers`: the same proposal, acceptance test and exact fallback, no
per-step numpy overhead, 32 walkers in flight per thread so their cache misses overlap), on
row blocks of the batch in parallel threads (the kernel releases the GIL); "numpy" is the
vectorised form above. "auto" picks numba when it can be
imported. The numba engine also compiles the per-batch bookkeeping, which otherwise costs
as much as the steps: the proposal build (per node range, on the threads; its segments are
unnormalised running sums, so ranges need no global offsets), the start draw (by the
guide table, on the threads), use counts (on the threads, each owning disjoint KP chunks) and
gathering kept paths. Both engines draw from the same distributions; they consume random
numbers differently, so their paths differ for one seed.

Probabilities are resolved to about 1e-16 * n_nodes within a segment for the numpy engine
(its global cumulative array holds one unit per node) and 1e-16 relative for the numba
engine's per-segment sums: ample for KP graphs.

Determinism: every random number comes from one `numpy.random.Generator(seed)`, consumed
in an order that depends only on the inputs, so the same seed gives the same paths. The
numba engine draws one 64-bit state per walker from it and expands that in the kernel, so
its paths do not depend on the thread count either.

Score of a path: the mean of log V over its KPs at pick time, i.e. the log geometric mean
of the value the path added (popular KPs not yet used score high). Comparable across
path lengths; only meaningful within one run.

Baselines (same engine, same output type, for the coverage comparison):
`uniform_walk` (alpha = beta = gamma = 0), `mathscale_walk` (alpha = beta = 0, gamma = 1:
uniform start, next KP in proportion to co-occurrence count) and `popularity_walk`
(beta = gamma = 0: start and next by popularity alone). All of them never revisit a KP.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Literal, TypeVar

import numpy as np

from linkqa_pipelines.core.contracts import GraphArrays
from linkqa_pipelines.core.walks.value_function import ValueFunction, ValueFunctionConfig, popularity_share

try:
    from linkqa_pipelines.core.walks import kernels as walk_kernels
except ImportError:  # numba not installed: the numpy engine does all the work
    walk_kernels = None

HAS_NUMBA = walk_kernels is not None
_REBUILD_BELOW = 0.5  # rebuild the proposal once a batch passed fewer than this share of proposals
_T = TypeVar("_T")
_ROWS_PER_THREAD = 4096  # smaller batches run the kernel on one thread: a hand-off costs more than they do


@dataclass(frozen=True)
class WalkConfig:
    """Sampler settings. `batch_size=None` picks one that keeps coverage adaptive (`effective_batch_size`)."""

    n_paths: int
    min_len: int = 3
    max_len: int = 6
    alpha: float = 1.0
    beta: float = 1.0
    gamma: float = 1.0
    seed: int = 0
    batch_size: int | None = None  # walkers advanced together; coverage is refreshed between batches
    coverage_update: Literal["batch", "step"] = "batch"
    rejection_rounds: int = 8  # 0: exact inverse CDF over gathered neighbours for every step
    max_gather: int = 1 << 20  # numpy engine: most neighbour entries gathered at once by the exact fallback
    max_draws: int | None = None  # paths attempted at most (None: 10 * n_paths); stops an all-dead-end graph
    engine: Literal["auto", "numba", "numpy"] = "auto"  # auto: numba when importable
    threads: int | None = None  # numba engine: threads per batch (None: the CPUs this process may use)

    def __post_init__(self) -> None:
        def whole(name: str, low: int) -> None:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
                raise ValueError(f"WalkConfig.{name} must be an integer >= {low}, got {value!r}")

        whole("n_paths", 0)
        whole("min_len", 2)
        whole("max_len", self.min_len)
        whole("rejection_rounds", 0)
        whole("max_gather", 1)
        for name in ("batch_size", "max_draws", "threads"):
            if getattr(self, name) is not None:
                whole(name, 1)
        if self.coverage_update not in ("batch", "step"):
            raise ValueError(f"WalkConfig.coverage_update must be 'batch' or 'step', got {self.coverage_update!r}")
        if self.engine not in ("auto", "numba", "numpy"):
            raise ValueError(f"WalkConfig.engine must be 'auto', 'numba' or 'numpy', got {self.engine!r}")
        if self.engine == "numba" and not HAS_NUMBA:
            raise ValueError("WalkConfig.engine='numba' needs the numba package (pip install numba), or use 'auto'")
        ValueFunctionConfig(alpha=self.alpha, beta=self.beta, gamma=self.gamma)  # raises on bad exponents

    @property
    def compiled(self) -> bool:
        """Whether this run uses the numba kernel."""
        return self.engine == "numba" or (self.engine == "auto" and HAS_NUMBA)

    @property
    def value_config(self) -> ValueFunctionConfig:
        return ValueFunctionConfig(alpha=self.alpha, beta=self.beta, gamma=self.gamma)

    def effective_batch_size(self, n_start: int) -> int:
        """Walkers per batch. Auto: at least 16 batches per run, and a batch visits at most about a
        quarter of the start pool, so use counts stay fresh (on MMLU graphs coverage is the same
        for 8 to 32 batches, and far lower for one); capped at 65,536 to bound memory."""
        if self.batch_size is not None:
            return self.batch_size
        return max(1, min(65_536, n_start // (4 * self.max_len), -(-self.n_paths // 16)))


@dataclass(frozen=True)
class WalkResult:
    """Kept paths as one flat node array with offsets (path i is nodes[offsets[i]:offsets[i+1]])."""

    nodes: np.ndarray  # int32, KP node indices of all kept paths, concatenated
    offsets: np.ndarray  # int64, shape (n_paths + 1,)
    values: np.ndarray  # float64, aligned with nodes: V of the KP when it was picked
    scores: np.ndarray  # float64, shape (n_paths,): mean log V along the path
    coverage: np.ndarray  # int64, shape (n_nodes,): c(k) after the run (discarded attempts included)
    discarded: int  # paths that hit a dead end before min_len
    steps: int  # transitions taken, including those of discarded paths
    proposals: int  # neighbour/start proposals drawn by the fast path
    rebuilds: int  # times the epoch proposal was built
    config: WalkConfig = field(repr=False)

    def __len__(self) -> int:
        return int(self.offsets.shape[0] - 1)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def paths(self) -> list[np.ndarray]:
        return np.split(self.nodes, self.offsets[1:-1]) if len(self) else []

    def traces(self) -> list[np.ndarray]:
        """Per path, V of each KP when it was picked."""
        return np.split(self.values, self.offsets[1:-1]) if len(self) else []

    def padded(self, fill: int = -1) -> np.ndarray:
        """Paths as an (n_paths, max length) int32 matrix padded with `fill`."""
        lengths = self.lengths
        out = np.full((len(self), int(lengths.max(initial=0))), fill, dtype=np.int32)
        out[np.arange(out.shape[1]) < lengths[:, None]] = self.nodes
        return out


Paths = WalkResult | Sequence[Sequence[int] | np.ndarray]


def flatten_paths(paths: Paths) -> tuple[np.ndarray, np.ndarray]:
    """(nodes of all paths concatenated as int64, offsets): the columnar form consumers work on."""
    if isinstance(paths, WalkResult):
        return paths.nodes.astype(np.int64), paths.offsets
    lengths = np.fromiter((len(p) for p in paths), dtype=np.int64, count=len(paths))
    offsets = np.zeros(lengths.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    nodes = np.concatenate([np.asarray(p, dtype=np.int64) for p in paths]) if len(paths) else np.zeros(0, np.int64)
    return nodes, offsets


def graph_arrays_from_edges(
    n: int, src: np.ndarray, dst: np.ndarray, weight: np.ndarray, popularity: np.ndarray
) -> GraphArrays:
    """CSR `GraphArrays` from an undirected edge list (each edge once), after rejecting bad edges by row."""
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    weight = np.asarray(weight, dtype=np.float64)
    popularity = np.asarray(popularity, dtype=np.float64)
    if not (src.shape == dst.shape == weight.shape) or src.ndim != 1:
        raise ValueError(f"src, dst, weight must be 1-D of one length, got {src.shape}, {dst.shape}, {weight.shape}")
    if popularity.shape != (n,):
        raise ValueError(f"popularity must have shape ({n},), got {popularity.shape}")
    popularity_share(popularity)  # validates the counts

    def reject(mask: np.ndarray, what: str) -> None:
        rows = np.flatnonzero(mask)
        if rows.size:
            r = int(rows[0])
            raise ValueError(
                f"edge row {r} (src={src[r]}, dst={dst[r]}, weight={weight[r]}): {what} ({rows.size} such rows)"
            )

    reject((src < 0) | (src >= n) | (dst < 0) | (dst >= n), f"node outside 0..{n - 1}")
    reject(src == dst, "self-loop")
    reject(~np.isfinite(weight) | (weight <= 0), "weight must be finite and > 0")
    key = np.minimum(src, dst) * n + np.maximum(src, dst)
    order = np.argsort(key, kind="stable")
    dup = np.zeros(key.shape, dtype=bool)
    dup[order[1:]] = key[order[1:]] == key[order[:-1]]
    reject(dup, "duplicate of an earlier edge")

    return GraphArrays.from_edges(n, src, dst, weight, popularity)


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


def uniform_walk(arrays: GraphArrays, cfg: WalkConfig, start_mask: np.ndarray | None = None) -> WalkResult:
    """Baseline: uniform start, uniform neighbour, no revisits."""
    return sample_paths(arrays, replace(cfg, alpha=0.0, beta=0.0, gamma=0.0), start_mask)


def mathscale_walk(arrays: GraphArrays, cfg: WalkConfig, start_mask: np.ndarray | None = None) -> WalkResult:
    """Baseline (MathScale-style): uniform start, next KP in proportion to co-occurrence count, no revisits."""
    return sample_paths(arrays, replace(cfg, alpha=0.0, beta=0.0, gamma=1.0), start_mask)


def popularity_walk(arrays: GraphArrays, cfg: WalkConfig, start_mask: np.ndarray | None = None) -> WalkResult:
    """Baseline: start and next KP by popularity^alpha alone (no coverage term, no edge strength)."""
    return sample_paths(arrays, replace(cfg, beta=0.0, gamma=0.0), start_mask)


def check_graph_arrays(arrays: GraphArrays) -> None:
    """Fail loudly on arrays that break the `GraphArrays` contract (shapes, ranges, strengths)."""
    n = arrays.n_nodes
    indptr, indices, strength = arrays.indptr, arrays.indices, arrays.strength
    if indptr.ndim != 1 or n < 0 or indptr[0] != 0 or np.any(np.diff(indptr) < 0):
        raise ValueError("GraphArrays.indptr must be 1-D, start at 0 and never decrease")
    m2 = int(indptr[-1])
    if indices.shape != (m2,) or strength.shape != (m2,):
        raise ValueError(f"GraphArrays.indices/strength must have shape ({m2},), got {indices.shape}/{strength.shape}")
    if arrays.popularity.shape != (n,):
        raise ValueError(f"GraphArrays.popularity must have shape ({n},), got {arrays.popularity.shape}")
    if m2 and (indices.min() < 0 or indices.max() >= n):
        raise ValueError(f"GraphArrays.indices holds a node outside 0..{n - 1}")
    if m2 and not (strength.min() > 0 and np.isfinite(strength.max())):  # two passes; NaN fails the first
        bad = int(np.flatnonzero(~(strength > 0) | ~np.isfinite(strength))[0])
        raise ValueError(f"GraphArrays.strength[{bad}] = {strength[bad]!r}: strengths must be finite and > 0")


def segment_cdf(weights: np.ndarray, bounds: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Cumulative array (length len(weights) + 1, starting at 0) of weights normalised within each
    segment `bounds[i]:bounds[i+1]`; a segment whose weights are all zero adds nothing.
    `weights` is overwritten; it may be `out[1:]`, so a rebuild reuses one buffer."""
    lengths = np.diff(bounds)
    totals = np.zeros(lengths.shape[0])
    nonempty = lengths > 0
    if weights.size:
        totals[nonempty] = np.add.reduceat(weights, bounds[:-1][nonempty])
    inverse = np.divide(1.0, totals, out=np.zeros_like(totals), where=totals > 0)
    np.multiply(weights, np.repeat(inverse, lengths), out=weights)
    cdf = np.empty(weights.shape[0] + 1) if out is None or out.shape[0] != weights.shape[0] + 1 else out
    np.cumsum(weights, out=cdf[1:])
    cdf[0] = 0.0
    return cdf


def segment_search(cdf: np.ndarray, lo: np.ndarray, hi: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse CDF per query: the entry of segment lo:hi (positions in `cdf`) picked by uniform u.

    Returns (entry index, alive); `alive` is False where the segment has no positive weight
    (its index is then -1). A picked entry always has positive weight: it is the first whose
    cumulative value exceeds the target, which is kept strictly below the segment's end.
    """
    base = cdf[lo]
    end = cdf[hi]
    alive = end > base
    index = locate(cdf, lo, hi, np.minimum(base + u * (end - base), np.nextafter(end, -np.inf)))
    index[~alive] = -1
    return index, alive


def locate(cdf: np.ndarray, lo: np.ndarray, hi: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Entry i in [lo, hi) with cdf[i] <= target < cdf[i + 1], given cdf[lo] <= target < cdf[hi]."""
    return bounded_search(cdf, lo + 1, hi + 1, target, side="right") - 1


def bounded_search(
    values: np.ndarray, lo: np.ndarray, hi: np.ndarray, target: np.ndarray, side: Literal["left", "right"]
) -> np.ndarray:
    """Per query, the first position p in [lo, hi] with values[p] > target (side="right") or
    >= target (side="left"), looking only at values[lo:hi] (sorted); hi when there is none.

    A binary search bounded to each query's own segment, vectorised over the queries. They are
    ordered by segment size, so round k only touches the prefix whose segments still have
    >= 2^k entries: the work is sum(log2 segment size), and a query reads the few cache lines of
    its segment instead of searching the whole array (2-3x faster than `np.searchsorted` here).
    """
    size = hi - lo
    rounds = -np.frexp(size)[1].astype(np.int8)  # minus the bit length: halvings this segment needs
    order = np.argsort(rounds, kind="stable")  # radix sort on int8: linear time
    first = lo.take(order)  # the answer lies in [first, first + count]
    count = size.take(order)  # <= size >> k after round k, so finished queries leave the prefix
    goal = target.take(order)
    neg_bits = rounds.take(order)  # ascending
    below = np.less_equal if side == "right" else np.less
    k = 0
    while (active := int(np.searchsorted(neg_bits, -k, side="left"))) > 0:  # bit length > k
        f, c = first[:active], count[:active]  # views: updated in place
        half = c >> 1
        right = below(values.take(f + half, mode="clip"), goal[:active]) & (c > 0)
        f += right * (half + 1)  # right: move past mid
        np.subtract(half, right * (1 - (c & 1)), out=c)  # right: c - half - 1, else half
        k += 1
    index = np.empty_like(first)
    index[order] = first
    return index


def _sorted_search(cdf: np.ndarray, target: np.ndarray) -> np.ndarray:
    """`locate` for queries that all share one segment (the start pool): one `searchsorted`,
    with the queries sorted first so that it walks the array nearly in order."""
    order = np.argsort(target)
    index = np.empty(target.shape[0], dtype=np.int64)
    index[order] = np.searchsorted(cdf, target[order], side="right") - 1
    return index


def _chunks(cost: np.ndarray, limit: int) -> Iterator[slice]:
    """Consecutive slices whose summed cost stays within `limit` (a single item may exceed it)."""
    cum = np.cumsum(cost)
    start = 0
    while start < cost.shape[0]:
        done = cum[start - 1] if start else 0
        stop = max(start + 1, int(np.searchsorted(cum, done + limit, side="right")))
        yield slice(start, stop)
        start = stop


class _Sampler:
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
            if self.cdf is None:
                self.cdf = np.empty(indices.shape[0])
            graph = (indptr, indices, self.edge, self.value_epoch, self.cdf)
            cut = np.searchsorted(indptr, np.linspace(0, indices.shape[0], self.threads + 1)[1:-1])  # equal edges
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
            out[missing] = self.starts.take(_sorted_search(cdf, target))
        return out, state

    def row_blocks(self, rows: int) -> np.ndarray:
        """Bounds of the row blocks a batch is split into for the threads (one block when small)."""
        blocks = max(1, min(self.threads, rows // _ROWS_PER_THREAD))
        return np.linspace(0, rows, blocks + 1).astype(np.int64)

    def draw_next(self, rows: np.ndarray, t: int, paths: np.ndarray) -> np.ndarray:
        """Position t >= 1 of the walkers `rows` (batch-local): the next KP, or -1 at a dead end.

        Hot loop: boolean selection uses `compress` and gathers use `take`, several times faster
        than mask and fancy indexing on these sizes.
        """
        k = rows.shape[0]
        chosen = np.full(k, -1, dtype=np.int64)
        at = paths[:, t - 1].take(rows)
        pending = np.arange(k)
        deferred: list[np.ndarray] = []
        if self.cfg.rejection_rounds and self.cdf is not None:
            cdf, entry_node = self.cdf, self.arrays.indices
            bounds = np.stack([self.arrays.indptr.take(at), self.arrays.indptr.take(at + 1)], axis=1)
            base, end = self.segment_start.take(at), self.segment_start.take(at + 1)
            live = end > base  # dead under V_epoch means dead under V_now
            # per pending walker: segment start, free proposal mass, highest admissible target
            span = np.stack([base, end - base, np.nextafter(end, -np.inf)], axis=1).compress(live, axis=0)
            pending, bounds = pending.compress(live), bounds.compress(live, axis=0)
            prefix = paths.take(rows.compress(live), axis=0)[:, :t]
            skip = np.zeros((pending.shape[0], 0, 2))  # cdf intervals of path KPs already proposed, sorted
            for _ in range(self.cfg.rejection_rounds):
                if not pending.size:
                    break
                u = self.rng.random((2, pending.shape[0]))
                target = span[:, 0] + u[0] * span[:, 1]
                for col in range(skip.shape[1]):  # map around the excluded intervals, in increasing order
                    start = skip[:, col, 0]
                    target = np.where(target >= start, target - start + skip[:, col, 1], target)
                np.minimum(target, span[:, 2], out=target)
                entry = locate(cdf, bounds[:, 0], bounds[:, 1], target)
                candidate = entry_node.take(entry)
                passed = u[1] < self.accept.take(candidate)
                repeat = self.in_path(prefix, candidate)
                ok = passed & ~repeat
                self.proposals += candidate.shape[0]
                self.window += (candidate.shape[0], int(np.count_nonzero(passed)))
                chosen[pending.compress(ok)] = candidate.compress(ok)
                keep = np.flatnonzero(~ok)
                pending, bounds, span = pending.take(keep), bounds.take(keep, axis=0), span.take(keep, axis=0)
                prefix, skip, fresh = prefix.take(keep, axis=0), skip.take(keep, axis=0), repeat.take(keep)
                if fresh.any():
                    # A path KP proposed once is cut out of this walker's later proposals: the target gives it
                    # zero weight, so shrinking the proposal to the rest keeps the rejection sampler exact.
                    entry = entry.take(keep)
                    interval = np.stack([cdf.take(entry), cdf.take(entry + 1)], axis=1)
                    fresh &= ~(skip[:, :, 0] == interval[:, None, 0]).any(axis=1)
                    interval[~fresh] = span[~fresh, 2:3]  # unused slot: empty, above every target
                    span[:, 1] -= interval[:, 1] - interval[:, 0]
                    skip = np.concatenate([skip, interval[:, None, :]], axis=1)
                    skip = np.take_along_axis(skip, np.argsort(skip[:, :, 0], axis=1)[:, :, None], axis=1)
                    hopeless = span[:, 1] <= 1e-9 * (span[:, 2] - span[:, 0])  # only path KPs left, up to rounding
                    if hopeless.any():  # the exact step decides
                        deferred.append(pending.compress(hopeless))
                        keep = np.flatnonzero(~hopeless)
                        pending, bounds, span = pending.take(keep), bounds.take(keep, axis=0), span.take(keep, axis=0)
                        prefix, skip = prefix.take(keep, axis=0), skip.take(keep, axis=0)
        rest = np.concatenate([*deferred, pending])
        if rest.size:
            chosen[rest] = self.exact_next(rows[rest], at[rest], t, paths)
        return chosen

    @staticmethod
    def in_path(prefix: np.ndarray, candidate: np.ndarray) -> np.ndarray:
        return (prefix == candidate[:, None]).any(axis=1)

    def exact_next(self, rows: np.ndarray, at: np.ndarray, t: int, paths: np.ndarray) -> np.ndarray:
        """Inverse CDF over the gathered neighbour segments, in chunks of <= max_gather entries."""
        indptr, indices = self.arrays.indptr, self.arrays.indices
        degree = indptr[at + 1] - indptr[at]
        node = np.full(at.shape[0], -1, dtype=np.int64)
        uniforms = self.rng.random(at.shape[0])
        for part in _chunks(degree, self.cfg.max_gather):
            deg = degree[part]
            bounds = np.zeros(deg.shape[0] + 1, dtype=np.int64)
            np.cumsum(deg, out=bounds[1:])
            walker = np.repeat(np.arange(deg.shape[0]), deg)
            position = np.arange(bounds[-1]) - bounds[walker] + indptr[at[part]][walker]
            neighbour = indices[position]
            weights = self.edge[position] * self.value_now[neighbour]
            weights[self.in_path(paths[rows[part]][walker, :t], neighbour)] = 0.0
            entry, alive = segment_search(segment_cdf(weights, bounds), bounds[:-1], bounds[1:], uniforms[part])
            node[part] = np.where(alive, neighbour[entry], -1)
        return node

    # ---- run ---------------------------------------------------------------------
    def run(self) -> WalkResult:
        cfg = self.cfg
        batch = cfg.effective_batch_size(self.starts.shape[0])
        max_draws = cfg.max_draws if cfg.max_draws is not None else 10 * cfg.n_paths
        if not np.any(self.value_now[self.starts] > 0):
            max_draws = 0  # nothing can start a path
        kept = _Kept(
            np.empty(cfg.n_paths * cfg.max_len, dtype=np.int32), np.empty(cfg.n_paths * cfg.max_len),
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
        filled = np.arange(paths.shape[1]) < lengths[:, None]
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
        assert walkers.state is not None
        rounds = self.cfg.rejection_rounds if self.cdf is not None else 0
        cdf = self.cdf if self.cdf is not None else np.zeros(1)
        shared = (self.arrays.indptr, self.arrays.indices, self.edge, self.value_now, self.accept, cdf, rounds)
        bounds = self.row_blocks(walkers.paths.shape[0])

        def block(i: int) -> tuple[int, int]:
            rows = slice(bounds[i], bounds[i + 1])
            own = (walkers.paths, walkers.values, walkers.lengths, walkers.target, walkers.state)
            return walk_kernels.advance_walkers(*shared, *(a[rows] for a in own), stop)

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
