"""Difficulty: heuristic scores, judge and enhancement tasks, target selection, targets YAML."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from linkqa_pipelines.core.contracts import SYNTH_QA_SCHEMA
from linkqa_pipelines.core.difficulty import (
    DEFAULT_TARGET,
    OFFLINE_DIFFICULTY_MODEL,
    build_enhance_requests,
    build_judge_requests,
    enhanced_frame,
    judge_frame,
    load_targets,
    offline_difficulty,
    offline_enhance,
    offline_judge,
    select_to_target,
    validate_enhance,
    validate_judge,
)
from linkqa_pipelines.core.synthesis import OFFLINE_SYNTH_MODEL, qa_id

KPS = pl.DataFrame(
    {
        "kp_id": ["k1", "k2", "k3", "k4", "z1", "z2"],
        "name": ["cell membrane", "osmosis", "diffusion", "active transport", "光合作用", "呼吸作用"],
        "description": ["lipid bilayer", "water movement", "passive movement", "ATP-driven pumping", "", ""],
    }
)


def _qa(rows: list[dict]) -> pl.DataFrame:
    base = {
        "path_id": "p",
        "discipline": "biology",
        "language": "en",
        "qa_type": "free_form",
        "choices": None,
        "answer": "x",
        "rationale": "because",
        "seed_ids": ["s1"],
        "difficulty": None,
        "backend": "offline",
        "model": OFFLINE_SYNTH_MODEL,
        "prompt_tokens": 0,
        "completion_tokens": 0,
    }
    return pl.DataFrame([{**base, **r} for r in rows], schema=SYNTH_QA_SCHEMA)


SIMPLE = {"qa_id": "q_simple", "kp_ids": ["k1"], "question": "What surrounds a cell?"}
COMPOSED = {
    "qa_id": "q_composed",
    "kp_ids": ["k1", "k2", "k3", "k4"],
    "question": "This question links cell membrane -> osmosis -> diffusion -> active transport.\n"
    + "\n".join(f"Part {i}: Explain step {i} of moving a solute across the membrane in detail?" for i in range(1, 5))
    + "\nGive the answers to all parts.",
}
NUMERIC = {"qa_id": "q_numeric", "kp_ids": ["k1"], "question": "What surrounds a cell if x = 2 + 3?"}


def test_heuristic_grows_with_links_steps_and_formulas() -> None:
    scored = offline_difficulty(_qa([SIMPLE, COMPOSED, NUMERIC]))
    d = dict(zip(scored["qa_id"], scored["difficulty"], strict=True))
    raw = dict(zip(scored["qa_id"], scored["difficulty_raw"], strict=True))
    assert d["q_simple"] == 1 and d["q_composed"] >= 4
    assert raw["q_numeric"] == pytest.approx(raw["q_simple"] + 0.75)  # digits 0.25 + formula 0.5
    assert set(scored["difficulty_method"]) == {OFFLINE_DIFFICULTY_MODEL}
    assert scored["difficulty"].dtype == pl.Int8 and scored.columns[: len(SYNTH_QA_SCHEMA)] == list(SYNTH_QA_SCHEMA)


def test_seed_reference_difficulty_is_blended_and_only_missing_keeps_scores() -> None:
    qa = _qa([SIMPLE])
    seeds = pl.DataFrame(
        {"seed_id": ["s1"], "ref_difficulty": [5]}, schema={"seed_id": pl.String, "ref_difficulty": pl.Int8}
    )
    plain = offline_difficulty(qa)["difficulty_raw"][0]
    blended = offline_difficulty(qa, seeds)["difficulty_raw"][0]
    assert blended == pytest.approx(0.6 * plain + 0.4 * 5)
    judged = qa.with_columns(difficulty=pl.lit(4, pl.Int8), difficulty_method=pl.lit("deepseek-reasoner"))
    kept = offline_difficulty(pl.concat([judged, _qa([NUMERIC])], how="diagonal_relaxed"), only_missing=True)
    assert kept["difficulty"].to_list()[0] == 4 and kept["difficulty_method"].to_list() == [
        "deepseek-reasoner",
        OFFLINE_DIFFICULTY_MODEL,
    ]


def test_offline_judge_answers_like_a_judge_and_says_what_it_is() -> None:
    qa = _qa([SIMPLE, COMPOSED])
    reqs = build_judge_requests(qa)
    assert reqs[0].key == "difficulty:q_simple" and "1 = recall of a single fact" in reqs[0].messages[0]["content"]
    payloads = [r.payload for r in reqs]
    answers = offline_judge(payloads)
    assert [a["score"] for a in answers] == offline_difficulty(qa)["difficulty"].to_list()
    assert all(validate_judge(p, a) is None for p, a in zip(payloads, answers, strict=True))
    assert all(a["justification"].startswith("offline-heuristic-v1 heuristic, not a model judgement") for a in answers)
    meta = [{"backend": "offline", "model": OFFLINE_DIFFICULTY_MODEL}] * 2
    frame = judge_frame(qa, payloads, [answers[0], None], meta)
    assert frame.height == 2  # a failed judgement keeps its row, unscored
    assert frame["difficulty"].to_list() == [answers[0]["score"], None]
    assert frame["difficulty_method"].to_list() == [OFFLINE_DIFFICULTY_MODEL, None]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({"score": 0, "grade_level": "graduate", "justification": "x"}, "not an integer 1-5"),
        ({"score": 6, "grade_level": "graduate", "justification": "x"}, "not an integer 1-5"),
        ({"score": "3", "grade_level": "graduate", "justification": "x"}, "not an integer 1-5"),
        ({"score": True, "grade_level": "graduate", "justification": "x"}, "not an integer 1-5"),
        ({"score": 3, "grade_level": "kindergarten", "justification": "x"}, "grade_level"),
        ({"score": 3, "grade_level": "graduate", "justification": " "}, "justification"),
    ],
)
def test_judge_validator_rejects(answer: dict, reason: str) -> None:
    assert reason in (validate_judge({}, answer) or "")


SEEDS = pl.DataFrame(
    {
        "seed_id": ["s1", "s2", "s3", "s4", "s5"],
        "language": ["en", "en", "en", "zh", "en"],
        "question": [
            "Which molecules form the bulk of the cell membrane?",
            "Water moves across a membrane from low to high solute concentration by what process?",
            "Which transport process requires ATP to move ions against their gradient?",
            "光合作用的场所是哪里？",
            "Which process moves oxygen from alveoli into the blood?",
        ],
        "choices": [["phospholipids", "proteins"], None, ["diffusion", "active transport", "osmosis"], None, None],
        "answer": ["A", "osmosis", "B", "叶绿体", "diffusion"],
        "explanation": [None, None, "The sodium-potassium pump uses ATP.", None, None],
    }
)
SEED_KPS = pl.DataFrame({"seed_id": ["s2", "s3", "s4", "s5", "s1"], "kp_id": ["k2", "k4", "k4", "k3", "k1"]})


def test_offline_enhancement_adds_an_unused_seed_of_the_path() -> None:
    qa = _qa(
        [
            {
                **SIMPLE,
                "qa_id": "q1",
                "kp_ids": ["k1", "k2", "k4"],
                "seed_ids": ["s1", "s2"],
                "qa_type": "multiple_choice",
                "question": SEEDS["question"][0],
                "choices": ["phospholipids", "proteins"],
                "answer": "A",
            }
        ]
    )
    (req,) = build_enhance_requests(qa, KPS, SEEDS, SEED_KPS)
    payload = req.payload
    assert payload["extra"]["seed_id"] == "s3"  # linked to the path's last KP, unused, same language (not zh s4)
    assert "active transport" in req.messages[0]["content"] and SEEDS["question"][2] in req.messages[0]["content"]
    (answer,) = offline_enhance([payload])
    assert answer["question"].startswith(SEEDS["question"][0]) and SEEDS["question"][2] in answer["question"]
    assert "Additional part (active transport)" in answer["question"]
    assert (
        answer["answer"]
        == "Original question: (A) phospholipids; Additional part (active transport): (B) active transport"
    )
    assert "The sodium-potassium pump uses ATP." in answer["rationale"]
    assert validate_enhance(payload, answer) is None
    variants = enhanced_frame([payload], [answer], [{"backend": "offline", "model": OFFLINE_SYNTH_MODEL}])
    row = variants.row(0, named=True)
    assert row["enhanced_from"] == "q1" and row["seed_ids"] == ["s1", "s2", "s3"] and row["difficulty"] is None
    assert row["qa_id"] == qa_id("p", answer["question"]) != "q1"
    assert variants.columns[: len(SYNTH_QA_SCHEMA)] == list(SYNTH_QA_SCHEMA)
    rescored = offline_difficulty(pl.concat([qa, variants], how="diagonal_relaxed"))
    assert rescored["difficulty_raw"][1] > rescored["difficulty_raw"][0]


def test_offline_enhancement_without_extra_seed_asks_for_justification() -> None:
    qa = _qa([{**SIMPLE, "kp_ids": ["k1", "k2"], "rationale": "The membrane surrounds the cell."}])
    (req,) = build_enhance_requests(qa, KPS)
    (answer,) = offline_enhance([req.payload])
    assert "connects cell membrane and osmosis" in answer["question"]
    assert answer["answer"].endswith("Justification: The membrane surrounds the cell.")
    assert validate_enhance(req.payload, answer) is None
    assert (
        validate_enhance(req.payload, {**answer, "question": SIMPLE["question"]})
        == "question adds nothing to the original"
    )
    assert validate_enhance(req.payload, {**answer, "harder_because": ""}) == "harder_because is missing or empty"
    zh = _qa(
        [{"qa_id": "qz", "kp_ids": ["z1", "z2"], "language": "zh", "question": "光合作用与呼吸作用的关系是什么？"}]
    )
    (zreq,) = build_enhance_requests(zh, KPS)
    (zanswer,) = offline_enhance([zreq.payload])
    assert "并请说明理由" in zanswer["question"] and "请将下面这道" in zreq.messages[0]["content"]
    assert validate_enhance(zreq.payload, zanswer) is None


def _levels(counts: dict[int, int]) -> pl.DataFrame:
    levels = [lv for lv, c in counts.items() for _ in range(c)]
    return pl.DataFrame(
        {"qa_id": [f"q{i:05d}" for i in range(len(levels))], "difficulty": levels},
        schema={"qa_id": pl.String, "difficulty": pl.Int8},
    )


AVAILABLE = {1: 300, 2: 300, 3: 200, 4: 150, 5: 50}


def test_select_matches_target_when_rows_suffice() -> None:
    selected, report = select_to_target(_levels(AVAILABLE), DEFAULT_TARGET, n=200, seed=1)
    got = dict(selected.group_by("difficulty").len().iter_rows())
    assert got == {1: 20, 2: 40, 3: 60, 4: 50, 5: 30}
    assert report["deficit"].to_list() == [0] * 5 and report["available"].to_list() == list(AVAILABLE.values())
    assert selected["qa_id"].is_sorted()  # input order kept


def test_select_reports_deficits_and_never_fills_silently() -> None:
    selected, report = select_to_target(_levels(AVAILABLE), DEFAULT_TARGET, n=400)
    rows = {r["difficulty"]: r for r in report.iter_rows(named=True)}
    assert rows[5]["wanted"] == 60 and rows[5]["selected"] == 50 and rows[5]["deficit"] == 10
    assert sum(r["deficit"] for r in rows.values()) == 10 and selected.height == 390
    assert rows[1]["selected"] == 40  # the scarce level is not made up from others


def test_select_without_n_takes_largest_exact_mix_and_is_deterministic() -> None:
    qa = _levels(AVAILABLE)
    selected, report = select_to_target(qa, DEFAULT_TARGET, seed=7)
    assert selected.height == 333 and report["deficit"].sum() == 0  # bounded by level 5: 50 / 0.15
    shares = report["selected_share"].to_numpy()
    assert np.abs(shares - np.array(list(DEFAULT_TARGET.values()))).max() < 0.01
    shuffled = qa.sample(fraction=1.0, shuffle=True, seed=3)
    again, _ = select_to_target(shuffled, DEFAULT_TARGET, seed=7)
    assert set(again["qa_id"]) == set(selected["qa_id"])  # depends on the rows, not their order
    other, _ = select_to_target(qa, DEFAULT_TARGET, seed=8)
    assert set(other["qa_id"]) != set(selected["qa_id"])
    missing_level, rep = select_to_target(_levels({1: 10, 2: 20, 3: 30, 4: 25}), DEFAULT_TARGET)
    assert rep.filter(pl.col("difficulty") == 5)["deficit"][0] > 0 and missing_level.height == 85


def test_select_refuses_unscored_rows_and_bad_targets() -> None:
    qa = _levels({1: 5}).with_columns(
        difficulty=pl.when(pl.col("qa_id") == "q00002").then(None).otherwise("difficulty")
    )
    with pytest.raises(ValueError, match="no difficulty"):
        select_to_target(qa, DEFAULT_TARGET)
    with pytest.raises(ValueError, match="sum to"):
        select_to_target(_levels({1: 5}), {1: 10, 2: 20})
    with pytest.raises(ValueError, match="not a difficulty level"):
        select_to_target(_levels({1: 5}), {0: 1.0})


def test_load_targets(tmp_path: Path) -> None:
    assert load_targets(None).for_discipline("anything") == DEFAULT_TARGET
    good = tmp_path / "targets.yaml"
    good.write_text(
        "default: {1: 0.2, 2: 0.2, 3: 0.2, 4: 0.2, 5: 0.2}\ndisciplines:\n  mathematics: {3: 0.5, 5: 0.5}\n"
    )
    targets = load_targets(good)
    assert targets.for_discipline("mathematics") == {1: 0.0, 2: 0.0, 3: 0.5, 4: 0.0, 5: 0.5}
    assert targets.for_discipline("law") == dict.fromkeys(range(1, 6), 0.2)
    bad = tmp_path / "bad.yaml"
    bad.write_text("disciplines:\n  physics: {1: 10, 2: 90}\n")
    with pytest.raises(ValueError, match=r"bad.yaml: disciplines.physics: shares sum to 100"):
        load_targets(bad)
    bad.write_text("disciplines:\n  physics: {easy: 1.0}\n")
    with pytest.raises(ValueError, match="key 'easy' is not a difficulty level"):
        load_targets(bad)
    bad.write_text("defaults: {1: 1.0}\n")
    with pytest.raises(ValueError, match="unknown keys"):
        load_targets(bad)
