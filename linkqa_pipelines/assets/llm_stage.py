"""What every model-backed asset does around the LLM layer, written once.

It sends the batch through the configured backend (offline algorithms included), records
requests that still failed after retries in the `llm_failures` table for this stage and
partition (replaced on each materialization, so a later success clears them and the next
run retries them), logs which backend answered, and returns Dagster metadata with the
accounting the `linkqa run` summary shows.
"""


from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dagster import AssetExecutionContext

from linkqa_pipelines.core.lake import Lake
from linkqa_pipelines.core.llm import ChatRequest, ChatResult, SamplingParams
from linkqa_pipelines.partitions import discipline_partitions
from linkqa_pipelines.resources.llm import LLMResource, stats_metadata
from linkqa_pipelines.resources.llm_placement import llm_op_tags, llm_pool


def model_backed_asset() -> dict[str, Any]:
    """`@asset` arguments every model-backed stage shares: per-discipline partitions, the
    endpoint's concurrency pool and, for in-process vLLM, the GPU request."""
    return {
        "partitions_def": discipline_partitions,
        "kinds": {"openai", "polars", "parquet"},
        "pool": llm_pool(),
        "op_tags": llm_op_tags(),
    }


def to_requests(pieces: Sequence[Mapping[str, Any]]) -> list[ChatRequest]:
    """Core task builders return plain dicts (they know nothing of the LLM layer's types)."""
    return [
        ChatRequest(
            key=p["key"],
            messages=tuple(p["messages"]),
            schema=p.get("schema"),
            schema_name=p.get("schema_name", "answer"),
            params=SamplingParams(**p.get("params", {})),
            payload=p.get("payload", {}),
        )
        for p in pieces
    ]


def payload_offline(algorithm: Callable[[Sequence[Mapping[str, Any]]], list[dict]]) -> Callable[[Sequence[ChatRequest]], list[dict]]:
    """Adapt a core offline algorithm over payloads to the LLM layer's batch hook."""
    return lambda batch: algorithm([r.payload for r in batch])


def payload_validator(check: Callable[[Mapping[str, Any], Mapping[str, Any]], str | None]) -> Callable[[ChatRequest, dict], str | None]:
    return lambda request, answer: check(request.payload, answer)


@dataclass
class StageOutcome:
    results: list[ChatResult]
    metadata: dict[str, Any]

    @property
    def ok(self) -> list[ChatResult]:
        return [r for r in self.results if r.ok]

    def answers(self) -> list[dict | None]:
        """Parsed answers aligned with the requests; None where the request failed."""
        return [r.parsed if r.ok else None for r in self.results]


def run_llm_stage(
    context: AssetExecutionContext,
    llm: LLMResource,
    lake: Lake,
    stage: str,
    requests: Sequence[ChatRequest],
    *,
    offline: Callable[[Sequence[ChatRequest]], list[dict]],
    offline_name: str,
    validate: Callable[[ChatRequest, dict], str | None] | None = None,
) -> StageOutcome:
    partition = context.partition_key if context.has_partition_key else None
    client = llm.client(str(lake.home))
    label = "[offline backend: non-LLM algorithm " + offline_name + "]" if llm.backend == "offline" else llm.describe()
    context.log.info(f"{stage}: {len(requests)} requests via {label}")
    outcome = client.generate(
        stage, partition, requests, offline=offline, offline_name=offline_name, validate=validate
    )
    failures = outcome.failures_frame()
    lake.write("llm_failures", failures, {"stage": stage, "discipline": partition or "all"})
    if failures.height:
        context.log.warning(
            f"{stage}: {failures.height} of {len(requests)} requests failed after retries; "
            "recorded in llm_failures and retried by the next materialization"
        )
    return StageOutcome(outcome.results, stats_metadata(outcome, backend=llm.backend))
