"""Difficulty scoring of synthesized QA, and harder variants where the discipline's target asks for them."""

from dataclasses import replace
from typing import Any

import polars as pl
from dagster import AssetExecutionContext, AssetIn, AssetsDefinition

from linkqa_pipelines.core.difficulty import (
    ENHANCE_TASK,
    HARD,
    JUDGE_TASK,
    build_enhance_requests,
    build_judge_requests,
    enhanced_frame,
    hard_shortfall,
    judge_frame,
    offline_difficulty,
)
from linkqa_pipelines.core.llm import TaskOutcome
from linkqa_pipelines.core.synthesis import path_seeds
from linkqa_pipelines.defs.difficulty.config import DifficultyConfig, difficulty_targets
from linkqa_pipelines.lib.lake_resource import LakeResource
from linkqa_pipelines.lib.llm_resource import LLMResource
from linkqa_pipelines.lib.metadata import counts_md, md_table
from linkqa_pipelines.lib.model_stage import ModelPlacement, failures_frame, model_stage_asset, run_task, task_metadata

STAGE = "difficulty_scored_qa"


def build_difficulty(placement: ModelPlacement) -> AssetsDefinition:
    @model_stage_asset(
        STAGE,
        placement=placement,
        ins={
            "synthesized_qa": AssetIn(),
            "seed_sources": AssetIn(),
            "kp_catalog": AssetIn(),
            "kp_seed_links": AssetIn(),
        },
        group_name="difficulty",
        description="Difficulty score and method per QA; harder variants linked to their originals (enhanced_from).",
    )
    def difficulty_scored_qa(
        context: AssetExecutionContext,
        config: DifficultyConfig,
        llm: LLMResource,
        lake: LakeResource,
        synthesized_qa: pl.DataFrame,
        seed_sources: pl.LazyFrame,
        kp_catalog: pl.DataFrame,
        kp_seed_links: pl.DataFrame,
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        outcomes: list[TaskOutcome] = []

        def judge(task_stage: str, qa: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, Any]]:
            """Score every row by the judge (offline: heuristic); rows the judge failed on get the
            heuristic score, labelled as such in `difficulty_method`."""
            seeds = path_seeds(seed_sources, qa)
            outcome = run_task(
                context, llm, lake, replace(JUDGE_TASK, stage=task_stage), build_judge_requests(qa, seeds)
            )
            outcomes.append(outcome)
            scored = judge_frame(qa, outcome.payloads(), outcome.answers(), outcome.results)
            return offline_difficulty(scored, seeds, only_missing=True), task_metadata(outcome, llm.backend)

        discipline = context.partition_key
        scored, judge_meta = judge("difficulty_judge", synthesized_qa)
        target = difficulty_targets(config.targets_path).for_discipline(discipline)
        needed = hard_shortfall(scored, target) if config.enhance else 0
        enhance_meta: dict[str, Any] = {}
        variants = scored.clear().with_columns(enhanced_from=pl.lit(None, pl.String))
        if needed:
            candidates = (
                scored.filter(pl.col("difficulty") < HARD)
                .sort("difficulty", "qa_id", descending=[True, False])
                .head(needed)
            )
            requests = build_enhance_requests(
                candidates,
                kp_catalog.select("kp_id", "name", "description"),
                seeds=seed_sources.collect(),
                seed_kps=kp_seed_links,
            )
            outcome = run_task(context, llm, lake, ENHANCE_TASK, requests)
            outcomes.append(outcome)
            enhance_meta = task_metadata(outcome, llm.backend, prefix="enhance_")
            fresh = enhanced_frame(outcome.payloads(), outcome.answers(), outcome.results)
            if fresh.height:
                variants, _ = judge("difficulty_judge_variants", fresh)
        out = pl.concat([scored.with_columns(enhanced_from=pl.lit(None, pl.String)), variants], how="diagonal_relaxed")
        context.add_output_metadata(
            {
                "originals": scored.height,
                "harder_variants": variants.height,
                "hard_items_short_before_enhancing": needed,
                "difficulty": counts_md(
                    {str(k): v for k, v in out.group_by("difficulty").len().sort("difficulty").iter_rows()}
                ),
                "methods": counts_md(dict(out.group_by("difficulty_method").len().iter_rows())),
                "target": md_table(pl.DataFrame({"difficulty": list(target), "share": list(target.values())})),
                "preview": md_table(
                    out.select("qa_id", "difficulty", "difficulty_method", "enhanced_from", "question"), 5
                ),
                **judge_meta,
                **enhance_meta,
            },
            output_name=STAGE,
        )
        return out, failures_frame(*outcomes)

    return difficulty_scored_qa
