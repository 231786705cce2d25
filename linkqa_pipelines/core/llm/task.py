"""The protocol every model-backed stage follows: requests in, a typed outcome out.

A stage (KP extraction, synthesis, the difficulty judge, enhancement, verification) is a
`ModelTask`: its name in accounting and in the failure ledger, the non-LLM algorithm that
answers when the backend is offline (with the label every row it makes carries), and the
semantic check of a parsed answer. Stage builders make `ChatRequest`s whose `payload` holds
what the offline algorithm and the validator need, so neither ever parses a prompt back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from linkqa_pipelines.core.llm.client import LLMClient
from linkqa_pipelines.core.llm.types import BatchOutcome, ChatRequest, ChatResult

Payload = Mapping[str, Any]
OfflineOverPayloads = Callable[[Sequence[Payload]], Sequence[dict[str, Any] | None]]
PayloadValidator = Callable[[Payload, Mapping[str, Any]], str | None]


@dataclass(frozen=True)
class ModelTask:
    """One model-backed task: its stage name, its offline algorithm and its answer check."""

    stage: str
    offline_model: str  # label of the offline algorithm, e.g. "offline-template-v1"
    offline: OfflineOverPayloads
    validate: PayloadValidator | None = None
    # the check of the offline algorithm's answers where it differs (e.g. a composition exempt
    # from the copy rule it is built on); None: `validate`
    offline_validate: PayloadValidator | None = None

    def run(self, client: LLMClient, partition: str | None, requests: Sequence[ChatRequest]) -> TaskOutcome:
        """Answer every request through the client's backend (offline: this task's algorithm)."""
        offline = client.settings.backend == "offline"
        validate = self.offline_validate if offline and self.offline_validate is not None else self.validate

        def check(request: ChatRequest, answer: dict[str, Any]) -> str | None:
            return validate(request.payload, answer) if validate is not None else None

        outcome = client.generate(
            self.stage,
            partition,
            requests,
            offline=lambda batch: list(self.offline([r.payload for r in batch])),
            offline_name=self.offline_model,
            validate=check if validate is not None else None,
        )
        return TaskOutcome(list(requests), outcome)


@dataclass(frozen=True)
class TaskOutcome:
    """Requests and their results, aligned; what a stage turns into its frame."""

    requests: list[ChatRequest]
    batch: BatchOutcome

    @property
    def results(self) -> list[ChatResult]:
        return self.batch.results

    def payloads(self) -> list[Payload]:
        return [r.payload for r in self.requests]

    def answers(self) -> list[dict[str, Any] | None]:
        """Parsed answers aligned with the requests; None where the request failed."""
        return [r.parsed if r.ok else None for r in self.batch.results]
