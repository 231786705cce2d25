"""`LLMClient.generate`: a batch of chat requests in, one result or recorded failure per request out.

The driver works in rounds. Each round builds the calls of the requests still open, serves
what the cache holds, sends the rest to the backend (which reports each response as it
arrives, so it is cached and committed at once), then reads every response: parse, schema,
the stage's `validate`. An unusable answer gets a repair call that shows the model its
error, in the next round; when repairs run out the request fails with that reason and the
responses that led there are marked rejected in the cache, so the next materialization asks
again instead of replaying them. Identical calls within a round are sent once.

The driver is synchronous, as Dagster assets are: the openai backend runs an event loop of
its own for each round, the vllm backend calls its engine directly in the caller's thread.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Protocol

from linkqa_pipelines.core.llm.accounting import BatchStats
from linkqa_pipelines.core.llm.cache import ResponseCache, cache_key
from linkqa_pipelines.core.llm.offline_backend import OfflineAlgorithm, run_offline
from linkqa_pipelines.core.llm.parsing import (
    Interpreted,
    interpret,
    repair_instruction,
    schema_error,
    schema_instruction,
)
from linkqa_pipelines.core.llm.redact import Redactor
from linkqa_pipelines.core.llm.settings import LLMSettings
from linkqa_pipelines.core.llm.types import (
    BatchOutcome,
    Call,
    CallOutcome,
    ChatRequest,
    ChatResult,
    RawResponse,
)
from linkqa_pipelines.core.llm.vllm_backend import EngineFactory, VLLMBackend, build_engine

log = logging.getLogger("linkqa_pipelines.llm")

Validator = Callable[[ChatRequest, dict[str, Any]], str | None]
_REPAIR_ECHO_CHARS = 4000  # how much of a bad answer is shown back to the model


class Backend(Protocol):
    name: str
    model: str

    def run(self, calls: Sequence[tuple[str, Call]], on_done: Callable[[list[tuple[str, CallOutcome]]], None]) -> None:
        """Answer every call, handing `(key, outcome)` pairs to `on_done` as they complete."""


@dataclass(slots=True, eq=False)
class _Chain:
    """One request's way through calls, cache hits and repairs."""

    request: ChatRequest
    messages: list[dict[str, str]]
    attempts: int = 0
    repairs: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    bad: list[tuple[str, str]] = field(default_factory=list[tuple[str, str]])  # (cache key, reason) of unusable answers
    result: ChatResult | None = None


class LLMClient:
    """Pure core of the LLM resource: settings in, `generate` batches out. Holds no secrets in its repr."""

    def __init__(
        self,
        settings: LLMSettings,
        *,
        cache: ResponseCache | None = None,
        engine_factory: EngineFactory = build_engine,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.redact = Redactor(settings.secret())
        self._cache = cache
        self._engine_factory = engine_factory
        self._rng = rng
        self._backend: Backend | None = None

    def __repr__(self) -> str:
        s = self.settings
        return f"LLMClient(backend={s.backend!r}, model={s.model!r}, base_url={s.base_url!r})"

    @property
    def cache(self) -> ResponseCache:
        if self._cache is None:
            self._cache = ResponseCache(self.settings.cache_path)
        return self._cache

    def generate(
        self,
        stage: str,
        partition: str | None,
        requests: Sequence[ChatRequest],
        *,
        offline: OfflineAlgorithm | None = None,
        offline_name: str | None = None,
        validate: Validator | None = None,
    ) -> BatchOutcome:
        """Answer every request; results come back in request order with the same keys.

        `offline` is the stage's non-LLM algorithm (used when backend=offline, labelled with
        `offline_name`); `validate(request, answer)` returns a reason when a parsed answer is
        semantically wrong (free-text answers arrive as {"text": ...}).
        """
        requests = list(requests)
        _check_requests(stage, requests)
        started = time.perf_counter()
        if self.settings.backend == "offline":
            outcome = self._offline(stage, partition, requests, offline, offline_name, validate)
        else:
            outcome = self._generate(stage, partition, requests, validate)
        stats = outcome.stats
        stats.seconds = time.perf_counter() - started
        where = f"{stage}/{partition}" if partition is not None else stage
        log.info("[%s backend] %s (%s): %s", stats.backend, where, stats.model, stats.summary())
        if stats.failures:
            reasons = Counter((r.error or "")[:120] for r in outcome.failures).most_common(3)
            log.warning(
                "[%s backend] %s: %d requests failed, most often: %s",
                stats.backend,
                where,
                stats.failures,
                "; ".join(f"{n}x {reason}" for reason, n in reasons),
            )
        return outcome

    # -- model backends ----------------------------------------------------------------
    def backend(self) -> Backend:
        """The model backend, kept across batches (its rate limits and endpoint set-up persist)."""
        if self._backend is None:
            if self.settings.backend == "openai":
                from linkqa_pipelines.core.llm.openai_backend import OpenAIBackend  # openai takes ~2 s to import

                self._backend = OpenAIBackend(self.settings, self.redact, self._rng)
            else:
                self._backend = VLLMBackend(self.settings, self._engine_factory)
        return self._backend

    def _generate(
        self, stage: str, partition: str | None, requests: list[ChatRequest], validate: Validator | None
    ) -> BatchOutcome:
        backend = self.backend()
        stats = BatchStats(stage, partition, backend.name, backend.model, requests=len(requests))
        chains = [_Chain(r, _initial_messages(r)) for r in requests]
        pending = chains
        while pending:
            next_round: list[_Chain] = []
            groups: dict[str, list[_Chain]] = {}
            calls: dict[str, Call] = {}
            for chain in pending:
                r = chain.request
                call = Call(tuple(chain.messages), r.schema, r.schema_name, r.params, self.settings.response_format)
                key = cache_key(backend.name, backend.model, call)
                groups.setdefault(key, []).append(chain)
                calls.setdefault(key, call)
            hits = self.cache.get_many(list(groups))
            to_send: dict[str, list[_Chain]] = {}
            for key, group in groups.items():
                hit = hits.get(key)
                if hit is None:
                    to_send[key] = group
                    continue
                for chain in group:
                    verdict = self._judge(chain.request, hit.raw, validate)
                    if hit.rejected is not None and verdict.error is not None:
                        to_send.setdefault(key, []).append(chain)  # still unusable: ask the model anew
                    else:
                        stats.cache_hits += 1
                        self._advance(chain, key, hit.raw, verdict, 1, True, stats, next_round)

            on_done = partial(self._received, to_send, backend, stats, validate, next_round)
            backend.run([(key, calls[key]) for key in to_send], on_done)
            scheduled = {id(chain) for chain in next_round}
            for chain in pending:
                if chain.result is None and id(chain) not in scheduled:
                    self._fail(chain, "the backend returned no response", backend)  # a backend bug, never a drop
            pending = next_round
        rejected = [bad for chain in chains if chain.result is not None and not chain.result.ok for bad in chain.bad]
        if rejected:
            self.cache.reject(rejected)
        results = [_finished(chain) for chain in chains]
        stats.succeeded = sum(r.ok for r in results)
        stats.failures = len(results) - stats.succeeded
        return BatchOutcome(results, stats)

    def _received(
        self,
        to_send: dict[str, list[_Chain]],
        backend: Backend,
        stats: BatchStats,
        validate: Validator | None,
        next_round: list[_Chain],
        done: list[tuple[str, CallOutcome]],
    ) -> None:
        """Answers from the backend: cache them (one committed transaction), then read each for its requests."""
        self.cache.put_many(backend.name, backend.model, [(key, o.raw) for key, o in done if o.raw is not None])
        for key, outcome in done:
            stats.calls += outcome.attempts
            stats.retries += outcome.attempts - 1
            raw = outcome.raw
            if raw is None:
                for chain in to_send[key]:
                    chain.attempts += outcome.attempts
                    self._fail(chain, outcome.error or "no response", backend)
                continue
            stats.add_usage(
                raw.prompt_tokens,
                raw.completion_tokens,
                raw.reasoning_tokens,
                self.settings.price_input,
                self.settings.price_output,
            )
            for chain in to_send[key]:
                self._advance(
                    chain,
                    key,
                    raw,
                    self._judge(chain.request, raw, validate),
                    outcome.attempts,
                    False,
                    stats,
                    next_round,
                )

    def _judge(self, request: ChatRequest, raw: RawResponse, validate: Validator | None) -> Interpreted:
        verdict = interpret(raw, request.schema)
        if verdict.error is None and validate is not None:
            answer = verdict.parsed if verdict.parsed is not None else {"text": verdict.answer}
            reason = validate(request, answer)
            if reason:
                verdict = replace(verdict, error=reason)
        return verdict

    def _advance(
        self,
        chain: _Chain,
        key: str,
        raw: RawResponse,
        verdict: Interpreted,
        attempts: int,
        cached: bool,
        stats: BatchStats,
        next_round: list[_Chain],
    ) -> None:
        chain.attempts += attempts
        chain.prompt_tokens += raw.prompt_tokens
        chain.completion_tokens += raw.completion_tokens
        chain.reasoning_tokens += raw.reasoning_tokens
        if verdict.error is None:
            chain.result = self._result(chain, verdict, None, cached, stats.backend, stats.model)
            return
        chain.bad.append((key, verdict.error))
        if chain.repairs >= self.settings.max_repairs:
            chain.result = self._result(chain, verdict, verdict.error, cached, stats.backend, stats.model)
            return
        chain.repairs += 1
        stats.repairs += 1
        chain.messages += [
            {"role": "assistant", "content": verdict.answer[:_REPAIR_ECHO_CHARS] or "(empty answer)"},
            {"role": "user", "content": repair_instruction(verdict.error, chain.request.schema is not None)},
        ]
        next_round.append(chain)

    def _result(
        self, chain: _Chain, verdict: Interpreted | None, error: str | None, cached: bool, backend: str, model: str
    ) -> ChatResult:
        ok = error is None
        return ChatResult(
            key=chain.request.key,
            ok=ok,
            parsed=verdict.parsed if ok and verdict is not None else None,
            text=verdict.answer if verdict is not None else None,
            reasoning=verdict.reasoning if verdict is not None else None,
            prompt_tokens=chain.prompt_tokens,
            completion_tokens=chain.completion_tokens,
            reasoning_tokens=chain.reasoning_tokens,
            cached=cached,
            attempts=chain.attempts,
            error=None if ok else self.redact(error or ""),
            backend=backend,
            model=model,
        )

    def _fail(self, chain: _Chain, reason: str, backend: Backend) -> None:
        chain.result = self._result(chain, None, reason, False, backend.name, backend.model)

    # -- offline backend ---------------------------------------------------------------
    def _offline(
        self,
        stage: str,
        partition: str | None,
        requests: list[ChatRequest],
        offline: OfflineAlgorithm | None,
        offline_name: str | None,
        validate: Validator | None,
    ) -> BatchOutcome:
        name = offline_name or str(getattr(offline, "__name__", "offline"))
        stats = BatchStats(stage, partition, "offline", name, requests=len(requests))
        results: list[ChatResult] = []
        for request, (answer, error) in zip(requests, run_offline(stage, requests, offline), strict=True):
            if answer is not None and request.schema is not None:
                error = schema_error(answer, request.schema)
            if answer is not None and error is None and validate is not None:
                error = validate(request, answer)
            ok = error is None
            results.append(
                ChatResult(
                    request.key,
                    ok,
                    answer if ok else None,
                    None,
                    None,
                    0,
                    0,
                    0,
                    False,
                    1,
                    None if ok else str(error),
                    "offline",
                    name,
                )
            )
        stats.succeeded = sum(r.ok for r in results)
        stats.failures = len(results) - stats.succeeded
        return BatchOutcome(results, stats)


def _initial_messages(request: ChatRequest) -> list[dict[str, str]]:
    """The stage's messages, with the answer's schema added to the system message."""
    messages = [dict(m) for m in request.messages]
    if request.schema is not None:
        hint = schema_instruction(request.schema)
        if messages and messages[0].get("role") == "system":
            messages[0]["content"] = f"{messages[0]['content'].rstrip()}\n\n{hint}"
        else:
            messages.insert(0, {"role": "system", "content": hint})
    return messages


def _check_requests(stage: str, requests: Sequence[ChatRequest]) -> None:
    seen: Counter[str] = Counter(r.key for r in requests)
    duplicates = [k for k, n in seen.items() if n > 1]
    if duplicates:
        raise ValueError(f"stage '{stage}': request keys must be unique in a batch; duplicated: {duplicates[:5]}")
    for r in requests:
        if not r.messages or any(
            not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str) for m in r.messages
        ):
            raise ValueError(
                f"stage '{stage}', request '{r.key}': messages must be a non-empty sequence of "
                "{'role': str, 'content': str}"
            )


def _finished(chain: _Chain) -> ChatResult:
    if chain.result is None:  # unreachable: every chain ends in a result or a failure
        raise RuntimeError(f"request '{chain.request.key}' has no result")
    return chain.result
