"""Sampler settings of `walk_paths`."""

from __future__ import annotations

from dagster import Config
from pydantic import Field


class WalkPathsConfig(Config):
    """Sampler settings. Defaults (alpha 0.5, beta 4, gamma 1) measured on the shared real data
    (`bench/kp_graph_quality.py`): with each partition walking its own discipline graph, alpha =
    beta = 1 covered only 1.06x the uniform walk's KPs at 200 paths, because a KP used once keeps
    half its value and popular KPs are drawn again; beta = 4 makes a used KP worth 1/16 of an
    unused one, alpha = 0.5 keeps popularity as the order among unused KPs without letting it
    override coverage, and gamma = 1 keeps steps on strongly related KP pairs (NPMI-weighted
    strength)."""

    n_paths: int = Field(default=200, description="paths to sample per discipline")
    min_len: int = Field(default=3, description="fewest KPs in a path (shorter dead ends are discarded)")
    max_len: int = Field(default=6, description="most KPs in a path")
    alpha: float = Field(default=0.5, description="popularity exponent of the value function")
    beta: float = Field(default=4.0, description="coverage (re-use) penalty exponent")
    gamma: float = Field(default=1.0, description="edge strength exponent")
    seed: int = Field(default=0, description="random seed: same seed, same paths")
    min_seeds: int = Field(default=2, description="fewest seeds per path")
    max_seeds: int = Field(default=5, description="most seeds per path")
    max_seed_reuse: int = Field(default=3, description="how many paths may use one seed")
