"""LinkSyn synthesis: new QA fused from the seeds linked along each walk path (model-backed), k per
path, with the model's reasoning kept apart in `synthesis_reasoning`."""

import polars as pl
from dagster import AssetExecutionContext, AssetIn, AssetsDefinition

from linkqa_pipelines.core.contracts import SYNTH_QA_SCHEMA, empty_frame
from linkqa_pipelines.core.difficulty import level_aware_paths, needs_easier, requested_levels, seed_levels
from linkqa_pipelines.core.synthesis import (
    REASONING_SCHEMA,
    SYNTHESIS_TASK,
    build_synthesis_requests,
    option_only_accuracy,
    path_seeds,
    synthesize,
)
from linkqa_pipelines.defs.seeds.config import PipelineInputs
from linkqa_pipelines.defs.synthesis.config import SynthesisConfig
from linkqa_pipelines.lib.lake_resource import LakeResource
from linkqa_pipelines.lib.llm_resource import LLMResource
from linkqa_pipelines.lib.metadata import counts_table, table_out, table_preview
from linkqa_pipelines.lib.model_stage import ModelPlacement, failures_frame, model_stage_asset, run_task, task_metadata

STAGE = SYNTHESIS_TASK.stage
REASONING = "synthesis_reasoning"


def build_synthesis(placement: ModelPlacement) -> AssetsDefinition:
    @model_stage_asset(
        STAGE,
        placement=placement,
        ins={"walk_paths": AssetIn(), "kp_catalog": AssetIn(), "seed_sources": AssetIn(), "kp_seed_links": AssetIn()},
        group_name="synthesis",
        description="New QA per walk path (qa_per_path each) with provenance (path, fused seeds and KPs, "
        "backend, model, tokens).",
        extra_outs={
            REASONING: table_out(
                REASONING,
                {placement.backend, "parquet"},
                "The model's reasoning behind each synthesized QA (reasoning_content or <think>), by qa_id; "
                "never part of an item. Empty offline.",
            )
        },
    )
    def synthesized_qa(
        context: AssetExecutionContext,
        config: SynthesisConfig,
        inputs: PipelineInputs,
        llm: LLMResource,
        lake: LakeResource,
        walk_paths: pl.DataFrame,
        kp_catalog: pl.DataFrame,
        seed_sources: pl.LazyFrame,
        kp_seed_links: pl.LazyFrame,
    ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
        if walk_paths.is_empty():
            context.add_output_metadata({"note": "no walk paths for this discipline"}, output_name=STAGE)
            return empty_frame(SYNTH_QA_SCHEMA), failures_frame(), empty_frame(REASONING_SCHEMA)
        per_path = config.items_per_path(llm.backend)
        if config.qa_per_path not in (None, per_path):
            context.log.warning(
                f"{STAGE}: qa_per_path={config.qa_per_path} ignored by the offline backend, whose template "
                f"composition makes {per_path} item per path"
            )
        seeds = path_seeds(seed_sources, walk_paths)
        paths, supply, asked = walk_paths, None, None
        if config.level_aware:
            target = inputs.targets().for_discipline(context.partition_key)
            levels = seed_levels(seeds)
            links = None
            if needs_easier(walk_paths, levels, target, max_seeds=config.max_seeds):
                # the seeds linked to the paths' KPs in this discipline, beyond the walks' picks
                path_kps = walk_paths.select(pl.col("kp_ids").explode().alias("kp_id")).unique().lazy()
                links = (
                    kp_seed_links.filter(pl.col("discipline") == context.partition_key)
                    .join(path_kps, on="kp_id", how="semi")
                    .select("seed_id", "kp_id")
                    .collect()
                )
                wanted = links.select("seed_id").unique().join(seeds, on="seed_id", how="anti")
                linked = seed_sources.join(wanted.lazy(), on="seed_id", how="semi").collect()
                seeds = pl.concat([seeds, linked])
                levels = pl.concat([levels, seed_levels(linked)])
            levels = levels.join(seeds.select("seed_id", "language"), on="seed_id")
            paths, supply = level_aware_paths(walk_paths, levels, target, max_seeds=config.max_seeds, links=links)
            if llm.backend != "offline":  # a model can write to a level; a template composition cannot
                asked = requested_levels(paths, levels, target, per_path=per_path, max_seeds=config.max_seeds)
        requests = build_synthesis_requests(
            paths,
            seeds,
            kp_catalog.select("kp_id", "name", "description"),
            qa_type=config.qa_type,
            n_choices=config.n_choices,
            max_seeds=config.max_seeds,
            qa_per_path=per_path,
            levels=None if asked is None else dict(asked.iter_rows()),
        )
        made = synthesize(lambda batch: run_task(context, llm, lake, SYNTHESIS_TASK, batch), requests)
        qa = made.qa
        offline_mc = qa.filter(pl.col("backend") == "offline", pl.col("qa_type") == "multiple_choice")
        gaming = option_only_accuracy(offline_mc.select("language", "choices", "answer").to_dicts())
        first, *replacements = made.outcomes
        context.add_output_metadata(
            {
                # how a reader without knowledge scores on the offline compositions, per option-only strategy
                **({"offline_option_only_accuracy": {k: round(v, 3) for k, v in gaming.items()}} if gaming else {}),
                "paths": walk_paths.height,
                **(
                    {
                        # paths per predicted level composing all their seeds, and after narrowing
                        "level_aware_supply": table_preview(supply),
                        "paths_composing_easier_seeds": int((paths["seed_ids"] != walk_paths["seed_ids"]).sum()),
                    }
                    if supply is not None
                    else {}
                ),
                "qa_per_path": per_path,
                **(
                    {  # items asked for per level: the target split over all items of the partition
                        "requested_levels": table_preview(
                            asked.select(requested_level=pl.col("requested_levels").explode())
                            .group_by("requested_level")
                            .len("items")
                            .sort("requested_level")
                        )
                    }
                    if asked is not None
                    else {}
                ),
                "items_replaced": made.replaced,  # items rejected alone in a reply and asked for again
                "reasoning_rows": made.reasoning.height,
                "qa_types": counts_table(dict(qa.group_by("qa_type").len().iter_rows())),
                "languages": counts_table(dict(qa.group_by("language").len().iter_rows())),
                "preview": table_preview(qa.select("qa_id", "question", "answer", "backend", "model"), 5),
                **task_metadata(first, llm.backend),
                **{k: v for o in replacements for k, v in task_metadata(o, llm.backend, "replace_").items()},
            },
            output_name=STAGE,
        )
        return qa, failures_frame(*made.outcomes), made.reasoning

    return synthesized_qa
