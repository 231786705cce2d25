"""Difficulty scoring of synthesized QA, and harder variants where the discipline's target asks for them."""

from importlib import resources

import polars as pl
from dagster import AssetExecutionContext, Config, MaterializeResult, asset
from pydantic import Field

from linkqa_pipelines.assets.llm_stage import model_backed_asset, payload_offline, payload_validator, run_llm_stage, to_requests
from linkqa_pipelines.assets.synthesis import path_seeds, synthesized_qa
from linkqa_pipelines.core.contracts import SYNTH_QA_SCHEMA
from linkqa_pipelines.core.difficulty.difficulty import (
    OFFLINE_DIFFICULTY_MODEL,
    OFFLINE_ENHANCE_MODEL,
    DifficultyTargets,
    build_enhance_requests,
    build_judge_requests,
    enhanced_frame,
    judge_frame,
    load_targets,
    offline_difficulty,
    offline_enhance,
    offline_judge,
    validate_enhance,
    validate_judge,
)
from linkqa_pipelines.core.lake import Lake
from linkqa_pipelines.metadata import counts_md, md_table
from linkqa_pipelines.resources.llm import LLMResource
from linkqa_pipelines.resources.warehouse import WarehouseResource

HARD = 4  # levels >= HARD count as "hard" when deciding how many variants to make


class DifficultyConfig(Config):
    targets_path: str = Field(default="", description="YAML of per-discipline difficulty mixes; empty = packaged")
    enhance: bool = Field(default=True, description="make harder variants when the target wants more hard items")


def difficulty_targets(path: str) -> DifficultyTargets:
    return load_targets(path or str(resources.files("linkqa_pipelines") / "data" / "difficulty_targets.yaml"))


def hard_shortfall(scored: pl.DataFrame, target: dict[int, float]) -> int:
    """How many more items at levels >= HARD the target mix needs, given the scored set."""
    want = sum(share for level, share in target.items() if level >= HARD) * scored.height
    have = scored.filter(pl.col("difficulty") >= HARD).height
    return max(0, round(want - have))


def judge(context: AssetExecutionContext, llm: LLMResource, lake: Lake, stage: str, qa: pl.DataFrame, seeds: pl.DataFrame) -> tuple[pl.DataFrame, dict]:
    """Score every row by the judge (offline: heuristic); rows the judge failed on get the
    heuristic score, labelled as such in `difficulty_method`."""
    pieces = build_judge_requests(qa, seeds)
    outcome = run_llm_stage(
        context, llm, lake, stage, to_requests(pieces),
        offline=payload_offline(offline_judge), offline_name=OFFLINE_DIFFICULTY_MODEL,
        validate=payload_validator(validate_judge),
    )
    scored = judge_frame(qa, [p["payload"] for p in pieces], outcome.answers(), outcome.results)
    return offline_difficulty(scored, seeds, only_missing=True), outcome.metadata


@asset(
    **model_backed_asset(),
    deps=[synthesized_qa],
    group_name="synthesis",
    description="Difficulty score and method per QA; harder variants linked to their originals (enhanced_from).",
)
def difficulty_scored_qa(
    context: AssetExecutionContext, config: DifficultyConfig, warehouse: WarehouseResource, llm: LLMResource
) -> MaterializeResult:
    lake = warehouse.lake()
    discipline = context.partition_key
    qa = lake.read("synthesized_qa", [discipline], schema=SYNTH_QA_SCHEMA)
    seeds = path_seeds(warehouse, qa)
    scored, judge_meta = judge(context, llm, lake, "difficulty_judge", qa, seeds)
    target = difficulty_targets(config.targets_path).for_discipline(discipline)

    needed = hard_shortfall(scored, target) if config.enhance else 0
    enhance_meta: dict = {}
    variants = scored.clear().with_columns(enhanced_from=pl.lit(None, pl.String))
    if needed:
        candidates = scored.filter(pl.col("difficulty") < HARD).sort("difficulty", "qa_id", descending=[True, False]).head(needed)
        kps = lake.read("kp_catalog").select("kp_id", "name", "description")
        pieces = build_enhance_requests(candidates, kps, seeds=lake.read("seed_sources"), seed_kps=lake.read("kp_seed_links"))
        outcome = run_llm_stage(
            context, llm, lake, "difficulty_enhance", to_requests(pieces),
            offline=payload_offline(offline_enhance), offline_name=OFFLINE_ENHANCE_MODEL,
            validate=payload_validator(validate_enhance),
        )
        enhance_meta = {f"enhance_{k}": v for k, v in outcome.metadata.items()}
        fresh = enhanced_frame([p["payload"] for p in pieces], outcome.answers(), outcome.results)
        if fresh.height:
            variants, _ = judge(context, llm, lake, "difficulty_judge_variants", fresh, path_seeds(warehouse, fresh))
    out = pl.concat(
        [scored.with_columns(enhanced_from=pl.lit(None, pl.String)), variants], how="diagonal_relaxed"
    )
    lake.write("difficulty_scored_qa", out, discipline)
    return MaterializeResult(
        metadata={
            "dagster/row_count": out.height,
            "originals": scored.height,
            "harder_variants": variants.height,
            "hard_items_short_before_enhancing": needed,
            "difficulty": counts_md({str(k): v for k, v in out.group_by("difficulty").len().sort("difficulty").iter_rows()}),
            "methods": counts_md(dict(out.group_by("difficulty_method").len().iter_rows())),
            "target": md_table(pl.DataFrame({"difficulty": list(target), "share": list(target.values())})),
            "preview": md_table(out.select("qa_id", "difficulty", "difficulty_method", "enhanced_from", "question"), 5),
            **judge_meta,
            **enhance_meta,
        }
    )
