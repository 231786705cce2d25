"""The offline backend: a stage's own non-LLM algorithm answers the whole batch.

It receives the whole batch so corpus-level algorithms (TF-IDF over all seeds, graph
statistics) work. It answers each request with a dict, or None when it has no answer;
None and malformed answers become recorded failures, never silent drops.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

from linkqa_pipelines.core.llm.types import ChatRequest

OfflineAlgorithm = Callable[[Sequence[ChatRequest]], Sequence[dict[str, Any] | None]]


def run_offline(
    stage: str, requests: Sequence[ChatRequest], algorithm: OfflineAlgorithm | None
) -> list[tuple[dict[str, Any] | None, str | None]]:
    """(answer, error) per request, in request order."""
    if algorithm is None:
        raise ValueError(
            f"stage '{stage}': LLM backend is 'offline' but the stage passed no offline algorithm; "
            "set LINKQA_LLM_BACKEND=openai|vllm or give generate(offline=...)"
        )
    # object, not the declared answer type: the algorithm is stage code, and its answers are checked below
    answers: list[object] = list(algorithm(requests))
    if len(answers) != len(requests):
        raise ValueError(
            f"stage '{stage}': offline algorithm returned {len(answers)} answers for {len(requests)} requests"
        )
    out: list[tuple[dict[str, Any] | None, str | None]] = []
    for answer in answers:
        if answer is None:
            out.append((None, "the offline algorithm has no answer for this request"))
        elif not isinstance(answer, dict):
            out.append((None, f"the offline algorithm returned {type(answer).__name__}, expected a dict"))
        else:
            out.append((cast(dict[str, Any], answer), None))
    return out
