"""The final dataset per discipline (target mix, deduplicated, decontaminated) and its release."""

import os

import polars as pl
from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset
from pydantic import Field

from linkqa_pipelines.assets.difficulty import difficulty_scored_qa, difficulty_targets
from linkqa_pipelines.core.contracts import SYNTH_QA_SCHEMA
from linkqa_pipelines.core.release.decontamination import BenchmarkIndex, find_contaminated, load_benchmark_questions
from linkqa_pipelines.core.release.dedup import dedup, qa_text_expr
from linkqa_pipelines.core.difficulty.difficulty import select_to_target
from linkqa_pipelines.core.release.export import markdown_table, write_release
from linkqa_pipelines.metadata import counts_md, md_table, png_md
from linkqa_pipelines.partitions import discipline_partitions
from linkqa_pipelines.resources.warehouse import WarehouseResource

# Seeds read by these adapters are benchmark test items: synthesized QA must never overlap them.
BENCHMARK_ADAPTERS = ("mmlu_csv", "cmmlu_csv", "gsm8k_jsonl", "math_jsonl")
REJECT_COLUMNS = ["qa_id", "discipline", "question", "stage", "reason", "related_id"]


class DatasetConfig(Config):
    benchmarks: list[str] = Field(
        default=[], description="benchmark files/folders to decontaminate against (default: env LINKQA_BENCHMARKS)"
    )
    dedup_threshold: float = Field(default=0.8, description="MinHash Jaccard at which two questions are duplicates")
    targets_path: str = Field(default="", description="difficulty targets YAML; empty = packaged")
    max_rows: int = Field(default=0, description="cap per discipline (0 = as many as the target mix allows)")
    seed: int = Field(default=0, description="random seed of the target-mix selection")


def benchmark_index(lake_seeds: pl.LazyFrame, paths: list[str]) -> tuple[BenchmarkIndex | None, list[str]]:
    """Index configured benchmarks plus every seed that came from a benchmark layout."""
    frames, names = [], []
    if paths:
        loaded = load_benchmark_questions(paths)
        frames.append(loaded.select("benchmark_id", "question", "text"))
        names += sorted(set(loaded["benchmark"]))
    seeds = lake_seeds.filter(pl.col("adapter").is_in(BENCHMARK_ADAPTERS)).collect()
    if seeds.height:
        frames.append(
            seeds.select(
                benchmark_id=pl.concat_str("adapter", "subject", pl.col("source_row").cast(pl.String), separator="/"),
                question="question",
                text=qa_text_expr(),
            )
        )
        names += [f"seed items from {a}" for a in sorted(set(seeds["adapter"]))]
    if not frames:
        return None, []
    return BenchmarkIndex.from_frame(pl.concat(frames, how="vertical_relaxed")), names


def rejects(frame: pl.DataFrame, stage: str, reason: pl.Expr, related: pl.Expr) -> pl.DataFrame:
    return frame.select(
        "qa_id", "discipline", "question", stage=pl.lit(stage), reason=reason, related_id=related
    ).cast({"reason": pl.String, "related_id": pl.String})


@asset(
    partitions_def=discipline_partitions,
    deps=[difficulty_scored_qa],
    group_name="release",
    kinds={"polars", "parquet"},
    description="Target discipline x difficulty mix, deduplicated and decontaminated; rejects explained.",
)
def linkqa_dataset(context: AssetExecutionContext, config: DatasetConfig, warehouse: WarehouseResource) -> MaterializeResult:
    lake = warehouse.lake()
    discipline = context.partition_key
    qa = lake.read("difficulty_scored_qa", [discipline], schema=SYNTH_QA_SCHEMA)

    kept, dropped = dedup(qa, threshold=config.dedup_threshold)
    removed = [rejects(dropped, "dedup", pl.col("dedup_reason") + " duplicate", pl.col("duplicate_of"))]

    paths = config.benchmarks or [p for p in os.environ.get("LINKQA_BENCHMARKS", "").split(",") if p.strip()]
    index, benchmarks = benchmark_index(lake.scan("seed_sources"), paths)
    flagged = pl.DataFrame(schema={"qa_id": pl.String, "benchmark_id": pl.String, "matched_ngram": pl.String})
    if index is not None and kept.height:
        hits = find_contaminated(kept, index)
        flagged = hits.group_by("qa_id", maintain_order=True).first().select("qa_id", "benchmark_id", "matched_ngram")
        contaminated = kept.join(flagged, on="qa_id", how="inner")
        removed.append(
            rejects(contaminated, "decontamination", "overlaps benchmark: " + pl.col("matched_ngram"), pl.col("benchmark_id"))
        )
        kept = kept.join(flagged, on="qa_id", how="anti")

    target = difficulty_targets(config.targets_path).for_discipline(discipline)
    selected, report = select_to_target(kept, target, n=config.max_rows or None, seed=config.seed)
    not_selected = kept.join(selected, on="qa_id", how="anti")
    removed.append(rejects(not_selected, "target_mix", pl.lit("over the target share of its difficulty level"), pl.lit(None)))

    lake.write("linkqa_dataset", selected, discipline)
    rejected = pl.concat(removed, how="vertical_relaxed").select(REJECT_COLUMNS)
    lake.write("linkqa_dataset_rejects", rejected, discipline)
    return MaterializeResult(
        metadata={
            "dagster/row_count": selected.height,
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
        }
    )


class ReleaseConfig(Config):
    name: str = Field(default="LinkQA synthetic QA", description="dataset name on the card")
    version: str = Field(default="0.1.0", description="dataset version on the card")
    shard_rows: int = Field(default=100_000, description="rows per shard file")


@asset(
    deps=[linkqa_dataset],
    group_name="release",
    kinds={"parquet", "json"},
    description="Exported Parquet + JSONL shards per discipline, dataset card, statistics and plots.",
)
def linkqa_release(context: AssetExecutionContext, config: ReleaseConfig, warehouse: WarehouseResource) -> MaterializeResult:
    lake = warehouse.lake()
    dataset = lake.scan("linkqa_dataset", schema=SYNTH_QA_SCHEMA)
    seeds = lake.scan("seed_sources")
    sources = seeds.group_by("adapter").agg(pl.col("source").n_unique().alias("files"), pl.len().alias("seeds")).collect()
    rejects_frame = lake.scan("linkqa_dataset_rejects", schema={c: pl.String() for c in REJECT_COLUMNS}).collect()
    by_stage = dict(rejects_frame.group_by("stage").len().iter_rows())
    out_dir = lake.home / "release"
    manifest = write_release(
        dataset,
        out_dir,
        shard_rows=config.shard_rows,
        card_info={
            "name": config.name,
            "version": config.version,
            "seed_sources": [
                {"name": f"{r['adapter']} ({r['files']} files, {r['seeds']} seeds)", "licence": "see the source's licence", "url": ""}
                for r in sources.iter_rows(named=True)
            ],
            "dedup": {"dropped": by_stage.get("dedup", 0)},
            "decontamination": {"removed": by_stage.get("decontamination", 0)},
            "selection": f"{by_stage.get('target_mix', 0)} items left out to meet the per-discipline difficulty targets.",
        },
    )
    metadata: dict[str, object] = {
        "dagster/row_count": manifest.rows,
        "release_dir": MetadataValue.path(str(out_dir)),
        "shards": len(manifest.shards),
        "dataset_card": MetadataValue.md(manifest.card_path.read_text(encoding="utf-8")[:20_000]),
    }
    for plot in manifest.plot_paths:
        metadata[f"plot_{plot.stem}"] = png_md(plot.read_bytes(), plot.stem)
    return MaterializeResult(metadata=metadata)
