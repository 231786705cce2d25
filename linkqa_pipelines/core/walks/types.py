"""What a walk run takes and returns: `WalkConfig` in, `WalkResult` out (and `flatten_paths`,
the columnar form of any paths that consumers work on).

The config validates the engine choice, so the numba kernels' importability (`HAS_NUMBA`)
is decided here: "auto" runs the numba engine when `kernels` imports, numpy otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from linkqa_pipelines.core.walks.value_function import ValueFunctionConfig

try:
    from linkqa_pipelines.core.walks import kernels as walk_kernels
except ImportError:  # numba not installed: the numpy engine does all the work
    walk_kernels = None

HAS_NUMBA = walk_kernels is not None


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
