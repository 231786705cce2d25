"""KP catalog and the KP co-occurrence graph (both span every discipline)."""


import io

import polars as pl
from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from linkqa_pipelines.core.contracts import KP_LINK_SCHEMA, GraphArrays
from linkqa_pipelines.core.knowledge_points.catalog import build_catalog
from linkqa_pipelines.core.graph.build import build_graph, degree_plot_png, graph_summary, load_arrays, save_arrays
from linkqa_pipelines.metadata import md_table, png_md
from linkqa_pipelines.resources.warehouse import WarehouseResource

CSR_FILE = "csr.npz"


def save_graph_arrays(arrays: GraphArrays) -> bytes:
    """CSR arrays as bytes, so the lake can put them on local disk or object storage."""
    buf = io.BytesIO()
    save_arrays(arrays, buf)
    return buf.getvalue()


def load_graph_arrays(data: bytes) -> GraphArrays:
    return load_arrays(io.BytesIO(data))


@asset(
    deps=["seed_knowledge_points", "seed_sources"],
    group_name="knowledge_points",
    kinds={"polars", "parquet"},
    description="Canonical KPs merged across disciplines: kp_id, name, aliases, disciplines, popularity.",
)
def kp_catalog(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    lake = warehouse.lake()
    current = lake.scan("seed_sources").select("seed_id")
    # Only links of seeds still ingested: partitions of a discipline that no longer has
    # seeds must not leak stale KPs into the catalog.
    links = lake.scan("seed_knowledge_points", schema=KP_LINK_SCHEMA).join(current, on="seed_id", how="semi").collect()
    result = build_catalog(links)
    lake.write("kp_catalog", result.catalog)
    lake.write("kp_aliases", result.aliases)
    lake.write("kp_links", result.links)
    merged = result.aliases.filter(pl.col("rule") != "exact_key")
    per_discipline = result.catalog.explode("disciplines").group_by("disciplines").len().sort("len", descending=True)
    return MaterializeResult(
        metadata={
            "dagster/row_count": result.catalog.height,
            "surface_names": result.aliases.height,
            "fuzzy_merges": merged.height,
            "links": result.links.height,
            "top_kps": md_table(result.catalog.sort("popularity", descending=True).select("name", "popularity", "disciplines"), 15),
            "merges_explained": md_table(merged, 20),
            "kps_per_discipline": md_table(per_discipline.rename({"disciplines": "discipline"})),
        }
    )


@asset(
    deps=[kp_catalog],
    group_name="knowledge_points",
    kinds={"igraph", "parquet"},
    description="Weighted undirected KP co-occurrence edges, seed<->KP links, CSR arrays for the samplers.",
)
def kp_graph(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    lake = warehouse.lake()
    catalog = lake.read("kp_catalog")
    graph = build_graph(lake.read("kp_links"), catalog)
    lake.write("kp_graph", graph.edges)
    lake.write("kp_seed_links", graph.seed_links)
    lake.write_bytes("kp_graph", CSR_FILE, save_graph_arrays(graph.arrays))
    summary = graph_summary(graph)
    top_per_discipline = (
        catalog.explode("disciplines")
        .sort("popularity", descending=True)
        .group_by("disciplines", maintain_order=True)
        .head(3)
        .group_by("disciplines", maintain_order=True)
        .agg(pl.col("name").str.join(", ").alias("top_kps"))
        .rename({"disciplines": "discipline"})
    )
    return MaterializeResult(
        metadata={
            "dagster/row_count": graph.edges.height,
            "nodes": int(summary["nodes"]),
            "edges": int(summary["edges"]),
            "components": int(summary["components"]),
            "largest_component_share": MetadataValue.float(float(summary["largest_component_share"])),
            "degree_distribution": png_md(degree_plot_png(graph), "degree distribution"),
            "top_kps_per_discipline": md_table(top_per_discipline, 40),
            "strongest_edges": md_table(
                graph.edges.sort("weight", descending=True).select("src_kp_id", "dst_kp_id", "weight", "npmi"), 10
            ),
        }
    )
