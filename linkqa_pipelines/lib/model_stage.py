"""The one factory for model-backed assets, and the one runner they call.

Every model-backed stage (KP extraction, synthesis, difficulty judge and enhancement, and later
verification) is a per-discipline multi-asset with two outputs: its table, and
`<stage>_llm_failures`, the requests that still failed after retries (stored in the shared
`llm_failures` table under `stage=<stage>/`, so one view lists them all). Where it runs is
fixed when the code location loads: the endpoint's concurrency pool, kinds that name the
configured backend, and for in-process vLLM the Kubernetes GPU request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
from dagster import AssetExecutionContext, AssetIn, AssetOut, AssetsDefinition, multi_asset

from linkqa_pipelines.core.llm import ChatRequest, LLMSettings, ModelTask, TaskOutcome
from linkqa_pipelines.core.llm.types import FAILURE_SCHEMA
from linkqa_pipelines.lib.io_manager import PARTITION_KEY, TABLE_KEY
from linkqa_pipelines.lib.lake_resource import LakeResource
from linkqa_pipelines.lib.llm_resource import LLMResource, stats_metadata
from linkqa_pipelines.lib.metadata import table_metadata
from linkqa_pipelines.lib.partitions import discipline_backfill_policy, discipline_partitions, per_discipline


def gpu_op_tags(gpus: int) -> dict[str, Any]:
    """Op tags that make dagster-k8s request `gpus` NVIDIA GPUs for the step's pod."""
    if gpus < 1:
        raise ValueError(f"gpus must be >= 1, got {gpus}")
    return {"dagster-k8s/config": {"container_config": {"resources": {"limits": {"nvidia.com/gpu": str(gpus)}}}}}


@dataclass(frozen=True)
class ModelPlacement:
    """Where model-backed steps run, derived from the LLM settings the code location loads with."""

    backend: str
    pool: str
    gpus: int

    @classmethod
    def from_settings(cls, settings: LLMSettings) -> ModelPlacement:
        gpus = settings.tensor_parallel_size if settings.backend == "vllm" else 0
        return cls(backend=settings.backend, pool=settings.pool_name(), gpus=gpus)

    @property
    def kinds(self) -> set[str]:
        return {self.backend, "polars", "parquet"}

    @property
    def op_tags(self) -> dict[str, Any]:
        return gpu_op_tags(self.gpus) if self.gpus else {}


def failures_name(stage_asset: str) -> str:
    return f"{stage_asset}_llm_failures"


def model_stage_asset(
    name: str,
    *,
    placement: ModelPlacement,
    ins: Mapping[str, AssetIn],
    description: str,
    group_name: str,
    code_version: str | None = None,
    extra_outs: Mapping[str, AssetOut] | None = None,
) -> Callable[[Callable[..., Any]], AssetsDefinition]:
    """`@multi_asset` for a model-backed stage: its table plus its failures, per discipline, and
    `extra_outs` after them (verification's votes). The body is written for one discipline
    (`context.partition_key`); `per_discipline` runs it for every partition key of the run."""
    asset = multi_asset(
        name=name,
        outs={
            name: AssetOut(
                description=description, kinds=placement.kinds, metadata=table_metadata(name), code_version=code_version
            ),
            failures_name(name): AssetOut(
                description=f"Requests of {name} that still failed after retries, with reason and attempts.",
                kinds={placement.backend, "parquet"},
                metadata={TABLE_KEY: "llm_failures", PARTITION_KEY: {"stage": name}, **table_metadata("llm_failures")},
            ),
            **(extra_outs or {}),
        },
        ins=dict(ins),
        partitions_def=discipline_partitions,
        backfill_policy=discipline_backfill_policy,
        group_name=group_name,
        pool=placement.pool,
        op_tags=placement.op_tags,
    )
    return lambda body: asset(per_discipline(body))


def run_task(
    context: AssetExecutionContext,
    llm: LLMResource,
    lake: LakeResource,
    task: ModelTask,
    requests: Sequence[ChatRequest],
) -> TaskOutcome:
    """Send a task's requests through the configured backend, saying in the log which one answers."""
    partition = context.partition_key if context.has_partition_key else None
    label = f"[offline backend: non-LLM algorithm {task.offline_model}]" if llm.backend == "offline" else llm.describe()
    context.log.info(f"{task.stage}: {len(requests)} requests via {label}")
    outcome = task.run(llm.client(lake.home_path), partition, requests)
    failed, terminal = len(outcome.batch.failures), outcome.batch.stats.terminal
    if failed and llm.backend == "offline":  # a deterministic algorithm: asking again changes nothing
        context.log.warning(
            f"{task.stage}: {failed} of {len(requests)} items rejected by the offline algorithm "
            f"{task.offline_model}; terminal (deterministic, not retried), listed in llm_failures"
        )
    elif failed:
        context.log.warning(
            f"{task.stage}: {failed} of {len(requests)} requests failed; recorded in llm_failures: "
            f"{failed - terminal} retried by the next materialization, {terminal} terminal (answers rejected "
            f"{llm.max_attempts_total} times over all runs; `linkqa run --retry-failed` asks again)"
        )
    return outcome


def failures_frame(*outcomes: TaskOutcome) -> pl.DataFrame:
    """The failure ledger rows of one materialization (every sub-task of the stage)."""
    frames = [o.batch.failures_frame() for o in outcomes]
    return pl.concat(frames, how="vertical") if frames else pl.DataFrame(schema=FAILURE_SCHEMA)


def task_metadata(outcome: TaskOutcome, backend: str, prefix: str = "") -> dict[str, Any]:
    return {f"{prefix}{k}": v for k, v in stats_metadata(outcome.batch, backend=backend).items()}
