"""Knowledge-point extraction per discipline (a model-backed stage; offline: keyphrases) and the
KP catalog that merges every discipline's KPs."""

import polars as pl
from dagster import AssetExecutionContext, AssetIn, AssetOut, AssetsDefinition, multi_asset

from linkqa_pipelines.core.knowledge_points import build_catalog
from linkqa_pipelines.core.knowledge_points.task import STAGE, kp_links, kp_requests, kp_task, offline_kp_answers
from linkqa_pipelines.lib.lake_resource import LakeResource
from linkqa_pipelines.lib.llm_resource import LLMResource
from linkqa_pipelines.lib.metadata import counts_table, table_out, table_preview
from linkqa_pipelines.lib.model_stage import ModelPlacement, failures_frame, model_stage_asset, run_task, task_metadata
from linkqa_pipelines.lib.partitions import once_per_step
from linkqa_pipelines.taxonomy import load_taxonomy

KINDS = {"polars", "parquet"}


def build_kp_extraction(placement: ModelPlacement) -> AssetsDefinition:
    @model_stage_asset(
        STAGE,
        placement=placement,
        ins={"seed_qa": AssetIn(), "seed_sources": AssetIn()},
        group_name="knowledge_points",
        description="2-8 knowledge points per seed with description, grade level and difficulty "
        "(LLM, or offline keyphrases).",
    )
    def seed_knowledge_points(
        context: AssetExecutionContext,
        llm: LLMResource,
        lake: LakeResource,
        seed_qa: pl.DataFrame,
        seed_sources: pl.LazyFrame,
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        discipline = context.partition_key
        name = load_taxonomy().discipline(discipline).name
        corpus = seed_sources.collect()
        # offline answers of the whole corpus once for every discipline of the run: each extraction
        # tokenizes the whole corpus for its document frequencies
        shared = once_per_step(context, "kp_corpus_answers", lambda: offline_kp_answers(corpus, corpus))
        task = kp_task(seed_qa, corpus, discipline, shared)
        outcome = run_task(context, llm, lake, task, kp_requests(seed_qa, name))
        links = kp_links(outcome)
        per_seed = links.group_by("seed_id").len()
        context.add_output_metadata(
            {
                "seeds": seed_qa.height,
                "seeds_with_kps": per_seed.height,
                "seeds_failed": seed_qa.height - per_seed.height,
                "kps_per_seed_mean": float(per_seed.select(pl.col("len").mean()).item() or 0.0),
                "difficulty": counts_table(
                    {
                        str(k): v
                        for k, v in links.unique("seed_id").group_by("difficulty").len().sort("difficulty").iter_rows()
                    }
                ),
                "top_kps": table_preview(links.group_by("kp_name").len().sort("len", descending=True), 15),
                **task_metadata(outcome, llm.backend),
            },
            output_name=STAGE,
        )
        return links, failures_frame(outcome)

    return seed_knowledge_points


@multi_asset(
    outs={
        "kp_catalog": table_out(
            "kp_catalog",
            KINDS,
            "Canonical KPs merged across disciplines: kp_id, name, aliases, disciplines, popularity.",
        ),
        "kp_aliases": AssetOut(
            kinds=KINDS, description="Every surface name of a KP, the rule that merged it, and why its KP is a hub."
        ),
        "kp_links": table_out(
            "kp_links",
            KINDS,
            "Seed -> KP links carrying the canonical kp_id.",
        ),
    },
    group_name="knowledge_points",
)
def kp_catalog(
    context: AssetExecutionContext, seed_knowledge_points: pl.LazyFrame, seed_sources: pl.LazyFrame
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    # Only links of seeds still ingested: partitions of a discipline that no longer has seeds
    # must not leak stale KPs into the catalog.
    current = seed_sources.select("seed_id")
    links = seed_knowledge_points.join(current, on="seed_id", how="semi").collect()
    result = build_catalog(links)
    merged = result.aliases.filter(pl.col("rule") != "exact_key")
    per_discipline = result.catalog.explode("disciplines").group_by("disciplines").len().sort("len", descending=True)
    context.add_output_metadata(
        {
            "surface_names": result.aliases.height,
            "fuzzy_merges": merged.height,
            "links": result.links.height,
            "top_kps": table_preview(
                result.catalog.sort("popularity", descending=True).select("name", "popularity", "disciplines"), 15
            ),
            "merges_explained": table_preview(merged, 20),
            "hubs": table_preview(
                result.catalog.filter(pl.col("hub_reason").is_not_null()).select("name", "popularity", "hub_reason"), 20
            ),
            "kps_per_discipline": table_preview(per_discipline.rename({"disciplines": "discipline"})),
        },
        output_name="kp_catalog",
    )
    return result.catalog, result.aliases, result.links
