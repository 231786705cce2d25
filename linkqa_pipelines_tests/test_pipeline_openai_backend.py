"""The whole asset graph on the openai backend: every model-backed stage talks to a loopback
OpenAI-compatible server through the real `openai` client, and every output row says so."""

import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from dagster import AssetKey, DagsterInstance, TableMetadataValue

from linkqa_pipelines.core.difficulty import DIMENSIONS, OFFLINE_DIFFICULTY_MODEL
from linkqa_pipelines.core.lake import Lake
from linkqa_pipelines.defs.jobs import JOBS
from linkqa_pipelines_tests.fake_openai_server import FakeOpenAIServer
from linkqa_pipelines_tests.pipeline import materialize_assets
from linkqa_pipelines_tests.test_kp_llm_path import play_model as play_kp_model

DISCIPLINES = ["mathematics", "economics"]
_KP_LINE = re.compile(r"^\d+\. ([^:：\n]+)", re.M)


def play_model(request: dict[str, Any], attempt: int) -> Any:
    """A deterministic stand-in model for every LinkSyn task, chosen by the response schema name."""
    task = request["response_format"]["json_schema"]["name"]
    prompt = request["messages"][-1]["content"]
    digest = hashlib.sha1(prompt.encode()).hexdigest()[:8]
    if task == "knowledge_points":
        return play_kp_model(request, attempt)
    if task == "linkqa_verify":  # a solver that knows how this stand-in writes its keys (below)
        item = re.search(r"(?:item |题号)([0-9a-f]{8})", prompt)
        mc = "\n(A) " in prompt
        return {"answer": "A" if mc else f"result {item.group(1) if item else ''}", "rationale": "Worked it out."}
    if task == "linkqa_difficulty":
        level = 1 + int(digest, 16) % 5
        return {
            "dimensions": {d: {"score": level, "justification": "Two linked steps."} for d in DIMENSIONS},
            "level": level,
            "grade_level": "undergraduate",
            "justification": "Two linked steps.",
        }
    zh = "知识点路径" in prompt or "知识点路径：" in prompt or "原题" in prompt
    names = _KP_LINE.findall(prompt)[:2]
    a, b = (names + names)[:2]
    mc = '"qa_type": "multiple_choice"' in prompt
    question = (
        f"在综合运用{a}与{b}的情形下，下列哪一项推理是正确的？（题号{digest}）"
        if zh
        else f"When {a} and {b} must be combined, which conclusion follows (item {digest})?"
    )
    answer: dict[str, Any] = {
        "question": question,
        "qa_type": "multiple_choice" if mc else "free_form",
        "choices": [f"{w} {digest}" for w in ("alpha", "beta", "gamma", "delta")] if mc else None,
        "answer": "A" if mc else f"result {digest}",
        "rationale": f"Apply {a}, then {b}." if not zh else f"先用{a}，再用{b}。",
        "kp_names_used": [a, b],
    }
    if task == "linkqa_enhance":
        answer["question"] = (
            ("更难：" if zh else "Harder variant: ")
            + question
            + (" 并说明理由。" if zh else " Justify the intermediate step.")
        )
        answer["harder_because"] = "adds a justification step"
        return answer
    asked = request["messages"][0]["content"]  # the prompt (a repair's last message does not repeat it)
    count = re.search(r'(\d+) item\(s\) in "items"|"items" 中恰好 (\d+) 道题', asked)  # qa_per_path
    k = int(count.group(1) or count.group(2)) if count else 1
    variants = [f"{question}（变式{j}）" if zh else f"{question} (variant {j})" for j in range(k)]
    return {"items": [{**answer, "question": q, "seeds_used": [1, 2]} for q in variants]}


@pytest.fixture
def server(fake_openai: Callable[..., FakeOpenAIServer]) -> FakeOpenAIServer:
    return fake_openai(responder=play_model, fault_rate=0.1, seed=7)


@pytest.mark.slow
def test_whole_graph_on_the_openai_backend(
    linkqa_home: Path, server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINKQA_LLM_API_KEY", "sk-test-SECRET-pipeline-456")
    home = linkqa_home
    llm = {"backend": "openai", "base_url": server.base_url, "model": "fake-r1", "timeout": 2.0, "max_retries": 4}

    instance = DagsterInstance.ephemeral()  # one instance: the global stages read the partitions registered

    scored_meta: dict[str, Any] = {}

    def run(job: str, partition: str | None = None, config: dict | None = None) -> None:
        result = materialize_assets(
            home, None, job=job, partition=partition, run_config=config, llm=llm, instance=instance
        )
        assert result.success
        for event in result.get_asset_materialization_events():
            if event.asset_key == AssetKey("difficulty_scored_qa"):
                scored_meta[str(partition)] = event.step_materialization_data.materialization.metadata

    # the jobs `linkqa run` executes, in their order; the discipline jobs once per partition
    walks = {"ops": {"walk_paths": {"config": {"n_paths": 40}}}}
    for job in JOBS:
        if job.name.startswith("discipline_"):
            for d in DISCIPLINES:
                run(job.name, d, walks if job.name == "discipline_synthesis_job" else None)
        else:
            run(job.name)

    lake = Lake(home)
    for table in ("seed_knowledge_points", "synthesized_qa", "difficulty_scored_qa", "linkqa_dataset"):
        frame = lake.read(table, DISCIPLINES)
        assert frame.height > 0, table
        assert set(frame["backend"]) == {"openai"} and set(frame["model"]) == {"fake-r1"}, table
    qa = lake.read("synthesized_qa", DISCIPLINES)
    assert qa.group_by("path_id").len()["len"].max() == 3  # qa_per_path: 3 with a model
    assert (qa["prompt_tokens"] > 0).all() and (qa["completion_tokens"] > 0).all()
    scored = lake.read("difficulty_scored_qa", DISCIPLINES)
    assert set(scored["difficulty_method"].drop_nulls()) <= {"fake-r1", OFFLINE_DIFFICULTY_MODEL}
    assert (scored["difficulty_method"] == "fake-r1").sum() > 0
    # every item was asked for a level (the discipline's target split over its items); the difficulty
    # stage shows, per level asked for, how the judged items scored
    assert qa["requested_level"].is_between(1, 5).all()
    for d in DISCIPLINES:
        table = scored_meta[d]["requested_vs_scored"]
        assert isinstance(table, TableMetadataValue)
        mine = scored.filter(
            pl.col("discipline") == d, pl.col("enhanced_from").is_null(), pl.col("difficulty").is_not_null()
        )
        shown = {r.data["requested_level"]: r.data["items"] for r in table.records}
        assert shown == dict(mine.group_by("requested_level").len().iter_rows())
    variants = scored.filter(pl.col("enhanced_from").is_not_null())
    assert variants["enhanced_from"].is_in(scored["qa_id"].to_list()).all()
    failures = lake.read("llm_failures") if lake.files("llm_failures") else pl.DataFrame()
    # every model-backed stage records its failures (even none) under its own stage= key, per discipline
    stored = {(p.parent.parent.name, p.parent.name) for p in (home / "lake" / "llm_failures").glob("*/*/data.parquet")}
    assert stored == {
        (f"stage={stage}", f"discipline={d}")
        for stage in ("seed_knowledge_points", "synthesized_qa", "qa_verification", "difficulty_scored_qa")
        for d in DISCIPLINES
    }
    # with 10% injected faults and 4 retries nearly everything succeeds; what did not is on record
    assert failures.height <= 0.05 * qa.height + 1, failures.select("stage", "reason").to_dicts()
    assert server.outcomes["ok"] > 0 and sum(n for k, n in server.outcomes.items() if k != "ok") > 0
    assert (home / "release" / "README.md").read_text(encoding="utf-8").count("openai") >= 1
    for path in home.rglob("*"):
        if path.is_file() and path.suffix in {".parquet", ".json", ".md", ".sqlite", ".duckdb"}:
            assert b"sk-test-SECRET-pipeline-456" not in path.read_bytes(), path
