"""A small OpenAI-compatible chat.completions server on 127.0.0.1 with fault injection.

Written on raw asyncio protocols (no web framework) so the same server is lean enough
for `bench/llm_throughput.py` and scriptable enough for the tests. Answers are a
deterministic JSON object derived from the prompt, so a resumed run can be compared
with an uninterrupted one.

Endpoint behaviour (constructor options): `models` makes `GET /v1/models` list those ids
(otherwise it is a 404, as on servers without the route); `accepts` is the set of
`response_format` types taken (others get a 400, as DeepSeek answers a `json_schema`);
`blank_rate` > 0 answers that share of JSON-mode requests with content of only spaces,
chosen deterministically from (seed, tag, attempt). Together (`accepts={"json_object", "text"}`,
`blank_rate` > 0) they behave like DeepSeek's API.

A request's *tag* is its first user message. Directives inside that message steer the
server per request:

- `[[faults:429,drop,ok]]`  the n-th request with this tag gets the n-th outcome, then ok
- `[[think]]`               answer wrapped after a `<think>...</think>` block
- `[[reasoning]]`           DeepSeek-style `reasoning_content` next to the answer
- `[[echo_auth]]`           a 401 whose message repeats the Authorization header (redaction test)

Outcomes: ok, 429 (with Retry-After), 500, 503, drop (connection closed without an
answer), hang (no answer until `hang_seconds`), malformed (prose without JSON),
truncated (answer cut in half, finish_reason=length), garbage (HTTP body not JSON).
With `fault_rate` > 0, requests without a script get a fault chosen deterministically
from (seed, tag, attempt). Without a `response_format` of type json_* the answer comes as
prose around a fenced JSON block, as chat models do.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import orjson

ANSWER_SCHEMA = {  # the shape of every answer this server gives
    "type": "object",
    "required": ["tag", "digest", "n_messages"],
    "properties": {"tag": {"type": "string"}, "digest": {"type": "string"}, "n_messages": {"type": "integer"}},
}
FAULT_KINDS = ("429", "500", "503", "drop", "hang", "malformed", "truncated", "garbage")
_DIRECTIVE = re.compile(r"\[\[(\w+)(?::([^\]]*))?\]\]")
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def answer_for(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The deterministic answer the server gives to a conversation."""
    tag = first_user_message(messages)
    digest = hashlib.sha256(orjson.dumps(messages, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]
    return {"tag": tag, "digest": digest, "n_messages": len(messages)}


def first_user_message(messages: list[dict[str, Any]]) -> str:
    return next((str(m.get("content", "")) for m in messages if m.get("role") == "user"), "")


class FakeOpenAIServer:
    """Serve chat completions from a background thread (tests) or the main thread (bench)."""

    def __init__(
        self,
        *,
        latency: float = 0.0,
        fault_rate: float = 0.0,
        faults: tuple[str, ...] = FAULT_KINDS,
        seed: int = 0,
        retry_after: float = 0.05,
        hang_seconds: float = 30.0,
        record: bool = True,
        responder: Callable[[dict[str, Any], int], Any] | None = None,
        models: tuple[str, ...] | None = None,
        accepts: frozenset[str] = frozenset({"json_schema", "json_object", "text"}),
        blank_rate: float = 0.0,
    ) -> None:
        self.models = models
        self.accepts = accepts
        self.blank_rate = blank_rate
        self.latency = latency
        self.fault_rate = fault_rate
        self.faults = faults
        self.seed = seed
        self.retry_after = retry_after
        self.hang_seconds = hang_seconds
        self.record = record
        self.responder = responder  # (request body, attempt) -> answer object; default `answer_for`
        self.port = 0
        self.total = 0
        self.answered = 0  # 200 responses with a usable JSON answer, written to the socket
        self.inflight = 0  # requests received and not yet answered (or dropped)
        self.max_inflight = 0
        self.per_tag: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()
        self.bodies: list[dict[str, Any]] = []
        self.auth_headers: set[str] = set()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> FakeOpenAIServer:
        self._thread = threading.Thread(target=self._run_thread, name="fake-openai", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake OpenAI server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run_thread(self) -> None:
        asyncio.run(self.serve())

    async def serve(self, port: int = 0, on_ready: Any = None) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await self._loop.create_server(lambda: _Connection(self), "127.0.0.1", port, backlog=4096)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        if on_ready is not None:
            on_ready(self.port)
        await self._stop.wait()
        server.close()

    def snapshot(self) -> tuple[int, int, Counter[str]]:
        """(total requests, answered requests, requests per tag), consistently."""
        with self._lock:
            return self.total, self.answered, Counter(self.per_tag)

    # -- request handling ---------------------------------------------------------------
    def _outcome(self, tag: str, attempt: int, directives: dict[str, str]) -> str:
        script = directives.get("faults")
        if script is not None:
            steps = [s.strip() for s in script.split(",") if s.strip()]
            return steps[attempt] if attempt < len(steps) else "ok"
        if self.fault_rate > 0:
            rng = random.Random(f"{self.seed}:{tag}:{attempt}")
            if rng.random() < self.fault_rate:
                return rng.choice(self.faults)
        return "ok"

    def handle(self, conn: _Connection, headers: dict[str, str], body: bytes) -> None:
        request = orjson.loads(body)
        messages = request.get("messages", [])
        tag = first_user_message(messages)
        directives = {m.group(1): m.group(2) or "" for m in _DIRECTIVE.finditer(tag)} if "[[" in tag else {}
        with self._lock:
            attempt = self.per_tag[tag]
            self.per_tag[tag] += 1
            self.total += 1
            self.inflight += 1
            self.max_inflight = max(self.max_inflight, self.inflight)
            if self.record:
                self.bodies.append(request)
                self.auth_headers.add(headers.get("authorization", ""))
        outcome = "echo_auth" if "echo_auth" in directives else self._outcome(tag, attempt, directives)
        with self._lock:
            self.outcomes[outcome] += 1
        if outcome == "hang":
            asyncio.get_running_loop().call_later(self.hang_seconds, self._finish, conn, None)
            return
        if outcome == "drop":
            self._finish(conn, None)
            return
        response = self._response(request, messages, directives, outcome, headers, attempt)
        counted = response[0] == 200 and outcome == "ok"

        def send() -> None:
            self._finish(conn, response, counted)

        if self.latency > 0:
            asyncio.get_running_loop().call_later(self.latency, send)
        else:
            send()

    def _finish(
        self, conn: _Connection, response: tuple[int, dict[str, str], bytes] | None, counted: bool = False
    ) -> None:
        """Write the response (None: close the connection without one) and update the counters."""
        sent = conn.send(*response) if response is not None else conn.abort()
        with self._lock:
            self.inflight -= 1
            self.answered += int(bool(sent) and counted)

    def _blank(self, messages: list[dict[str, Any]], attempt: int) -> bool:
        """Whether this JSON-mode answer comes back as whitespace only (deterministic per tag and attempt)."""
        draw = random.Random(f"blank:{self.seed}:{first_user_message(messages)}:{attempt}").random()
        return self.blank_rate > 0 and draw < self.blank_rate

    def _response(
        self,
        request: dict[str, Any],
        messages: list[dict[str, Any]],
        directives: dict[str, str],
        outcome: str,
        headers: dict[str, str],
        attempt: int = 0,
    ) -> tuple[int, dict[str, str], bytes]:
        if outcome in ("429", "500", "503", "echo_auth"):
            status = 401 if outcome == "echo_auth" else int(outcome)
            error = f"simulated {status}"
            if outcome == "echo_auth":
                error = f"Incorrect API key provided: {headers.get('authorization', '')}"
            extra = {"Retry-After": f"{self.retry_after}"} if status == 429 else {}
            return status, extra, orjson.dumps({"error": {"message": error, "type": "fake", "code": status}})
        if outcome == "garbage":
            return 200, {}, b"<html>upstream proxy error</html>"
        fmt = (request.get("response_format") or {}).get("type", "text")
        if fmt not in self.accepts:
            message = {"message": "This response_format type is unavailable now", "type": "invalid_request_error"}
            return 400, {}, orjson.dumps({"error": message})
        answer_obj = self.responder(request, attempt) if self.responder else answer_for(messages)
        answer = orjson.dumps(answer_obj).decode()
        content = answer if fmt.startswith("json") else f"Sure, here is the answer.\n```json\n{answer}\n```\nDone."
        finish = "stop"
        if outcome == "malformed":
            content = "I am sorry, I cannot produce {that answer"
        elif outcome == "truncated":
            content, finish = answer[: len(answer) // 2], "length"
        elif fmt.startswith("json") and self._blank(messages, attempt):
            content = "   \n  "
        reasoning = f"Thinking about {len(messages)} messages step by step."
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if "think" in directives:
            message["content"] = f"<think>{reasoning}</think>\n{content}"
        if "reasoning" in directives:
            message["reasoning_content"] = reasoning
        prompt_chars = sum(len(str(m.get("content", ""))) for m in messages)
        completion_tokens = len(message["content"]) // 4 + 1
        reasoning_tokens = len(reasoning) // 4 if ("think" in directives or "reasoning" in directives) else 0
        payload = {
            "id": f"chatcmpl-{self.total}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model", "fake"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": {
                "prompt_tokens": prompt_chars // 4 + 1,
                "completion_tokens": completion_tokens + reasoning_tokens,
                "total_tokens": prompt_chars // 4 + 1 + completion_tokens + reasoning_tokens,
                "completion_tokens_details": {"reasoning_tokens": reasoning_tokens},
            },
        }
        return 200, {}, orjson.dumps(payload)


class _Connection(asyncio.Protocol):
    """Minimal HTTP/1.1 keep-alive connection: Content-Length bodies, no chunking."""

    def __init__(self, server: FakeOpenAIServer) -> None:
        self.server = server
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            if len(self.buffer) < end + 4 + length:
                return
            body = bytes(self.buffer[end + 4 : end + 4 + length])
            del self.buffer[: end + 4 + length]
            if lines[0].startswith("POST") and "/chat/completions" in lines[0]:
                self.server.handle(self, headers, body)
            elif lines[0].startswith("GET") and "/models" in lines[0] and self.server.models is not None:
                listed = [{"id": m, "object": "model", "owned_by": "fake"} for m in self.server.models]
                self.send(200, {}, orjson.dumps({"object": "list", "data": listed}))
            else:
                self.send(404, {}, b'{"error": {"message": "not found"}}')

    def send(self, status: int, extra: dict[str, str], payload: bytes) -> bool:
        if self.transport is None or self.transport.is_closing():
            return False
        head = [
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}",
            "Content-Type: application/json",
            f"Content-Length: {len(payload)}",
        ]
        head += [f"{k}: {v}" for k, v in extra.items()]
        self.transport.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
        return True

    def abort(self) -> bool:
        if self.transport is not None:
            self.transport.abort()
        return False


def main(argv: list[str] | None = None) -> None:
    """Run in the foreground (bench): prints `PORT <n>` once listening."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    args = parser.parse_args(argv)
    server = FakeOpenAIServer(latency=args.latency, fault_rate=args.fault_rate, record=False)

    def ready(port: int) -> None:
        print(f"PORT {port}", flush=True)

    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    with runner:
        runner.run(server.serve(args.port, ready))


if __name__ == "__main__":
    main()
