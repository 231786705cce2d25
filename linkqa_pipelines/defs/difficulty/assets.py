"""Difficulty scoring of synthesized QA, and harder variants where the discipline's target asks for them."""

from dataclasses import replace
from typing import Any

import polars as pl
from dagster import AssetExecutionContext, AssetIn, AssetsDefinition

from linkqa_pipelines.core.difficulty import (
    ENHANCE_TASK,
    JUDGE_TASK,
    DifficultyTargets,
    build_enhance_requests,
    build_judge_requests,
    enhanced_frame,
    enhancement_plan,
    judge_frame,
    keep_harder,
    mix_report,
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
            """Score every row by the judge (offline: the calibrated estimator); rows the judge failed
            on get the offline score, labelled as such in `difficulty_method`. The solver check joins
            here once the verification stage (issue 11) provides its answers."""
            seeds = path_seeds(seed_sources, qa)
            outcome = run_task(
                context, llm, lake, replace(JUDGE_TASK, stage=task_stage), build_judge_requests(qa, seeds)
            )
            outcomes.append(outcome)
            scored = judge_frame(qa, outcome.payloads(), outcome.answers(), outcome.results)
            return offline_difficulty(scored, seeds, only_missing=True), task_metadata(outcome, llm.backend)

        discipline = context.partition_key
        scored, judge_meta = judge("difficulty_judge", synthesized_qa)
        targets = difficulty_targets(config.targets_path)
        target = targets.for_discipline(discipline)
        plan = enhancement_plan(scored, target) if config.enhance else enhancement_plan(scored.clear(), target)
        enhance_meta: dict[str, Any] = {}
        variants = scored.clear().with_columns(enhanced_from=pl.lit(None, pl.String))
        rejected = variants.with_columns(reject_reason=pl.lit(None, pl.String))
        if plan.height:
            requests = build_enhance_requests(
                scored.join(plan, on="qa_id", how="semi"),
                kp_catalog.select("kp_id", "name", "description"),
                seeds=seed_sources.collect(),
                seed_kps=kp_seed_links,
            )
            outcome = run_task(context, llm, lake, ENHANCE_TASK, requests)
            outcomes.append(outcome)
            enhance_meta = task_metadata(outcome, llm.backend, prefix="enhance_")
            fresh = enhanced_frame(outcome.payloads(), outcome.answers(), outcome.results)
            if fresh.height:
                rescored, _ = judge("difficulty_judge_variants", fresh)
                variants, rejected = keep_harder(rescored, scored)
        out = pl.concat([scored.with_columns(enhanced_from=pl.lit(None, pl.String)), variants], how="diagonal_relaxed")
        supply = mix_report(out, DifficultyTargets(default=target)).filter(pl.col("difficulty").is_not_null())
        context.add_output_metadata(
            {
                "originals": scored.height,
                "enhancement_planned": plan.height,
                "enhancement_planned_by_aim": counts_md(
                    {str(k): v for k, v in plan.group_by("aim").len().sort("aim").iter_rows()}
                ),
                "harder_variants_kept": variants.height,
                "harder_variants_rejected": rejected.height,
                "rejected_variants": md_table(rejected.select("enhanced_from", "qa_id", "reject_reason"), 10),
                "supply_vs_target": md_table(
                    supply.select("difficulty", "target_share", "achieved_share", "items", "gap_points")
                ),
                "methods": counts_md(dict(out.group_by("difficulty_method").len().iter_rows())),
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
