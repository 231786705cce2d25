"""The final dataset per discipline (target mix, deduplicated, decontaminated) and its release."""

from typing import Any

import polars as pl
from dagster import AssetExecutionContext, AssetOut, MaterializeResult, MetadataValue, asset, multi_asset

from linkqa_pipelines.core.difficulty import select_to_target
from linkqa_pipelines.core.release import (
    benchmark_index,
    dedup,
    find_contaminated,
    markdown_table,
    rejects,
    write_release,
)
from linkqa_pipelines.core.tables import REJECT_SCHEMA
from linkqa_pipelines.defs.difficulty.config import difficulty_targets
from linkqa_pipelines.defs.release.config import DatasetConfig, ReleaseConfig
from linkqa_pipelines.defs.seeds.config import PipelineInputs
from linkqa_pipelines.lib.lake_resource import LakeResource
from linkqa_pipelines.lib.metadata import counts_md, md_table, png_md, table_metadata
from linkqa_pipelines.lib.partitions import discipline_partitions

KINDS = {"polars", "parquet"}


@multi_asset(
    outs={
        "linkqa_dataset": AssetOut(
            kinds=KINDS,
            metadata=table_metadata("linkqa_dataset"),
            description="Target discipline x difficulty mix, deduplicated and decontaminated.",
        ),
        "linkqa_dataset_rejects": AssetOut(
            kinds=KINDS,
            metadata=table_metadata("linkqa_dataset_rejects"),
            description="Every item left out of the dataset, by stage (dedup, decontamination, target mix) "
            "with its reason and the related item.",
        ),
    },
    partitions_def=discipline_partitions,
    group_name="release",
)
def linkqa_dataset(
    context: AssetExecutionContext,
    config: DatasetConfig,
    inputs: PipelineInputs,
    difficulty_scored_qa: pl.DataFrame,
    seed_sources: pl.LazyFrame,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    discipline = context.partition_key
    qa = difficulty_scored_qa
    kept, dropped = dedup(qa, threshold=config.dedup_threshold)
    removed = [rejects(dropped, "dedup", pl.col("dedup_reason") + " duplicate", pl.col("duplicate_of"))]

    index, benchmarks = benchmark_index(seed_sources, inputs.benchmark_paths(config.benchmarks))
    flagged = pl.DataFrame(schema={"qa_id": pl.String, "benchmark_id": pl.String, "matched_ngram": pl.String})
    if index is not None and kept.height:
        hits = find_contaminated(kept, index)
        flagged = hits.group_by("qa_id", maintain_order=True).first().select("qa_id", "benchmark_id", "matched_ngram")
        contaminated = kept.join(flagged, on="qa_id", how="inner")
        removed.append(
            rejects(
                contaminated,
                "decontamination",
                "overlaps benchmark: " + pl.col("matched_ngram"),
                pl.col("benchmark_id"),
            )
        )
        kept = kept.join(flagged, on="qa_id", how="anti")

    target = difficulty_targets(config.targets_path).for_discipline(discipline)
    selected, report = select_to_target(kept, target, n=config.max_rows or None, seed=config.seed)
    not_selected = kept.join(selected, on="qa_id", how="anti")
    removed.append(
        rejects(not_selected, "target_mix", pl.lit("over the target share of its difficulty level"), pl.lit(None))
    )
    rejected = pl.concat(removed, how="vertical_relaxed").select(list(REJECT_SCHEMA))
    context.add_output_metadata(
        {
            "scored_in": qa.height,
            "dedup_dropped": dropped.height,
            "decontaminated": flagged.height,
            "decontaminated_against": MetadataValue.md(
                "\n".join(f"- {b}" for b in benchmarks) or "_no benchmark configured and no benchmark-layout seeds_"
            ),
            "not_selected_by_target_mix": not_selected.height,
            "target_mix_report": MetadataValue.md(markdown_table(report)),
            "rejects_by_stage": counts_md(dict(rejected.group_by("stage").len().iter_rows())),
            "preview": md_table(selected.select("qa_id", "difficulty", "question", "answer"), 5),
        },
        output_name="linkqa_dataset",
    )
    return selected, rejected


@asset(
    group_name="release",
    kinds={"parquet", "json"},
    description="Exported Parquet + JSONL shards per discipline, dataset card, statistics and plots.",
)
def linkqa_release(
    config: ReleaseConfig,
    lake: LakeResource,
    linkqa_dataset: pl.LazyFrame,
    linkqa_dataset_rejects: pl.LazyFrame,
    seed_sources: pl.LazyFrame,
) -> MaterializeResult:
    sources = (
        seed_sources.group_by("adapter")
        .agg(pl.col("source").n_unique().alias("files"), pl.len().alias("seeds"))
        .collect()
    )
    by_stage = dict(linkqa_dataset_rejects.group_by("stage").len().collect().iter_rows())
    out_dir = lake.home_path / "release"
    manifest = write_release(
        linkqa_dataset,
        out_dir,
        shard_rows=config.shard_rows,
        card_info={
            "name": config.name,
            "version": config.version,
            "seed_sources": [
                {
                    "name": f"{r['adapter']} ({r['files']} files, {r['seeds']} seeds)",
                    "licence": "see the source's licence",
                    "url": "",
                }
                for r in sources.iter_rows(named=True)
            ],
            "dedup": {"dropped": by_stage.get("dedup", 0)},
            "decontamination": {"removed": by_stage.get("decontamination", 0)},
            "selection": f"{by_stage.get('target_mix', 0)} items left out to meet the per-discipline difficulty "
            "targets.",
        },
    )
    metadata: dict[str, Any] = {
        "dagster/row_count": manifest.rows,
        "release_dir": MetadataValue.path(str(out_dir)),
        "shards": len(manifest.shards),
        "dataset_card": MetadataValue.md(manifest.card_path.read_text(encoding="utf-8")[:20_000]),
    }
    for plot in manifest.plot_paths:
        metadata[f"plot_{plot.stem}"] = png_md(plot.read_bytes(), plot.stem)
    return MaterializeResult(metadata=metadata)
