"""`LLMClient.generate`: a batch of chat requests in, one result or recorded failure per request out.

The driver works in rounds. Each round builds the calls of the requests still open, serves
what the cache holds, sends the rest to the backend (which reports each response as it
arrives, so it is cached and committed at once), then reads every response: parse, schema,
the stage's `validate`. An unusable answer gets a repair call that shows the model its
error, in the next round; when repairs run out the request fails with that reason and the
responses that led there are marked rejected in the cache, so the next materialization asks
again instead of replaying them. Identical calls within a round are sent once.

Every request's rejected answers are counted across runs in the attempt ledger (`cache.py`):
a later run's try of a request that failed varies its sampling seed (a repair varies it too,
besides naming the error), and once `max_attempts_total` answers were rejected the request is
a terminal failure, not sent again unless `retry_failed` is set. A deterministic (offline)
rejection is terminal at once. Messages are shaped for the model family (`families.py`): the
schema hint worded for the response mode, and no system message where the family takes none.

The driver is synchronous, as Dagster assets are: the openai backend runs an event loop of
its own for each round, the vllm backend calls its engine directly in the caller's thread.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Protocol

from linkqa_pipelines.core.llm.accounting import BatchStats
from linkqa_pipelines.core.llm.cache import LedgerEntry, ResponseCache, cache_key
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
    ResponseFormat,
    SamplingParams,
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
    entry: LedgerEntry = field(default_factory=LedgerEntry)  # the request's record from earlier runs
    reset: bool = False  # a terminal record set back by retry_failed
    rejected_now: int = 0  # answers received in this run and rejected
    last_reason: str | None = None
    attempts: int = 0
    repairs: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    bad: list[tuple[str, str]] = field(default_factory=list[tuple[str, str]])  # (cache key, reason) of unusable answers
    result: ChatResult | None = None

    @property
    def rejected(self) -> int:
        """Answers of this request rejected over all runs, this one included."""
        return self.entry.rejected + self.rejected_now

    def params(self) -> SamplingParams:
        """The request's sampling, with the seed varied on every later try (another run after a
        failure, or a repair): a deterministic endpoint is not asked the same thing twice."""
        variant, step = self.entry.failed_runs, self.repairs
        if not variant and not step:
            return self.request.params
        material = f"{self.request.params.seed}|{variant}|{step}".encode()
        return replace(self.request.params, seed=int.from_bytes(hashlib.sha256(material).digest()[:4]) >> 1)

    def ledger_update(self) -> LedgerEntry | None:
        """The request's new ledger entry, or None when this run changed nothing."""
        failed = self.result is not None and not self.result.ok and self.rejected_now > 0
        if not (self.rejected_now or self.reset):
            return None
        return LedgerEntry(self.rejected, self.entry.failed_runs + failed, self.last_reason or self.entry.last_reason)


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
        mode, system = self.settings.response_format, self.settings.system_allowed()
        chains = [_Chain(r, _initial_messages(r, mode, system)) for r in requests]
        self._load_ledger(stage, partition, chains)
        pending = chains
        while pending:
            next_round: list[_Chain] = []
            groups: dict[str, list[_Chain]] = {}
            calls: dict[str, Call] = {}
            for chain in pending:
                r = chain.request
                call = Call(tuple(chain.messages), r.schema, r.schema_name, chain.params(), mode)
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

            for key, group in list(to_send.items()):  # out of attempts: terminal, not sent
                spent = [chain for chain in group if chain.rejected >= self.settings.max_attempts_total]
                for chain in spent:
                    self._fail(chain, chain.last_reason or chain.entry.last_reason or "rejected", backend, True)
                if len(spent) == len(group):
                    del to_send[key]
                else:
                    to_send[key] = [chain for chain in group if chain not in spent]
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
        updates = [(chain.request.key, entry) for chain in chains if (entry := chain.ledger_update()) is not None]
        self.cache.record(stage, partition, updates)
        results = [_finished(chain) for chain in chains]
        stats.succeeded = sum(r.ok for r in results)
        stats.failures = len(results) - stats.succeeded
        stats.terminal = sum(r.terminal for r in results)
        return BatchOutcome(results, stats)

    def _load_ledger(self, stage: str, partition: str | None, chains: list[_Chain]) -> None:
        """Each chain's record from earlier runs; with `retry_failed`, terminal records start over
        (their failed runs kept, so the new try is not the one that was rejected)."""
        ledger = self.cache.ledger(stage, partition, [chain.request.key for chain in chains])
        for chain in chains:
            entry = ledger.get(chain.request.key)
            if entry is None:
                continue
            if self.settings.retry_failed and entry.rejected >= self.settings.max_attempts_total:
                entry, chain.reset = replace(entry, rejected=0), True
            chain.entry = entry

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
        if not cached:  # counted once, when it arrived
            chain.rejected_now += 1
            chain.last_reason = verdict.error
        spent = chain.rejected >= self.settings.max_attempts_total
        if spent or chain.repairs >= self.settings.max_repairs:
            chain.result = self._result(chain, verdict, verdict.error, cached, stats.backend, stats.model, spent)
            return
        chain.repairs += 1
        stats.repairs += 1
        chain.messages += [
            {"role": "assistant", "content": verdict.answer[:_REPAIR_ECHO_CHARS] or "(empty answer)"},
            {"role": "user", "content": repair_instruction(verdict.error, chain.request.schema is not None)},
        ]
        next_round.append(chain)

    def _result(
        self,
        chain: _Chain,
        verdict: Interpreted | None,
        error: str | None,
        cached: bool,
        backend: str,
        model: str,
        terminal: bool = False,
    ) -> ChatResult:
        ok = error is None
        if terminal:
            error = (
                f"terminal after {chain.rejected} rejected answers over all runs (--retry-failed asks again): {error}"
            )
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
            terminal=terminal,
        )

    def _fail(self, chain: _Chain, reason: str, backend: Backend, terminal: bool = False) -> None:
        chain.result = self._result(chain, None, reason, False, backend.name, backend.model, terminal)

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
        results: list[ChatResult] = []  # a rejection is terminal: the algorithm would answer the same again
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
                    terminal=not ok,
                )
            )
        stats.succeeded = sum(r.ok for r in results)
        stats.failures = stats.terminal = len(results) - stats.succeeded
        return BatchOutcome(results, stats)


def _initial_messages(request: ChatRequest, mode: ResponseFormat, system: bool) -> list[dict[str, str]]:
    """The stage's messages with the answer's schema hint (worded for `mode`) in the system
    message; without `system` (R1-style families) system text and hint go into the first user turn."""
    messages = [dict(m) for m in request.messages]
    hint = schema_instruction(request.schema, mode) if request.schema is not None else None
    if system:
        if hint is not None and messages[0].get("role") == "system":
            messages[0]["content"] = f"{messages[0]['content'].rstrip()}\n\n{hint}"
        elif hint is not None:
            messages.insert(0, {"role": "system", "content": hint})
        return messages
    instructions = [m["content"].rstrip() for m in messages if m.get("role") == "system"]
    if not instructions and hint is None:
        return messages
    turns = [m for m in messages if m.get("role") != "system"]
    first = next((i for i, m in enumerate(turns) if m.get("role") == "user"), None)
    if first is None:  # only system and assistant turns: the instructions open a user turn
        turns.insert(0, {"role": "user", "content": ""})
        first = 0
    body = turns[first]["content"].strip()
    turns[first]["content"] = "\n\n".join(t for t in (*instructions, body, hint) if t)
    return turns


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
