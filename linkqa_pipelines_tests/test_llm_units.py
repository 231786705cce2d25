"""Pure parts of the LLM layer: parsing, settings, cache, rate limits, redaction."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import pytest

from linkqa_pipelines.core.llm import LLMSettings, RawResponse, ResponseCache, SamplingParams, cache_key
from linkqa_pipelines.core.llm.openai_backend import InvalidResponse, parse_completion
from linkqa_pipelines.core.llm.parsing import ParseError, extract_json, interpret, split_reasoning
from linkqa_pipelines.core.llm.ratelimit import RateLimiter, TokenBucket, backoff_delay
from linkqa_pipelines.core.llm.redact import Redactor
from linkqa_pipelines.core.llm.types import Call

SCHEMA = {"type": "object", "required": ["kps"], "properties": {"kps": {"type": "array", "minItems": 1}}}


@pytest.mark.parametrize(
    ("text", "answer", "reasoning"),
    [
        ("plain", "plain", None),
        ("<think>a</think>\n{}", "{}", "a"),
        ("<THINK>a</THINK><think>b</think> x", "x", "a\n\nb"),
        ("reasoning left open by the template</think>{}", "{}", "reasoning left open by the template"),
        ("{} <think>cut off while thin", "{}", "cut off while thin"),
    ],
)
def test_split_reasoning(text: str, answer: str, reasoning: str | None) -> None:
    assert split_reasoning(text) == (answer, reasoning)


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1}',
        'Sure! Here it is:\n```json\n{"a": 1}\n```\nAnything else?',
        '```\n{"a": 1}\n```',
        'The answer is {"a": 1} as requested.',
        'Note {not json} then {"a": 1}',
        '  {"a": 1}  ',
    ],
)
def test_extract_json_finds_the_object(text: str) -> None:
    assert extract_json(text) == {"a": 1}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the answer is empty"),
        ("no json here", "no JSON object found"),
        ('{"a": 1, "b": [1, 2', "unbalanced JSON"),
        ('{"outer": {"a": 1}, "pad": "cut', "unbalanced JSON: the object opened at character 0"),
        ('Here: {"x": {"a": 1}, "y": [{"b": 2}', "unbalanced JSON: the object opened at character 6"),
        ('```json\n{"x": {"a": 1}, "y": "}{ cut', "unbalanced JSON"),
        ("{not json}", "invalid JSON"),
        ("[1, 2]", "no JSON object found"),
    ],
)
def test_extract_json_explains_failures(text: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        extract_json(text)


def test_extract_json_skips_invalid_blocks_whole_and_reads_braces_in_strings() -> None:
    assert extract_json('Use {x: {"a": 2}} or {"a": 1, "s": "}{"}') == {"a": 1, "s": "}{"}


def test_interpret_schema_and_truncation() -> None:
    ok = interpret(RawResponse('{"kps": ["x"]}', reasoning="r1"), SCHEMA)
    assert ok.parsed == {"kps": ["x"]} and ok.error is None and ok.reasoning == "r1"
    empty = interpret(RawResponse('{"kps": []}'), SCHEMA)
    assert empty.error is not None and empty.error.startswith("schema violation at kps:")
    missing = interpret(RawResponse('{"other": 1}'), SCHEMA)
    assert "'kps' is a required property" in (missing.error or "")
    cut = interpret(RawResponse('{"kps": ["x", "y', finish_reason="length"), SCHEMA)
    assert cut.parsed is None and "cut off at the token limit" in (cut.error or "")
    whole_but_cut = interpret(RawResponse('{"kps": ["x"]}', finish_reason="length"), SCHEMA)
    assert whole_but_cut.parsed is None and "cut off at the token limit" in (whole_but_cut.error or "")
    both = interpret(RawResponse('<think>t</think>{"kps": [1]}', reasoning="r"), SCHEMA)
    assert both.reasoning == "r\n\nt" and both.answer == '{"kps": [1]}'


def test_cache_key_depends_on_everything_that_shapes_the_answer() -> None:
    base = Call(({"role": "user", "content": "q"},), SCHEMA, "answer", SamplingParams(), "json_schema")
    variants = [
        Call(({"role": "user", "content": "q2"},), SCHEMA, "answer", SamplingParams(), "json_schema"),
        Call(base.messages, None, "answer", SamplingParams(), "json_schema"),
        Call(base.messages, SCHEMA, "answer", SamplingParams(seed=3), "json_schema"),
        Call(base.messages, SCHEMA, "answer", SamplingParams(max_tokens=10), "json_schema"),
        Call(base.messages, SCHEMA, "answer", SamplingParams(), "json_object"),
    ]
    key = cache_key("openai", "m", base)
    assert key == cache_key(
        "openai", "m", Call(base.messages, dict(reversed(SCHEMA.items())), "answer", SamplingParams(), "json_schema")
    )  # dict order is irrelevant
    keys = {cache_key("openai", "m", c) for c in variants} | {
        cache_key("vllm", "m", base),
        cache_key("openai", "m2", base),
    }
    assert key not in keys and len(keys) == len(variants) + 2


def test_response_cache_roundtrip_and_reject(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c" / "r.sqlite")
    raw = RawResponse("text", "why", 3, 4, 1, "stop")
    cache.put_many("openai", "m", [("k1", raw)])
    got = cache.get_many(["k1", "k2"])
    assert set(got) == {"k1"} and got["k1"].raw == raw and got["k1"].rejected is None
    cache.reject([("k1", "bad json")])
    assert ResponseCache(tmp_path / "c" / "r.sqlite").get_many(["k1"])["k1"].rejected == "bad json"
    cache.put_many("openai", "m", [("k1", raw)])  # a fresh answer clears the mark
    assert cache.get_many(["k1"])["k1"].rejected is None
    many = [f"x{i}" for i in range(1200)]  # more keys than one SELECT takes
    cache.put_many("openai", "m", [(k, raw) for k in many])
    assert len(cache.get_many(many)) == 1200 and cache.count() == 1201


def test_settings_from_env(tmp_path: Path) -> None:
    env = {
        "LINKQA_LLM_BACKEND": "openai",
        "LINKQA_LLM_MODEL": "deepseek-chat",
        "LINKQA_LLM_CONCURRENCY": "8",
        "LINKQA_LLM_RPM": "600",
        "LINKQA_LLM_PRICE_INPUT": "0.27",
        "DEEPSEEK_API_KEY": "sk-deepseek-abcdefgh",
        "LINKQA_LLM_RESPONSE_FORMAT": "json_object",
        "LINKQA_LLM_TENSOR_PARALLEL_SIZE": "4",
        "LINKQA_LLM_BASE_URL": "https://api.deepseek.com",
        "LINKQA_HOME": str(tmp_path),
    }
    s = LLMSettings.from_env(env, home=tmp_path)
    assert (s.backend, s.model, s.concurrency, s.rpm, s.price_input) == ("openai", "deepseek-chat", 8, 600, 0.27)
    assert s.response_format == "json_object" and s.tensor_parallel_size == 4
    assert s.secret() == "sk-deepseek-abcdefgh" and "abcdefgh" not in repr(s) + s.model_dump_json()
    assert s.cache_path == tmp_path / "cache" / "llm_responses.sqlite"
    assert s.pool_name() == "llm_api_deepseek_com_deepseek_chat"
    order = {"OPENAI_API_KEY": "sk-openai-12345678", "LINKQA_LLM_API_KEY": "sk-linkqa-12345678"}
    assert LLMSettings.from_env({**env, **order}).secret() == "sk-linkqa-12345678"
    assert LLMSettings.from_env(env, concurrency=2).concurrency == 2  # explicit values win
    assert LLMSettings.from_env({}).backend == "offline" and LLMSettings.from_env({}).pool_name() == "llm_offline"
    assert LLMSettings(backend="vllm", model="Qwen/Qwen2.5-72B").pool_name() == "llm_vllm_qwen_qwen2_5_72b"
    with pytest.raises(ValueError, match="LINKQA_LLM_CONCURRENCY='lots'"):
        LLMSettings.from_env({"LINKQA_LLM_CONCURRENCY": "lots"})
    with pytest.raises(ValueError, match="LINKQA_LLM_BACKEND='gpt'"):
        LLMSettings.from_env({"LINKQA_LLM_BACKEND": "gpt"})


def test_redactor() -> None:
    redact = Redactor("sk-test-SECRET-123", None, "short")
    assert redact("key sk-test-SECRET-123 and short") == "key *** and short"
    assert redact("Authorization: Bearer abc.def") == "Authorization: Bearer ***"
    assert "SECRET" not in repr(redact)


def test_backoff_honours_retry_after_and_grows() -> None:
    rng = random.Random(0)
    assert 2.0 <= backoff_delay(1, 0.5, 30, 2.0, rng) <= 2.2
    delays = [backoff_delay(n, 0.5, 4.0, None, rng) for n in range(1, 200)]
    assert all(0 <= d <= 4.0 for d in delays) and max(delays[:1]) <= 0.5 and max(delays[50:]) > 2.0


def test_token_bucket_paces_and_allows_large_takes() -> None:
    bucket = TokenBucket(per_minute=6000)  # 100/s, one second of burst
    bucket.take(150)
    assert bucket.wait_time() == pytest.approx(0.5, abs=0.01)
    bucket.take(500)  # a single take larger than the burst goes through, as debt
    assert bucket.wait_time() == pytest.approx(5.5, abs=0.05)


def test_rate_limiter_tpm_settle_and_pause() -> None:
    async def timed(limiter: RateLimiter, takes: int, tokens: int) -> float:
        started = time.monotonic()
        for _ in range(takes):
            await limiter.acquire(tokens)
        return time.monotonic() - started

    tpm = RateLimiter(rpm=None, tpm=60_000)  # 1000 tokens/s, 1000 burst
    assert 0.45 <= asyncio.run(timed(tpm, 4, 500)) < 0.9  # the 4th waits for the 3rd's debt
    assert tpm.tokens is not None
    before = tpm.tokens.level
    tpm.settle(500, 800)  # usage above the estimate is charged afterwards
    assert tpm.tokens.level == pytest.approx(before - 300, abs=5)
    paused = RateLimiter(rpm=None, tpm=None)
    paused.pause(0.2)
    assert 0.2 <= asyncio.run(timed(paused, 1, 0)) < 0.5


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"choices": []}',
        b'{"choices": [{"message": "text, not an object"}]}',
        b'{"choices": [{"message": {"content": "x"}}], "usage": "a string"}',
        b'{"choices": [{"message": {"content": "x"}}], "usage": {"prompt_tokens": "many"}}',
    ],
)
def test_a_malformed_completion_body_is_an_invalid_response(body: bytes) -> None:
    with pytest.raises(InvalidResponse, match="not a chat completion"):
        parse_completion(body)


def test_a_completion_body_keeps_reasoning_apart() -> None:
    raw = parse_completion(
        b'{"choices": [{"message": {"content": "{}", "reasoning_content": "think"}, "finish_reason": "stop"}],'
        b' "usage": {"prompt_tokens": 3, "completion_tokens": 5, "completion_tokens_details": {"reasoning_tokens": 4}}}'
    )
    assert (raw.text, raw.reasoning, raw.prompt_tokens, raw.completion_tokens, raw.reasoning_tokens) == (
        "{}",
        "think",
        3,
        5,
        4,
    )
