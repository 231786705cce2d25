"""The openai backend end to end: a real HTTP server on 127.0.0.1, reached through the openai client."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from linkqa_pipelines.core.llm import (
    ChatRequest,
    LLMBackendError,
    LLMClient,
    LLMSettings,
    SamplingParams,
)
from linkqa_pipelines_tests.fake_openai_server import ANSWER_SCHEMA, FakeOpenAIServer

SECRET = "sk-test-SECRET-123"


@pytest.fixture
def server(fake_openai: Callable[..., FakeOpenAIServer]) -> FakeOpenAIServer:
    return fake_openai(hang_seconds=3.0)


@pytest.fixture(params=["aiohttp", "openai"])
def transport(request: pytest.FixtureRequest) -> str:
    """Both ways of sending: pooled aiohttp, and the openai SDK's own request pipeline."""
    return str(request.param)


def make_client(server: FakeOpenAIServer, home: Path, **overrides: Any) -> LLMClient:
    options: dict[str, Any] = {
        "backend": "openai",
        "base_url": server.base_url,
        "model": "fake-model",
        "api_key": SECRET,
        "home": home,
        "timeout": 2.0,
        "backoff_base": 0.01,
        "backoff_max": 0.05,
        "max_retries": 5,
    }
    options.update(overrides)
    return LLMClient(LLMSettings(**options))


def ask(text: str, key: str | None = None, schema: dict | None = ANSWER_SCHEMA, **kw: Any) -> ChatRequest:
    messages = ({"role": "system", "content": "You are precise."}, {"role": "user", "content": text})
    return ChatRequest(key=key or text, messages=messages, schema=schema, **kw)


def test_thirty_percent_faults_every_request_accounted_once(
    server: FakeOpenAIServer, tmp_path: Path, transport: str
) -> None:
    server.fault_rate = 0.3
    server.seed = 7
    requests = [ask(f"question {i}", key=f"k{i}") for i in range(240)]
    client = make_client(server, tmp_path, max_retries=3, timeout=1.0, http_transport=transport)
    outcome = client.generate("kp", "physics", requests)

    assert [r.key for r in outcome.results] == [r.key for r in requests]
    ok = [r for r in outcome.results if r.ok]
    failed = outcome.failures
    assert len(ok) + len(failed) == len(requests)
    assert len(ok) > 200 and server.outcomes["ok"] >= len(ok)
    for request, result in zip(requests, outcome.results, strict=True):
        if result.ok:
            assert result.parsed is not None and result.parsed["tag"] == request.messages[1]["content"]
            assert result.error is None and result.attempts >= 1
        else:
            assert result.parsed is None and result.error
    frame = outcome.failures_frame()
    assert frame.height == len(failed) == outcome.stats.failures
    assert set(frame["key"]) == {r.key for r in failed}
    assert (frame["stage"] == "kp").all() and (frame["partition"] == "physics").all()
    # every HTTP request the server saw is one counted call, no more, no less
    total, _, per_tag = server.snapshot()
    assert outcome.stats.calls == total == sum(per_tag.values())
    assert outcome.stats.calls == sum(r.attempts for r in outcome.results)
    assert outcome.stats.retries > 0 and outcome.stats.repairs > 0
    assert outcome.stats.succeeded == len(ok)


@pytest.mark.parametrize(
    ("script", "attempts"),
    [("429,500,503,drop,garbage", 6), ("hang", 2)],
)
def test_transport_faults_are_retried(
    server: FakeOpenAIServer, tmp_path: Path, script: str, attempts: int, transport: str
) -> None:
    client = make_client(server, tmp_path, timeout=1.0, http_transport=transport)
    outcome = client.generate("s", None, [ask(f"[[faults:{script}]] q")])
    result = outcome.results[0]
    assert result.ok and result.attempts == attempts
    assert outcome.stats.retries == attempts - 1 and outcome.stats.repairs == 0


def test_retry_after_is_honoured(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.retry_after = 0.4
    client = make_client(server, tmp_path, backoff_base=0.0, backoff_max=0.0)
    started = time.perf_counter()
    outcome = client.generate("s", None, [ask("[[faults:429]] q")])
    assert outcome.results[0].ok
    assert time.perf_counter() - started >= 0.4


def test_retries_exhausted_become_recorded_failures(server: FakeOpenAIServer, tmp_path: Path, transport: str) -> None:
    client = make_client(server, tmp_path, max_retries=2, http_transport=transport)
    outcome = client.generate("s", "p", [ask("[[faults:500,500,500,500]] q", key="bad"), ask("fine", key="good")])
    bad, good = outcome.results
    assert good.ok and not bad.ok
    assert bad.error == "HTTP 500: simulated 500" and bad.attempts == 3
    assert outcome.failures_frame().row(0, named=True)["reason"] == "HTTP 500: simulated 500"
    # the next materialization asks again (nothing was cached for it) and now succeeds
    again = client.generate("s", "p", [ask("[[faults:500,500,500,500]] q", key="bad")])
    assert again.results[0].ok and again.stats.calls == 2  # the 4th 500, then the answer


@pytest.mark.parametrize("fault", ["malformed", "truncated"])
def test_unparseable_answer_gets_one_repair_showing_the_error(
    server: FakeOpenAIServer, tmp_path: Path, fault: str
) -> None:
    outcome = make_client(server, tmp_path).generate("s", None, [ask(f"[[faults:{fault}]] q")])
    result = outcome.results[0]
    assert result.ok and outcome.stats.repairs == 1 and result.attempts == 2
    assert result.parsed is not None and result.parsed["n_messages"] == 4  # system, user, bad answer, repair
    repair = server.bodies[-1]["messages"][-1]["content"]
    assert repair.startswith("Your previous answer could not be used:")
    assert ("cut off" in repair) == (fault == "truncated")


def test_truncated_reply_is_recorded_never_read_from_an_inner_object(
    fake_openai: Callable[..., FakeOpenAIServer], tmp_path: Path
) -> None:
    """Cut in half, this reply still holds a complete inner object that satisfies the schema."""
    server = fake_openai(
        responder=lambda _request, _attempt: {"outer": {"tag": "t", "digest": "d", "n_messages": 1}, "pad": "x" * 80}
    )
    outcome = make_client(server, tmp_path).generate("s", "p", [ask("[[faults:truncated,truncated]] q")])
    result = outcome.results[0]
    assert not result.ok and result.parsed is None and outcome.stats.repairs == 1
    assert result.error is not None and "cut off at the token limit" in result.error
    assert "cut off at the token limit" in outcome.failures_frame().row(0, named=True)["reason"]


def test_repair_chain_resumes_from_the_cache(server: FakeOpenAIServer, tmp_path: Path) -> None:
    client = make_client(server, tmp_path)
    request = ask("[[faults:malformed]] q")
    first = client.generate("s", None, [request]).results[0]
    assert first.ok and server.total == 2
    replay = client.generate("s", None, [request])  # the bad answer and its repair both come from the cache
    assert server.total == 2 and replay.stats.cache_hits == 2 and replay.results[0].parsed == first.parsed
    # a crash after the bad answer was stored but before the repair's answer was: only the repair is re-sent
    with sqlite3.connect(client.settings.cache_path) as db:
        db.execute("delete from responses where created_at = (select max(created_at) from responses)")
    resumed = client.generate("s", None, [request])
    assert server.total == 3 and resumed.stats.cache_hits == 1 and resumed.stats.calls == 1
    assert resumed.results[0].parsed == first.parsed


def test_rejected_cached_answer_is_not_served_again(server: FakeOpenAIServer, tmp_path: Path) -> None:
    client = make_client(server, tmp_path)
    request = ask("[[faults:malformed,malformed]] q")
    first = client.generate("s", None, [request]).results[0]
    assert not first.ok and first.error is not None and first.error.startswith("unbalanced JSON")
    before = server.total
    second = client.generate("s", None, [request])
    assert second.results[0].ok and not second.results[0].cached
    assert server.total == before + 1  # the rejected first answer was asked for anew


def test_validate_reason_triggers_repair_then_failure(server: FakeOpenAIServer, tmp_path: Path) -> None:
    def needs_followup(request: ChatRequest, answer: dict) -> str | None:
        return None if answer["n_messages"] > 2 else "wrong language: expected Chinese"

    client = make_client(server, tmp_path)
    outcome = client.generate("s", None, [ask("q1")], validate=needs_followup)
    assert outcome.results[0].ok and outcome.stats.repairs == 1
    assert "wrong language: expected Chinese" in server.bodies[-1]["messages"][-1]["content"]

    never = client.generate("s", "p", [ask("q2")], validate=lambda r, a: "no knowledge points")
    result = never.results[0]
    assert not result.ok and result.error == "no knowledge points" and result.attempts == 2
    assert never.failures_frame()["reason"].to_list() == ["no knowledge points"]


def test_cache_hits_make_no_http_request(server: FakeOpenAIServer, tmp_path: Path) -> None:
    requests = [ask(f"q{i}") for i in range(30)]
    first = make_client(server, tmp_path).generate("s", None, requests)
    sent = server.total
    assert sent == 30 and first.stats.cache_hits == 0
    second = make_client(server, tmp_path).generate("s", None, requests)  # a new client, same cache file
    assert server.total == sent
    assert second.stats.calls == 0 and second.stats.cache_hits == 30
    assert all(r.cached for r in second.results)
    assert [r.parsed for r in second.results] == [r.parsed for r in first.results]
    assert second.stats.prompt_tokens == 0 and first.stats.prompt_tokens > 0  # only spent tokens count


def test_cache_key_covers_sampling_params_and_format(server: FakeOpenAIServer, tmp_path: Path) -> None:
    client = make_client(server, tmp_path)
    client.generate("s", None, [ask("q")])
    client.generate("s", None, [ask("q", params=SamplingParams(seed=1))])
    make_client(server, tmp_path, response_format="json_object").generate("s", None, [ask("q")])
    assert server.total == 3


def test_identical_requests_in_a_batch_are_sent_once(server: FakeOpenAIServer, tmp_path: Path) -> None:
    outcome = make_client(server, tmp_path).generate("s", None, [ask("same", key="a"), ask("same", key="b")])
    assert server.total == 1 and all(r.ok for r in outcome.results)
    assert outcome.results[0].parsed == outcome.results[1].parsed


def test_response_formats(server: FakeOpenAIServer, tmp_path: Path, transport: str) -> None:
    for fmt, expected in [("json_schema", "json_schema"), ("json_object", "json_object"), ("text", None)]:
        client = make_client(server, tmp_path / fmt, response_format=fmt, http_transport=transport)
        result = client.generate("s", None, [ask("q")]).results[0]
        body = server.bodies[-1]
        assert (body.get("response_format") or {}).get("type") == expected
        assert result.ok and result.parsed is not None and result.parsed["tag"] == "q"
        hint = body["messages"][0]["content"]
        assert "JSON schema" in hint  # the schema is also in the prompt
        # json_object (DeepSeek) needs the word "json" and an example in the prompt; json_schema does not
        example = 'Output json only, shaped like this example (placeholder values):\n{"tag":"...","digest":"..."'
        assert (example in hint) == (fmt != "json_schema"), hint
    assert server.bodies[0]["response_format"]["json_schema"]["schema"] == ANSWER_SCHEMA
    assert result.text is not None and "```json" in result.text  # text mode: parsed out of prose and a code fence

    free = make_client(server, tmp_path / "free").generate("s", None, [ask("q", schema=None)]).results[0]
    assert free.ok and free.parsed is None and free.text is not None and "Sure" in free.text
    assert "response_format" not in server.bodies[-1]


@pytest.mark.parametrize("directive", ["[[think]]", "[[reasoning]]"])
def test_reasoning_is_kept_apart(server: FakeOpenAIServer, tmp_path: Path, directive: str) -> None:
    outcome = make_client(server, tmp_path).generate("s", None, [ask(f"{directive} q")])
    result = outcome.results[0]
    assert result.ok and result.parsed is not None and result.parsed["tag"] == f"{directive} q"
    assert result.reasoning == "Thinking about 2 messages step by step."
    assert result.text is not None and "<think>" not in result.text and "Thinking" not in result.text
    assert result.reasoning_tokens > 0 and outcome.stats.reasoning_tokens == result.reasoning_tokens


def test_bounded_concurrency_and_accounting(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.latency = 0.03
    outcome = make_client(server, tmp_path, concurrency=4, price_input=1.0, price_output=2.0).generate(
        "s", None, [ask(f"q{i}") for i in range(40)]
    )
    assert server.max_inflight == 4
    s = outcome.stats
    # the server bills prompt_chars // 4 + 1 per request
    assert s.prompt_tokens == sum(sum(len(m["content"]) for m in b["messages"]) // 4 + 1 for b in server.bodies)
    assert s.est_cost_usd == pytest.approx((s.prompt_tokens * 1.0 + s.completion_tokens * 2.0) / 1e6)
    assert sum(r.prompt_tokens for r in outcome.results) == s.prompt_tokens


def test_requests_per_minute_limit(server: FakeOpenAIServer, tmp_path: Path) -> None:
    started = time.perf_counter()
    outcome = make_client(server, tmp_path, rpm=3000).generate("s", None, [ask(f"q{i}") for i in range(100)])
    elapsed = time.perf_counter() - started
    assert all(r.ok for r in outcome.results)
    assert elapsed >= 0.9  # 50/s with a one-second burst: the last 50 need a second


def test_secret_never_leaks(
    server: FakeOpenAIServer, tmp_path: Path, caplog: pytest.LogCaptureFixture, transport: str
) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client(server, tmp_path, max_retries=1, timeout=0.5, http_transport=transport)
    server.fault_rate = 0.5
    outcome = client.generate("s", "p", [ask(f"q{i}") for i in range(40)])
    assert server.auth_headers == {f"Bearer {SECRET}"}  # the key was used ...
    texts = [
        caplog.text,
        repr(client),
        repr(client.settings),
        client.settings.model_dump_json(),
        str(outcome.failures_frame().to_dicts()),
        str(outcome.stats.as_dict()),
    ]
    texts += [repr(r) for r in outcome.results]
    with pytest.raises(LLMBackendError) as info:  # a 401 that echoes the key back
        client.generate("s", "p", [ask("[[echo_auth]] q")])
    texts += [str(info.value), repr(info.value), "".join(traceback.format_exception(info.value)), caplog.text]
    assert "Incorrect API key provided: Bearer ***" in str(info.value)
    assert not [t for t in texts if SECRET in t]  # ... and appears nowhere else
    client.cache.close()
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_generate_works_inside_a_running_event_loop(server: FakeOpenAIServer, tmp_path: Path) -> None:
    client = make_client(server, tmp_path)

    async def caller() -> bool:
        return client.generate("s", None, [ask("q")]).results[0].ok

    assert asyncio.run(caller())


def test_errors_in_validate_propagate_unwrapped(server: FakeOpenAIServer, tmp_path: Path) -> None:
    def broken(request: ChatRequest, answer: dict) -> str | None:
        raise KeyError("kps")

    with pytest.raises(KeyError, match="kps"):
        make_client(server, tmp_path).generate("s", None, [ask("q1"), ask("q2")], validate=broken)


def test_bad_requests_fail_loudly(server: FakeOpenAIServer, tmp_path: Path) -> None:
    client = make_client(server, tmp_path)
    with pytest.raises(ValueError, match="duplicated: \\['x'\\]"):
        client.generate("s", None, [ask("a", key="x"), ask("b", key="x")])
    with pytest.raises(ValueError, match="request 'y'"):
        client.generate("s", None, [ChatRequest(key="y", messages=({"role": "user"},))])
    with pytest.raises(ValueError, match="needs a model"):
        LLMClient(LLMSettings(backend="openai")).generate("s", None, [ask("a")])


def test_r1_style_models_get_no_system_message(server: FakeOpenAIServer, tmp_path: Path) -> None:
    """R1's guidance: every instruction in the user turn. The stage's system text and the schema hint
    go there instead; the family is found from the name, and either can be overridden."""
    outcome = make_client(server, tmp_path, model="DeepSeek-R1-Distill-Qwen-32B").generate("s", None, [ask("q")])
    assert outcome.results[0].ok
    (turn,) = server.bodies[-1]["messages"]
    assert turn["role"] == "user" and turn["content"].startswith("You are precise.\n\nq\n\nReply with a single JSON")
    assert server.bodies[-1]["temperature"] == 0.7  # the R1 weights take sampling parameters
    make_client(server, tmp_path, model="my-finetune", model_family="r1").generate("s", None, [ask("q2")])
    assert [m["role"] for m in server.bodies[-1]["messages"]] == ["user"]
    make_client(server, tmp_path, model="deepseek-r1", system_message="yes").generate("s", None, [ask("q3")])
    assert [m["role"] for m in server.bodies[-1]["messages"]] == ["system", "user"]
    with pytest.raises(ValueError, match="unknown model family 'r2'"):
        make_client(server, tmp_path, model_family="r2")


def test_reasoning_model_bodies(server: FakeOpenAIServer, tmp_path: Path) -> None:
    """OpenAI's o-series: max_completion_tokens, no sampling parameters; DeepSeek's reasoner: no
    sampling parameters (ignored) and no system message; other models get the seed."""
    for model, limit, system in (
        ("o3-mini", "max_completion_tokens", True),
        ("deepseek-reasoner", "max_tokens", False),
    ):
        make_client(server, tmp_path / model, model=model).generate(
            "s", None, [ask("q", params=SamplingParams(seed=3))]
        )
        body = server.bodies[-1]
        assert body[limit] == 2048 and ({"max_tokens", "max_completion_tokens"} - {limit}).isdisjoint(body)
        assert not {"temperature", "top_p", "seed"} & set(body)
        assert (body["messages"][0]["role"] == "system") == system
    make_client(server, tmp_path / "chat", model="deepseek-chat").generate(
        "s", None, [ask("q", params=SamplingParams(seed=3))]
    )
    assert server.bodies[-1]["seed"] == 3 and server.bodies[-1]["max_tokens"] == 2048


def test_a_deterministic_rejection_stops_after_n_attempts_across_runs(server: FakeOpenAIServer, tmp_path: Path) -> None:
    """Each run's try varies the seed (and a repair names the error); after max_attempts_total rejected
    answers over all runs the request is terminal and not sent again, unless retry_failed."""

    def reject(request: ChatRequest, answer: dict) -> str:
        return "wrong language: expected Chinese"

    def run(**overrides: Any) -> Any:
        client = make_client(server, tmp_path, max_repairs=1, max_attempts_total=4, **overrides)
        return client.generate("s", "p", [ask("det q", key="k1")], validate=reject)

    first = run()
    assert server.total == 2 and not first.results[0].terminal
    assert first.failures_frame()["terminal"].to_list() == [False]
    second = run()
    assert server.total == 4 and second.results[0].terminal and second.stats.terminal == 1
    assert (second.results[0].error or "").startswith("terminal after 4 rejected answers over all runs")
    assert "wrong language: expected Chinese" in (second.results[0].error or "")
    seeds = [b.get("seed") for b in server.bodies]
    assert len(set(seeds)) == 4  # every try differs: the first run's first call unseeded, the rest varied
    assert "wrong language: expected Chinese" in server.bodies[1]["messages"][-1]["content"]  # the repair names it
    third = run()
    assert server.total == 4  # terminal: not sent again
    assert third.results[0].terminal and third.failures_frame().row(0, named=True)["terminal"] is True
    with sqlite3.connect(tmp_path / "cache" / "llm_responses.sqlite") as db:
        assert db.execute("select rejected, failed_runs from attempts where key = 'k1'").fetchall() == [(4, 2)]
    again = run(retry_failed=True)
    assert server.total == 6 and not again.results[0].terminal  # asked again, with fresh tries
    assert len({b.get("seed") for b in server.bodies}) == 6
