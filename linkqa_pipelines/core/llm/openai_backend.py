"""OpenAI-compatible endpoints (OpenAI, DeepSeek, `vllm serve`, ...) configured through `openai.AsyncOpenAI`.

The `AsyncOpenAI` client defines what is sent: base URL, API key, organization/project and
SDK headers. Two transports send it (setting `http_transport`):

- `openai`: `AsyncOpenAI.post("/chat/completions", cast_to=httpx2.Response, body=...)`, the
  SDK's own request pipeline (on its aiohttp transport when aiohttp is installed). It skips
  the SDK's TypedDict transform and pydantic response models, yet the pipeline still costs
  well over 1 ms of client CPU per request (`bench/llm_throughput.py`).
- `aiohttp`: the SDK client's URL and headers posted with one pooled `aiohttp.ClientSession`,
  about 0.5 ms per request with this layer's work included: the transport that meets the
  throughput goals of issue 3.
- `auto` (default): `aiohttp` when installed, else `openai`.

Either way: a fixed pool of `concurrency` workers (no task per request), orjson bodies, the
SDK's own retries off. This module retries itself so that it counts attempts, shares a
429's Retry-After with all workers, and applies the RPM/TPM limits to every re-send.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import random
from collections.abc import Callable, Coroutine, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any, NamedTuple, Protocol, cast
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

import httpx2  # the openai package's HTTP library
import openai
import orjson

from linkqa_pipelines.core.llm.families import ModelFamily, family_of
from linkqa_pipelines.core.llm.ratelimit import RateLimiter, backoff_delay
from linkqa_pipelines.core.llm.redact import Redactor
from linkqa_pipelines.core.llm.settings import LLMSettings
from linkqa_pipelines.core.llm.types import Call, CallOutcome, LLMBackendError, RawResponse

log = logging.getLogger("linkqa_pipelines.llm")

RETRIABLE_STATUS = {408, 409, 425, 429}  # plus every 5xx
FATAL_STATUS = {401, 403, 404}  # wrong key, no access, unknown model or path: no request can succeed


class InvalidResponse(ValueError):
    """A 200 response that is not a chat completion (e.g. a proxy's HTML page)."""


class TransportTimeout(Exception):
    """No complete response within the per-request timeout."""


class TransportError(Exception):
    """The connection failed or was dropped before a response arrived."""


class Reply(NamedTuple):
    status: int
    headers: Mapping[str, str]
    body: bytes


class Endpoint(NamedTuple):
    url: str
    headers: dict[str, str]
    proxy: str | None


class Transport(Protocol):
    async def post(self, body: dict[str, Any]) -> Reply: ...

    async def close(self) -> None: ...


def request_body(model: str, call: Call, family: ModelFamily | None = None) -> dict[str, Any]:
    """The chat.completions JSON body for a call, as the model's family takes it (`families.py`):
    no sampling parameters (seed included) where they are rejected or ignored, and
    `max_completion_tokens` where `max_tokens` is not accepted."""
    family = family or family_of(model)
    params = call.params
    body: dict[str, Any] = {"model": model, "messages": list(call.messages), family.token_limit: params.max_tokens}
    if family.sampling:
        body |= {"temperature": params.temperature, "top_p": params.top_p}
    if family.sampling and params.seed is not None:
        body["seed"] = params.seed
    if call.schema is not None and call.response_format == "json_schema":
        schema = {"name": call.schema_name, "schema": call.schema}
        body["response_format"] = {"type": "json_schema", "json_schema": schema}
    elif call.schema is not None and call.response_format == "json_object":
        body["response_format"] = {"type": "json_object"}
    return body


def parse_completion(content: bytes) -> RawResponse:
    """Raw fields of a chat.completion body; DeepSeek's `reasoning_content` kept apart."""
    try:
        data = orjson.loads(content)
        choice = data["choices"][0]
        message = choice["message"]
        usage: dict[str, Any] = data.get("usage") or {}
        details: dict[str, Any] = usage.get("completion_tokens_details") or {}
        return RawResponse(
            text=message.get("content") or "",
            reasoning=message.get("reasoning_content") or message.get("reasoning") or None,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            reasoning_tokens=int(details.get("reasoning_tokens") or 0),
            finish_reason=choice.get("finish_reason"),
        )
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError, ValueError):
        # a malformed body (or a field of the wrong shape) is an invalid response, retried as such
        raise InvalidResponse(f"not a chat completion: {content[:80]!r}") from None


def estimate_tokens(call: Call) -> int:
    """Prompt tokens before the call, for the TPM bucket (about 4 characters a token)."""
    return sum(len(m.get("content") or "") for m in call.messages) // 4 + 1


def error_message(body: bytes) -> str:
    """The `error.message` of an error body, else its start."""
    try:
        data: object = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body[:200].decode("utf-8", "replace")
    top = _json_object(data)
    inner: object = data if top is None else top.get("error", data)
    error = _json_object(inner)
    if error is not None and error.get("message"):
        return str(error["message"])[:300]
    return str(inner)[:300]


def _json_object(value: object) -> dict[str, Any] | None:
    """`value` when it is a JSON object (parsed JSON keys are strings), else None."""
    return cast(dict[str, Any], value) if isinstance(value, dict) else None


def retry_after(headers: Mapping[str, str]) -> float | None:
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is not None:
            try:
                return float(value) * scale
            except ValueError:
                continue
    return None


class SDKTransport:
    """Through the SDK's request pipeline."""

    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self.client = client

    async def post(self, body: dict[str, Any]) -> Reply:
        try:
            response = await self.client.post("/chat/completions", cast_to=httpx2.Response, body=body)
        except openai.APIStatusError as exc:
            return Reply(exc.status_code, exc.response.headers, exc.response.content)
        except openai.APITimeoutError:
            raise TransportTimeout from None
        except openai.APIConnectionError as exc:
            raise TransportError(str(exc.__cause__ or exc)) from None
        return Reply(response.status_code, response.headers, response.content)

    async def close(self) -> None:
        await self.client.close()


class AiohttpTransport:
    """The SDK client's URL and headers, posted with one pooled aiohttp session."""

    def __init__(self, endpoint: Endpoint, settings: LLMSettings) -> None:
        import aiohttp

        self.errors = (aiohttp.ClientError,)
        self.url, self.headers, self.proxy = endpoint
        # trust_env stays off: with it aiohttp looks up ~/.netrc in a thread for every request,
        # which costs more CPU than the request itself; the proxy is resolved once instead.
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=settings.concurrency),
            timeout=aiohttp.ClientTimeout(total=settings.timeout),
        )

    async def post(self, body: dict[str, Any]) -> Reply:
        try:
            async with self.session.post(
                self.url, data=orjson.dumps(body), headers=self.headers, proxy=self.proxy
            ) as response:
                return Reply(response.status, response.headers, await response.read())
        except TimeoutError:
            raise TransportTimeout from None
        except self.errors as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from None

    async def close(self) -> None:
        await self.session.close()


def env_proxy(url: str) -> str | None:
    """The HTTP(S)_PROXY that applies to `url` (NO_PROXY honoured), as the SDK would use."""
    parts = urlsplit(url)
    if parts.hostname is None or proxy_bypass(parts.hostname):
        return None
    return getproxies().get(parts.scheme)


@lru_cache(maxsize=16)
def endpoint(base_url: str | None, api_key: str | None) -> Endpoint:
    """URL, headers and proxy as the SDK would use them; once per process (an AsyncOpenAI costs ~40 ms CPU)."""
    client = openai.AsyncOpenAI(api_key=api_key or "not-needed", base_url=base_url, max_retries=0)
    url = f"{str(client.base_url).rstrip('/')}/chat/completions"
    headers = {**client.default_headers, **client.auth_headers}
    return Endpoint(url, {k: v for k, v in headers.items() if isinstance(v, str)}, env_proxy(url))  # drops Omit


def aiohttp_installed() -> bool:
    return importlib.util.find_spec("aiohttp") is not None


def sdk_transport(settings: LLMSettings) -> SDKTransport:
    """The SDK's pipeline, on its aiohttp transport when installed; built per event loop."""
    limits = httpx2.Limits(max_connections=settings.concurrency, max_keepalive_connections=settings.concurrency)
    http_client = openai.DefaultAioHttpClient if aiohttp_installed() else openai.DefaultAsyncHttpxClient
    return SDKTransport(
        openai.AsyncOpenAI(
            api_key=settings.secret() or "not-needed",  # local servers accept any key; the SDK insists on one
            base_url=settings.base_url,
            timeout=settings.timeout,
            max_retries=0,  # retries are ours
            http_client=http_client(limits=limits, timeout=settings.timeout),
        )
    )


def use_aiohttp(settings: LLMSettings) -> bool:
    return settings.http_transport == "aiohttp" or (settings.http_transport == "auto" and aiohttp_installed())


def run_sync(factory: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a coroutine to completion on uvloop when installed; in a helper thread if this one runs a loop."""

    def run() -> None:
        try:
            import uvloop

            runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
        except ImportError:
            runner = asyncio.Runner()
        with runner:
            runner.run(factory())

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        run()
        return
    with ThreadPoolExecutor(1, thread_name_prefix="llm-openai") as pool:
        pool.submit(run).result()


class OpenAIBackend:
    """Sends calls with bounded concurrency, retries and rate limits; reports each as it completes."""

    name = "openai"

    def __init__(self, settings: LLMSettings, redact: Redactor, rng: random.Random | None = None) -> None:
        self.settings = settings
        self.model = settings.model_name()
        self.family = settings.family()
        self.redact = redact
        self.rng = rng or random.Random()
        self.limiter = RateLimiter(settings.rpm, settings.tpm)  # shared by every batch of this client

    def transport(self) -> Transport:
        """A transport for the running event loop."""
        if use_aiohttp(self.settings):
            return AiohttpTransport(endpoint(self.settings.base_url, self.settings.secret()), self.settings)
        return sdk_transport(self.settings)

    def run(self, calls: Sequence[tuple[str, Call]], on_done: Callable[[list[tuple[str, CallOutcome]]], None]) -> None:
        """Send every call from an event loop of its own (the caller is sync code, e.g. a Dagster asset)."""
        if calls:
            run_sync(lambda: self._run(calls, on_done))

    async def _run(
        self, calls: Sequence[tuple[str, Call]], on_done: Callable[[list[tuple[str, CallOutcome]]], None]
    ) -> None:
        """`concurrency` workers share one iterator of calls; a deliverer hands what completed to `on_done`.

        Delivering once per event-loop pass rather than per response lets the cache commit a
        whole pass in one transaction (a commit costs more than the rest of a request's
        client-side work); a SIGKILL still loses only responses of the current pass.
        """
        transport = self.transport()
        pending = iter(calls)
        done: list[tuple[str, CallOutcome]] = []
        arrived = asyncio.Event()
        workers = min(self.settings.concurrency, len(calls))

        async def worker() -> None:
            nonlocal workers
            try:
                for key, call in pending:  # each call is taken by exactly one worker
                    done.append((key, await self._complete(transport, self.limiter, call)))
                    arrived.set()
            finally:
                workers -= 1
                arrived.set()

        async def deliver() -> None:
            while workers or done:
                await arrived.wait()
                arrived.clear()
                if done:
                    batch = done.copy()
                    done.clear()
                    on_done(batch)

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(workers):
                    group.create_task(worker())
                group.create_task(deliver())
        except BaseExceptionGroup as errors:  # a refusing endpoint, or an error in a callback: raise it as is
            raise errors.exceptions[0] from None
        finally:
            await transport.close()

    async def _complete(self, transport: Transport, limiter: RateLimiter, call: Call) -> CallOutcome:
        s = self.settings
        body = request_body(self.model, call, self.family)
        estimate = estimate_tokens(call)
        attempt = 0
        while True:
            attempt += 1
            await limiter.acquire(estimate)
            wait: float | None = None
            try:
                reply = await transport.post(body)
                if reply.status == 200:
                    raw = parse_completion(reply.body)
                    limiter.settle(estimate, raw.prompt_tokens + raw.completion_tokens)
                    if raw.text.strip() or call.schema is None or call.response_format == "text":
                        return CallOutcome(raw, None, attempt)
                    # DeepSeek's JSON mode may answer only whitespace: a transient failure, asked again
                    raise InvalidResponse(f"blank content in {call.response_format} mode")
                reason = f"HTTP {reply.status}: {self.redact(error_message(reply.body))}"
                if reply.status in FATAL_STATUS:
                    raise LLMBackendError(f"{s.base_url or 'OpenAI API'} refused the request ({reason})")
                retriable = reply.status in RETRIABLE_STATUS or reply.status >= 500
                wait = retry_after(reply.headers)
                if reply.status == 429 and wait is not None:
                    limiter.pause(wait)
            except TransportTimeout:
                reason, retriable = f"timed out after {s.timeout:g}s", True
            except TransportError as exc:
                reason, retriable = f"connection error: {self.redact(str(exc))}", True
            except InvalidResponse as exc:
                reason, retriable = self.redact(str(exc)), True
            if not retriable or attempt > s.max_retries:
                return CallOutcome(None, reason, attempt)
            delay = backoff_delay(attempt, s.backoff_base, s.backoff_max, wait, self.rng)
            log.debug("[openai backend] retry %d in %.2fs after %s", attempt, delay, reason)
            await asyncio.sleep(delay)
