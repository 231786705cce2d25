"""The verification stage: keyless requests, the vote, the refine / regenerate rounds through the
loopback server, offline abstention, resume after SIGKILL, the dataset keep rule, and the
difficulty stage's solver check on the stored votes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pytest

from linkqa_pipelines.core.contracts import KP_CATALOG_SCHEMA, SEED_SCHEMA
from linkqa_pipelines.core.difficulty import solver_answers
from linkqa_pipelines.core.graph.build import SEED_LINK_SCHEMA
from linkqa_pipelines.core.lake import Lake
from linkqa_pipelines.core.level_scale import LEVEL_SCALE
from linkqa_pipelines.core.llm import LLMClient, LLMSettings
from linkqa_pipelines.core.release import verification_screen
from linkqa_pipelines.core.verification import (
    VOTES_SCHEMA,
    build_verification_requests,
    consensus,
    tally,
    verification_summary,
)
from linkqa_pipelines.core.verification.repair import build_regenerate_requests
from linkqa_pipelines.definitions import bind_resources, build_definitions
from linkqa_pipelines_tests import verify_kill_worker as steered
from linkqa_pipelines_tests.fake_openai_server import FakeOpenAIServer
from linkqa_pipelines_tests.pipeline import materialize_assets

QA = pl.DataFrame(
    {
        "qa_id": ["qa_mc", "qa_ff"],
        "language": ["en", "zh"],
        "question": ["What is 2 + 3?", "植物吸收哪种气体？"],
        "choices": [["4", "5", "6", "7"], None],
        "answer": ["B", "二氧化碳"],
    }
)
WORKER = Path(steered.__file__)


def test_requests_are_keyless_k_per_item_with_distinct_seeds_per_round() -> None:
    requests = build_verification_requests(QA.to_dicts(), k=3, round_=1)
    assert [r.key for r in requests][:3] == ["verify:qa_mc:1:0", "verify:qa_mc:1:1", "verify:qa_mc:1:2"]
    assert [r.params.seed for r in requests] == [3, 4, 5, 3, 4, 5]  # round * k + sample: never a replayed round
    mc_prompt, zh_prompt = requests[0].messages[-1]["content"], requests[3].messages[-1]["content"]
    assert "(B) 5" in mc_prompt and "the letter of the correct option" in mc_prompt
    assert "二氧化碳" not in zh_prompt and "请独立解答" in zh_prompt and "只写最终答案" in zh_prompt
    with pytest.raises(ValueError, match="k"):
        build_verification_requests(QA.to_dicts(), k=0)


def test_majority_vote_against_the_key_and_the_consensus_that_decides_the_repair() -> None:
    mc, ff = QA.to_dicts()
    assert tally(mc, ["B", "(B)", "A"]) == ("verified", 2 / 3)
    assert tally(mc, ["5", "A", "C"]) == ("failed", 1 / 3)  # choice text counts as its letter
    assert tally(mc, ["B", "A"]) == ("failed", 0.5)  # a tie is not a majority
    assert tally(ff, ["二氧化碳。", "二氧化碳", None]) == ("verified", 1.0)
    assert tally(ff, [None, " "]) == ("unverified", None)
    assert tally({"answer": "0.5", "choices": None}, [".50", "1/2", "0.5."]) == ("verified", 2 / 3)  # as numbers
    assert tally({"answer": "1,000", "choices": None}, ["1000", "100"]) == ("failed", 0.5)
    assert tally({"answer": "42", "choices": None}, ["$42$", "\\boxed{42}", "42 cm", "42 and 43"]) == ("verified", 0.75)
    assert consensus(mc, ["C", "(C)", "A"]) == "C"  # a confident majority elsewhere: refine
    assert consensus(mc, ["A", "C", "D"]) is None  # scattered: regenerate
    assert consensus(mc, ["Z", "Q", "A"]) is None  # answers naming no option are no consensus


def test_offline_backend_leaves_every_item_unverified(tmp_path: Path) -> None:
    client = LLMClient(LLMSettings(backend="offline", home=tmp_path))
    run = steered.run(client, steered.items())
    assert set(run.items["verification"]) == {"unverified"} and run.items["agreement"].is_null().all()
    assert run.items["qa_id"].to_list() == steered.items()["qa_id"].to_list()  # nothing repaired or replaced
    assert run.votes.height == 4 * steered.K and run.votes["answer"].is_null().all()  # every solver abstained
    assert set(run.votes["model"]) == {"offline-abstain-v1"}
    assert [o.batch.stats.stage for o in run.outcomes] == ["qa_verification"]  # no refine, no regenerate
    assert verification_summary(run.items)["refine_rate"] is None


def test_a_disagreeing_verifier_drives_refine_and_regenerate(
    fake_openai: Callable[..., FakeOpenAIServer], tmp_path: Path
) -> None:
    server = fake_openai(responder=steered.play_verifier)
    run = steered.run(LLMClient(steered.settings(server.base_url, tmp_path)), steered.items())
    got = {
        (r["regenerated_from"] or r["qa_id"]): (r["verification"], r["agreement"], r["verify_rounds"], r["answer"])
        for r in run.items.iter_rows(named=True)
    }
    assert got == {
        "qa_ok_0": ("verified", 1.0, 0, "B"),
        "qa_refine_1": ("refined", pytest.approx(2 / 3), 1, "C"),  # the verifier's key won the re-vote
        "qa_regen_2": ("refined", 1.0, 1, "B"),  # scattered answers: a new item from the path
        "qa_fail_3": ("failed", 0.0, 1, "42"),  # the key lost again after the last round
    }
    new = run.items.filter(pl.col("regenerated_from") == "qa_regen_2").row(0, named=True)
    assert new["question"].startswith("[new]") and new["qa_id"] != "qa_regen_2"
    assert run.items.filter(pl.col("qa_id") == "qa_refine_1")["rationale"].item() == "Re-derived step by step."
    # every vote kept, against the item version it was cast on
    assert run.votes.schema == pl.Schema(VOTES_SCHEMA)
    per_item = Counter(run.votes["qa_id"].to_list())
    assert per_item == {"qa_ok_0": 3, "qa_refine_1": 6, "qa_regen_2": 3, new["qa_id"]: 3, "qa_fail_3": 6}
    assert run.votes.filter(pl.col("qa_id") == "qa_fail_3")["agrees"].to_list() == [False] * 6
    refine_votes = run.votes.filter(pl.col("qa_id") == "qa_refine_1")
    assert refine_votes.select("round", "key").unique().sort("round").rows() == [(0, "A"), (1, "C")]
    assert server.total == 4 * 3 + 2 + 1 + 3 * 3  # round 0, two refinements, one regeneration, round 1
    summary = verification_summary(run.items)
    assert summary["verification"] == {"verified": 1, "refined": 2, "failed": 1, "unverified": 0}
    assert summary["refine_rate"] == 0.5 and summary["regenerated"] == 1
    # the solver check's input: the last round's answers of each item version (replaced ones included)
    solver = {r["qa_id"]: (r["k"], r["n_wrong"]) for r in solver_answers(run.votes).iter_rows(named=True)}
    assert solver == {
        "qa_ok_0": (3, 0),
        "qa_refine_1": (3, 1),
        "qa_regen_2": (3, 3),
        new["qa_id"]: (3, 0),
        "qa_fail_3": (3, 3),
    }


def test_a_regenerated_item_is_asked_for_the_level_its_item_was() -> None:
    item = {
        "qa_id": "q",
        "path_id": "p",
        "discipline": "biology",
        "language": "en",
        "qa_type": "free_form",
        "question": "What links x and y?",
        "choices": None,
        "answer": "z",
        "kp_ids": ["k"],
        "seed_ids": [],
        "requested_level": 2,
    }
    (en,) = build_regenerate_requests([(item, ["a", "b"])], {"k": "cell"}, {}, 1)
    assert en.payload["requested_level"] == 2
    assert f"Difficulty level 2 on this scale: {LEVEL_SCALE['en']}" in en.messages[0]["content"]
    (zh,) = build_regenerate_requests([({**item, "language": "zh"}, ["a"])], {"k": "细胞"}, {}, 1)
    assert f"难度为 2 级，量表：{LEVEL_SCALE['zh']}" in zh.messages[0]["content"]
    (unasked,) = build_regenerate_requests([({**item, "requested_level": None}, ["a"])], {"k": "cell"}, {}, 1)
    assert "level" not in unasked.messages[0]["content"].lower()  # none asked at synthesis, none now


def test_dataset_keeps_verified_and_refined_model_items_and_every_offline_item() -> None:
    qa = pl.DataFrame(
        {
            "qa_id": ["v", "r", "f", "u", "o"],
            "discipline": ["d"] * 5,
            "question": ["q"] * 5,
            "backend": ["openai"] * 4 + ["offline"],
            "verification": ["verified", "refined", "failed", "unverified", "unverified"],
        }
    )
    kept, rejected = verification_screen(qa)
    assert kept["qa_id"].to_list() == ["v", "r", "o"]
    assert dict(zip(rejected["qa_id"], rejected["reason"], strict=True)) == {
        "f": "verification_failed",
        "u": "not_verified",
    }
    assert set(rejected["stage"]) == {"verification"}
    kept_all, _ = verification_screen(qa, ["verified", "refined", "unverified"])
    assert kept_all["qa_id"].to_list() == ["v", "r", "u", "o"]


def test_verifier_settings_bind_to_the_environment_and_keep_the_key_out(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "LINKQA_LLM_BACKEND": "openai",
        "LINKQA_LLM_MODEL": "deepseek-reasoner",
        "LINKQA_LLM_BASE_URL": "https://api.deepseek.com/v1",
        "LINKQA_VERIFY_K": "5",
        "LINKQA_VERIFY_MODEL": "deepseek-chat",
        "LINKQA_VERIFY_BASE_URL": "https://verifier.example/v1",
        "LINKQA_VERIFY_API_KEY_ENV": "VERIFIER_KEY",
    }
    for name, value in {**env, "VERIFIER_KEY": "sk-test-SECRET-verifier"}.items():
        monkeypatch.setenv(name, value)
    with dg.build_resources({"verify": bind_resources(env=env)["verify"]}) as built:
        verify = built.verify
    assert (verify.k, verify.rounds) == (5, 2)
    settings = verify.llm.settings()
    assert (settings.model, settings.base_url) == ("deepseek-chat", "https://verifier.example/v1")
    assert settings.backend == "openai"  # the rest is the generator's
    assert settings.secret() == "sk-test-SECRET-verifier"  # read from the variable named, never a field
    assert "SECRET" not in repr(verify) + str(verify.llm.model_dump())
    defs = build_definitions(env=env)
    assert defs.resolve_assets_def("qa_verification").op.pool == "llm_verifier_example_deepseek_chat"
    assert defs.resolve_assets_def("synthesized_qa").op.pool == "llm_api_deepseek_com_deepseek_reasoner"
    # unset, the verifier is the generation model
    generator_only = {k: v for k, v in env.items() if k.startswith("LINKQA_LLM_")}
    with dg.build_resources({"verify": bind_resources(env=generator_only)["verify"]}) as built:
        assert (built.verify.k, built.verify.llm.model) == (3, "deepseek-reasoner")


@pytest.mark.slow
def test_sigkill_during_verification_then_resume_repeats_no_successful_call(tmp_path: Path) -> None:
    n = 48  # 144 votes in round 0
    home = tmp_path / "home"
    with FakeOpenAIServer(latency=0.03, responder=steered.play_verifier) as server:
        worker = subprocess.Popen(
            [sys.executable, str(WORKER), server.base_url, str(home), str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while server.snapshot()[1] < 40:  # well into round 0
            assert worker.poll() is None, worker.communicate()
            assert time.monotonic() < deadline, "worker made no progress"
            time.sleep(0.01)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
        assert worker.returncode == -signal.SIGKILL
        killed_total, killed_answered, _ = server.snapshot()

        resumed = steered.run(LLMClient(steered.settings(server.base_url, home)), steered.items(n))
        resent = server.snapshot()[0] - killed_total
        hits = sum(o.batch.stats.cache_hits for o in resumed.outcomes)
        calls = sum(o.batch.stats.calls for o in resumed.outcomes)

        before_fresh = server.snapshot()[0]
        fresh = steered.run(LLMClient(steered.settings(server.base_url, tmp_path / "fresh")), steered.items(n))
        needed = server.snapshot()[0] - before_fresh
    assert killed_answered - steered.settings("", home).concurrency <= hits <= killed_answered  # only in-flight lost
    assert resent == calls == needed - hits  # every answer received before the kill replayed, the rest sent once
    assert resumed.items.equals(fresh.items) and resumed.votes.equals(fresh.votes)
    assert set(resumed.items["verification"]) == {"verified", "refined", "failed"}


def _write_upstream(home: Path, discipline: str) -> pl.DataFrame:
    """The tables qa_verification and difficulty_scored_qa read: the steered items and their path."""
    lake = Lake(home)
    qa = steered.items(discipline=discipline)
    seed = {
        "seed_id": "s1",
        "source": "seeds.jsonl",
        "source_row": 1,
        "adapter": "generic",
        "subject": "arithmetic",
        "discipline": discipline,
        "language": "en",
        "qa_type": "free_form",
        "question": steered.SEEDS["s1"]["question"],
        "choices": None,
        "answer": "3",
        "explanation": "352 has 3 hundreds.",
        "ref_difficulty": None,
    }
    lake.write("seed_sources", pl.DataFrame([seed], schema=SEED_SCHEMA))
    catalog = [
        {"kp_id": k, "node": i, "name": name, "description": name, "aliases": [], "disciplines": [discipline]}
        for i, (k, name) in enumerate(steered.KP_NAMES.items())
    ]
    lake.write("kp_catalog", pl.DataFrame([{**c, "popularity": 1} for c in catalog], schema=KP_CATALOG_SCHEMA))
    links = [{"seed_id": "s1", "kp_id": k, "node": i, "discipline": discipline} for i, k in enumerate(steered.KP_NAMES)]
    lake.write("kp_seed_links", pl.DataFrame(links, schema=SEED_LINK_SCHEMA))
    lake.write("synthesized_qa", qa, {"discipline": discipline})
    return qa


def _task_counts(server: FakeOpenAIServer) -> Counter[str]:
    return Counter(b["response_format"]["json_schema"]["name"] for b in server.bodies)


@pytest.mark.slow
def test_difficulty_solver_check_reads_the_stored_votes_without_new_calls(
    linkqa_home: Path, fake_openai: Callable[..., FakeOpenAIServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINKQA_LLM_API_KEY", "sk-test-SECRET-verify-789")
    monkeypatch.setenv("LINKQA_VERIFY_K", str(steered.K))
    monkeypatch.setenv("LINKQA_VERIFY_ROUNDS", str(steered.ROUNDS))
    server = fake_openai(responder=steered.play_verifier)
    discipline = "mathematics"
    _write_upstream(linkqa_home, discipline)
    llm: dict[str, Any] = {"backend": "openai", "base_url": server.base_url, "model": "fake-r1", "timeout": 5.0}

    stage = ["qa_verification", "qa_verification_llm_failures", "qa_verification_votes"]
    assert materialize_assets(linkqa_home, stage, partition=discipline, llm=llm).success
    verification_calls = _task_counts(server)
    assert verification_calls == {"linkqa_verify": 21, "linkqa_refine": 2, "linkqa_synthesis": 1}

    no_enhance = {"ops": {"difficulty_scored_qa": {"config": {"enhance": False}}}}
    scoring = [
        "difficulty_scored_qa",
        "difficulty_scored_qa_llm_failures",
        "difficulty_variant_votes",
        "difficulty_rejected_variants",
    ]
    assert materialize_assets(linkqa_home, scoring, partition=discipline, llm=llm, run_config=no_enhance).success
    difficulty_calls = _task_counts(server) - verification_calls
    assert difficulty_calls == {"linkqa_difficulty": 3}  # the judge, on the three items that passed; no vote

    lake = Lake(linkqa_home)
    items = lake.read("qa_verification", [{"discipline": discipline}])
    votes = lake.read("qa_verification_votes", [{"discipline": discipline}])
    scored = lake.read("difficulty_scored_qa", [{"discipline": discipline}])
    assert votes.height == 21 and sorted(items["verification"]) == ["failed", "refined", "refined", "verified"]
    by_id = {r["qa_id"]: r for r in scored.iter_rows(named=True)}
    assert {q: (r["solver_k"], r["solver_error_rate"]) for q, r in by_id.items()} == {
        q: (k, pytest.approx(wrong / k)) for q, k, wrong in solver_answers(votes).iter_rows() if q in by_id
    }
    refined = by_id["qa_refine_1"]  # judge 3, solver 1 of 3 wrong -> level 1 + 4/3; (4*3 + 3*2.33) / 7 = 2.71
    assert refined["difficulty_judge"] == 3 and refined["difficulty"] == 3
    failed = by_id["qa_fail_3"]  # not judged (it leaves at screening); the offline estimate, labelled
    assert failed["difficulty_judge"] is None and failed["difficulty_method"].startswith("offline-")

    # with enhancement: the two level-2 items get harder variants, each voted on before it is kept
    before = _task_counts(server)
    assert materialize_assets(linkqa_home, scoring, partition=discipline, llm=llm).success
    assert _task_counts(server) - before == {"linkqa_enhance": 2, "linkqa_verify": 6, "linkqa_difficulty": 1}
    scored = lake.read("difficulty_scored_qa", [{"discipline": discipline}])
    variants = scored.filter(pl.col("enhanced_from").is_not_null())
    assert variants.select("enhanced_from", "verification", "difficulty").rows() == [("qa_ok_0", "verified", 3)]
    variant_votes = lake.read("difficulty_variant_votes", [{"discipline": discipline}])
    assert variant_votes.height == 6 and variant_votes["qa_id"].n_unique() == 2  # the lost variant's votes kept
    lost = lake.read("difficulty_rejected_variants", [{"discipline": discipline}])  # linked, with why
    assert lost.height == 1 and lost["qa_id"][0] in set(variant_votes["qa_id"]) - set(variants["qa_id"])
    assert lost["enhanced_from"][0] in by_id and lost["reject_reason"][0].startswith("failed verification")
    for path in linkqa_home.rglob("*"):
        if path.is_file() and path.suffix in {".parquet", ".json", ".sqlite", ".duckdb"}:
            assert b"sk-test-SECRET-verify-789" not in path.read_bytes(), path
