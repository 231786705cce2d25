"""The numpy engine's step: the next KP for all active walkers of a batch at once, vectorised.

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
~70 entries per step at 1M nodes; steps 1-2 cost a few cache lines.

Probabilities are resolved to about 1e-16 * n_nodes within a segment (the global cumulative
array holds one unit per node). The numba kernel (`kernels.advance_walkers`) takes the same
steps per walker.
"""

from __future__ import annotations

import numpy as np

from linkqa_pipelines.core.contracts import GraphArrays
from linkqa_pipelines.core.walks.search import cost_chunks, locate, segment_cdf, segment_search
from linkqa_pipelines.core.walks.types import WalkConfig


class NumpyStep:
    """Mixed into the sampler (`sampler._Sampler`), whose run state these methods read and update."""

    arrays: GraphArrays
    cfg: WalkConfig
    rng: np.random.Generator
    edge: np.ndarray  # strength^gamma per CSR entry
    value_now: np.ndarray
    accept: np.ndarray  # value_now / value_epoch
    cdf: np.ndarray | None  # epoch proposal: one global cumulative array over the CSR entries
    segment_start: np.ndarray  # cdf at each node's first entry (n + 1)
    proposals: int
    window: np.ndarray  # this batch: proposals, how many passed the V test

    def draw_next(self, rows: np.ndarray, t: int, paths: np.ndarray) -> np.ndarray:
        """Position t >= 1 of the walkers `rows` (batch-local): the next KP, or -1 at a dead end.

        Hot loop: boolean selection uses `compress` and gathers use `take`, several times faster
        than mask and fancy indexing on these sizes.
        """
        k: int = rows.shape[0]
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
            skip: np.ndarray = np.zeros((pending.shape[0], 0, 2))  # cdf intervals of path KPs already proposed, sorted
            for _ in range(self.cfg.rejection_rounds):
                if not pending.size:
                    break
                u = self.rng.random((2, pending.shape[0]))
                target: np.ndarray = span[:, 0] + u[0] * span[:, 1]
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
        n_walkers: int = at.shape[0]
        node = np.full(n_walkers, -1, dtype=np.int64)
        uniforms = self.rng.random(n_walkers)
        for part in cost_chunks(degree, self.cfg.max_gather):
            deg = degree[part]
            n_part: int = deg.shape[0]
            bounds = np.zeros(n_part + 1, dtype=np.int64)
            np.cumsum(deg, out=bounds[1:])
            walker = np.repeat(np.arange(n_part), deg)
            position = np.arange(int(bounds[-1])) - bounds[walker] + indptr[at[part]][walker]
            neighbour = indices[position]
            weights = self.edge[position] * self.value_now[neighbour]
            weights[self.in_path(paths[rows[part]][walker, :t], neighbour)] = 0.0
            entry, alive = segment_search(segment_cdf(weights, bounds), bounds[:-1], bounds[1:], uniforms[part])
            node[part] = np.where(alive, neighbour[entry], -1)
        return node
