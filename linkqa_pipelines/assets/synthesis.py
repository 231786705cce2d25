"""LinkSyn synthesis: one new QA per walk path, fused from the seeds linked along it."""

from typing import Literal

import polars as pl
from dagster import AssetExecutionContext, Config, MaterializeResult, asset
from pydantic import Field

from linkqa_pipelines.assets.llm_stage import model_backed_asset, payload_offline, payload_validator, run_llm_stage, to_requests
from linkqa_pipelines.assets.walks import walk_paths
from linkqa_pipelines.core.contracts import PATH_SCHEMA, SYNTH_QA_SCHEMA, empty_frame
from linkqa_pipelines.core.synthesis.synthesis import (
    OFFLINE_SYNTH_MODEL,
    build_synthesis_requests,
    offline_synthesis,
    synthesized_frame,
    validate_synthesis,
)
from linkqa_pipelines.metadata import counts_md, md_table
from linkqa_pipelines.resources.llm import LLMResource
from linkqa_pipelines.resources.warehouse import WarehouseResource


class SynthesisConfig(Config):
    qa_type: Literal["auto", "multiple_choice", "free_form"] = Field(
        default="auto", description="auto: multiple choice when most of a path's seeds are"
    )
    n_choices: int = Field(default=4, description="options per multiple-choice question")
    max_seeds: int = Field(default=5, description="seeds per prompt")


def path_seeds(warehouse: WarehouseResource, paths: pl.DataFrame) -> pl.DataFrame:
    """Only the seeds the paths name, read columnar from every discipline."""
    wanted = paths.select(pl.col("seed_ids").explode().alias("seed_id")).unique()
    return warehouse.lake().scan("seed_sources").join(wanted.lazy(), on="seed_id", how="semi").collect()


@asset(
    **model_backed_asset(),
    deps=[walk_paths],
    group_name="synthesis",
    description="New QA per walk path with provenance (path, seeds, KPs, backend, model, tokens).",
)
def synthesized_qa(
    context: AssetExecutionContext, config: SynthesisConfig, warehouse: WarehouseResource, llm: LLMResource
) -> MaterializeResult:
    lake = warehouse.lake()
    discipline = context.partition_key
    paths = lake.read("walk_paths", [discipline], schema=PATH_SCHEMA)
    if paths.is_empty():
        lake.write("synthesized_qa", empty_frame(SYNTH_QA_SCHEMA), discipline)
        return MaterializeResult(metadata={"dagster/row_count": 0, "note": "no walk paths for this discipline"})
    kps = lake.read("kp_catalog").select("kp_id", "name", "description")
    pieces = build_synthesis_requests(
        paths, path_seeds(warehouse, paths), kps,
        qa_type=config.qa_type, n_choices=config.n_choices, max_seeds=config.max_seeds,
    )
    outcome = run_llm_stage(
        context, llm, lake, "synthesized_qa", to_requests(pieces),
        offline=payload_offline(offline_synthesis),
        offline_name=OFFLINE_SYNTH_MODEL,
        validate=payload_validator(validate_synthesis),
    )
    qa = synthesized_frame([p["payload"] for p in pieces], outcome.answers(), outcome.results)
    lake.write("synthesized_qa", qa, discipline)
    return MaterializeResult(
        metadata={
            "dagster/row_count": qa.height,
            "paths": paths.height,
            "qa_types": counts_md(dict(qa.group_by("qa_type").len().iter_rows())),
            "languages": counts_md(dict(qa.group_by("language").len().iter_rows())),
            "preview": md_table(qa.select("qa_id", "question", "answer", "backend", "model"), 5),
            **outcome.metadata,
        }
    )
