"""Baseline samplers for the coverage comparison: the same engine and output type with the
value function switched off in parts. All of them never revisit a KP.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from linkqa_pipelines.core.contracts import GraphArrays
from linkqa_pipelines.core.walks.sampler import sample_paths
from linkqa_pipelines.core.walks.types import WalkConfig, WalkResult


def uniform_walk(arrays: GraphArrays, cfg: WalkConfig, start_mask: np.ndarray | None = None) -> WalkResult:
    """Baseline: uniform start, uniform neighbour, no revisits."""
    return sample_paths(arrays, replace(cfg, alpha=0.0, beta=0.0, gamma=0.0), start_mask)


def mathscale_walk(arrays: GraphArrays, cfg: WalkConfig, start_mask: np.ndarray | None = None) -> WalkResult:
    """Baseline (MathScale-style): uniform start, next KP in proportion to co-occurrence count, no revisits."""
    return sample_paths(arrays, replace(cfg, alpha=0.0, beta=0.0, gamma=1.0), start_mask)


def popularity_walk(arrays: GraphArrays, cfg: WalkConfig, start_mask: np.ndarray | None = None) -> WalkResult:
    """Baseline: start and next KP by popularity^alpha alone (no coverage term, no edge strength)."""
    return sample_paths(arrays, replace(cfg, beta=0.0, gamma=0.0), start_mask)
