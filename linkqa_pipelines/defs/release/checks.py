"""Checks on the release stage: nothing contaminated or duplicated gets through (blocking), empty
partitions and missed mixes show, and the release holds exactly the dataset's rows (schemas and
answers: `defs/contract_checks.py`)."""

import json

import polars as pl
import yaml
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetIn,
    asset_check,
)

from linkqa_pipelines.core.release import dedup_text_expr
from linkqa_pipelines.core.release.audit import contamination_audit
from linkqa_pipelines.defs.seeds.config import PipelineInputs
from linkqa_pipelines.lib.lake_resource import LakeResource
from linkqa_pipelines.lib.metadata import table_preview
from linkqa_pipelines.lib.partitions import discipline_partitions

MIX_TOLERANCE = 0.10  # absolute share per difficulty level


@asset_check(
    asset="screened_qa",
    additional_ins={"benchmark_items": AssetIn("benchmark_items")},
    blocking=True,
    description="no item contains a rare n-gram of a benchmark item, recomputed by core/release/audit.py "
    "(string n-grams and joins), a code path independent of the filter",
)
def screened_qa_no_benchmark_overlap(screened_qa: pl.DataFrame, benchmark_items: pl.DataFrame) -> AssetCheckResult:
    found = contamination_audit(screened_qa, benchmark_items)
    return AssetCheckResult(
        passed=found.is_empty(),
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "items_checked": screened_qa.height,
            "overlapping": found.height,
            "examples": table_preview(found, 10),
        },
    )


@asset_check(asset="screened_qa", blocking=True, description="no two items have the same normalised text")
def screened_qa_no_duplicates(screened_qa: pl.DataFrame) -> AssetCheckResult:
    dups = (
        screened_qa.group_by(dedup_text_expr("question", include_choices=True).alias("text"))
        .agg(pl.col("qa_id"), pl.len())
        .filter(pl.col("len") > 1)
    )
    return AssetCheckResult(
        passed=dups.is_empty(),
        severity=AssetCheckSeverity.ERROR,
        metadata={"duplicate_groups": dups.height, "examples": table_preview(dups, 10)},
    )


@asset_check(
    asset="linkqa_dataset",
    partitions_def=discipline_partitions,
    description="the partition has rows (a discipline with seeds whose dataset is empty is flagged, not green)",
)
def linkqa_dataset_not_empty(context: AssetCheckExecutionContext, linkqa_dataset: pl.DataFrame) -> AssetCheckResult:
    # a run may build several disciplines (a key range): each of them must have rows
    empty = sorted(set(context.op_execution_context.partition_keys) - set(linkqa_dataset["discipline"]))
    return AssetCheckResult(
        passed=not empty,
        severity=AssetCheckSeverity.WARN,
        metadata={"rows": linkqa_dataset.height, "empty_disciplines": ", ".join(empty) or "none"},
    )


@asset_check(
    asset="linkqa_dataset",
    partitions_def=discipline_partitions,
    description=f"achieved difficulty shares within {MIX_TOLERANCE:.0%} of the discipline's target",
)
def linkqa_dataset_mix_within_tolerance(inputs: PipelineInputs, linkqa_dataset: pl.DataFrame) -> AssetCheckResult:
    if linkqa_dataset.is_empty():
        return AssetCheckResult(passed=True, severity=AssetCheckSeverity.WARN, metadata={"rows": 0})
    targets = inputs.targets()
    shares: list[dict[str, object]] = []
    for (discipline,), part in linkqa_dataset.group_by("discipline", maintain_order=True):  # each discipline run
        achieved = dict(part.group_by("difficulty").len().iter_rows())
        shares += [
            {"discipline": discipline, "difficulty": lv, "target": share, "achieved": achieved.get(lv, 0) / part.height}
            for lv, share in sorted(targets.for_discipline(str(discipline)).items())
        ]
    table = pl.DataFrame(shares).with_columns(off=(pl.col("achieved") - pl.col("target")).abs())
    return AssetCheckResult(
        passed=bool((table["off"] <= MIX_TOLERANCE).all()),
        severity=AssetCheckSeverity.WARN,
        metadata={"shares": table_preview(table), "max_off": max(table["off"].to_list())},
    )


@asset_check(
    asset="linkqa_release",
    additional_ins={"linkqa_dataset": AssetIn("linkqa_dataset")},
    description="the release's rows (manifest and shards) equal the sum of the dataset's partitions",
)
def linkqa_release_rows_equal_dataset(lake: LakeResource, linkqa_dataset: pl.LazyFrame) -> AssetCheckResult:
    release = lake.home_path / "release"
    manifest = json.loads((release / "manifest.json").read_text(encoding="utf-8"))
    shards = sorted(release.glob("data/*/*.parquet"))  # none in an empty release
    parquet_rows = sum(pl.scan_parquet(f).select(pl.len()).collect().item() for f in shards)
    expected = linkqa_dataset.select(pl.len()).collect().item()
    return AssetCheckResult(
        passed=manifest["rows"] == parquet_rows == expected,
        severity=AssetCheckSeverity.ERROR,
        metadata={"dataset_rows": expected, "manifest_rows": manifest["rows"], "parquet_rows": parquet_rows},
    )


@asset_check(
    asset="linkqa_release",
    description="the dataset card's front matter (configs and dataset_info row counts, which HF datasets verifies "
    "on load) matches the Parquet shards",
)
def linkqa_release_card_matches_shards(lake: LakeResource) -> AssetCheckResult:
    release = lake.home_path / "release"
    card = (release / "README.md").read_text(encoding="utf-8")
    front = yaml.safe_load(card[4 : card.index("\n---\n", 4)]) if card.startswith("---\n") else {}
    claimed = {i["config_name"]: i["splits"][0]["num_examples"] for i in front.get("dataset_info", [])}
    globs = {c["config_name"]: c["data_files"][0]["path"] for c in front.get("configs", [])}
    counted = {
        name: sum(pl.scan_parquet(f).select(pl.len()).collect().item() for f in sorted(release.glob(glob)))
        for name, glob in globs.items()
    }
    wrong = {c: (claimed.get(c), n) for c, n in counted.items() if claimed.get(c) != n}
    return AssetCheckResult(
        passed=bool(front) and set(claimed) == set(counted) and not wrong,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "configs": len(counted),
            "mismatches (card, shards)": "; ".join(f"{c}: {v}" for c, v in wrong.items()) or "none",
            "license": str(front.get("license")),
        },
    )
