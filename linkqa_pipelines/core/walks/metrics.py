"""What a set of sampled paths covers, and how it compares with baseline samplers.

The universe is the partition's discipline KPs (a bool mask over graph nodes, or an int n
for all n nodes): coverage and the Gini coefficient are measured over it, because that is
the knowledge the discipline's corpus should span. Walks may step through KPs of other
disciplines; those uses still count for popularity and edge strength, which describe the
paths themselves.

- `kp_coverage`: share of universe KPs used by at least one path (higher is broader).
- `gini`: inequality of use counts over universe KPs, unused ones included (0 = even,
  -> 1 = a few KPs take every use; lower is better spread).
- `mean_popularity`: mean seed count of the KPs over all path positions (per use, so it
  says how popular the material of the corpus is).
- `mean_edge_strength`: mean co-occurrence strength of consecutive path KPs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from linkqa_pipelines.core.contracts import GraphArrays
from linkqa_pipelines.core.walks.search import bounded_search
from linkqa_pipelines.core.walks.types import Paths, flatten_paths

Universe = np.ndarray | int


def universe_mask(universe: Universe, n_nodes: int | None = None) -> np.ndarray:
    """Bool mask of the universe: given as a mask, or as an int n meaning all of 0..n-1."""
    if isinstance(universe, int | np.integer):
        return np.ones(int(universe), dtype=bool)
    mask = np.asarray(universe)
    if mask.dtype != np.bool_ or mask.ndim != 1 or (n_nodes is not None and mask.shape[0] != n_nodes):
        raise ValueError(
            f"universe must be an int or a 1-D bool mask over {n_nodes or 'all'} nodes, got {mask.dtype} {mask.shape}"
        )
    return mask


def use_counts(paths: Paths, n_nodes: int) -> np.ndarray:
    nodes, _ = flatten_paths(paths)
    if nodes.size and (nodes.min() < 0 or nodes.max() >= n_nodes):
        raise ValueError(f"paths hold a node outside 0..{n_nodes - 1}")
    return np.bincount(nodes, minlength=n_nodes)


def kp_coverage(paths: Paths, universe: Universe) -> float:
    mask = universe_mask(universe)
    if not mask.any():
        return float("nan")
    return float(np.count_nonzero(use_counts(paths, mask.shape[0])[mask]) / np.count_nonzero(mask))


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative values (NaN when there are none or all are zero)."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    total = x.sum()
    if x.size == 0 or total <= 0:
        return float("nan")
    rank = np.arange(1, x.size + 1)
    return float(2.0 * np.dot(rank, x) / (x.size * total) - (x.size + 1) / x.size)


def coverage_curve(
    paths: Paths, universe: Universe, checkpoints: Sequence[int] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(x, y): y[i] = share of universe KPs used by the first x[i] paths (checkpoints past the
    number of paths are clipped to it)."""
    mask = universe_mask(universe)
    nodes, offsets = flatten_paths(paths)
    x = np.minimum(np.asarray(checkpoints, dtype=np.int64), offsets.size - 1)
    if not mask.any():
        return x, np.full(x.shape, np.nan)
    path_of = np.repeat(np.arange(offsets.size - 1), np.diff(offsets))
    first_use = np.full(mask.shape[0], np.iinfo(np.int64).max)
    np.minimum.at(first_use, nodes, path_of)
    firsts = np.sort(first_use[mask])
    return x, np.searchsorted(firsts, x, side="left") / np.count_nonzero(mask)


def edge_strengths(arrays: GraphArrays, paths: Paths) -> np.ndarray:
    """Strength of every consecutive KP pair along the paths; raises if a pair is not an edge."""
    nodes, offsets = flatten_paths(paths)
    last = np.zeros(nodes.size, dtype=bool)
    last[offsets[1:][offsets[1:] > offsets[:-1]] - 1] = True
    u, v = nodes[:-1][~last[:-1]], nodes[1:][~last[:-1]]
    lo, hi = arrays.indptr.take(u), arrays.indptr.take(u + 1)
    pos = bounded_search(arrays.indices, lo, hi, v, side="left")
    found = (pos < hi) & (arrays.indices.take(pos, mode="clip") == v)
    if not found.all():
        i = int(np.flatnonzero(~found)[0])
        raise ValueError(f"path step {u[i]} -> {v[i]} is not an edge of the graph")
    return arrays.strength.take(pos)


def walk_summary(arrays: GraphArrays, paths: Paths, universe: Universe) -> dict[str, float]:
    """The metrics of the module docstring, plus path count and mean length."""
    mask = universe_mask(universe, arrays.n_nodes)
    nodes, offsets = flatten_paths(paths)
    counts = use_counts(paths, arrays.n_nodes)
    strengths = edge_strengths(arrays, paths)
    return {
        "paths": float(offsets.size - 1),
        "mean_length": float(np.diff(offsets).mean()) if offsets.size > 1 else float("nan"),
        "kp_coverage": kp_coverage(paths, mask),
        "kps_used": float(np.count_nonzero(counts[mask])),
        "gini": gini(counts[mask]),
        "mean_popularity": float(arrays.popularity[nodes].mean()) if nodes.size else float("nan"),
        "mean_edge_strength": float(strengths.mean()) if strengths.size else float("nan"),
    }
