"""Value-function-guided walk paths per discipline, with the seeds each path fuses."""


import hashlib

import numpy as np
import polars as pl
from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset
from pydantic import Field

from linkqa_pipelines.assets.graph import CSR_FILE, kp_graph, load_graph_arrays
from linkqa_pipelines.core.contracts import PATH_SCHEMA, conform, list_column
from linkqa_pipelines.core.walks.path_seeds import select_path_seeds
from linkqa_pipelines.core.walks.metrics import coverage_curve, coverage_plot_png, walk_summary
from linkqa_pipelines.core.walks.sampler import (
    WalkConfig,
    mathscale_walk,
    popularity_walk,
    sample_paths,
    uniform_walk,
)
from linkqa_pipelines.metadata import md_table, png_md
from linkqa_pipelines.partitions import discipline_partitions
from linkqa_pipelines.resources.warehouse import WarehouseResource


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


@asset(
    partitions_def=discipline_partitions,
    deps=[kp_graph, "seed_qa"],
    group_name="walks",
    kinds={"numpy", "parquet"},
    description="Sampled KP paths (value-function walks) and the seeds chosen for synthesis.",
)
def walk_paths(context: AssetExecutionContext, config: WalkPathsConfig, warehouse: WarehouseResource) -> MaterializeResult:
    lake = warehouse.lake()
    discipline = context.partition_key
    arrays = load_graph_arrays(lake.read_bytes("kp_graph", CSR_FILE))
    catalog = lake.read("kp_catalog").sort("node")
    node_kp = catalog["kp_id"].to_numpy()
    start_mask = catalog["disciplines"].list.contains(discipline).to_numpy()
    cfg = WalkConfig(
        n_paths=config.n_paths,
        min_len=config.min_len,
        max_len=config.max_len,
        alpha=config.alpha,
        beta=config.beta,
        gamma=config.gamma,
        seed=config.seed,
    )
    result = sample_paths(arrays, cfg, start_mask=start_mask)
    paths = result.paths()
    seed_links = lake.read("kp_seed_links").select("seed_id", "node")
    chosen = select_path_seeds(
        paths,
        seed_links,
        min_seeds=config.min_seeds,
        max_seeds=config.max_seeds,
        max_seed_reuse=config.max_seed_reuse,
        seed=config.seed,
    )
    path_ids = [
        hashlib.sha1(f"{discipline}|{config.seed}|{i}|{p.tolist()}".encode()).hexdigest()[:16]
        for i, p in enumerate(paths)
    ]
    frame = (
        pl.DataFrame(
            {
                "path_id": path_ids,
                "discipline": [discipline] * len(paths),
                "kp_ids": list_column(node_kp[result.nodes], result.offsets),
                "kp_nodes": list_column(result.nodes.astype(np.int32), result.offsets),
                "score": result.scores,
                "value_trace": list_column(result.values, result.offsets),
            }
        )
        .with_row_index("path_index")
        .join(chosen, on="path_index", how="left")
    )
    usable = frame.filter(pl.col("seed_ids").list.len() >= config.min_seeds)
    lake.write("walk_paths", conform(usable.drop("path_index"), PATH_SCHEMA), discipline)
    short = frame.filter(pl.col("seed_ids").list.len() < config.min_seeds)
    lake.write("walk_paths_unseeded", short.drop("path_index"), discipline)

    summary = walk_summary(arrays, paths, start_mask)
    metadata: dict[str, object] = {
        "dagster/row_count": usable.height,
        "paths_sampled": len(paths),
        "paths_discarded_dead_end": int(result.discarded),
        "paths_without_enough_seeds": short.height,
        **{k: MetadataValue.float(float(v)) for k, v in summary.items()},
    }
    if start_mask.any() and len(paths):
        baselines = {
            "value function (LinkSyn)": paths,
            "uniform walk": uniform_walk(arrays, cfg, start_mask=start_mask).paths(),
            "MathScale-style walk": mathscale_walk(arrays, cfg, start_mask=start_mask).paths(),
            "popularity-only walk": popularity_walk(arrays, cfg, start_mask=start_mask).paths(),
        }
        checkpoints = np.unique(np.linspace(1, len(paths), num=min(20, len(paths)), dtype=int))
        curves = {name: coverage_curve(ps, start_mask, checkpoints) for name, ps in baselines.items()}
        metadata["coverage_vs_paths"] = png_md(coverage_plot_png(curves), "KP coverage against number of paths")
        metadata["baseline_summary"] = md_table(
            pl.DataFrame([{"sampler": n, **walk_summary(arrays, ps, start_mask)} for n, ps in baselines.items()])
        )
    metadata["preview"] = md_table(usable.select("path_id", "kp_ids", "seed_ids", "score"), 5)
    return MaterializeResult(metadata=metadata)
