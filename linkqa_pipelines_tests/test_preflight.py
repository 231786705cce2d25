"""Preflight and structured-output negotiation through the real `openai` client, against a loopback
endpoint that behaves like DeepSeek's (400 on json_schema, blank JSON content now and then)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from linkqa_pipelines import cli
from linkqa_pipelines.core.llm import ChatRequest, LLMClient, LLMSettings
from linkqa_pipelines.core.llm.openai_backend import request_body
from linkqa_pipelines.core.llm.preflight import EndpointMemory, PreflightError, preflight
from linkqa_pipelines.core.llm.types import Call, SamplingParams
from linkqa_pipelines_tests.fake_openai_server import ANSWER_SCHEMA, FakeOpenAIServer

Start = Callable[..., FakeOpenAIServer]


def settings(server: FakeOpenAIServer, tmp_path: Path, **overrides: Any) -> LLMSettings:
    values: dict[str, Any] = {"backend": "openai", "base_url": server.base_url, "model": "deepseek-chat"}
    return LLMSettings(**(values | {"home": tmp_path, "backoff_base": 0.0, "backoff_max": 0.0} | overrides))


def test_negotiates_json_object_with_a_deepseek_like_endpoint_and_remembers(fake_openai: Start, tmp_path: Path) -> None:
    server = fake_openai(models=("deepseek-chat",), accepts=frozenset({"json_object", "text"}))
    found = preflight(settings(server, tmp_path), tmp_path)
    assert found.response_format == "json_object"
    assert (
        found.checks[-1]
        == "structured output: json_object (strongest mode the endpoint accepts; refused: json_schema (HTTP 400))"
    )
    assert f"{server.base_url}/models lists deepseek-chat" in found.checks
    assert EndpointMemory(tmp_path / "cache" / "endpoints.json").get(settings(server, tmp_path)) == "json_object"
    sent = server.total
    again = preflight(settings(server, tmp_path), tmp_path)  # remembered: no probe requests this time
    assert again.response_format == "json_object" and server.total == sent
    assert again.checks[-1] == "structured output: json_object (remembered for this endpoint and model)"


def test_preflight_names_what_is_wrong(fake_openai: Start, tmp_path: Path) -> None:
    server = fake_openai(models=("deepseek-chat",))
    with pytest.raises(PreflightError) as missing:
        preflight(settings(server, tmp_path, model="deepseek-reasoner"), tmp_path)
    assert (
        str(missing.value) == f"{server.base_url} does not serve model 'deepseek-reasoner'; it lists ['deepseek-chat']"
    )
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(PreflightError) as unreachable:
        preflight(settings(server, tmp_path, base_url=f"http://127.0.0.1:{port}/v1"), tmp_path)
    assert str(unreachable.value).startswith(f"cannot reach http://127.0.0.1:{port}/v1: ")


def test_doctor_reports_the_chosen_mode(
    fake_openai: Start, linkqa_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = fake_openai(models=("deepseek-chat",), accepts=frozenset({"json_object", "text"}))
    argv = ["doctor", "--backend", "openai", "--base-url", server.base_url, "--model", "deepseek-chat"]
    assert cli.main(argv) == cli.EXIT_OK
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"home: {linkqa_home} (writable)"
    assert out[-1].startswith("ok: structured output: json_object")


def test_blank_json_content_is_retried_until_usable(fake_openai: Start, tmp_path: Path) -> None:
    server = fake_openai(models=("deepseek-chat",), accepts=frozenset({"json_object"}), blank_rate=0.5)
    client = LLMClient(settings(server, tmp_path, response_format="json_object", max_repairs=0))
    requests = [
        ChatRequest(f"k{i}", ({"role": "user", "content": f"question {i} in json"},), schema=ANSWER_SCHEMA)
        for i in range(20)
    ]
    outcome = client.generate("s", None, requests)
    assert all(r.ok for r in outcome.results)
    assert outcome.stats.retries > 0  # some answers were blank and were asked again, not repaired or failed


def test_sampling_parameters_not_sent_to_models_that_refuse_them() -> None:
    call = Call(({"role": "user", "content": "q"},), None, "answer", SamplingParams(), "text")
    assert "temperature" not in request_body("deepseek-reasoner", call)
    assert "top_p" not in request_body("o3-mini", call)
    assert request_body("deepseek-chat", call)["temperature"] == 0.7


def test_retry_failed_reaches_the_llm_resource() -> None:
    """`linkqa run --retry-failed` is run config of the LLM resource, never an environment binding."""
    from linkqa_pipelines.cli.parser import build_parser
    from linkqa_pipelines.definitions import bind_resources
    from linkqa_pipelines.lib.llm_resource import LLM_ENV

    args = build_parser().parse_args(["run", "--retry-failed"])
    llm = bind_resources(env={}, llm={"retry_failed": args.retry_failed or None})["llm"]
    assert llm.retry_failed and llm.settings().retry_failed and llm.settings().max_attempts_total == 4
    assert not bind_resources(env={}, llm={"retry_failed": None})["llm"].retry_failed  # default: not re-sent
    assert "retry_failed" not in LLM_ENV


def test_doctor_checks_a_second_verifier_endpoint(
    fake_openai: Start, linkqa_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    generator = fake_openai(models=("gen-model",))
    verifier = fake_openai(models=("check-model",), accepts=frozenset({"json_object", "text"}))
    monkeypatch.setenv("LINKQA_VERIFY_BASE_URL", verifier.base_url)
    monkeypatch.setenv("LINKQA_VERIFY_MODEL", "check-model")
    monkeypatch.setenv("LINKQA_VERIFY_API_KEY_ENV", "CHECKER_KEY")
    argv = ["doctor", "--backend", "openai", "--base-url", generator.base_url, "--model", "gen-model"]
    assert cli.main(argv) == cli.EXIT_USAGE  # the key variable it names is not set
    assert (
        capsys.readouterr().err.splitlines()[0]
        == "error: LINKQA_VERIFY_API_KEY_ENV names CHECKER_KEY, which is not set"
    )
    monkeypatch.setenv("CHECKER_KEY", "sk-verifier-secret")
    # the verifier takes the generator's format (json_schema), which this endpoint refuses
    assert cli.main(argv) == cli.EXIT_USAGE
    captured = capsys.readouterr()
    assert "rejects every request format for model 'check-model': json_schema (HTTP 400)" in captured.err
    assert "sk-verifier-secret" not in captured.out + captured.err
    verifier_ok = fake_openai(models=("check-model",))
    monkeypatch.setenv("LINKQA_VERIFY_BASE_URL", verifier_ok.base_url)
    assert cli.main(argv) == cli.EXIT_OK
    assert f"verifier: {verifier_ok.base_url}/models lists check-model" in capsys.readouterr().out
