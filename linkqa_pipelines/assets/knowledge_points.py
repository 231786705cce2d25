"""Knowledge-point extraction per discipline, through the LLM layer (offline: keyphrases)."""

from collections.abc import Sequence

import polars as pl
from dagster import AssetExecutionContext, MaterializeResult, asset

from linkqa_pipelines.assets.llm_stage import model_backed_asset, run_llm_stage
from linkqa_pipelines.core.contracts import KP_LINK_SCHEMA, SEED_SCHEMA, empty_frame
from linkqa_pipelines.core.knowledge_points.keyphrases import OFFLINE_MODEL, extract_keyphrases
from linkqa_pipelines.core.knowledge_points.prompts import KP_EXTRACTION_SCHEMA, build_kp_messages, kp_links_from_answers, validate_kp_answer
from linkqa_pipelines.core.llm import ChatRequest
from linkqa_pipelines.metadata import counts_md, md_table
from linkqa_pipelines.resources.llm import LLMResource
from linkqa_pipelines.resources.warehouse import WarehouseResource
from linkqa_pipelines.taxonomy import load_taxonomy


def offline_kp_answers(seeds: pl.DataFrame, corpus: pl.DataFrame) -> dict[str, dict]:
    """The keyphrase extractor's output in the LLM answer schema, keyed by seed_id."""
    links = extract_keyphrases(seeds, corpus=corpus)
    grouped = (
        links.sort("seed_id", "kp_rank")
        .group_by("seed_id", maintain_order=True)
        .agg(
            knowledge_points=pl.struct(name="kp_name", description="kp_description"),
            discipline=pl.col("discipline").first(),
            grade_level=pl.col("grade_level").first(),
            difficulty=pl.col("difficulty").first().cast(pl.Int64),
        )
    )
    return {row.pop("seed_id"): row for row in grouped.iter_rows(named=True)}


@asset(
    **model_backed_asset(),
    deps=["seed_qa"],
    group_name="knowledge_points",
    description="2-8 knowledge points per seed with description, grade level and difficulty (LLM or offline keyphrases).",
)
def seed_knowledge_points(
    context: AssetExecutionContext, warehouse: WarehouseResource, llm: LLMResource
) -> MaterializeResult:
    lake = warehouse.lake()
    discipline = context.partition_key
    seeds = lake.read("seed_qa", [discipline], schema=SEED_SCHEMA)
    name = load_taxonomy().discipline(discipline).name
    rows = seeds.to_dicts()
    requests = [
        ChatRequest(
            key=row["seed_id"],
            messages=tuple(build_kp_messages(row, name)),
            schema=KP_EXTRACTION_SCHEMA,
            schema_name="knowledge_points",
            payload={"seed_id": row["seed_id"]},
        )
        for row in rows
    ]
    by_id = {row["seed_id"]: row for row in rows}

    def offline(batch: Sequence[ChatRequest]) -> list[dict]:
        ids = [r.payload["seed_id"] for r in batch]
        wanted = seeds.filter(pl.col("seed_id").is_in(ids))
        answers = offline_kp_answers(wanted, corpus=lake.read("seed_sources"))
        empty = {"knowledge_points": [], "discipline": discipline, "grade_level": None, "difficulty": None}
        return [answers.get(i, empty) for i in ids]

    def validate(request: ChatRequest, answer: dict) -> str | None:
        seed = by_id[request.key]
        return validate_kp_answer(seed["language"], discipline, answer, question=seed["question"])

    outcome = run_llm_stage(
        context, llm, lake, "seed_knowledge_points", requests,
        offline=offline, offline_name=OFFLINE_MODEL, validate=validate,
    )
    by_model: dict[tuple[str, str], list] = {}
    for r in outcome.ok:
        by_model.setdefault((r.backend, r.model), []).append(r)
    parts = [
        kp_links_from_answers([by_id[r.key] for r in rs], [r.parsed for r in rs], backend, model)
        for (backend, model), rs in by_model.items()
    ]
    links = pl.concat(parts, how="vertical_relaxed") if parts else empty_frame(KP_LINK_SCHEMA)
    lake.write("seed_knowledge_points", links, discipline)
    per_seed = links.group_by("seed_id").len()
    return MaterializeResult(
        metadata={
            "dagster/row_count": links.height,
            "seeds": seeds.height,
            "seeds_with_kps": per_seed.height,
            "seeds_failed": seeds.height - per_seed.height,
            "kps_per_seed_mean": float(per_seed["len"].mean() or 0.0),
            "difficulty": counts_md(
                {str(k): v for k, v in links.unique("seed_id").group_by("difficulty").len().sort("difficulty").iter_rows()}
            ),
            "top_kps": md_table(links.group_by("kp_name").len().sort("len", descending=True), 15),
            **outcome.metadata,
        }
    )
