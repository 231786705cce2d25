"""KP extraction through the openai backend: real `openai` client, loopback server, bad answers.

The server plays a model that answers each seed from its prompt: some answers are bad on the
first try (no KPs, wrong language) and are repaired by the layer's retry; one seed always gets
garbage and must end in `llm_failures` with its reason — never silently dropped.
"""

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from linkqa_pipelines.core.lake import Lake
from linkqa_pipelines_tests.fake_openai_server import FakeOpenAIServer
from linkqa_pipelines_tests.pipeline import materialize_assets

SEEDS = [
    {
        "question": "A net force of 10 N acts on a 2 kg cart. What is its acceleration?",
        "choices": ["2 m/s^2", "5 m/s^2", "10 m/s^2", "20 m/s^2"],
        "answer": "B",
        "subject": "high_school_physics",
    },
    {
        "question": "Which law states that every action has an equal and opposite reaction?",
        "choices": ["First law", "Second law", "Third law", "Law of gravitation"],
        "answer": "C",
        "subject": "high_school_physics",
    },
    {
        "question": "NOKPS-FIRST A ball is thrown upward. What is its velocity at the highest point?",
        "choices": ["Zero", "Maximum", "Equal to g", "Negative"],
        "answer": "A",
        "subject": "high_school_physics",
    },
    {
        "question": "一个物体受到的合外力为零时，它的运动状态如何？",
        "choices": ["静止或匀速直线运动", "匀加速运动", "减速运动", "圆周运动"],
        "answer": "A",
        "subject": "high_school_physics",
    },
    {
        "question": "WRONGLANG-FIRST 物体的惯性大小由什么决定？",
        "choices": ["速度", "质量", "受力", "位置"],
        "answer": "B",
        "subject": "high_school_physics",
    },
    {
        "question": "GARBAGE-ALWAYS What is the unit of momentum?",
        "choices": ["kg m/s", "N", "J", "W"],
        "answer": "A",
        "subject": "high_school_physics",
    },
]
_CJK = re.compile(r"[\u4e00-\u9fff]{2}")
_WORD = re.compile(r"[A-Za-z]{5,}")


def play_model(request: dict[str, Any], attempt: int) -> Any:
    """A deterministic stand-in for a model answering the KP extraction prompt."""
    prompt = next(m["content"] for m in request["messages"] if m["role"] == "user")
    # the question block, wherever the instructions put it (an R1-style model gets no system message)
    question = next(block for block in prompt.split("\n\n") if block.startswith(("Question:", "题目:")))
    if "GARBAGE-ALWAYS" in question:
        return {"knowledge_points": "not a list", "note": "garbage"}
    if "NOKPS-FIRST" in question and attempt == 0:
        return {"knowledge_points": [], "discipline": "physics", "grade_level": "high_school", "difficulty": 2}
    zh = bool(_CJK.search(question))
    if zh and not ("WRONGLANG-FIRST" in question and attempt == 0):
        names = list(dict.fromkeys([*_CJK.findall(question.split(":", 1)[-1]), "基本概念", "推理方法"]))[:3]
        desc = "题目考查的知识点"
    else:
        found = [w.lower() for w in _WORD.findall(question.split(":", 1)[-1])]
        names = list(dict.fromkeys([*found, "problem solving", "quantitative reasoning"]))[:3]
        desc = "A concept the question tests."
    return {
        "knowledge_points": [{"name": n, "description": desc} for n in names],
        "discipline": "physics",
        "grade_level": "high_school",
        "difficulty": 3,
    }


@pytest.fixture
def server(fake_openai: Callable[..., FakeOpenAIServer]) -> FakeOpenAIServer:
    return fake_openai(responder=play_model)


def test_kp_extraction_through_openai_backend_repairs_and_records_failures(
    tmp_path: Path, server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch, linkqa_home: Path
) -> None:
    monkeypatch.setenv("LINKQA_LLM_API_KEY", "sk-test-SECRET-kp-123")
    seeds_file = tmp_path / "physics.jsonl"
    seeds_file.write_bytes(b"\n".join(orjson.dumps(s) for s in SEEDS) + b"\n")
    home = linkqa_home
    llm = {
        "backend": "openai",
        "base_url": server.base_url,
        "model": "fake-r1",
        "max_retries": 2,
        "max_repairs": 1,
        "timeout": 5.0,
    }
    kp_stage = ["seed_knowledge_points", "seed_knowledge_points_llm_failures"]  # one multi-asset
    materialize_assets(
        home,
        ["seed_sources", "seed_quarantine", "seed_accounting"],
        run_config={"ops": {"ingest_seeds": {"config": {"sources": [str(seeds_file)]}}}},
    )
    result = materialize_assets(home, ["seed_qa", *kp_stage], partition="physics", llm=llm)
    lake = Lake(home)
    links = lake.read("seed_knowledge_points")
    seeds = lake.read("seed_qa", ["physics"])
    assert seeds.height == 6
    by_seed = links.group_by("seed_id").agg(pl.col("kp_name"), pl.col("backend").first(), pl.col("model").first())
    assert by_seed.height == 5  # every seed but the garbage one
    assert set(by_seed["backend"]) == {"openai"} and set(by_seed["model"]) == {"fake-r1"}
    zh_ids = seeds.filter(pl.col("language") == "zh")["seed_id"].to_list()
    for row in by_seed.filter(pl.col("seed_id").is_in(zh_ids)).iter_rows(named=True):
        assert all(_CJK.search(n) for n in row["kp_name"]), row  # the wrong-language answer was repaired
    assert "acceleration" in links["kp_name"].to_list()

    failures = lake.read("llm_failures")
    # stored under the stage's own Hive key, as the stage's failures asset
    assert_frame_equal(
        failures, lake.read("llm_failures", [{"stage": "seed_knowledge_points", "discipline": "physics"}])
    )
    garbage_id = seeds.filter(pl.col("question").str.contains("GARBAGE-ALWAYS"))["seed_id"].item()
    assert failures["key"].to_list() == [garbage_id]
    assert failures["stage"].item() == "seed_knowledge_points" and failures["partition"].item() == "physics"
    assert "knowledge" in failures["reason"].item().lower() or "schema" in failures["reason"].item().lower()

    by_asset = {m.asset_key.to_user_string(): m for m in result.asset_materializations_for_node(kp_stage[0])}
    assert set(by_asset) == set(kp_stage)  # the multi-asset's step materializes the table and its failures
    meta = by_asset["seed_knowledge_points"].metadata
    assert meta["llm_backend"].value == "openai"
    assert meta["seeds_failed"].value == 1 and meta["llm_failures"].value == 1
    repairs = meta["llm_repairs"].value
    assert isinstance(repairs, int) and repairs >= 2  # NOKPS-FIRST and WRONGLANG-FIRST were repaired
    assert "sk-test-SECRET-kp-123" not in str({k: v.value for k, v in meta.items()})
    assert by_asset["seed_knowledge_points_llm_failures"].metadata["dagster/row_count"].value == 1
    assert "sk-test-SECRET-kp-123" not in "".join(str(e) for e in result.all_events)
    # the key reached the endpoint from LINKQA_LLM_API_KEY
    assert server.auth_headers == {"Bearer sk-test-SECRET-kp-123"}

    # A second materialization answers from the cache and retries only the failure.
    before = server.snapshot()[0]
    materialize_assets(home, kp_stage, partition="physics", llm=llm)
    sent = server.snapshot()[0] - before
    assert 1 <= sent <= 1 + 2 * (1 + 2)  # only the garbage seed goes back to the server
    assert lake.read("seed_knowledge_points").group_by("seed_id").len().height == 5
