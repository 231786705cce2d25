"""LinkSyn synthesis: new QA fused from the seeds linked along each walk path (model-backed)."""

import polars as pl
from dagster import AssetExecutionContext, AssetIn, AssetsDefinition

from linkqa_pipelines.core.contracts import SYNTH_QA_SCHEMA, empty_frame
from linkqa_pipelines.core.synthesis import (
    SYNTHESIS_TASK,
    build_synthesis_requests,
    option_only_accuracy,
    path_seeds,
    synthesized_frame,
)
from linkqa_pipelines.defs.synthesis.config import SynthesisConfig
from linkqa_pipelines.lib.lake_resource import LakeResource
from linkqa_pipelines.lib.llm_resource import LLMResource
from linkqa_pipelines.lib.metadata import counts_md, md_table
from linkqa_pipelines.lib.model_stage import ModelPlacement, failures_frame, model_stage_asset, run_task, task_metadata

STAGE = SYNTHESIS_TASK.stage


def build_synthesis(placement: ModelPlacement) -> AssetsDefinition:
    @model_stage_asset(
        STAGE,
        placement=placement,
        ins={"walk_paths": AssetIn(), "kp_catalog": AssetIn(), "seed_sources": AssetIn()},
        group_name="synthesis",
        description="New QA per walk path with provenance (path, seeds, KPs, backend, model, tokens).",
    )
    def synthesized_qa(
        context: AssetExecutionContext,
        config: SynthesisConfig,
        llm: LLMResource,
        lake: LakeResource,
        walk_paths: pl.DataFrame,
        kp_catalog: pl.DataFrame,
        seed_sources: pl.LazyFrame,
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        if walk_paths.is_empty():
            context.add_output_metadata({"note": "no walk paths for this discipline"}, output_name=STAGE)
            return empty_frame(SYNTH_QA_SCHEMA), failures_frame()
        requests = build_synthesis_requests(
            walk_paths,
            path_seeds(seed_sources, walk_paths),
            kp_catalog.select("kp_id", "name", "description"),
            qa_type=config.qa_type,
            n_choices=config.n_choices,
            max_seeds=config.max_seeds,
        )
        outcome = run_task(context, llm, lake, SYNTHESIS_TASK, requests)
        qa = synthesized_frame(outcome.payloads(), outcome.answers(), outcome.results)
        offline_mc = qa.filter(pl.col("backend") == "offline", pl.col("qa_type") == "multiple_choice")
        gaming = option_only_accuracy(offline_mc.select("language", "choices", "answer").to_dicts())
        context.add_output_metadata(
            {
                # how a reader without knowledge scores on the offline compositions, per option-only strategy
                **({"offline_option_only_accuracy": {k: round(v, 3) for k, v in gaming.items()}} if gaming else {}),
                "paths": walk_paths.height,
                "qa_types": counts_md(dict(qa.group_by("qa_type").len().iter_rows())),
                "languages": counts_md(dict(qa.group_by("language").len().iter_rows())),
                "preview": md_table(qa.select("qa_id", "question", "answer", "backend", "model"), 5),
                **task_metadata(outcome, llm.backend),
            },
            output_name=STAGE,
        )
        return qa, failures_frame(outcome)

    return synthesized_qa
