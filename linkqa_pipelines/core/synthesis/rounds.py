"""Synthesis of k items per path in two rounds, and the model's reasoning kept apart.

Round 1 sends one request per path for k distinct items; the LLM layer checks the reply's shape
(`reply_reason`: k distinct items, each naming the knowledge points and seeds it fuses), so a
malformed reply is repaired or recorded as a failure with its reason. Each item is then checked
alone (`item_reason`): the good ones are kept, and round 2 asks, in one request per path, for
new items in the rejected slots only, showing why they were rejected and the questions kept
(every item of that reply is checked by the layer, which repairs or records it). Both rounds go
through the response cache and the attempt ledger, so a resumed or repeated run serves what
succeeded from the cache and re-sends only what failed.

Every kept item is a SYNTH_QA_SCHEMA row with its own stable `qa_id` (path + question), the
knowledge points and seeds it names, and its share of its reply's tokens; the reasoning of
the reply it came from (`reasoning_content` or `<think>`, split off by the layer's parser and
never part of an item) goes to `synthesis_reasoning`, one row per item.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from linkqa_pipelines.core.llm.task import TaskOutcome
from linkqa_pipelines.core.llm.types import ChatRequest, ChatResult
from linkqa_pipelines.core.synthesis.prompts import replacement_request
from linkqa_pipelines.core.synthesis.results import item_reason, qa_id, synthesized_frame

Runner = Callable[[Sequence[ChatRequest]], TaskOutcome]

REASONING_SCHEMA: dict[str, pl.DataType] = {
    "qa_id": pl.String(),
    "path_id": pl.String(),
    "discipline": pl.String(),
    "model": pl.String(),
    "reasoning": pl.String(),  # the reasoning of the reply the item came from (shared by its items)
    "reasoning_tokens": pl.Int64(),  # the item's share of that reply's reasoning tokens
    "request_key": pl.String(),  # the request whose reply held the item (`synthesis:<path>[:<slots>]`)
}


@dataclass(frozen=True)
class Synthesis:
    qa: pl.DataFrame  # SYNTH_QA_SCHEMA
    reasoning: pl.DataFrame  # REASONING_SCHEMA
    outcomes: list[TaskOutcome]  # round 1, then round 2 when an item was rejected
    replaced: int  # items of round-1 replies rejected on their own and asked for again


@dataclass(frozen=True)
class _Kept:
    payload: Mapping[str, Any]
    item: Mapping[str, Any]
    result: ChatResult
    index: int  # position in its reply
    n: int  # items in its reply


def synthesize(run: Runner, requests: Sequence[ChatRequest]) -> Synthesis:
    """Both rounds through `run` (a model task's runner), and the rows they make."""
    first = run(requests)
    kept: list[_Kept] = []
    replacements: list[ChatRequest] = []
    for request, result in zip(first.requests, first.results, strict=True):
        if not result.ok or result.parsed is None:
            continue  # recorded by the layer
        items: list[Mapping[str, Any]] = result.parsed["items"]
        checked = request.payload["k"] == 1  # the layer checked the one item already
        rejected = (
            {} if checked else {i: r for i, item in enumerate(items) if (r := item_reason(request.payload, item))}
        )
        kept += [
            _Kept(request.payload, item, result, i, len(items)) for i, item in enumerate(items) if i not in rejected
        ]
        if rejected:
            good = [item["question"] for i, item in enumerate(items) if i not in rejected]
            replacements.append(replacement_request(request, rejected, good))
    outcomes = [first]
    if replacements:
        second = run(replacements)
        outcomes.append(second)
        for request, result in zip(second.requests, second.results, strict=True):
            if result.ok and result.parsed is not None:
                items = result.parsed["items"]
                kept += [_Kept(request.payload, item, result, i, len(items)) for i, item in enumerate(items)]
    qa = synthesized_frame(
        [k.payload for k in kept], [k.item for k in kept], [_share(k) for k in kept], [k.index for k in kept]
    )
    return Synthesis(qa, reasoning_frame(kept), outcomes, sum(r.payload["k"] for r in replacements))


def _share(k: _Kept) -> dict[str, Any]:
    """An item's provenance: backend, model and its share of the reply's tokens (which sum to the reply's)."""
    r = k.result
    return {
        "backend": r.backend,
        "model": r.model,
        "prompt_tokens": _part(r.prompt_tokens, k.index, k.n),
        "completion_tokens": _part(r.completion_tokens, k.index, k.n),
    }


def _part(total: int, index: int, n: int) -> int:
    return total // n + (index < total % n)


def reasoning_frame(kept: Sequence[_Kept]) -> pl.DataFrame:
    """REASONING_SCHEMA rows for the kept items whose reply carried reasoning."""
    rows = [
        {
            "qa_id": qa_id(k.payload["path_id"], k.item["question"].strip()),
            "path_id": k.payload["path_id"],
            "discipline": k.payload["discipline"],
            "model": k.result.model,
            "reasoning": k.result.reasoning,
            "reasoning_tokens": _part(k.result.reasoning_tokens, k.index, k.n),
            "request_key": k.result.key,
        }
        for k in kept
        if k.result.reasoning
    ]
    return pl.DataFrame(rows, schema=REASONING_SCHEMA)
