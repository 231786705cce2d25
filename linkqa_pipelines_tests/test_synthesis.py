"""LinkSyn synthesis: prompts, offline template composition, validation, contract frame."""

from __future__ import annotations

import copy
import hashlib
import itertools
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from linkqa_pipelines.core.contracts import KP_CATALOG_SCHEMA, SEED_SCHEMA, SYNTH_QA_SCHEMA, conform
from linkqa_pipelines.core.lake import Lake
from linkqa_pipelines.core.level_scale import LEVEL_SCALE
from linkqa_pipelines.core.llm.types import ChatRequest, ChatResult, SamplingParams
from linkqa_pipelines.core.release import load_benchmark_questions
from linkqa_pipelines.core.seeds import iter_source_files, read_source
from linkqa_pipelines.core.synthesis import (
    OFFLINE_SYNTH_MODEL,
    REASONING_SCHEMA,
    SYNTH_ANSWER_SCHEMA,
    build_synthesis_requests,
    offline_synthesis,
    option_only_accuracy,
    qa_id,
    replacement_request,
    synthesized_frame,
    validate_composition,
    validate_synthesis,
)
from linkqa_pipelines.core.synthesis.answers import SYNTH_REPLY_SCHEMA
from linkqa_pipelines.core.synthesis.copies import COMPOSITION_EXEMPT, copy_reason
from linkqa_pipelines.core.synthesis.gaming import STRATEGIES
from linkqa_pipelines_tests.fake_openai_server import FakeOpenAIServer
from linkqa_pipelines_tests.pipeline import materialize_assets

KPS = pl.DataFrame(
    {
        "kp_id": ["k_force", "k_accel", "k_energy", "k_ion", "k_acid"],
        "name": ["Newton's second law", "uniform acceleration", "kinetic energy", "离子反应", "酸碱中和"],
        "description": ["F = m a", "v = u + a t", "E = m v^2 / 2", "溶液中离子之间的反应", "酸与碱反应生成盐和水"],
    }
)

SEEDS = pl.DataFrame(
    {
        "seed_id": ["s1", "s2", "s3", "z1", "z2", "f1", "f2"],
        "language": ["en", "en", "en", "zh", "zh", "en", "en"],
        "qa_type": ["multiple_choice"] * 5 + ["free_form"] * 2,
        "question": [
            "A net force of 10 N acts on a 2 kg cart on a frictionless track. What is the acceleration of the cart?",
            "A car starts from rest and accelerates uniformly at 3 m/s^2. What is its speed after 4 seconds?",
            "Which quantity doubles when the mass of a moving body doubles at constant speed?",
            "下列各组离子在水溶液中能够大量共存的是哪一组离子",
            "用氢氧化钠溶液中和一定量的盐酸时，溶液的酸碱性如何变化",
            "How long does a ball dropped from rest take to fall 20 m if g = 10 m/s^2?",
            "What is the momentum of a 3 kg ball moving at 4 m/s?",
        ],
        "choices": [
            ["2 m/s^2", "5 m/s^2", "10 m/s^2", "20 m/s^2"],
            ["7 m/s", "12 m/s", "3 m/s", "0.75 m/s"],
            ["speed", "kinetic energy", "acceleration", "velocity"],
            ["钠离子、氯离子", "氢离子、氢氧根离子", "钡离子、硫酸根离子", "银离子、氯离子"],
            ["酸性增强", "碱性减弱", "由酸性逐渐变为中性再变为碱性", "始终为中性"],
            None,
            None,
        ],
        "answer": ["B", "B", "B", "A", "C", "2 s", "12 kg m/s"],
        "explanation": [
            "a = F / m = 10 / 2 = 5 m/s^2.",
            None,
            "E = m v^2 / 2 is linear in m.",
            "钠离子与氯离子不反应。",
            None,
            None,
            "p = m v.",
        ],
    }
)

PATHS = pl.DataFrame(
    {
        "path_id": ["p_en", "p_zh", "p_ff"],
        "discipline": ["physics", "chemistry", "physics"],
        "kp_ids": [["k_force", "k_accel", "k_energy"], ["k_ion", "k_acid"], ["k_accel", "k_force"]],
        "seed_ids": [["s1", "s2", "s3"], ["z1", "z2"], ["f1", "f2"]],
        "score": [1.0, 0.5, 0.2],
    }
)


@pytest.fixture(scope="module")
def requests() -> dict[str, ChatRequest]:
    return {r.payload["path_id"]: r for r in build_synthesis_requests(PATHS, SEEDS, KPS)}


def test_requests_carry_path_seeds_and_schema(requests: dict[str, ChatRequest]) -> None:
    en = requests["p_en"]
    assert en.key == "synthesis:p_en" and en.schema is SYNTH_REPLY_SCHEMA
    (message,) = en.messages  # one user turn, no system prompt (R1 guidance)
    assert message["role"] == "user"
    text = message["content"]
    for name, desc in zip(KPS["name"][:3], KPS["description"][:3], strict=True):
        assert f"{name}: {desc}" in text
    positions = [text.index(q) for q in SEEDS["question"][:3]]
    assert positions == sorted(positions)
    assert "exactly 4 options" in text and "in English" in text and "Write ONE new question" in text
    payload = en.payload
    assert payload["qa_type"] == "multiple_choice" and payload["language"] == "en"
    assert payload["seed_ids"] == ["s1", "s2", "s3"] and payload["kp_ids"] == ["k_force", "k_accel", "k_energy"]
    assert set(SYNTH_ANSWER_SCHEMA["required"]) == {
        "question",
        "qa_type",
        "choices",
        "answer",
        "rationale",
        "kp_names_used",
    }


def test_chinese_prompt_and_auto_free_form(requests: dict[str, ChatRequest]) -> None:
    zh = requests["p_zh"].messages[0]["content"]
    assert "命题专家" in zh and "均使用中文" in zh and "离子反应：溶液中离子之间的反应" in zh
    assert requests["p_zh"].payload["language"] == "zh"
    ff = requests["p_ff"].payload
    assert ff["qa_type"] == "free_form" and ff["n_choices"] is None
    assert '"choices" is null' in requests["p_ff"].messages[0]["content"]


def test_requests_ask_each_item_for_its_level_on_the_judges_scale(requests: dict[str, ChatRequest]) -> None:
    """With levels, every item is asked for its level on the scale the judge rates on (English and
    Chinese); a replacement asks again for the levels of the slots it refills; without levels the
    prompt asks for items no easier than the hardest seed."""
    levels = {"p_en": [1, 2, 4], "p_zh": [2, 3, 3], "p_ff": [5, 5, 5]}
    asked = {r.payload["path_id"]: r for r in build_synthesis_requests(PATHS, SEEDS, KPS, qa_per_path=3, levels=levels)}
    en = asked["p_en"].messages[0]["content"]
    assert "difficulty levels 1, 2, 4, item by item" in en and LEVEL_SCALE["en"] in en
    assert "at least as difficult as the hardest seed" not in en
    assert "at least as difficult as the hardest seed" in requests["p_en"].messages[0]["content"]
    zh = asked["p_zh"].messages[0]["content"]
    assert "各题难度依次为 2, 3, 3 级" in zh and LEVEL_SCALE["zh"] in zh and "难度不低于最难的种子题" not in zh
    assert asked["p_en"].payload["levels"] == [1, 2, 4] and requests["p_en"].payload["levels"] is None
    again = replacement_request(asked["p_en"], {0: "contains_seed", 2: "no_fusion"}, ["kept question"])
    assert again.payload["levels"] == [1, 4]
    assert "difficulty levels 1, 4, item by item" in again.messages[0]["content"]
    one = replacement_request(asked["p_en"], {1: "contains_seed"}, [])
    assert f"difficulty level 2 on this scale: {LEVEL_SCALE['en']}" in one.messages[0]["content"]
    with pytest.raises(ValueError, match="p_ff"):
        build_synthesis_requests(PATHS, SEEDS, KPS, qa_per_path=3, levels={"p_en": [1, 2, 3], "p_zh": [1, 2, 3]})
    with pytest.raises(ValueError, match="3 levels in 1-5"):
        build_synthesis_requests(PATHS, SEEDS, KPS, qa_per_path=3, levels={**levels, "p_ff": [6, 1, 1]})


def test_broken_walk_output_raises_with_path_id() -> None:
    with pytest.raises(ValueError, match="p_en"):
        build_synthesis_requests(PATHS.head(1).with_columns(seed_ids=pl.lit(["s1"], pl.List(pl.String))), SEEDS, KPS)
    with pytest.raises(ValueError, match="nope"):
        build_synthesis_requests(
            PATHS.head(1).with_columns(seed_ids=pl.lit(["s1", "nope"], pl.List(pl.String))), SEEDS, KPS
        )
    with pytest.raises(ValueError, match="k_missing"):
        build_synthesis_requests(
            PATHS.head(1).with_columns(kp_ids=pl.lit(["k_force", "k_missing"], pl.List(pl.String))), SEEDS, KPS
        )
    bad_seed = SEEDS.with_columns(answer=pl.when(pl.col("seed_id") == "s2").then(pl.lit("F")).otherwise("answer"))
    with pytest.raises(ValueError, match="s2"):
        build_synthesis_requests(PATHS.head(1), bad_seed, KPS)


def test_offline_free_form_composes_seeds_in_order() -> None:
    payload = build_synthesis_requests(PATHS.head(1), SEEDS, KPS, qa_type="free_form")[0].payload
    (reply,) = offline_synthesis([payload])
    (answer,) = reply["items"]
    q = answer["question"]
    assert q.startswith("This question links Newton's second law -> uniform acceleration -> kinetic energy.")
    positions = [q.index(f"Part {i}: {s}") for i, s in enumerate(SEEDS["question"][:3], start=1)]
    assert positions == sorted(positions)
    assert "(B) 5 m/s^2" in q and q.endswith("Give the answers to all parts.")
    assert answer["answer"] == "Part 1: (B) 5 m/s^2; Part 2: (B) 12 m/s; Part 3: (B) kinetic energy"
    assert answer["qa_type"] == "free_form" and answer["choices"] is None
    assert "a = F / m = 10 / 2 = 5 m/s^2." in answer["rationale"]  # the seed's own explanation
    assert "Part 2: The answer is (B) 12 m/s." in answer["rationale"]  # stated when a seed has none
    assert answer["kp_names_used"] == ["Newton's second law", "uniform acceleration", "kinetic energy"]
    assert answer["seeds_used"] == [1, 2, 3]
    assert validate_composition(payload, reply) is None
    assert "(contains_seed)" in (validate_synthesis(payload, reply) or "")  # a model may not quote a seed
    assert offline_synthesis([payload]) == [reply]  # deterministic


def test_offline_chinese_template(requests: dict[str, ChatRequest]) -> None:
    payload = {**requests["p_zh"].payload, "qa_type": "free_form", "n_choices": None}
    (reply,) = offline_synthesis([payload])
    (answer,) = reply["items"]
    assert answer["question"].startswith("本题串联以下知识点：离子反应 → 酸碱中和。")
    assert "第1部分：下列各组离子" in answer["question"] and "第2部分：用氢氧化钠" in answer["question"]
    assert answer["answer"] == "第1部分：(A) 钠离子、氯离子；第2部分：(C) 由酸性逐渐变为中性再变为碱性"
    assert answer["question"].endswith("请给出所有部分的答案。")
    assert validate_composition(payload, reply) is None
    assert "(contains_seed)" in (validate_synthesis(payload, reply) or "")  # a model may not quote a seed


def test_offline_composite_multiple_choice(requests: dict[str, ChatRequest]) -> None:
    payload = requests["p_en"].payload
    (reply,) = offline_synthesis([payload])
    (answer,) = reply["items"]
    assert answer["qa_type"] == "multiple_choice" and len(answer["choices"]) == 4
    correct = answer["choices"]["ABCD".index(answer["answer"])]
    assert correct == "Part 1: (B) 5 m/s^2; Part 2: (B) 12 m/s; Part 3: (B) kinetic energy"
    per_part = list(zip(*(option.split("; ") for option in answer["choices"]), strict=True))
    # balanced: in each part the options show 4 distinct values (the key's once) or the key's in all
    assert all(len(set(values)) in (1, 4) for values in per_part) and any(len(set(v)) == 4 for v in per_part)
    assert validate_composition(payload, reply) is None
    assert "(contains_seed)" in (validate_synthesis(payload, reply) or "")  # a model may not quote a seed
    assert offline_synthesis([payload]) == [reply]
    replies = offline_synthesis([{**payload, "path_id": f"p{i}"} for i in range(400)])
    letters = Counter(r["items"][0]["answer"] for r in replies)
    assert set(letters) == set("ABCD") and min(letters.values()) > 60  # the key is not always in one place


def test_multiple_choice_requested_without_mc_seeds_is_rejected() -> None:
    payload = build_synthesis_requests(PATHS.tail(1), SEEDS, KPS, qa_type="multiple_choice")[0].payload
    (reply,) = offline_synthesis([payload])
    assert reply["items"][0]["qa_type"] == "free_form"
    assert validate_synthesis(payload, reply) == "qa_type is free_form, multiple_choice was requested"


GOOD_EN = {
    "question": "A 4 kg block starts from rest and is pushed by a constant net force of 8 N for 3 s. "
    "What is its kinetic energy at the end of the push?",
    "qa_type": "multiple_choice",
    "choices": ["18 J", "36 J", "72 J", "12 J"],
    "answer": "C",
    "rationale": "a = F/m = 2 m/s^2 (Newton's second law); v = a t = 6 m/s; E = m v^2 / 2 = 72 J.",
    "kp_names_used": ["Newton's second law", "uniform acceleration", "kinetic energy"],
    "seeds_used": [1, 2, 3],
}


def _mutate(**changes: object) -> dict:
    answer = copy.deepcopy(GOOD_EN)
    answer.update(changes)
    return answer


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (_mutate(answer="E"), "is not one of the choices A-D"),
        (_mutate(answer="100 J"), "is not one of the choices"),
        (_mutate(question="   "), "'question' is missing or empty"),
        (_mutate(rationale=""), "'rationale' is missing or empty"),
        (_mutate(choices=["18 J", "36 J", "72 J"]), "3 choices given, 4 required"),
        (_mutate(choices=["18 J", "18 j", "72 J", "12 J"]), "choices are not distinct"),
        (_mutate(qa_type="free_form"), "qa_type is free_form"),
        (_mutate(qa_type="essay"), "is not multiple_choice or free_form"),
        (_mutate(kp_names_used=["kinetic energy"]), "uses 1 of the path's knowledge points"),
        (
            _mutate(question="一个4千克的物块在8牛的恒定合力作用下由静止开始运动3秒，末动能是多少？"),
            "in Chinese, English was expected",
        ),
        (
            _mutate(
                question="A net force of 10 N acts on a 2 kg cart on a frictionless track. "
                "What is the acceleration of that cart?"
            ),
            "with seed 1 (common_substring)",
        ),
        (  # a seed pasted inside a longer text: far from it in Jaccard terms, a copy by containment
            _mutate(
                question="A 4 kg block starts from rest. Before that, answer this: A net force of 10 N acts on a 2 kg "
                "cart on a frictionless track. What is the acceleration of the cart? Then give the block's kinetic "
                "energy after it is pushed by a constant net force of 8 N for 3 s, using that acceleration."
            ),
            "question contains seed 1 whole (contains_seed)",
        ),
        (
            _mutate(question="A net force of 10 N acts on a 2 kg trolley on a smooth track; find the acceleration."),
            "are in seed 1 (> 50%, shingle_containment)",
        ),
    ],
)
def test_validator_rejects_bad_answers(requests: dict[str, ChatRequest], answer: dict, reason: str) -> None:
    result = validate_synthesis(requests["p_en"].payload, {"items": [answer]})
    assert result is not None and reason in result


def test_a_k_item_reply_is_checked_for_its_shape(requests: dict[str, ChatRequest]) -> None:
    """k distinct items, each naming two path KPs and two seeds; the items' own content is checked
    one by one afterwards, except in a replacement request, which checks all of its items."""
    payload = {**requests["p_en"].payload, "k": 3}
    a, b, c = (_mutate(question=f"{GOOD_EN['question']} Variant {i}.") for i in range(3))
    assert validate_synthesis(payload, {"items": [a, b, c]}) is None
    pasted = {**c, "question": f"Recall: {SEEDS['question'][0]} Then use it for the block."}
    assert validate_synthesis(payload, {"items": [a, b, pasted]}) is None  # its content is checked alone, later
    for items, reason in [
        ([a, b], "2 items given, 3 asked for"),
        ([a, a, b], "the items' questions are not distinct"),
        ([a, b, {**c, "seeds_used": [2, 2]}], "item 3: seeds_used names fewer than two seeds"),
        ([a, {**b, "seeds_used": [1, 4]}, c], "item 2: seeds_used must list seed numbers 1-3"),
        ([{**a, "kp_names_used": ["kinetic energy"]}, b, c], "item 1: uses 1 of the path's knowledge points"),
        ([a, b, {**c, "question": " "}], "item 3: field 'question' is missing or empty"),
    ]:
        assert (validate_synthesis(payload, {"items": items}) or "").startswith(reason), reason
    assert validate_synthesis(payload, {"items": "three"}) == '"items" must be a list of objects'
    replacement = replacement_request(requests["p_en"], {2: "copies seed 1"}, [a["question"], b["question"]])
    assert replacement.key == "synthesis:p_en:2" and replacement.payload["k"] == 1
    assert "rejected (3: copies seed 1)" in replacement.messages[0]["content"]
    assert a["question"] in replacement.messages[0]["content"]  # the kept questions, to differ from
    assert validate_synthesis(replacement.payload, {"items": [c]}) is None
    assert "from the path's other items" in str(validate_synthesis(replacement.payload, {"items": [a]}))
    assert "(contains_seed)" in str(validate_synthesis(replacement.payload, {"items": [pasted]}))


def test_validator_accepts_a_fused_question_and_checks_chinese(requests: dict[str, ChatRequest]) -> None:
    assert validate_synthesis(requests["p_en"].payload, {"items": [GOOD_EN]}) is None
    assert validate_synthesis(requests["p_en"].payload, {"items": [_mutate(answer="72 J")]}) is None  # choice text
    lettered = _mutate(choices=["A. 18 J", "B. 36 J", "C. 72 J", "D. 12 J"])  # letters models add anyway
    assert validate_synthesis(requests["p_en"].payload, {"items": [lettered]}) is None
    frame = synthesized_frame([requests["p_en"].payload], [lettered], [{"backend": "openai", "model": "m"}])
    assert frame["choices"].to_list() == [["18 J", "36 J", "72 J", "12 J"]] and frame["answer"].to_list() == ["C"]
    zh_payload = requests["p_zh"].payload
    zh_answer = {
        "question": "向含有钡离子和氢离子的溶液中逐滴加入氢氧化钠和硫酸钠的混合溶液，下列说法正确的是",
        "qa_type": "multiple_choice",
        "choices": ["先生成沉淀后中和", "溶液始终呈酸性", "生成硫酸钡沉淀且溶液最终呈碱性", "不发生离子反应"],
        "answer": "C",
        "rationale": "钡离子与硫酸根离子反应生成沉淀（离子反应），氢离子被中和（酸碱中和）。",
        "kp_names_used": ["离子反应", "酸碱中和"],
        "seeds_used": [1, 2],
    }
    assert validate_synthesis(zh_payload, {"items": [zh_answer]}) is None
    english = {
        **zh_answer,
        "question": "Which statement about adding NaOH and Na2SO4 to a solution of barium and hydrogen ions is true?",
    }
    reason = validate_synthesis(zh_payload, {"items": [english]})
    assert reason is not None and "not in Chinese" in reason


def test_synthesized_frame_contract(requests: dict[str, ChatRequest]) -> None:
    payloads = [requests["p_en"].payload]
    answers = [_mutate(answer="72 J", kp_names_used=["kinetic energy", "Newton's second law"], seeds_used=[3, 1])]
    meta = [{"backend": "openai", "model": "deepseek-reasoner", "prompt_tokens": 812, "completion_tokens": 1450}]
    frame = synthesized_frame(payloads, answers, meta)
    assert frame.schema == pl.Schema(SYNTH_QA_SCHEMA)
    row = frame.row(0, named=True)
    assert frame.height == 1 and row["answer"] == "C"  # choice text normalised to its letter
    assert row["qa_id"] == qa_id("p_en", GOOD_EN["question"]) == synthesized_frame(payloads, answers, meta)["qa_id"][0]
    assert row["difficulty"] is None and row["prompt_tokens"] == 812
    # the item's own provenance: the knowledge points and seeds it fuses, in path order
    assert row["kp_ids"] == ["k_force", "k_energy"] and row["seed_ids"] == ["s1", "s3"]
    offline = synthesized_frame(
        payloads[:1],
        [r["items"][0] for r in offline_synthesis(payloads[:1])],
        [{"backend": "offline", "model": OFFLINE_SYNTH_MODEL}],
    )
    assert offline["model"].to_list() == [OFFLINE_SYNTH_MODEL] and offline["completion_tokens"].to_list() == [0]
    result = ChatResult(
        key="synthesis:p_en",
        ok=True,
        parsed={"items": [GOOD_EN]},
        text=None,
        reasoning=None,
        prompt_tokens=5,
        completion_tokens=7,
        reasoning_tokens=0,
        cached=False,
        attempts=1,
        error=None,
        backend="vllm",
        model="DeepSeek-R1-Distill-Qwen-32B",
    )  # the LLM layer's result object is accepted as metadata
    from_result = synthesized_frame(payloads[:1], [GOOD_EN], [result])
    assert from_result.select("backend", "model", "prompt_tokens", "completion_tokens").row(0) == (
        "vllm",
        "DeepSeek-R1-Distill-Qwen-32B",
        5,
        7,
    )
    piece = requests["p_en"]
    assert isinstance(piece, ChatRequest) and piece.params == SamplingParams(
        temperature=0.6, top_p=0.95, max_tokens=8192
    )
    with pytest.raises(ValueError, match="must align"):
        synthesized_frame(payloads, answers, [])
    with pytest.raises(ValueError, match="model"):
        synthesized_frame(payloads[:1], answers[:1], [{"backend": "openai"}])


def test_offline_answers_validate_on_real_seeds(shared_data: Callable[..., Path]) -> None:
    bench = load_benchmark_questions(
        [
            shared_data("mmlu", "test", "high_school_physics_test.csv"),
            shared_data("cmmlu", "dev", "high_school_chemistry.csv"),
        ]
    )
    rng_answers = ["A", "B", "C", "D"]
    seeds = bench.with_columns(
        seed_id=pl.col("benchmark_id"),
        language=pl.when(pl.col("benchmark") == "cmmlu").then(pl.lit("zh")).otherwise(pl.lit("en")),
        qa_type=pl.lit("multiple_choice"),
        answer=pl.Series([rng_answers[i % 4] for i in range(bench.height)]),
        explanation=pl.lit(None, pl.String),
    )
    en_ids = seeds.filter(pl.col("benchmark") == "mmlu")["seed_id"].head(60).to_list()
    zh_ids = seeds.filter(pl.col("benchmark") == "cmmlu")["seed_id"].to_list()
    groups = [en_ids[i : i + 3] for i in range(0, 60, 3)] + [zh_ids[i : i + 2] for i in range(0, len(zh_ids) - 1, 2)]
    paths = pl.DataFrame(
        {
            "path_id": [f"p{i}" for i in range(len(groups))],
            "discipline": ["physics" if len(g) == 3 else "chemistry" for g in groups],
            "kp_ids": [["k_force", "k_accel", "k_energy"] if len(g) == 3 else ["k_ion", "k_acid"] for g in groups],
            "seed_ids": groups,
            "score": [0.0] * len(groups),
        }
    )
    for qa_type in ("multiple_choice", "free_form"):
        reqs = build_synthesis_requests(paths, seeds, KPS, qa_type=qa_type)
        payloads = [r.payload for r in reqs]
        answers = offline_synthesis(payloads)
        reasons = [validate_composition(p, a) for p, a in zip(payloads, answers, strict=True)]
        assert reasons == [None] * len(reqs), [r for r in reasons if r]
        # without the composition's exemption each one is a copy: it quotes its seeds whole
        assert all(
            "(contains_seed)" in (validate_synthesis(p, a) or "") for p, a in zip(payloads, answers, strict=True)
        )
        items = [a["items"][0] for a in answers]
        frame = synthesized_frame(payloads, items, [{"backend": "offline", "model": OFFLINE_SYNTH_MODEL}] * len(reqs))
        assert frame.height == len(groups) and frame["qa_id"].n_unique() == len(groups)
        assert set(frame["qa_type"]) == {qa_type}


def test_copy_checks_by_containment_on_real_seeds(shared_data: Callable[..., Path]) -> None:
    """Planted copies of real CMMLU questions are caught, each by its rule; two seeds quoted side by
    side are a copy for a model and fine for a composition, which is exempt from that rule alone."""
    bench = load_benchmark_questions([shared_data("cmmlu", "dev")])
    questions = [q for q in bench["question"].to_list() if len(q) >= 30]
    assert len(questions) >= 40
    for seed, other in itertools.pairwise(questions):
        pasted = f"某同学做实验前先回答：{seed}然后用所学知识说明理由。"
        assert copy_reason(pasted, [other, seed]) == "question contains seed 2 whole (contains_seed)"
        partial = f"结合离子反应回答：{seed[: int(len(seed) * 0.8)]}，并写出化学方程式。"
        assert "with seed 1 (common_substring)" in (copy_reason(partial, [seed]) or "")
        both = f"第1部分：{seed}\n第2部分：{other}"
        assert "(contains_seed)" in (copy_reason(both, [seed, other]) or "")
        assert copy_reason(both, [seed, other], COMPOSITION_EXEMPT) is None
        # a composition that quotes one seed and pastes most of another is still caught
        half_quoted = f"第1部分：{seed}\n第2部分：{other[: int(len(other) * 0.8)]}"
        assert "with seed 2 (common_substring)" in (copy_reason(half_quoted, [seed, other], COMPOSITION_EXEMPT) or "")


def test_real_fusions_pass_the_copy_checks() -> None:
    """Questions that fuse the seeds' knowledge without quoting them keep every rule."""
    fusions = [
        (GOOD_EN["question"], SEEDS["question"][:3].to_list()),
        (
            "在盐酸中逐滴加入氢氧化钠溶液至恰好中和，溶液中大量存在的离子是哪些，溶液呈什么性？",
            SEEDS["question"][3:5].to_list(),
        ),
    ]
    for question, seeds in fusions:
        assert copy_reason(question, seeds) is None


def test_offline_composites_cannot_be_solved_from_the_options(shared_data: Callable[..., Path]) -> None:
    """On real seeds with their real keys, no option-only strategy beats chance by more than 5
    points, per language (v1 compositions: the per-part majority found the key 95-97% of the time)."""
    rows = pl.concat(
        [read_source(f).rows for f in iter_source_files([shared_data("cmmlu", "dev"), shared_data("mmlu", "test")])],
        how="diagonal_relaxed",
    )
    seeds = rows.with_row_index("i").select(
        seed_id=pl.format("s{}", "i"),
        language=pl.when(pl.col("source").str.contains("cmmlu")).then(pl.lit("zh")).otherwise(pl.lit("en")),
        qa_type=pl.lit("multiple_choice"),
        question="question",
        choices="choices",
        answer="answer",
        explanation=pl.lit(None, pl.String),
    )
    groups: list[list[str]] = []
    for language, size, limit in (("zh", 2, None), ("zh", 3, None), ("en", 2, 1200), ("en", 3, 1800)):
        ids = seeds.filter(pl.col("language") == language)["seed_id"].head(limit or seeds.height).to_list()
        groups += [ids[i : i + size] for i in range(0, len(ids) - size + 1, size)]
    paths = pl.DataFrame(
        {
            "path_id": [f"p{i}" for i in range(len(groups))],
            "discipline": ["d"] * len(groups),
            "kp_ids": [["k_ion", "k_acid", "k_force"][: len(g)] for g in groups],
            "seed_ids": groups,
            "score": [0.0] * len(groups),
        }
    )
    payloads = [r.payload for r in build_synthesis_requests(paths, seeds, KPS, qa_type="multiple_choice")]
    answers = offline_synthesis(payloads)
    assert [validate_composition(p, a) for p, a in zip(payloads, answers, strict=True)] == [None] * len(payloads)
    for language in ("zh", "en"):
        items = [{**a["items"][0], "language": p["language"]} for p, a in zip(payloads, answers, strict=True)]
        scores = option_only_accuracy([i for i in items if i["language"] == language])
        assert set(scores) == {"chance", *STRATEGIES} and scores["chance"] == 0.25
        over = {k: round(v, 3) for k, v in scores.items() if v > scores["chance"] + 0.05}
        assert not over, (language, scores)


# -- k items per path through the openai backend (real openai client, loopback server) -------------
BAD_SEED = "BADITEM A 3 kg trolley is pulled by a 12 N net force. How far does it move from rest in 2 s?"
E2E_SEEDS = pl.DataFrame(
    {
        "seed_id": ["s1", "s2", "s3", "s4", "s5", "s6", "z1", "z2", "z3"],
        "discipline": ["physics"] * 6 + ["chemistry"] * 3,
        "language": ["en"] * 6 + ["zh"] * 3,
        "question": [
            *SEEDS["question"].to_list()[:3],
            BAD_SEED,
            "MALFORMED What is the weight of a 5 kg mass where g = 9.8 m/s^2?",
            "[[reasoning]] A 2 kg ball moves at 3 m/s. What is its kinetic energy?",
            *SEEDS["question"].to_list()[3:5],
            "[[think]] 往稀硫酸中滴加氯化钡溶液，观察到的现象是什么？",
        ],
        "choices": [
            *SEEDS["choices"].to_list()[:3],
            ["6 m", "12 m", "4 m", "8 m"],
            ["49 N", "5 N", "9.8 N", "14.8 N"],
            ["9 J", "6 J", "3 J", "18 J"],
            *SEEDS["choices"].to_list()[3:5],
            ["生成白色沉淀", "产生气泡", "溶液变蓝", "无明显现象"],
        ],
        "answer": ["B", "B", "B", "D", "A", "A", "A", "C", "A"],
    }
).with_columns(
    source=pl.lit("e2e.jsonl"),
    source_row=pl.int_range(1, 10, dtype=pl.Int64),
    adapter=pl.lit("generic"),
    subject=pl.lit("s"),
    qa_type=pl.lit("multiple_choice"),
    explanation=pl.lit(None, pl.String),
    ref_difficulty=pl.lit(None, pl.Int8),
)
E2E_PATHS = {
    "physics": {
        "p_ok": (["k_force", "k_accel", "k_energy"], ["s1", "s2", "s3"]),
        "p_baditem": (["k_force", "k_accel"], ["s4", "s1"]),
        "p_reasoning": (["k_energy", "k_force"], ["s6", "s2"]),
        "p_malformed": (["k_accel", "k_energy"], ["s5", "s2"]),
    },
    "chemistry": {"z_ok": (["k_ion", "k_acid"], ["z1", "z2"]), "z_think": (["k_acid", "k_ion"], ["z3", "z1"])},
}
_KP_LINE = re.compile(r"^\d+\. ([^:：\n]+)", re.M)
_COUNT = re.compile(r'(\d+) item\(s\) in "items"|"items" 中恰好 (\d+) 道题')


def play_synthesis(request: dict[str, Any], attempt: int) -> dict[str, Any]:
    """A stand-in R1: k distinct items, each fusing the path's first two KPs from seeds 1 and 2. On a
    BADITEM path the second item pastes a seed (rejected alone, then replaced); MALFORMED paths
    always get one item short (a deterministic rejection)."""
    prompt = request["messages"][0]["content"]
    count = _COUNT.search(prompt)
    assert count is not None, prompt
    k = int(count.group(1) or count.group(2))
    a, b = _KP_LINE.findall(prompt)[:2]
    digest = hashlib.sha1(prompt.encode()).hexdigest()[:8]
    zh = "知识点路径" in prompt
    items = [
        {
            "question": f"综合运用{a}与{b}，下列哪一项结论正确？（变式{j}，{digest}）"
            if zh
            else f"When {a} and {b} must be combined, which conclusion follows (variant {j}, {digest})?",
            "qa_type": "multiple_choice",
            "choices": [f"{w} {digest}" for w in ("alpha", "beta", "gamma", "delta")],
            "answer": "A",
            "rationale": f"先用{a}，再用{b}。" if zh else f"Apply {a}, then {b}.",
            "kp_names_used": [a, b],
            "seeds_used": [1, 2],
        }
        for j in range(k)
    ]
    if "BADITEM" in prompt and "were rejected" not in prompt:
        items[1]["question"] = f"First recall this: {BAD_SEED} Then combine {a} and {b}."
    return {"items": items[: k - 1] if "MALFORMED" in prompt else items}


def test_k_items_per_path_through_the_openai_backend(
    fake_openai: Callable[..., FakeOpenAIServer], linkqa_home: Path
) -> None:
    """Two disciplines, 3 QA per path: stable distinct ids and each item's provenance; an item
    rejected alone is replaced without losing its siblings; reasoning (`reasoning_content` and
    `<think>`) lands in synthesis_reasoning and nowhere in the items; no system message for an
    R1-style model; a rerun re-sends only the request that failed."""
    server = fake_openai(responder=play_synthesis)
    lake = Lake(linkqa_home)
    lake.write("seed_sources", conform(E2E_SEEDS, SEED_SCHEMA).select(list(SEED_SCHEMA)))
    catalog = KPS.with_columns(
        node=pl.int_range(0, KPS.height, dtype=pl.Int32),
        aliases=pl.lit([], pl.List(pl.String)),
        disciplines=pl.lit([], pl.List(pl.String)),
        popularity=pl.lit(1, pl.Int64),
    )
    lake.write("kp_catalog", conform(catalog, KP_CATALOG_SCHEMA))
    for discipline, paths in E2E_PATHS.items():
        rows = [{"path_id": p, "discipline": discipline, "kp_ids": kp, "seed_ids": s} for p, (kp, s) in paths.items()]
        lake.write("walk_paths", pl.DataFrame(rows).with_columns(score=pl.lit(1.0)), {"discipline": discipline})
    llm = {"backend": "openai", "base_url": server.base_url, "model": "deepseek-r1-fake", "timeout": 5.0}
    stage = ["synthesized_qa", "synthesized_qa_llm_failures", "synthesis_reasoning"]

    def run(discipline: str) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
        """One materialization of the stage: its items, reasoning and failures for `discipline`."""
        materialize_assets(linkqa_home, stage, partition=discipline, llm=llm)
        failed = lake.read("llm_failures", [{"stage": "synthesized_qa", "discipline": discipline}])
        return lake.read("synthesized_qa", [discipline]), lake.read("synthesis_reasoning", [discipline]), failed

    qa, reasoning, failures = run("physics")
    zh_qa, zh_reasoning, _ = run("chemistry")
    assert all(m["role"] != "system" for body in server.bodies for m in body["messages"])  # R1: no system message
    both = pl.concat([qa, zh_qa])
    per_path = dict(both.group_by("path_id").len().iter_rows())
    assert per_path == {"p_ok": 3, "p_baditem": 3, "p_reasoning": 3, "z_ok": 3, "z_think": 3}
    assert both["qa_id"].n_unique() == both.height
    assert set(both["backend"]) == {"openai"} and set(both["model"]) == {"deepseek-r1-fake"}
    assert (both["prompt_tokens"] > 0).all() and (both["completion_tokens"] > 0).all()
    for row in both.iter_rows(named=True):  # each item's own provenance: the KPs and seeds it names
        kps, seeds = (E2E_PATHS["physics"] | E2E_PATHS["chemistry"])[row["path_id"]]
        assert row["kp_ids"] == kps[:2] and row["seed_ids"] == seeds[:2]
        assert row["qa_id"] == qa_id(row["path_id"], row["question"])
    # the pasted item was rejected alone and replaced by one request naming why, keeping its siblings
    (replacement,) = [b for b in server.bodies if "were rejected" in b["messages"][0]["content"]]
    assert "(contains_seed)" in replacement["messages"][0]["content"]
    assert '1 item(s) in "items"' in replacement["messages"][0]["content"]
    assert not qa["question"].str.contains("BADITEM").any()
    # each item was asked for a level, the physics target (5/15/30/30/20) split over its 4 paths' 12 slots
    assert both["requested_level"].is_not_null().all()
    firsts = [b["messages"][0]["content"] for b in server.bodies if "were rejected" not in b["messages"][0]["content"]]
    physics = [m for m in firsts if 'discipline "physics"' in m]

    def levels_asked(prompt: str) -> list[int]:
        found = re.search(r"difficulty levels ([\d, ]+), item", prompt)
        assert found, prompt
        return [int(v) for v in found[1].split(", ")]

    asked = sorted(v for m in set(physics) for v in levels_asked(m))
    assert asked == [1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 5, 5]  # largest remainder of 0.6/1.8/3.6/3.6/2.4
    (bad_prompt,) = {m for m in physics if "BADITEM" in m}
    a, b, c = levels_asked(bad_prompt)
    # rows: slots 0 and 2 of the first reply, then slot 1 from the replacement, which asked for slot 1's level
    assert both.filter(pl.col("path_id") == "p_baditem")["requested_level"].to_list() == [a, c, b]
    assert f"difficulty level {b} on this scale" in replacement["messages"][0]["content"]
    (failure,) = failures.iter_rows(named=True)
    assert failure["key"] == "synthesis:p_malformed" and failure["reason"] == "2 items given, 3 asked for"
    # reasoning by qa_id, in its own table, never inside an item
    stored = pl.concat([reasoning, zh_reasoning])
    assert stored.schema == pl.Schema(REASONING_SCHEMA)
    assert set(stored["qa_id"]) == set(both.filter(pl.col("path_id").is_in(["p_reasoning", "z_think"]))["qa_id"])
    assert set(stored["reasoning"]) == {"Thinking about 1 messages step by step."}
    assert (stored["reasoning_tokens"] > 0).all()
    text = " ".join(str(v) for row in both.iter_rows() for v in row)
    assert "Thinking about" not in text and "<think>" not in text
    # a rerun serves every answer from the cache and asks again only for the failed request
    sent = server.snapshot()[2]
    again, _, failures = run("physics")
    resent = server.snapshot()[2] - sent
    assert list(resent) and all("MALFORMED" in tag for tag in resent) and sum(resent.values()) == 2  # try + repair
    assert sorted(again["qa_id"]) == sorted(qa["qa_id"])  # stable ids
    assert failures["terminal"].to_list() == [True]  # 4 rejected answers over two runs: not asked again
