"""KP extraction prompts, JSON schema, answer validation reasons and conversion to KP links."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import polars as pl
import pytest

from linkqa_pipelines.core.contracts import KP_LINK_SCHEMA
from linkqa_pipelines.core.knowledge_points import (
    DISCIPLINES,
    GRADE_LEVELS,
    KP_EXTRACTION_SCHEMA,
    build_kp_messages,
    discipline_agreement,
    kp_links_from_answers,
    validate_kp_answer,
)
from linkqa_pipelines.taxonomy import load_taxonomy

EN_SEED: dict[str, Any] = {
    "seed_id": "en1",
    "language": "en",
    "discipline": "earth_space_science",
    "question": 'What is true for a type-Ia ("type one-a") supernova?',
    "choices": ["This type occurs in binary systems.", "This type occurs in young galaxies."],
    "answer": "A",
    "explanation": None,
}
ZH_SEED: dict[str, Any] = {
    "seed_id": "zh1",
    "language": "zh",
    "discipline": "biology",
    "question": "下列关于细胞凋亡的叙述，错误的是",
    "choices": ["被病原体感染的细胞可通过细胞凋亡清除", "细胞凋亡不出现在胚胎发育过程中"],
    "answer": "B",
    "explanation": None,
}
EN_ANSWER: dict[str, Any] = {
    "knowledge_points": [
        {"name": "Type Ia supernova", "description": "A white dwarf in a binary system explodes."},
        {"name": "binary star system", "description": "Two stars orbiting a common centre of mass."},
    ],
    "discipline": "earth_space_science",
    "grade_level": "undergraduate",
    "difficulty": 2,
}
ZH_ANSWER: dict[str, Any] = {
    "knowledge_points": [
        {"name": "细胞凋亡", "description": "由基因决定的细胞程序性死亡。"},
        {"name": "胚胎发育", "description": "胚胎发育过程中存在细胞凋亡。"},
    ],
    "discipline": "biology",
    "grade_level": "high_school",
    "difficulty": 2,
}


def with_changes(answer: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(answer)
    out.update(changes)
    return out


def test_schema_is_valid_and_accepts_good_answers_only() -> None:
    jsonschema.Draft202012Validator.check_schema(KP_EXTRACTION_SCHEMA)
    validator = jsonschema.Draft202012Validator(KP_EXTRACTION_SCHEMA)
    assert validator.is_valid(EN_ANSWER) and validator.is_valid(ZH_ANSWER)
    assert not validator.is_valid(with_changes(EN_ANSWER, knowledge_points=EN_ANSWER["knowledge_points"][:1]))
    assert not validator.is_valid(with_changes(EN_ANSWER, grade_level="college"))
    assert not validator.is_valid(with_changes(EN_ANSWER, difficulty=6))
    assert load_taxonomy().grade_level_ids == GRADE_LEVELS
    assert "unmapped" not in DISCIPLINES and "biology" in DISCIPLINES


def test_messages_english_and_chinese_variants() -> None:
    en = build_kp_messages(EN_SEED, "Earth and space science")
    assert [m["role"] for m in en] == ["system", "user"]
    user = en[1]["content"]
    assert EN_SEED["question"] in user and "A. This type occurs in binary systems." in user
    assert '"Earth and space science"' in user and "Write names and descriptions in English" in user
    assert all(g in user for g in GRADE_LEVELS) and "knowledge_points" in user
    zh = build_kp_messages(ZH_SEED, "生物学")
    assert "简体中文" in zh[1]["content"] and ZH_SEED["question"] in zh[1]["content"]
    assert "B. 细胞凋亡不出现在胚胎发育过程中" in zh[1]["content"] and "知识点" in zh[0]["content"]
    long_seed = {**EN_SEED, "question": "x" * 10_000, "choices": None, "explanation": "y" * 10_000}
    content = build_kp_messages(long_seed, "Physics")[1]["content"]
    assert len(content) < 10_000 and "Choices" not in content and "Explanation" in content


@pytest.mark.parametrize(
    ("language", "answer", "reason"),
    [
        ("en", EN_ANSWER, None),
        ("zh", ZH_ANSWER, None),
        ("en", ["not", "an", "object"], "not a JSON object"),
        ("en", with_changes(EN_ANSWER, knowledge_points=[]), "no knowledge points"),
        ("en", with_changes(EN_ANSWER, knowledge_points=None), "no knowledge points"),
        ("en", with_changes(EN_ANSWER, knowledge_points=EN_ANSWER["knowledge_points"][:1]), "only 1 knowledge point"),
        (
            "en",
            with_changes(EN_ANSWER, knowledge_points=EN_ANSWER["knowledge_points"] * 5),
            "10 knowledge points, at most 8",
        ),
        (
            "en",
            with_changes(
                EN_ANSWER, knowledge_points=[{"name": " ", "description": "d"}, EN_ANSWER["knowledge_points"][1]]
            ),
            "knowledge point 1: empty name",
        ),
        (
            "en",
            with_changes(
                EN_ANSWER, knowledge_points=[EN_ANSWER["knowledge_points"][0], {"name": "?!?! ...", "description": "d"}]
            ),
            "knowledge point 2: name is mostly punctuation",
        ),
        (
            "en",
            with_changes(
                EN_ANSWER,
                knowledge_points=[{"name": "word " * 12, "description": "d"}, EN_ANSWER["knowledge_points"][1]],
            ),
            "name too long",
        ),
        (
            "en",
            with_changes(
                EN_ANSWER,
                knowledge_points=[EN_ANSWER["knowledge_points"][0], {"name": "binary star system", "description": ""}],
            ),
            "knowledge point 2: empty description",
        ),
        (
            "en",
            with_changes(
                EN_ANSWER,
                knowledge_points=[EN_ANSWER["knowledge_points"][0], {"name": "type ia  SUPERNOVA", "description": "d"}],
            ),
            "duplicate knowledge point names",
        ),
        ("zh", EN_ANSWER, "wrong language: Chinese seed"),
        ("en", ZH_ANSWER, "wrong language: en seed"),
        ("en", with_changes(EN_ANSWER, grade_level="college"), "bad grade_level 'college'"),
        ("en", with_changes(EN_ANSWER, difficulty=0), "difficulty 0 out of range"),
        ("en", with_changes(EN_ANSWER, difficulty="3"), "bad difficulty '3'"),
        ("en", with_changes(EN_ANSWER, difficulty=True), "bad difficulty True"),
        ("en", with_changes(EN_ANSWER, difficulty=2.5), "bad difficulty 2.5"),
        ("en", with_changes(EN_ANSWER, discipline=""), "missing discipline"),
        ("en", with_changes(EN_ANSWER, discipline="underwater basket weaving"), "unknown discipline"),
    ],
)
def test_validate_kp_answer_reasons(language: str, answer: Any, reason: str | None) -> None:
    got = validate_kp_answer(language, "earth_space_science", answer)
    if reason is None:
        assert got is None
    else:
        assert got is not None and reason in got


def test_names_copying_the_question_are_rejected() -> None:
    copied = with_changes(
        EN_ANSWER,
        knowledge_points=[
            {"name": "What is true for a type-Ia supernova", "description": "d"},
            EN_ANSWER["knowledge_points"][1],
        ],
    )
    question = "What is true for a type-Ia supernova?"
    reason = validate_kp_answer("en", "earth_space_science", copied, question=question)
    assert reason is not None and "copies the question" in reason
    assert validate_kp_answer("en", "earth_space_science", EN_ANSWER, question=question) is None


def test_discipline_agreement_maps_free_text() -> None:
    assert discipline_agreement("earth_space_science", "earth_space_science") == ("earth_space_science", True)
    assert discipline_agreement("earth_space_science", "physics") == ("physics", False)
    assert discipline_agreement("biology", "生物") == ("biology", True)  # taxonomy alias


def test_kp_links_from_answers() -> None:
    disagreeing = with_changes(ZH_ANSWER, discipline="chemistry", difficulty=3.0)
    links = kp_links_from_answers([EN_SEED, ZH_SEED], [EN_ANSWER, disagreeing], "openai", "deepseek-chat")
    assert list(links.columns) == [*KP_LINK_SCHEMA, "llm_discipline", "discipline_agrees"]
    assert links.height == 4
    assert links["kp_rank"].to_list() == [0, 1, 0, 1]
    assert links["kp_name"].to_list() == ["Type Ia supernova", "binary star system", "细胞凋亡", "胚胎发育"]
    assert links["discipline"].to_list() == ["earth_space_science"] * 2 + ["biology"] * 2  # the seed's, not the LLM's
    assert links["llm_discipline"].to_list() == ["earth_space_science"] * 2 + ["chemistry"] * 2
    assert links["discipline_agrees"].to_list() == [True, True, False, False]
    assert links["difficulty"].to_list() == [2, 2, 3, 3] and links.schema["difficulty"] == pl.Int8
    assert set(links["backend"]) == {"openai"} and set(links["model"]) == {"deepseek-chat"}
    # A DataFrame of seeds works the same way.
    frame = pl.DataFrame([EN_SEED], schema_overrides={"explanation": pl.String})
    assert kp_links_from_answers(frame, [EN_ANSWER], "vllm", "m").height == 2


def test_kp_links_from_answers_refuses_invalid_answers() -> None:
    bad = with_changes(EN_ANSWER, knowledge_points=[])
    with pytest.raises(ValueError, match=r"1 invalid KP answer\(s\): zh1: wrong language.*"):
        kp_links_from_answers([EN_SEED, ZH_SEED], [EN_ANSWER, EN_ANSWER], "openai", "m")
    with pytest.raises(ValueError, match="en1: no knowledge points"):
        kp_links_from_answers([EN_SEED], [bad], "openai", "m")
    with pytest.raises(ValueError, match="2 seeds but 1 answers"):
        kp_links_from_answers([EN_SEED, ZH_SEED], [EN_ANSWER], "openai", "m")
