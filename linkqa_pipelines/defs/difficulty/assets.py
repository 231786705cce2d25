"""Difficulty scoring of verified QA (judge plus the solver check on the verification stage's
keyless answers), and harder variants where the discipline's target asks for them."""

from dataclasses import dataclass, replace
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
    rejected_variants,
    requests_vs_scores,
    seed_levels,
    solver_answers,
)
from linkqa_pipelines.core.difficulty.composition import level_expr
from linkqa_pipelines.core.llm import TaskOutcome
from linkqa_pipelines.core.synthesis import path_seeds
from linkqa_pipelines.core.verification import VOTES_SCHEMA, verify_items
from linkqa_pipelines.defs.difficulty.config import DifficultyConfig
from linkqa_pipelines.defs.seeds.config import PipelineInputs
from linkqa_pipelines.defs.verification.assets import asker
from linkqa_pipelines.defs.verification.config import VerifierResource
from linkqa_pipelines.lib.lake_resource import LakeResource
from linkqa_pipelines.lib.llm_resource import LLMResource
from linkqa_pipelines.lib.metadata import counts_table, table_out, table_preview
from linkqa_pipelines.lib.model_stage import ModelPlacement, failures_frame, model_stage_asset, task_metadata

STAGE = "difficulty_scored_qa"
VARIANT_VOTES = "difficulty_variant_votes"
REJECTED_VARIANTS = "difficulty_rejected_variants"


@dataclass(frozen=True)
class _Scored:
    """One discipline's output: the scored items and variants, the keyless votes on the variants,
    the variants not kept (with why), every task outcome (for the failure ledger) and the metadata."""

    items: pl.DataFrame
    variant_votes: pl.DataFrame
    rejected: pl.DataFrame
    outcomes: list[TaskOutcome]
    metadata: dict[str, Any]


def score_discipline(
    context: AssetExecutionContext,
    config: DifficultyConfig,
    inputs: PipelineInputs,
    llm: LLMResource,
    verify: VerifierResource,
    lake: LakeResource,
    qa: pl.DataFrame,
    votes: pl.DataFrame,
    seed_sources: pl.LazyFrame,
    kp_catalog: pl.DataFrame,
    kp_seed_links: pl.DataFrame,
) -> _Scored:
    """Judge every item (the solver check reads the verification stage's stored votes: no new
    call), then enhance where the target asks for it. A harder variant is new text, so it is voted
    on like any item (k keyless answers, no repair round: a variant that loses is rejected) and its
    votes feed its own solver check when it is re-scored."""
    outcomes: list[TaskOutcome] = []
    ask_llm, ask_verifier = asker(context, llm, lake, outcomes), asker(context, verify.llm, lake, outcomes)
    levels = seed_levels(path_seeds(seed_sources, qa))  # each seed's level once: judge requests and offline score

    def judge(task_stage: str, items: pl.DataFrame, solver: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, Any]]:
        """Score the rows by the judge combined with the solver check (offline: the calibrated
        estimator). Items that failed verification are not sent to the judge: they leave the
        dataset at screening, so the offline estimate (labelled in `difficulty_method`) is
        enough for them, as it is for rows the judge failed on."""
        nonlocal levels
        levels = _with_levels_of(items, levels, seed_sources)
        judged = items.filter(pl.col("verification") != "failed")
        outcome = ask_llm(replace(JUDGE_TASK, stage=task_stage), build_judge_requests(judged, levels))
        scored = judge_frame(items, outcome.payloads(), outcome.answers(), outcome.results, solver)
        return offline_difficulty(scored, levels, only_missing=True), task_metadata(outcome, llm.backend)

    scored, judge_meta = judge("difficulty_judge", qa, solver_answers(votes))
    target = inputs.targets().for_discipline(context.partition_key)
    candidates = scored.filter(pl.col("verification") != "failed") if config.enhance else scored.clear()
    plan = enhancement_plan(candidates, target)
    enhance_meta: dict[str, Any] = {}
    variants = scored.clear().with_columns(enhanced_from=pl.lit(None, pl.String))
    rejected = variants.with_columns(reject_reason=pl.lit(None, pl.String))
    variant_votes = pl.DataFrame(schema=VOTES_SCHEMA)
    if plan.height:
        requests = build_enhance_requests(
            scored.join(plan, on="qa_id", how="semi"),
            kp_catalog.select("kp_id", "name", "description"),
            seeds=seed_sources.collect(),
            seed_kps=kp_seed_links,
        )
        outcome = ask_llm(ENHANCE_TASK, requests)
        enhance_meta = task_metadata(outcome, llm.backend, prefix="enhance_")
        fresh = enhanced_frame(outcome.payloads(), outcome.answers(), outcome.results)
        if fresh.height:
            checked = verify_items(
                fresh, k=verify.k, rounds=0, ask_verifier=ask_verifier, ask_generator=ask_llm, kp_names={}, seeds={}
            )
            variant_votes = checked.votes
            enhance_meta |= task_metadata(checked.outcomes[0], verify.llm.backend, prefix="variant_verify_")
            lost = checked.items.filter(pl.col("verification") == "failed").with_columns(
                reject_reason=pl.format("failed verification: agreement {} with its key", pl.col("agreement").round(2))
            )
            rescored, _ = judge(
                "difficulty_judge_variants",
                checked.items.join(lost, on="qa_id", how="anti"),
                solver_answers(variant_votes),
            )
            variants, rejected = keep_harder(rescored, scored)
            rejected = pl.concat([lost, rejected], how="diagonal_relaxed")
    rejected = rejected_variants(rejected, scored)
    out = pl.concat([scored.with_columns(enhanced_from=pl.lit(None, pl.String)), variants], how="diagonal_relaxed")
    supply = mix_report(out, DifficultyTargets(default=target)).filter(pl.col("difficulty").is_not_null())
    metadata = {
        "originals": scored.height,
        "solver_checked": int(scored["solver_k"].is_not_null().sum()),
        "enhancement_planned": plan.height,
        "enhancement_planned_by_aim": counts_table(
            {str(k): v for k, v in plan.group_by("aim").len().sort("aim").iter_rows()}
        ),
        "harder_variants_kept": variants.height,
        "harder_variants_rejected": rejected.height,
        "rejected_variants": table_preview(
            rejected.select("enhanced_from", "qa_id", "original_difficulty", "difficulty", "reject_reason"), 10
        ),
        "supply_vs_target": table_preview(
            supply.select("difficulty", "target_share", "achieved_share", "items", "gap_points")
        ),
        "methods": counts_table(dict(out.group_by("difficulty_method").len().iter_rows())),
        # a model asked for levels at synthesis: how its items scored against what was asked
        **({"requested_vs_scored": table_preview(asked)} if (asked := requests_vs_scores(scored)).height else {}),
        # the seeds' levels bound the compositions' (an item is never easier than its hardest part):
        # why a level with no supply is short
        "seed_levels": table_preview(
            levels.group_by(level=level_expr(pl.col("seed_level")), method="seed_level_method")
            .len("seeds")
            .sort("level", "method")
        ),
        "preview": table_preview(
            out.select("qa_id", "difficulty", "difficulty_method", "enhanced_from", "question"), 5
        ),
        **judge_meta,
        **enhance_meta,
    }
    return _Scored(out, variant_votes, rejected, outcomes, metadata)


def _with_levels_of(items: pl.DataFrame, levels: pl.DataFrame, seed_sources: pl.LazyFrame) -> pl.DataFrame:
    """`levels` plus the `seed_levels` of the seeds `items` name that it lacks (a harder variant's
    extra seed), so no seed is estimated twice in one step."""
    missing = items.select(pl.col("seed_ids").explode().alias("seed_id")).drop_nulls().unique()
    missing = missing.join(levels, on="seed_id", how="anti")
    if missing.is_empty():
        return levels
    return pl.concat([levels, seed_levels(seed_sources.join(missing.lazy(), on="seed_id", how="semi").collect())])


def build_difficulty(placement: ModelPlacement) -> AssetsDefinition:
    @model_stage_asset(
        STAGE,
        placement=placement,
        ins={
            "qa_verification": AssetIn(),
            "qa_verification_votes": AssetIn(),
            "seed_sources": AssetIn(),
            "kp_catalog": AssetIn(),
            "kp_seed_links": AssetIn(),
        },
        group_name="difficulty",
        description="Difficulty per QA (judge on explicit dimensions combined with the solver check on the "
        "verification stage's keyless answers) and method; harder variants linked to their originals "
        "(enhanced_from), each voted on before it is kept.",
        extra_outs={
            VARIANT_VOTES: table_out(
                VARIANT_VOTES,
                placement.kinds,
                "Keyless answers to the harder variants (the qa_verification_votes columns): their verification "
                "and solver check.",
            ),
            REJECTED_VARIANTS: table_out(
                REJECTED_VARIANTS,
                placement.kinds,
                "Harder variants not kept, each linked to its original (enhanced_from) with the reason: it lost "
                "its own vote, or it did not score at least one level above its original.",
            ),
        },
    )
    def difficulty_scored_qa(
        context: AssetExecutionContext,
        config: DifficultyConfig,
        inputs: PipelineInputs,
        llm: LLMResource,
        verify: VerifierResource,
        lake: LakeResource,
        qa_verification: pl.DataFrame,
        qa_verification_votes: pl.DataFrame,
        seed_sources: pl.LazyFrame,
        kp_catalog: pl.DataFrame,
        kp_seed_links: pl.DataFrame,
    ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
        result = score_discipline(
            context,
            config,
            inputs,
            llm,
            verify,
            lake,
            qa_verification,
            qa_verification_votes,
            seed_sources,
            kp_catalog,
            kp_seed_links,
        )
        context.add_output_metadata(result.metadata, output_name=STAGE)
        return result.items, failures_frame(*result.outcomes), result.variant_votes, result.rejected

    return difficulty_scored_qa
