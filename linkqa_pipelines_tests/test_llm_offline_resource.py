"""The offline backend and the Dagster resource around the LLM layer."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import dagster as dg
import pytest

from linkqa_pipelines.core.llm import ChatRequest, LLMClient, LLMSettings
from linkqa_pipelines.definitions import bind_resources, build_definitions
from linkqa_pipelines.lib.llm_resource import LLMResource, stats_metadata
from linkqa_pipelines.lib.model_stage import ModelPlacement

SCHEMA = {"type": "object", "required": ["kps"], "properties": {"kps": {"type": "array", "items": {"type": "string"}}}}


def requests(n: int) -> list[ChatRequest]:
    return [
        ChatRequest(
            key=f"s{i}",
            messages=({"role": "user", "content": f"seed {i}"},),
            schema=SCHEMA,
            payload={"words": ["alpha", "beta"][: i % 3]},
        )
        for i in range(n)
    ]


def keyword_kps(batch: Sequence[ChatRequest]) -> list[dict | None]:
    """A corpus-level stand-in: sees the whole batch, answers None when it has nothing."""
    assert len(batch) == 6
    return [{"kps": list(r.payload["words"])} if r.payload["words"] else None for r in batch]


def test_offline_backend_labels_validates_and_records(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="linkqa_pipelines.llm")
    client = LLMClient(LLMSettings(backend="offline", home=tmp_path))
    outcome = client.generate(
        "kp",
        "physics",
        requests(6),
        offline=keyword_kps,
        offline_name="keyphrase-v1",
        validate=lambda r, a: "one KP is too few" if len(a["kps"]) < 2 else None,
    )
    by_key = {r.key: r for r in outcome.results}
    assert [r.key for r in outcome.results] == [f"s{i}" for i in range(6)]
    assert all(r.backend == "offline" and r.model == "keyphrase-v1" and r.prompt_tokens == 0 for r in outcome.results)
    assert by_key["s2"].ok and by_key["s2"].parsed == {"kps": ["alpha", "beta"]}
    assert not by_key["s1"].ok and by_key["s1"].error == "one KP is too few"
    assert not by_key["s0"].ok and "no answer" in (by_key["s0"].error or "")
    frame = outcome.failures_frame()
    assert sorted(frame["key"]) == ["s0", "s1", "s3", "s4"] and set(frame["backend"]) == {"offline"}
    assert frame["terminal"].all() and outcome.stats.terminal == 4  # deterministic: asking again changes nothing
    assert outcome.stats.calls == 0 and outcome.stats.succeeded == 2
    assert "[offline backend] kp/physics (keyphrase-v1): 6 requests: 2 ok, 4 failed (4 terminal)" in caplog.text


def test_offline_backend_checks_schema_and_shape(tmp_path: Path) -> None:
    client = LLMClient(LLMSettings(backend="offline", home=tmp_path))
    bad = client.generate("kp", None, requests(1), offline=lambda b: [{"kps": "not a list"}])
    assert "schema violation at kps" in (bad.results[0].error or "")
    with pytest.raises(ValueError, match="stage 'kp': LLM backend is 'offline' but the stage passed no offline"):
        client.generate("kp", None, requests(1))
    with pytest.raises(ValueError, match="returned 0 answers for 1 requests"):
        client.generate("kp", None, requests(1), offline=lambda b: [])


ENV = {
    "LINKQA_LLM_BACKEND": "openai",
    "LINKQA_LLM_MODEL": "deepseek-reasoner",
    "LINKQA_LLM_BASE_URL": "https://api.deepseek.com/v1",
    "LINKQA_LLM_CONCURRENCY": "16",
    "DEEPSEEK_API_KEY": "sk-test-SECRET-123",
    "MY_KEY": "sk-test-OTHER-456",
}


def bound_to(value: object) -> tuple[str, str] | None:
    """(EnvVar class, variable) of a field bound to the environment, None for a plain value."""
    name = getattr(value, "env_var_name", None)
    return (type(value).__name__, name) if name else None


def resolved(resource: LLMResource) -> LLMResource:
    """The resource as an asset receives it: Dagster's resource init resolves its `EnvVar`s."""
    with dg.build_resources({"llm": resource}) as built:
        return built.llm


def test_resource_reads_env_and_keeps_the_key_out(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    # The definitions bind each set LINKQA_LLM_* variable as an EnvVar; the key is never a field.
    bound = bind_resources(env=ENV)["llm"]
    assert {f: bound_to(getattr(bound, f)) for f in ("backend", "model", "base_url", "concurrency")} == {
        "backend": ("EnvVar", "LINKQA_LLM_BACKEND"),
        "model": ("EnvVar", "LINKQA_LLM_MODEL"),
        "base_url": ("EnvVar", "LINKQA_LLM_BASE_URL"),
        "concurrency": ("IntEnvVar", "LINKQA_LLM_CONCURRENCY"),
    }
    assert bound_to(bound.timeout) is None  # unset variables leave the field's default
    assert bound.api_key_env == "" and "api_key" not in LLMResource.model_fields

    resource = resolved(bound)
    assert (resource.backend, resource.model, resource.concurrency) == ("openai", "deepseek-reasoner", 16)
    assert resource.settings().pool_name() == "llm_api_deepseek_com_deepseek_reasoner"
    assert ModelPlacement.from_settings(resource.settings()).pool == "llm_api_deepseek_com_deepseek_reasoner"
    # the model-backed steps of the code location loaded with this environment run in that pool
    defs = build_definitions(env=ENV)
    for stage in ("seed_knowledge_points", "synthesized_qa", "difficulty_scored_qa"):
        assert defs.resolve_assets_def(stage).op.pool == "llm_api_deepseek_com_deepseek_reasoner", stage
    assert resource.describe() == "[openai backend] deepseek-reasoner at https://api.deepseek.com/v1"
    client = resource.client(tmp_path)
    assert client.settings.secret() == "sk-test-SECRET-123" and client.settings.home == tmp_path
    assert LLMResource(api_key_env="MY_KEY", concurrency=4).settings().secret() == "sk-test-OTHER-456"
    # explicit settings win over the environment; the resource itself never reads LINKQA_LLM_*
    overridden = bind_resources(env=ENV, llm={"concurrency": 4})["llm"]
    assert bound_to(overridden.concurrency) is None and resolved(overridden).concurrency == 4
    assert LLMResource(concurrency=4).concurrency == 4
    assert LLMResource().backend == "offline"
    shown = repr(resource) + str(resource.model_dump()) + repr(client) + repr(client.settings)
    shown += repr(bound) + str(bound.model_dump())
    assert "SECRET" not in shown
    assert LLMResource(backend="offline").settings().pool_name() == "llm_offline"
    assert build_definitions(env={}).resolve_assets_def("seed_knowledge_points").op.pool == "llm_offline"


def test_key_variables_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """LINKQA_LLM_API_KEY, else OPENAI_API_KEY, else DEEPSEEK_API_KEY."""
    resource = resolved(bind_resources(env={})["llm"])
    assert resource.settings().secret() is None
    for name in ("DEEPSEEK_API_KEY", "OPENAI_API_KEY", "LINKQA_LLM_API_KEY"):
        monkeypatch.setenv(name, f"sk-test-{name}")
        assert resource.settings().secret() == f"sk-test-{name}"


def test_resource_in_an_asset_gives_metadata(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("LINKQA_LLM_BACKEND", raising=False)
    monkeypatch.setenv("LINKQA_LLM_API_KEY", "sk-test-SECRET-789")
    keys_seen: list[str | None] = []

    @dg.asset(pool=LLMResource().settings().pool_name())
    def kps(llm: LLMResource) -> dg.MaterializeResult:
        client = llm.client(tmp_path)
        keys_seen.append(client.settings.secret())
        outcome = client.generate("kp", None, requests(6), offline=keyword_kps)
        return dg.MaterializeResult(metadata={**stats_metadata(outcome), "llm": llm.describe()})

    assert kps.op.pool == "llm_offline"
    # the resource as the definitions bind it: offline (no LINKQA_LLM_BACKEND set)
    llm = bind_resources()["llm"]
    assert bound_to(llm.backend) is None
    result = dg.materialize([kps], resources={"llm": llm})
    (materialization,) = result.asset_materializations_for_node("kps")
    meta = {k: v.value for k, v in materialization.metadata.items()}
    assert meta["llm_backend"] == "offline" and meta["llm_model"] == "keyword_kps"
    assert meta["llm_requests"] == 6 and meta["llm_failures"] == 2 and meta["llm_calls"] == 0
    # offline rejections are terminal, and the reasons the run's summary prints say so
    assert meta["llm_terminal"] == 2 and meta["llm_failure_reasons"] == {
        "terminal: the offline algorithm has no answer for this request": 2
    }
    assert meta["llm_cost_usd"] == 0.0
    # the asset's client had the key, and it reached neither metadata nor any event of the run
    assert keys_seen == ["sk-test-SECRET-789"]
    assert "SECRET" not in str(meta) + "".join(str(e) for e in result.all_events)


def test_float_settings_from_the_environment_are_plain_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dagster's EnvVar has no float form: float fields take the value when the definitions load."""
    env = {"LINKQA_LLM_TIMEOUT": "5.5", "LINKQA_LLM_CONCURRENCY": "7"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    llm = resolved(bind_resources(env=env)["llm"])
    assert (llm.timeout, llm.concurrency) == (5.5, 7)
    with pytest.raises(ValueError, match="LINKQA_LLM_TIMEOUT='soon' is not a number"):
        bind_resources(env={"LINKQA_LLM_TIMEOUT": "soon"})
