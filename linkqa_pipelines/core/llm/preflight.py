"""Preflight of a model backend, before any work: settings complete, endpoint answering, and the
strongest structured-output mode it accepts.

OpenAI-compatible providers differ in what `response_format` they take: OpenAI and vLLM accept
`json_schema`; DeepSeek documents only `{"type": "json_object"}` (and answers 400 to a schema);
some servers take neither. `negotiate` asks with one tiny request per mode, strongest first
(json_schema -> json_object -> text), and `EndpointMemory` keeps the answer per endpoint and
model under LINKQA_HOME, so later runs skip the probes and say which mode they use.

Every failure is a `PreflightError` whose one-line message names what is missing or refused
(never the key itself).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, cast

import orjson

from linkqa_pipelines.core.llm.settings import API_KEY_ENV, LLMSettings
from linkqa_pipelines.core.llm.types import ResponseFormat

DEFAULT_BASE_URL = "https://api.openai.com/v1"  # the openai package's endpoint when no base URL is set
MODES: tuple[ResponseFormat, ...] = ("json_schema", "json_object", "text")
PROBE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}},
    "required": ["ok"],
    "additionalProperties": False,
}
# json_object endpoints (DeepSeek) want the word "json" and an example in the prompt
PROBE_MESSAGES = [
    {"role": "system", "content": 'Answer in JSON, exactly like this example: {"ok": true}'},
    {"role": "user", "content": 'Reply with the JSON object {"ok": true}.'},
]
PROBE_TIMEOUT_S = 20.0


class PreflightError(RuntimeError):
    """The backend cannot work as configured; the message says what to set or fix."""


@dataclass(frozen=True)
class Preflight:
    """What the checks found: one line per check, and the response format to use."""

    checks: list[str]
    response_format: ResponseFormat


def endpoint_url(settings: LLMSettings) -> str:
    return (settings.base_url or DEFAULT_BASE_URL).rstrip("/")


def check_settings(settings: LLMSettings) -> list[str]:
    """Settings alone (no network): a model, and a key for the default OpenAI endpoint."""
    if settings.backend == "offline":
        return ["backend offline: non-LLM algorithms, nothing to check"]
    if not settings.model:
        raise PreflightError(f"LLM backend {settings.backend} needs a model: pass --model or set LINKQA_LLM_MODEL")
    if settings.backend == "vllm":
        if importlib.util.find_spec("vllm") is None:
            raise PreflightError("LLM backend vllm needs the vllm package: pip install -e '.[vllm]'")
        return [f"backend vllm, model {settings.model}: vllm installed"]
    if settings.base_url is None and settings.secret() is None:
        raise PreflightError(
            f"LLM backend openai with no --base-url uses {DEFAULT_BASE_URL}, which needs a key: set "
            f"{' or '.join(API_KEY_ENV)}, or pass --base-url for a server that needs none"
        )
    key = "key set" if settings.secret() else "no key (the endpoint must not need one)"
    return [f"backend openai, model {settings.model}, endpoint {endpoint_url(settings)}, {key}"]


class EndpointMemory:
    """The structured-output mode each endpoint + model accepted, in a small JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @staticmethod
    def key(settings: LLMSettings) -> str:
        return f"{endpoint_url(settings)}|{settings.model}"

    def _load(self) -> dict[str, Any]:
        try:
            data: object = orjson.loads(self.path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return {}
        return cast(dict[str, Any], data) if isinstance(data, dict) else {}

    def get(self, settings: LLMSettings) -> ResponseFormat | None:
        entry: object = self._load().get(self.key(settings))
        mode = cast(dict[str, Any], entry).get("response_format") if isinstance(entry, dict) else None
        return next((m for m in MODES if m == mode), None)

    def put(self, settings: LLMSettings, mode: ResponseFormat) -> None:
        data = self._load()
        data[self.key(settings)] = {"response_format": mode, "checked_at": datetime.now(UTC).isoformat()}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
        tmp.replace(self.path)


def _refused(settings: LLMSettings, exc: Any) -> PreflightError:
    """A 4xx/5xx from the endpoint as one line (the SDK's message carries no key)."""
    status = int(exc.status_code)
    url = endpoint_url(settings)
    body: object = getattr(exc, "body", None)
    detail = str(exc)
    if isinstance(body, dict):
        fields = cast(dict[str, Any], body)
        detail = str(fields.get("message") or fields)
    if status in (401, 403):
        key = "the key was refused" if settings.secret() else f"no key is set ({' or '.join(API_KEY_ENV)})"
        return PreflightError(f"{url} answered HTTP {status}: {key} ({detail[:200]})")
    if status == 404:
        return PreflightError(
            f"{url} answered HTTP 404 for model {settings.model!r}: unknown model or wrong --base-url"
        )
    return PreflightError(f"{url} answered HTTP {status} to a minimal request ({detail[:200]})")


def negotiate(
    settings: LLMSettings, memory: EndpointMemory | None = None, fixed: ResponseFormat | None = None
) -> Preflight:
    """Check an openai-backend endpoint: `/models` lists the model (when the server has that route),
    then the strongest response format a minimal request is accepted with (remembered), or
    whether it accepts the `fixed` one the user chose."""
    import openai  # ~2 s to import: only when a model endpoint is checked

    checks = check_settings(settings)
    url = endpoint_url(settings)
    client = openai.OpenAI(
        api_key=settings.secret() or "not-needed", base_url=url, timeout=PROBE_TIMEOUT_S, max_retries=0
    )

    def call(action: Callable[[], Any]) -> Any:
        try:
            return action()
        except openai.APIConnectionError as exc:
            cause = exc.__cause__ or exc
            raise PreflightError(f"cannot reach {url}: {type(cause).__name__}: {cause}") from None

    try:
        listed = [m.id for m in call(client.models.list)]
        if settings.model not in listed:
            raise PreflightError(f"{url} does not serve model {settings.model!r}; it lists {listed[:8]}")
        checks.append(f"{url}/models lists {settings.model}")
    except openai.NotFoundError:
        checks.append(f"{url}/models not available: checking with a minimal request instead")
    except openai.APIStatusError as exc:
        raise _refused(settings, exc) from None

    remembered = memory.get(settings) if memory is not None and fixed is None else None
    if remembered is not None:
        checks.append(f"structured output: {remembered} (remembered for this endpoint and model)")
        return Preflight(checks, remembered)
    rejected: list[str] = []
    for mode in (fixed,) if fixed else MODES:
        try:
            call(partial(_probe, client, settings, mode))
        except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
            rejected.append(f"{mode} (HTTP {exc.status_code})")
            continue
        except openai.APIStatusError as exc:
            raise _refused(settings, exc) from None
        if memory is not None and fixed is None:
            memory.put(settings, mode)
        refused = f"; refused: {', '.join(rejected)}" if rejected else ""
        checks.append(f"structured output: {mode} (strongest mode the endpoint accepts{refused})")
        return Preflight(checks, mode)
    raise PreflightError(f"{url} rejects every request format for model {settings.model!r}: {', '.join(rejected)}")


def _probe(client: Any, settings: LLMSettings, mode: ResponseFormat) -> None:
    """One minimal chat request in `mode` (a tiny answer: success is that it is accepted), with the
    token limit under the name the model's family takes and the system message only where allowed."""
    extra: dict[str, Any] = {settings.family().token_limit: 32}
    if mode == "json_schema":
        extra["response_format"] = {"type": "json_schema", "json_schema": {"name": "ok", "schema": PROBE_SCHEMA}}
    elif mode == "json_object":
        extra["response_format"] = {"type": "json_object"}
    messages = PROBE_MESSAGES if settings.system_allowed() else PROBE_MESSAGES[1:]
    client.chat.completions.create(model=str(settings.model), messages=messages, **extra)


def preflight(settings: LLMSettings, home: Path | None, fixed: ResponseFormat | None = None) -> Preflight:
    """All checks for the configured backend and the response format to use: for the openai
    backend the negotiated one (remembered under `home`), or `fixed` once the endpoint accepts it."""
    if settings.backend != "openai":
        return Preflight(check_settings(settings), fixed or settings.response_format)
    memory = EndpointMemory(home / "cache" / "endpoints.json") if home is not None else None
    return negotiate(settings, memory, fixed)
