"""The final dataset per discipline (target mix, deduplicated, decontaminated) and its release."""

from typing import Any

import polars as pl
from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset, multi_asset

from linkqa_pipelines.core.difficulty import discipline_plan, discipline_shares, mix_report, select_to_target
from linkqa_pipelines.core.release import (
    BenchmarkIndex,
    card_for_display,
    dedup,
    evaluation_split_expr,
    find_contaminated,
    keep_priority_expr,
    markdown_table,
    rejects,
    seed_source_licences,
    verification_screen,
    write_release,
)
from linkqa_pipelines.core.release import benchmark_items as benchmark_items_of
from linkqa_pipelines.core.tables import REJECT_SCHEMA
from linkqa_pipelines.defs.release.config import BenchmarkConfig, DatasetConfig, ReleaseConfig, ScreenConfig
from linkqa_pipelines.defs.seeds.config import PipelineInputs
from linkqa_pipelines.lib.lake_resource import LakeResource
from linkqa_pipelines.lib.metadata import counts_table, png_md, table_metadata, table_out, table_preview
from linkqa_pipelines.lib.partitions import discipline_backfill_policy, discipline_partitions, per_discipline

KINDS = {"polars", "parquet"}


@asset(
    group_name="release",
    kinds=KINDS,
    metadata=table_metadata("benchmark_items"),
    description="Evaluation items the release must not overlap: the named benchmark files (LINKQA_BENCHMARKS) "
    "plus every seed read from a benchmark's test split. Dev/validation/training seeds are not indexed.",
)
def benchmark_items(
    context: AssetExecutionContext, config: BenchmarkConfig, inputs: PipelineInputs, seed_sources: pl.LazyFrame
) -> pl.DataFrame:
    paths = inputs.benchmark_paths(config.benchmarks)
    items = benchmark_items_of(seed_sources, paths)
    from_seeds = seed_sources.filter(evaluation_split_expr()).select(pl.len()).collect().item()
    context.add_output_metadata(
        {
            "named_files": MetadataValue.md("\n".join(f"- `{p}`" for p in paths) or "_none named_"),
            "from_evaluation_seeds": from_seeds,
            "per_benchmark": table_preview(items.group_by("benchmark").len().sort("benchmark")),
        }
    )
    return items


@multi_asset(
    outs={
        "screened_qa": table_out(
            "screened_qa",
            KINDS,
            "Every discipline's scored QA that passed verification (model-written: verified or refined by "
            "default), deduplicated across the whole dataset and decontaminated.",
        ),
        "screened_qa_rejects": table_out(
            "screened_qa_rejects",
            KINDS,
            "Items removed by verification (failed, or never answered), global dedup (with the item kept instead) "
            "or decontamination (with the benchmark item and the matched text).",
        ),
    },
    group_name="release",
)
def screened_qa(
    context: AssetExecutionContext,
    config: ScreenConfig,
    inputs: PipelineInputs,
    difficulty_scored_qa: pl.DataFrame,
    benchmark_items: pl.DataFrame,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Verification keep rule, then dedup and decontamination over all disciplines at once, unpartitioned.

    Duplicates cross disciplines (the same question synthesized from seeds mapped to two
    disciplines), so dedup has to see every partition: a per-discipline pass misses them. The
    step is small next to synthesis (MinHash of every item once; a 30k-item benchmark index is
    built once here instead of once per discipline), and the per-discipline `linkqa_dataset`
    then only applies each discipline's difficulty mix to its share of this table.
    """
    qa, unverified = verification_screen(difficulty_scored_qa, config.keep_verification)
    disciplines = sorted(set(qa["discipline"].to_list()))
    targets = inputs.targets()
    level_share = pl.DataFrame(
        [
            {"discipline": d, "difficulty": lv, "share": sh}
            for d in disciplines
            for lv, sh in targets.for_discipline(d).items()
        ],
        schema={"discipline": pl.String, "difficulty": pl.Int64, "share": pl.Float64},
    )
    kept, dropped = dedup(qa, threshold=config.dedup_threshold, priority=keep_priority_expr(qa.columns, level_share))
    removed = [
        unverified,
        rejects(
            dropped,
            "dedup",
            pl.col("dedup_reason") + "_duplicate",
            related=pl.col("duplicate_of"),
            similarity=pl.col("similarity"),
        ),
    ]
    settings = config.settings()
    index = BenchmarkIndex.from_frame(benchmark_items, settings) if benchmark_items.height else None
    contaminated = kept.clear().with_columns(benchmark_id=pl.lit(None, pl.String))
    if index is not None and kept.height:
        hits = find_contaminated(kept, index).group_by("qa_id", maintain_order=True).first()
        contaminated = kept.join(hits.select("qa_id", "benchmark_id", "matched_ngram"), on="qa_id")
        removed.append(
            rejects(
                contaminated,
                "decontamination",
                "benchmark_overlap",
                related=pl.col("benchmark_id"),
                matched=pl.col("matched_ngram"),
            )
        )
        kept = kept.join(hits, on="qa_id", how="anti")
    rejected = pl.concat(removed, how="vertical_relaxed").select(list(REJECT_SCHEMA))
    cross = dropped.join(
        qa.select(pl.col("qa_id").alias("duplicate_of"), kept_discipline="discipline"), on="duplicate_of"
    )
    context.add_output_metadata(
        {
            "scored_in": difficulty_scored_qa.height,
            "verification_dropped": unverified.height,
            "dedup_dropped": dropped.height,
            "dedup_across_disciplines": cross.filter(pl.col("discipline") != pl.col("kept_discipline")).height,
            "decontaminated": contaminated.height,
            "benchmark_items": benchmark_items.height,
            "benchmark_items_without_grams": index.skipped if index is not None else 0,
            "removed_by_reason": counts_table(dict(rejected.group_by("reason").len().sort("reason").iter_rows())),
            "removed_by_benchmark": table_preview(
                contaminated.group_by(pl.col("benchmark_id").str.extract(r"^([^/]+)"))
                .len()
                .sort("len", descending=True)
            ),
            "preview_removed": table_preview(rejected.select("reason", "question", "related_id", "matched_text"), 10),
        },
        output_name="screened_qa",
    )
    return kept, rejected


@multi_asset(
    outs={
        "linkqa_dataset": table_out(
            "linkqa_dataset",
            KINDS,
            "Target discipline x difficulty mix of the screened (deduplicated, decontaminated) QA.",
        ),
        "linkqa_dataset_rejects": table_out(
            "linkqa_dataset_rejects",
            KINDS,
            "Every item of the discipline left out of the dataset: reason category (verification_failed, "
            "not_verified, exact_duplicate, near_duplicate, benchmark_overlap, over_target_mix, "
            "over_discipline_share) with the related item, matched text, similarity.",
        ),
    },
    partitions_def=discipline_partitions,
    backfill_policy=discipline_backfill_policy,
    group_name="release",
)
@per_discipline
def linkqa_dataset(
    context: AssetExecutionContext,
    config: DatasetConfig,
    inputs: PipelineInputs,
    screened_qa: pl.LazyFrame,
    screened_qa_rejects: pl.LazyFrame,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The discipline's level mix (`select_to_target`) and, when the targets set discipline shares,
    its quota of the whole dataset: every partition reads the (discipline, difficulty) columns of
    all of `screened_qa` and computes the same `discipline_plan`, so the quotas need no extra
    step between screening and the per-discipline selection."""
    discipline = context.partition_key
    kept = screened_qa.filter(pl.col("discipline") == discipline).collect()
    screened_out = screened_qa_rejects.filter(pl.col("discipline") == discipline).collect()
    targets = inputs.targets()
    target = targets.for_discipline(discipline)
    cap = config.max_rows or None
    full, report = select_to_target(kept, target, n=cap, seed=config.seed)  # the level target alone
    plan = discipline_plan(screened_qa.select("discipline", "difficulty").collect(), targets)
    mine = plan.filter(pl.col("discipline") == discipline)
    selected = full
    if mine.height:  # discipline shares set: at most its quota (and what its level mix allows)
        row = mine.row(0, named=True)
        n = min(row["quota"], row["supply"], *([cap] if cap else []))
        selected, report = select_to_target(kept, target, n=n, seed=config.seed)
    not_selected = kept.join(selected, on="qa_id", how="anti")
    over_share = not_selected.join(full, on="qa_id", how="semi")  # the level mix alone would keep them
    rejected = pl.concat(
        [
            screened_out,
            rejects(not_selected.join(over_share, on="qa_id", how="anti"), "target_mix", "over_target_mix"),
            rejects(over_share, "target_mix", "over_discipline_share"),
        ],
        how="vertical_relaxed",
    ).select(list(REJECT_SCHEMA))
    context.add_output_metadata(
        {
            "screened_in": kept.height,
            "not_selected_by_target_mix": not_selected.height - over_share.height,
            "not_selected_by_discipline_share": over_share.height,
            **({"discipline_shares_plan": table_preview(plan, plan.height)} if plan.height else {}),
            "target_mix_report": MetadataValue.md(markdown_table(report)),
            "rejects_by_reason": counts_table(dict(rejected.group_by("reason").len().sort("reason").iter_rows())),
            "preview": table_preview(selected.select("qa_id", "difficulty", "question", "answer"), 5),
        },
        output_name="linkqa_dataset",
    )
    return selected, rejected


@asset(
    group_name="release",
    kinds={"parquet", "json"},
    description="Exported Parquet + JSONL shards per discipline, dataset card (HF hub front matter), statistics "
    "(real-tokenizer token counts, KP coverage against kp_catalog, verification rate) and plots.",
)
def linkqa_release(
    config: ReleaseConfig,
    inputs: PipelineInputs,
    lake: LakeResource,
    linkqa_dataset: pl.LazyFrame,
    linkqa_dataset_rejects: pl.LazyFrame,
    screened_qa: pl.LazyFrame,
    seed_sources: pl.LazyFrame,
    kp_catalog: pl.LazyFrame,
) -> MaterializeResult:
    by_reason = dict(linkqa_dataset_rejects.group_by("reason").len().collect().iter_rows())
    targets = inputs.targets()
    released = linkqa_dataset.select("discipline", "difficulty").collect()
    mix = mix_report(released, targets)
    shares = discipline_shares(
        released, discipline_plan(screened_qa.select("discipline", "difficulty").collect(), targets)
    )
    shares_md = (
        "\n\nDiscipline shares of the whole dataset, achieved against target (quota: the rows its share wants; "
        "supply: the rows its level target allows; cause: why a discipline is short, or what bounds the size):\n\n"
        + markdown_table(shares)
        if shares.height
        else ""
    )
    out_dir = lake.home_path / "release"
    manifest = write_release(
        linkqa_dataset,
        out_dir,
        shard_rows=config.shard_rows,
        card_info={
            "name": config.name,
            "version": config.version,
            "seed_sources": seed_source_licences(seed_sources, linkqa_dataset),
            "dedup": {
                "scope": "whole dataset",
                "exact": by_reason.get("exact_duplicate", 0),
                "near": by_reason.get("near_duplicate", 0),
            },
            "decontamination": {"removed": by_reason.get("benchmark_overlap", 0)},
            "selection": f"{by_reason.get('over_target_mix', 0)} items left out to meet the per-discipline "
            "difficulty targets"
            + (f", {by_reason.get('over_discipline_share', 0)} to meet the discipline shares" if shares.height else "")
            + ". Achieved against target (shares; gap in percentage points; rows with no level are each "
            "discipline's share of the dataset):\n\n" + markdown_table(mix) + shares_md,
        },
        kp_catalog=kp_catalog,
    )
    stats = manifest.stats
    metadata: dict[str, Any] = {
        "dagster/row_count": manifest.rows,
        "release_dir": MetadataValue.path(str(out_dir)),
        "shards": len(manifest.shards),
        "text_tokens": stats["tokens"]["text"],
        "tokenizer": stats["tokens"]["tokenizer"],
        "kp_coverage": stats["kp_coverage"]["share"],
        "verified_share": stats["verification"]["verified_share"],
        "mix_vs_target": table_preview(mix, mix.height),
        **({"discipline_shares_vs_target": table_preview(shares, shares.height)} if shares.height else {}),
        "dataset_card": MetadataValue.md(card_for_display(manifest.card_path.read_text(encoding="utf-8"))[:20_000]),
    }
    for plot in manifest.plot_paths:
        metadata[f"plot_{plot.stem}"] = png_md(plot.read_bytes(), plot.stem)
    return MaterializeResult(metadata=metadata)
