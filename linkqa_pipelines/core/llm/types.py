"""Value types of the LLM layer: what a stage sends, what it gets back, and the failure ledger.

Requests and results are plain frozen dataclasses so that stages can build thousands of
them cheaply and the layer can hash them for the response cache.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import polars as pl

from linkqa_pipelines.core.llm.accounting import BatchStats

ResponseFormat = Literal["json_schema", "json_object", "text"]
BackendName = Literal["openai", "vllm", "offline"]

FAILURE_SCHEMA: dict[str, pl.DataType] = {
    "stage": pl.String(),
    "partition": pl.String(),
    "key": pl.String(),
    "reason": pl.String(),
    "attempts": pl.Int32(),
    "backend": pl.String(),
    "model": pl.String(),
    "recorded_at": pl.Datetime("us", "UTC"),
    # not asked again by later runs: a deterministic offline rejection, or a request whose answers
    # were rejected max_attempts_total times over all runs (`linkqa run --retry-failed` asks again)
    "terminal": pl.Boolean(),
}


class LLMBackendError(RuntimeError):
    """The endpoint refuses every request (authentication, permission, unknown model)."""


@dataclass(frozen=True)
class SamplingParams:
    """Sampling settings; part of the cache key, so vary `seed` to get distinct samples of one prompt."""

    temperature: float = 0.7
    top_p: float = 1.0
    max_tokens: int = 2048
    seed: int | None = None


@dataclass(frozen=True)
class ChatRequest:
    """One question to a model, identified by a key that is unique within its batch."""

    key: str
    messages: tuple[dict[str, str], ...]
    schema: dict[str, Any] | None = None  # JSON schema of the answer; None = free text
    schema_name: str = "answer"
    params: SamplingParams = SamplingParams()
    # offline algorithm inputs; never sent to a model
    payload: Mapping[str, Any] = field(default_factory=dict[str, Any])


@dataclass(frozen=True)
class RawResponse:
    """What an endpoint returned, before any parsing: this is what the cache stores."""

    text: str
    reasoning: str | None = None  # reasoning_content of R1-style endpoints
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    finish_reason: str | None = None


@dataclass(frozen=True)
class Call:
    """A request as sent to a backend: final messages (schema hint and repairs included)."""

    messages: tuple[dict[str, str], ...]
    schema: dict[str, Any] | None
    schema_name: str
    params: SamplingParams
    response_format: ResponseFormat


@dataclass(frozen=True)
class CallOutcome:
    """A backend's answer to one call: a raw response, or the reason it gave up, after `attempts` tries."""

    raw: RawResponse | None
    error: str | None
    attempts: int


@dataclass
class ChatResult:
    """Per request: the parsed answer, or a failure with its reason. Tokens cover every call it took."""

    key: str
    ok: bool
    parsed: dict[str, Any] | None
    text: str | None
    reasoning: str | None
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    cached: bool
    attempts: int
    error: str | None
    backend: str
    model: str
    terminal: bool = False  # a failure later runs do not retry (see FAILURE_SCHEMA)


@dataclass
class BatchOutcome:
    """Results in request order plus the batch's accounting."""

    results: list[ChatResult]
    stats: BatchStats

    @property
    def failures(self) -> list[ChatResult]:
        return [r for r in self.results if not r.ok]

    def failures_frame(self, recorded_at: datetime | None = None) -> pl.DataFrame:
        """The `llm_failures` rows of this batch (FAILURE_SCHEMA); the next materialization retries
        those that are not terminal."""
        failed = self.failures
        when = recorded_at or datetime.now(UTC)
        return pl.DataFrame(
            {
                "stage": [self.stats.stage] * len(failed),
                "partition": [self.stats.partition] * len(failed),
                "key": [r.key for r in failed],
                "reason": [r.error for r in failed],
                "attempts": [r.attempts for r in failed],
                "backend": [r.backend for r in failed],
                "model": [r.model for r in failed],
                "recorded_at": [when] * len(failed),
                "terminal": [r.terminal for r in failed],
            },
            schema=FAILURE_SCHEMA,
        )
