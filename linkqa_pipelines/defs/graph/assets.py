"""The KP co-occurrence graph: weighted edges and the seed <-> KP links the samplers use, stamped
with the graph's version (`version.py`) so what was built on it can name the graph it read."""

import polars as pl
from dagster import AssetExecutionContext, MetadataValue, multi_asset

from linkqa_pipelines.core.graph import build_graph, degree_plot_png, graph_summary
from linkqa_pipelines.defs.graph.version import VERSION_COLUMN, graph_version
from linkqa_pipelines.lib.metadata import png_md, table_out, table_preview


@multi_asset(
    outs={
        "kp_graph": table_out(
            "kp_graph",
            {"igraph", "parquet"},
            "Weighted undirected KP co-occurrence edges (weight = seeds in common, NPMI) with the "
            "seeds that link them.",
        ),
        "kp_seed_links": table_out(
            "kp_seed_links",
            {"polars", "parquet"},
            "Deduplicated seed <-> KP links with the KP's graph node: every seed stays linked to its KPs "
            "(back-filled subject labels are not KPs of the graph: they stay in kp_links), with the seed's "
            "subject; graph_version names the graph they belong to.",
        ),
    },
    group_name="graph",
)
def kp_graph(
    context: AssetExecutionContext, kp_catalog: pl.DataFrame, kp_links: pl.DataFrame, seed_sources: pl.LazyFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    # The seeds' subjects ride on the seed links: walk_paths picks consecutive path seeds of one subject.
    graph = build_graph(kp_links, kp_catalog, subjects=seed_sources.select("seed_id", "subject").collect())
    version = graph_version(kp_catalog, graph.seed_links)
    summary = graph_summary(graph)
    top_per_discipline = (
        kp_catalog.explode("disciplines")
        .sort("popularity", descending=True)
        .group_by("disciplines", maintain_order=True)
        .head(3)
        .group_by("disciplines", maintain_order=True)
        .agg(pl.col("name").str.join(", ").alias("top_kps"))
        .rename({"disciplines": "discipline"})
    )
    context.add_output_metadata(
        {
            VERSION_COLUMN: version,
            "nodes": int(summary["nodes"]),
            "edges": int(summary["edges"]),
            "components": int(summary["components"]),
            "backfilled_label_links": MetadataValue.int(graph.backfilled_links),
            "largest_component_share": MetadataValue.float(float(summary["largest_component_share"])),
            "degree_distribution": png_md(degree_plot_png(graph), "degree distribution"),
            "top_kps_per_discipline": table_preview(top_per_discipline, 40),
            "strongest_edges": table_preview(
                graph.edges.sort("strength", descending=True).select(
                    "src_kp_id", "dst_kp_id", "weight", "npmi", "strength"
                ),
                10,
            ),
        },
        output_name="kp_graph",
    )
    context.add_output_metadata({VERSION_COLUMN: version}, output_name="kp_seed_links")
    return graph.edges, graph.seed_links.with_columns(pl.lit(version).alias(VERSION_COLUMN))
