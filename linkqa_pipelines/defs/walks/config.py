"""Sampler settings of `walk_paths`."""

from __future__ import annotations

from dagster import Config
from pydantic import Field


class WalkPathsConfig(Config):
    """Sampler settings; the defaults follow the LinkSyn paper's balance of coverage and popularity."""

    n_paths: int = Field(default=200, description="paths to sample per discipline")
    min_len: int = Field(default=3, description="fewest KPs in a path (shorter dead ends are discarded)")
    max_len: int = Field(default=6, description="most KPs in a path")
    alpha: float = Field(default=1.0, description="popularity exponent of the value function")
    beta: float = Field(default=1.0, description="coverage (re-use) penalty exponent")
    gamma: float = Field(default=1.0, description="edge strength exponent")
    seed: int = Field(default=0, description="random seed: same seed, same paths")
    min_seeds: int = Field(default=2, description="fewest seeds per path")
    max_seeds: int = Field(default=5, description="most seeds per path")
    max_seed_reuse: int = Field(default=3, description="how many paths may use one seed")
