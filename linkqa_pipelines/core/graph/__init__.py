"""Pure logic of the graph stage (no Dagster): the KP co-occurrence graph and its CSR arrays."""

from linkqa_pipelines.core.graph.build import (
    KP_EDGE_SCHEMA,
    KPGraph,
    build_graph,
    degree_plot_png,
    graph_summary,
    load_arrays,
    save_arrays,
)

__all__ = [
    "KP_EDGE_SCHEMA",
    "KPGraph",
    "build_graph",
    "degree_plot_png",
    "graph_summary",
    "load_arrays",
    "save_arrays",
]
