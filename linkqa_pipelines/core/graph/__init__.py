"""Pure logic of the graph stage (no Dagster): the KP co-occurrence graph and its CSR arrays."""

from linkqa_pipelines.core.graph.build import (
    KP_EDGE_SCHEMA,
    STRENGTH_FLOOR,
    KPGraph,
    build_graph,
    cooccurrence,
    degree_plot_png,
    edge_strength,
    graph_summary,
    load_arrays,
    save_arrays,
)

__all__ = [
    "KP_EDGE_SCHEMA",
    "STRENGTH_FLOOR",
    "KPGraph",
    "build_graph",
    "cooccurrence",
    "degree_plot_png",
    "edge_strength",
    "graph_summary",
    "load_arrays",
    "save_arrays",
]
