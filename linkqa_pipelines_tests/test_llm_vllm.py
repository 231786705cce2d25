"""The vllm backend against a stand-in engine with vLLM's interface (no GPU, no vllm install needed).

A stand-in `vllm` module provides `SamplingParams` and `sampling_params.StructuredOutputsParams`
that record their arguments, so the backend's real construction code runs.
"""

from __future__ import annotations

import subprocess
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

from linkqa_pipelines.core.llm import ChatRequest, LLMClient, LLMSettings
from linkqa_pipelines.core.llm.vllm_backend import engine_options
from linkqa_pipelines.lib.model_stage import gpu_op_tags
from linkqa_pipelines_tests.fake_openai_server import ANSWER_SCHEMA, answer_for, first_user_message


class StructuredOutputsParams:
    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs


class SamplingParams:
    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs


@dataclass
class Completion:
    text: str
    token_ids: list[int]
    finish_reason: str = "stop"


@dataclass
class RequestOutput:
    prompt_token_ids: list[int]
    outputs: list[Completion]


@dataclass
class StandInLLM:
    """vllm.LLM's `chat` contract: a list of conversations in, outputs in the same order out."""

    options: dict[str, Any]
    calls: list[tuple[list[list[dict[str, str]]], list[SamplingParams]]] = field(default_factory=list)

    def chat(
        self, messages: list[list[dict[str, str]]], sampling_params: list[SamplingParams], use_tqdm: bool = True
    ) -> list[RequestOutput]:
        self.calls.append((messages, sampling_params))
        if any("[[too_long]]" in first_user_message(c) for c in messages):
            raise ValueError("The decoder prompt is longer than the maximum model length")
        outputs = []
        for conversation in messages:
            tag = first_user_message(conversation)
            bad = "[[malformed]]" in tag and len(conversation) == 2
            text = "not json {" if bad else orjson.dumps(answer_for(conversation)).decode()
            if "[[think]]" in tag:
                text = "<think>pondering</think>" + text
            prompt = sum(len(m["content"]) for m in conversation)
            outputs.append(RequestOutput(list(range(prompt // 4)), [Completion(text, list(range(len(text) // 4)))]))
        return outputs


@pytest.fixture
def fake_vllm(monkeypatch: pytest.MonkeyPatch) -> None:
    vllm = types.ModuleType("vllm")
    sampling = types.ModuleType("vllm.sampling_params")
    vllm.SamplingParams = SamplingParams  # type: ignore[attr-defined]
    sampling.StructuredOutputsParams = StructuredOutputsParams  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vllm", vllm)
    monkeypatch.setitem(sys.modules, "vllm.sampling_params", sampling)


class Factory:
    def __init__(self) -> None:
        self.engines: list[StandInLLM] = []

    def __call__(self, settings: LLMSettings) -> StandInLLM:
        self.engines.append(StandInLLM(engine_options(settings)))
        return self.engines[-1]


def client(tmp_path: Path, factory: Factory, **overrides: Any) -> LLMClient:
    options: dict[str, Any] = {
        "backend": "vllm",
        "model": "Qwen/Qwen2.5-7B-Instruct",
        "home": tmp_path,
        "tensor_parallel_size": 2,
        "gpu_memory_utilization": 0.85,
        "max_num_seqs": 128,
        "max_model_len": 8192,
    }
    options.update(overrides)
    return LLMClient(LLMSettings(**options), engine_factory=factory)


def ask(text: str, key: str) -> ChatRequest:
    return ChatRequest(key=key, messages=({"role": "user", "content": text},), schema=ANSWER_SCHEMA)


@pytest.mark.usefixtures("fake_vllm")
def test_whole_batch_in_one_call_with_schema_and_key_mapping(tmp_path: Path) -> None:
    factory = Factory()
    requests = [ask(f"question {i}", key=f"seed-{i}") for i in range(50)][::-1]
    outcome = client(tmp_path, factory).generate("kp", "biology", requests)

    (engine,) = factory.engines
    assert engine.options == {
        "model": "Qwen/Qwen2.5-7B-Instruct",
        "tensor_parallel_size": 2,
        "gpu_memory_utilization": 0.85,
        "dtype": "auto",
        "seed": 0,
        "max_model_len": 8192,
        "max_num_seqs": 128,
    }
    assert len(engine.calls) == 1  # the whole batch in one chat() call
    conversations, params = engine.calls[0]
    assert len(conversations) == 50 and len(params) == 50
    assert all(p.kwargs["structured_outputs"].kwargs == {"json": ANSWER_SCHEMA} for p in params)
    assert params[0].kwargs["max_tokens"] == 2048 and params[0].kwargs["temperature"] == 0.7
    assert [r.key for r in outcome.results] == [r.key for r in requests]
    for request, result in zip(requests, outcome.results, strict=True):
        assert result.ok and result.backend == "vllm" and result.model == "Qwen/Qwen2.5-7B-Instruct"
        assert result.parsed is not None and result.parsed["tag"] == request.messages[0]["content"]
        assert result.prompt_tokens > 0 and result.completion_tokens > 0
    assert outcome.stats.calls == 50 and outcome.stats.cache_hits == 0


@pytest.mark.usefixtures("fake_vllm")
def test_engine_built_once_per_process_and_cache_served(tmp_path: Path) -> None:
    factory = Factory()
    first = client(tmp_path, factory).generate("kp", "p", [ask("a", "1"), ask("b", "2")])
    second = client(tmp_path, factory).generate("kp", "p", [ask("a", "1"), ask("c", "3")])
    assert len(factory.engines) == 1
    assert len(factory.engines[0].calls) == 2 and len(factory.engines[0].calls[1][0]) == 1  # only "c" submitted
    assert second.results[0].cached and second.results[0].parsed == first.results[0].parsed


@pytest.mark.usefixtures("fake_vllm")
@pytest.mark.parametrize(("fmt", "expected"), [("json_object", {"json_object": True}), ("text", None)])
def test_response_format_maps_to_structured_outputs(tmp_path: Path, fmt: str, expected: dict | None) -> None:
    factory = Factory()
    outcome = client(tmp_path, factory, response_format=fmt).generate("kp", None, [ask("a", "1")])
    structured = factory.engines[0].calls[0][1][0].kwargs["structured_outputs"]
    assert (structured.kwargs if structured is not None else None) == expected
    assert outcome.results[0].ok


@pytest.mark.usefixtures("fake_vllm")
def test_repairs_form_the_next_batch_and_bad_prompts_are_isolated(tmp_path: Path) -> None:
    factory = Factory()
    requests = [ask(f"q{i}", str(i)) for i in range(6)]
    requests += [ask("[[malformed]] q", "bad"), ask("[[too_long]] q", "long"), ask("[[think]] q", "think")]
    outcome = client(tmp_path, factory).generate("kp", None, requests)
    by_key = {r.key: r for r in outcome.results}
    bad, long = by_key["bad"], by_key["long"]
    assert bad.ok and bad.attempts == 2 and bad.parsed is not None and bad.parsed["n_messages"] == 4
    assert not long.ok and long.error is not None and "longer than the maximum model length" in long.error
    assert by_key["think"].ok and by_key["think"].reasoning == "pondering"
    assert all(by_key[str(i)].ok for i in range(6))
    calls = factory.engines[0].calls
    assert len(calls[-1][0]) == 1 and len(calls[-1][0][0]) == 4  # the repair round: one conversation
    assert outcome.failures_frame()["key"].to_list() == ["long"]


def test_gpu_op_tags() -> None:
    assert gpu_op_tags(2) == {
        "dagster-k8s/config": {"container_config": {"resources": {"limits": {"nvidia.com/gpu": "2"}}}}
    }
    with pytest.raises(ValueError, match="gpus must be >= 1"):
        gpu_op_tags(0)


def test_missing_vllm_gives_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm -> ImportError
    settings = LLMSettings(backend="vllm", model="m", home=tmp_path)
    with pytest.raises(RuntimeError, match=r"needs the vllm extra"):
        LLMClient(settings).generate("kp", None, [ask("a", "1")])


@pytest.mark.slow
def test_core_imports_neither_dagster_nor_vllm_nor_openai() -> None:
    code = (
        "import sys, linkqa_pipelines.core.llm; "
        "print(sorted(m for m in ('dagster', 'vllm', 'openai') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
