"""Value-function-guided walk paths per discipline, with the seeds each path fuses and the version
of the KP graph they were walked on (`graph_version`, checked by `checks.py`)."""

import hashlib

import numpy as np
import polars as pl
from dagster import AssetExecutionContext, MetadataValue, multi_asset

from linkqa_pipelines.core.contracts import PATH_SCHEMA, conform, list_column
from linkqa_pipelines.core.walks import (
    WalkConfig,
    coverage_curve,
    mathscale_walk,
    partition_graph,
    popularity_walk,
    sample_paths,
    select_path_seeds,
    uniform_walk,
    walk_summary,
)
from linkqa_pipelines.defs.graph.version import VERSION_COLUMN, current_version
from linkqa_pipelines.defs.walks.config import WalkPathsConfig
from linkqa_pipelines.lib.metadata import line_chart_md, table_out, table_preview
from linkqa_pipelines.lib.partitions import discipline_backfill_policy, discipline_partitions, per_discipline

KINDS = {"numpy", "parquet"}


@multi_asset(
    outs={
        "walk_paths": table_out(
            "walk_paths",
            KINDS,
            "Sampled KP paths (value-function walks) and the seeds chosen for synthesis.",
        ),
        "walk_paths_unseeded": table_out(
            "walk_paths_unseeded",
            KINDS,
            "Sampled paths that could not get enough linked seeds: kept to be seen, not synthesized.",
        ),
    },
    partitions_def=discipline_partitions,
    backfill_policy=discipline_backfill_policy,
    group_name="walks",
)
@per_discipline
def walk_paths(
    context: AssetExecutionContext,
    config: WalkPathsConfig,
    kp_catalog: pl.DataFrame,
    kp_seed_links: pl.DataFrame,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    # The partition walks its own discipline's graph, rebuilt from the discipline's seed links
    # with the same co-occurrence and strength rule as kp_graph (which spans every discipline).
    discipline = context.partition_key
    version = current_version(kp_seed_links.lazy())
    catalog = kp_catalog.sort("node")
    part = partition_graph(kp_seed_links, catalog, discipline)
    arrays, start_mask = part.arrays, part.start_mask
    node_kp = catalog["kp_id"].to_numpy()
    cfg = WalkConfig(
        n_paths=part.path_budget(config.n_paths, config.min_seeds, config.max_seed_reuse),
        min_len=config.min_len,
        max_len=config.max_len,
        alpha=config.alpha,
        beta=config.beta,
        gamma=config.gamma,
        seed=config.seed,
    )
    # Walks start where two seeds can meet (`walk_mask`); coverage counts every KP (`start_mask`).
    walk_mask = part.walk_mask
    result = sample_paths(arrays, cfg, start_mask=walk_mask)
    paths = result.paths()
    chosen = select_path_seeds(
        paths,
        part.seed_links,
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
        .with_columns(pl.lit(version, pl.String).alias(VERSION_COLUMN))
    )
    usable = frame.filter(pl.col("seed_ids").list.len() >= config.min_seeds)
    short = frame.filter(pl.col("seed_ids").list.len() < config.min_seeds)

    summary = walk_summary(arrays, paths, start_mask)
    metadata: dict[str, object] = {
        VERSION_COLUMN: str(version),
        "paths_sampled": len(paths),
        "path_budget": cfg.n_paths,
        "seeds": part.n_seeds,
        "linked_seeds": part.linked_seeds,
        "paths_discarded_dead_end": int(result.discarded),
        "paths_without_enough_seeds": short.height,
        **{k: MetadataValue.float(float(v)) for k, v in summary.items()},
    }
    if start_mask.any() and len(paths):
        baselines = {
            "value function (LinkSyn)": paths,
            "uniform walk": uniform_walk(arrays, cfg, start_mask=walk_mask).paths(),
            "MathScale-style walk": mathscale_walk(arrays, cfg, start_mask=walk_mask).paths(),
            "popularity-only walk": popularity_walk(arrays, cfg, start_mask=walk_mask).paths(),
        }
        checkpoints = np.unique(np.linspace(1, len(paths), num=min(20, len(paths)), dtype=int))
        curves = {name: coverage_curve(ps, start_mask, checkpoints) for name, ps in baselines.items()}
        metadata["coverage_vs_paths"] = line_chart_md(
            {n: y.tolist() for n, (_, y) in curves.items()},
            f"share of the discipline's KPs covered against paths sampled (1 to {len(paths)})",
        )
        metadata["baseline_summary"] = table_preview(
            pl.DataFrame([{"sampler": n, **walk_summary(arrays, ps, start_mask)} for n, ps in baselines.items()])
        )
    reason = part.no_path_reason(config.min_seeds)
    if reason is not None:
        metadata["no_path_reason"] = reason
        context.log.warning(f"{discipline}: no paths: {reason}")
    metadata["preview"] = table_preview(usable.select("path_id", "kp_ids", "seed_ids", "score"), 5)
    context.add_output_metadata(metadata, output_name="walk_paths")
    return conform(usable.drop("path_index"), PATH_SCHEMA), short.drop("path_index")
