"""The one Definitions object: assets, checks, jobs, schedules and resources."""

from __future__ import annotations

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    Definitions,
    RunRequest,
    ScheduleEvaluationContext,
    define_asset_job,
    load_asset_checks_from_modules,
    load_assets_from_modules,
    schedule,
)
from dagster_aws.s3 import S3Resource

from linkqa_pipelines.assets import difficulty, graph, knowledge_points, release, seeds, synthesis, walks
from linkqa_pipelines.partitions import discipline_partitions
from linkqa_pipelines.resources.llm import LLMResource
from linkqa_pipelines.resources.warehouse import WarehouseResource

_modules = [seeds, knowledge_points, graph, walks, synthesis, difficulty, release]
all_assets = load_assets_from_modules(_modules)
all_checks = load_asset_checks_from_modules(_modules)

# Stages that `linkqa run` executes in order; partitioned jobs run once per discipline.
ingest_job = define_asset_job("ingest_job", AssetSelection.assets("seed_sources", "seed_quarantine"))
discipline_seed_job = define_asset_job(
    "discipline_seed_job",
    AssetSelection.assets("seed_qa", "seed_knowledge_points"),
)
graph_job = define_asset_job("graph_job", AssetSelection.assets("kp_catalog", "kp_graph"))
discipline_synthesis_job = define_asset_job(
    "discipline_synthesis_job",
    AssetSelection.assets("walk_paths", "synthesized_qa", "difficulty_scored_qa", "linkqa_dataset"),
)
release_job = define_asset_job("release_job", AssetSelection.assets("linkqa_release"))


@schedule(
    cron_schedule="0 2 * * *",
    job=discipline_synthesis_job,
    default_status=DefaultScheduleStatus.STOPPED,
    description="Nightly backfill of every discipline partition's walks, synthesis and difficulty stages.",
)
def nightly_discipline_refresh(context: ScheduleEvaluationContext) -> list[RunRequest]:
    day = context.scheduled_execution_time.strftime("%Y-%m-%d")
    return [
        RunRequest(run_key=f"{day}:{key}", partition_key=key)
        for key in discipline_partitions.get_partition_keys()
    ]


defs = Definitions(
    assets=all_assets,
    asset_checks=all_checks,
    jobs=[ingest_job, discipline_seed_job, graph_job, discipline_synthesis_job, release_job],
    schedules=[nightly_discipline_refresh],
    resources={
        "warehouse": WarehouseResource(),
        "llm": LLMResource(),
        "s3": S3Resource(),
    },
)
