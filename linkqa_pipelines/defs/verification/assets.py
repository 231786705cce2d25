"""Verification of synthesized QA: k keyless answers per item voted against its key, items that
lose refined or regenerated for up to N rounds, then failed (logic: core/verification)."""

from collections.abc import Sequence
from typing import Any

import polars as pl
from dagster import AssetExecutionContext, AssetIn, AssetsDefinition

from linkqa_pipelines.core.llm import ChatRequest, ModelTask, TaskOutcome
from linkqa_pipelines.core.synthesis import path_seeds
from linkqa_pipelines.core.verification import (
    REFINE_TASK,
    REGENERATE_TASK,
    VERIFY_TASK,
    Ask,
    VerificationRun,
    combine_outcomes,
    verification_summary,
    verify_items,
)
from linkqa_pipelines.defs.verification.config import VerifierResource
from linkqa_pipelines.lib.lake_resource import LakeResource
from linkqa_pipelines.lib.llm_resource import LLMResource
from linkqa_pipelines.lib.metadata import counts_table, table_out, table_preview
from linkqa_pipelines.lib.model_stage import ModelPlacement, failures_frame, model_stage_asset, run_task, task_metadata

STAGE = VERIFY_TASK.stage
VOTES = "qa_verification_votes"
_PREFIX = {VERIFY_TASK.stage: "", REFINE_TASK.stage: "refine_", REGENERATE_TASK.stage: "regenerate_"}


def asker(
    context: AssetExecutionContext, resource: LLMResource, lake: LakeResource, record: list[TaskOutcome] | None = None
) -> Ask:
    """`run_task` bound to one LLM resource, in the shape `verify_items` calls; each outcome is
    also appended to `record` when given (a stage's failure ledger)."""

    def call(task: ModelTask, requests: Sequence[ChatRequest]) -> TaskOutcome:
        outcome = run_task(context, resource, lake, task, requests)
        if record is not None:
            record.append(outcome)
        return outcome

    return call


def verify_discipline(
    context: AssetExecutionContext,
    llm: LLMResource,
    verify: VerifierResource,
    lake: LakeResource,
    qa: pl.DataFrame,
    kp_catalog: pl.DataFrame,
    seed_sources: pl.LazyFrame,
) -> tuple[VerificationRun, dict[str, Any]]:
    """One discipline's verification and its metadata: the verifier votes and refines, the
    generation model (`llm`) regenerates."""
    seeds = path_seeds(seed_sources, qa)
    run = verify_items(
        qa,
        k=verify.k,
        rounds=verify.rounds,
        ask_verifier=asker(context, verify.llm, lake),
        ask_generator=asker(context, llm, lake),
        kp_names=dict(kp_catalog.select("kp_id", "name").iter_rows()),
        seeds={s["seed_id"]: s for s in seeds.select("seed_id", "question", "choices").iter_rows(named=True)},
    )
    summary = verification_summary(run.items)
    metadata: dict[str, Any] = {
        "items": run.items.height,
        "k": verify.k,
        "max_rounds": verify.rounds,
        "verifier": verify.llm.describe(),
        "verification": counts_table(summary.pop("verification"), key="verification", value="items"),
        **summary,
        "preview": table_preview(
            run.items.select("qa_id", "verification", "agreement", "verify_rounds", "question"), 5
        ),
    }
    for stage, outcome in combine_outcomes(run.outcomes).items():
        backend = llm.backend if stage == REGENERATE_TASK.stage else verify.llm.backend
        metadata |= task_metadata(outcome, backend, prefix=_PREFIX[stage])
    return run, metadata


def build_verification(placement: ModelPlacement) -> AssetsDefinition:
    @model_stage_asset(
        STAGE,
        placement=placement,
        ins={"synthesized_qa": AssetIn(), "kp_catalog": AssetIn(), "seed_sources": AssetIn()},
        group_name="verification",
        description="Synthesized QA after verification: status verified / refined / failed / unverified, agreement "
        "of the keyless answers with the key, repair rounds; regenerated items name the item they replace.",
        extra_outs={
            VOTES: table_out(
                VOTES,
                placement.kinds,
                "Every keyless answer: item version, round, sample, answer, whether it names that round's key, "
                "model and rationale. The difficulty stage's solver check reads these.",
            )
        },
    )
    def qa_verification(
        context: AssetExecutionContext,
        llm: LLMResource,
        verify: VerifierResource,
        lake: LakeResource,
        synthesized_qa: pl.DataFrame,
        kp_catalog: pl.DataFrame,
        seed_sources: pl.LazyFrame,
    ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
        run, metadata = verify_discipline(context, llm, verify, lake, synthesized_qa, kp_catalog, seed_sources)
        context.add_output_metadata(metadata, output_name=STAGE)
        return run.items, failures_frame(*run.outcomes), run.votes

    return qa_verification
