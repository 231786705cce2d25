"""Jobs `linkqa run` executes stage by stage (the automation that runs without it is in
`defs/automation`: a seed sensor and a nightly refresh that launch backfills of the whole graph)."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job

ingest_job = define_asset_job("ingest_job", AssetSelection.assets("seed_sources", "seed_quarantine", "seed_accounting"))
discipline_seed_job = define_asset_job(
    "discipline_seed_job",
    AssetSelection.assets("seed_qa", "seed_knowledge_points", "seed_knowledge_points_llm_failures"),
)
graph_job = define_asset_job(
    "graph_job", AssetSelection.assets("kp_catalog", "kp_aliases", "kp_links", "kp_graph", "kp_seed_links")
)
discipline_synthesis_job = define_asset_job(
    "discipline_synthesis_job",
    AssetSelection.assets(
        "walk_paths",
        "walk_paths_unseeded",
        "synthesized_qa",
        "synthesized_qa_llm_failures",
        "synthesis_reasoning",
        "qa_verification",
        "qa_verification_llm_failures",
        "qa_verification_votes",
        "difficulty_scored_qa",
        "difficulty_scored_qa_llm_failures",
        "difficulty_variant_votes",
        "difficulty_rejected_variants",
    ),
)
screen_job = define_asset_job(
    "screen_job", AssetSelection.assets("benchmark_items", "screened_qa", "screened_qa_rejects")
)
discipline_dataset_job = define_asset_job(
    "discipline_dataset_job", AssetSelection.assets("linkqa_dataset", "linkqa_dataset_rejects")
)
release_job = define_asset_job("release_job", AssetSelection.assets("linkqa_release"))

JOBS = [
    ingest_job,
    discipline_seed_job,
    graph_job,
    discipline_synthesis_job,
    screen_job,
    discipline_dataset_job,
    release_job,
]
