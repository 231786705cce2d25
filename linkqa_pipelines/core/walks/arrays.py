"""Building and checking the CSR `GraphArrays` that the walks read: from an edge list (tests,
benchmarks, `load_kernels`) with bad rows rejected, and a contract check run before every walk.
"""

from __future__ import annotations

import numpy as np

from linkqa_pipelines.core.contracts import GraphArrays
from linkqa_pipelines.core.walks.value_function import popularity_share


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
