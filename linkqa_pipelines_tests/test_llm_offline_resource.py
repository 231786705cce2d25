"""The offline backend and the Dagster resource around the LLM layer."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import dagster as dg
import pytest

from linkqa_pipelines.core.llm import ChatRequest, LLMClient, LLMSettings
from linkqa_pipelines.resources.llm import LLMResource, stats_metadata

SCHEMA = {"type": "object", "required": ["kps"], "properties": {"kps": {"type": "array", "items": {"type": "string"}}}}


def requests(n: int) -> list[ChatRequest]:
    return [ChatRequest(key=f"s{i}", messages=({"role": "user", "content": f"seed {i}"},), schema=SCHEMA,
                        payload={"words": ["alpha", "beta"][: i % 3]}) for i in range(n)]


def keyword_kps(batch: Sequence[ChatRequest]) -> list[dict | None]:
    """A corpus-level stand-in: sees the whole batch, answers None when it has nothing."""
    assert len(batch) == 6
    return [{"kps": list(r.payload["words"])} if r.payload["words"] else None for r in batch]


def test_offline_backend_labels_validates_and_records(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="linkqa_pipelines.llm")
    client = LLMClient(LLMSettings(backend="offline", home=tmp_path))
    outcome = client.generate("kp", "physics", requests(6), offline=keyword_kps, offline_name="keyphrase-v1",
                              validate=lambda r, a: "one KP is too few" if len(a["kps"]) < 2 else None)
    by_key = {r.key: r for r in outcome.results}
    assert [r.key for r in outcome.results] == [f"s{i}" for i in range(6)]
    assert all(r.backend == "offline" and r.model == "keyphrase-v1" and r.prompt_tokens == 0
               for r in outcome.results)
    assert by_key["s2"].ok and by_key["s2"].parsed == {"kps": ["alpha", "beta"]}
    assert not by_key["s1"].ok and by_key["s1"].error == "one KP is too few"
    assert not by_key["s0"].ok and "no answer" in (by_key["s0"].error or "")
    frame = outcome.failures_frame()
    assert sorted(frame["key"]) == ["s0", "s1", "s3", "s4"] and set(frame["backend"]) == {"offline"}
    assert outcome.stats.calls == 0 and outcome.stats.succeeded == 2
    assert "[offline backend] kp/physics (keyphrase-v1): 6 requests: 2 ok, 4 failed" in caplog.text


def test_offline_backend_checks_schema_and_shape(tmp_path: Path) -> None:
    client = LLMClient(LLMSettings(backend="offline", home=tmp_path))
    bad = client.generate("kp", None, requests(1), offline=lambda b: [{"kps": "not a list"}])
    assert "schema violation at kps" in (bad.results[0].error or "")
    with pytest.raises(ValueError, match="stage 'kp': LLM backend is 'offline' but the stage passed no offline"):
        client.generate("kp", None, requests(1))
    with pytest.raises(ValueError, match="returned 0 answers for 1 requests"):
        client.generate("kp", None, requests(1), offline=lambda b: [])


def test_resource_reads_env_and_keeps_the_key_out(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LINKQA_LLM_BACKEND", "openai")
    monkeypatch.setenv("LINKQA_LLM_MODEL", "deepseek-reasoner")
    monkeypatch.setenv("LINKQA_LLM_BASE_URL", "https://api.deepseek.com/v1")
    monkeypatch.setenv("LINKQA_LLM_CONCURRENCY", "16")
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-test-SECRET-123")
    monkeypatch.setenv("MY_KEY", "sk-test-OTHER-456")
    resource = LLMResource()
    assert (resource.backend, resource.model, resource.concurrency) == ("openai", "deepseek-reasoner", 16)
    assert resource.pool_name() == "llm_api_deepseek_com_deepseek_reasoner"
    assert resource.describe() == "[openai backend] deepseek-reasoner at https://api.deepseek.com/v1"
    client = resource.client(str(tmp_path))
    assert client.settings.secret() == "sk-test-SECRET-123" and client.settings.home == tmp_path
    assert LLMResource(api_key_env="MY_KEY", concurrency=4).settings().secret() == "sk-test-OTHER-456"
    assert LLMResource(concurrency=4).concurrency == 4
    shown = repr(resource) + str(resource.model_dump()) + repr(client) + repr(client.settings)
    assert "SECRET" not in shown
    assert LLMResource(backend="offline").pool_name() == "llm_offline"


def test_resource_in_an_asset_gives_metadata(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("LINKQA_LLM_BACKEND", raising=False)

    @dg.asset(pool=LLMResource().pool_name())
    def kps(llm: LLMResource) -> dg.MaterializeResult:
        outcome = llm.client(str(tmp_path)).generate("kp", None, requests(6), offline=keyword_kps)
        return dg.MaterializeResult(metadata=stats_metadata(outcome))

    assert kps.op.pool == "llm_offline"
    result = dg.materialize([kps], resources={"llm": LLMResource()})
    (materialization,) = result.asset_materializations_for_node("kps")
    meta = {k: v.value for k, v in materialization.metadata.items()}
    assert meta["llm_backend"] == "offline" and meta["llm_model"] == "keyword_kps"
    assert meta["llm_requests"] == 6 and meta["llm_failures"] == 2 and meta["llm_calls"] == 0
    assert meta["llm_cost_usd"] == 0.0
