"""Pure logic of the walks stage (no Dagster): value-guided KP walks, baselines, path seeds, metrics."""

from linkqa_pipelines.core.walks.arrays import graph_arrays_from_edges
from linkqa_pipelines.core.walks.baselines import mathscale_walk, popularity_walk, uniform_walk
from linkqa_pipelines.core.walks.metrics import (
    coverage_curve,
    edge_strengths,
    gini,
    kp_coverage,
    use_counts,
    walk_summary,
)
from linkqa_pipelines.core.walks.partition import PartitionGraph, partition_graph
from linkqa_pipelines.core.walks.path_seeds import PATH_SEEDS_SCHEMA, select_path_seeds
from linkqa_pipelines.core.walks.sampler import load_kernels, sample_paths
from linkqa_pipelines.core.walks.types import HAS_NUMBA, WalkConfig, WalkResult
from linkqa_pipelines.core.walks.value_function import ValueFunction, ValueFunctionConfig, popularity_share

__all__ = [
    "HAS_NUMBA",
    "PATH_SEEDS_SCHEMA",
    "PartitionGraph",
    "ValueFunction",
    "ValueFunctionConfig",
    "WalkConfig",
    "WalkResult",
    "coverage_curve",
    "edge_strengths",
    "gini",
    "graph_arrays_from_edges",
    "kp_coverage",
    "load_kernels",
    "mathscale_walk",
    "partition_graph",
    "popularity_share",
    "popularity_walk",
    "sample_paths",
    "select_path_seeds",
    "uniform_walk",
    "use_counts",
    "walk_summary",
]
