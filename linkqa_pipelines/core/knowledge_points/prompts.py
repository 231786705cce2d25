"""LLM knowledge-point extraction: prompts (English and Chinese), the answer's JSON schema,
answer validation with a reason, and conversion of accepted answers into KP links.

The LLM layer sends `build_kp_messages(...)` with `KP_EXTRACTION_SCHEMA` (as
`response_format` where the endpoint supports it, else the schema is also spelled out in the
prompt) and hands back parsed JSON. `validate_kp_answer` says why an answer must be retried
(no KPs, too few/many, garbage names, wrong language, bad grade/difficulty); only accepted
answers go through `kp_links_from_answers`. The discipline the model names is recorded
against the seed's mapped discipline (`discipline_agrees`), not used to reject the answer:
disagreement is information about the mapping, not a broken answer.

Grade levels and disciplines come from the taxonomy, so schema, prompt and validation agree
with the partitions.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any, cast

import polars as pl

from linkqa_pipelines.core.contracts import KP_LINK_SCHEMA, conform
from linkqa_pipelines.core.knowledge_points.lexicon import CJK_CLASS
from linkqa_pipelines.taxonomy import load_taxonomy

MIN_KPS = 2
MAX_KPS = 8
MAX_NAME_CHARS = 80  # English; a canonical name is a term, not a sentence
MAX_NAME_WORDS = 10
MAX_ZH_NAME_CHARS = 25
_MAX_QUESTION_CHARS = 4000
_MAX_EXPLANATION_CHARS = 3000

_TAXONOMY = load_taxonomy()
GRADE_LEVELS: tuple[str, ...] = _TAXONOMY.grade_level_ids
DISCIPLINES: tuple[str, ...] = tuple(d for d in _TAXONOMY.discipline_ids if d != _TAXONOMY.FALLBACK)

KP_EXTRACTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "knowledge_points": {
            "type": "array",
            "minItems": MIN_KPS,
            "maxItems": MAX_KPS,
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": MAX_NAME_CHARS},
                    "description": {"type": "string", "minLength": 1},
                },
                "required": ["name", "description"],
                "additionalProperties": False,
            },
        },
        "discipline": {"type": "string", "enum": list(DISCIPLINES)},
        "grade_level": {"type": "string", "enum": list(GRADE_LEVELS)},
        "difficulty": {"type": "integer", "minimum": 1, "maximum": 5},
    },
    "required": ["knowledge_points", "discipline", "grade_level", "difficulty"],
    "additionalProperties": False,
}

_ANSWER_SHAPE = json.dumps(
    {
        "knowledge_points": [{"name": "...", "description": "..."}],
        "discipline": "...",
        "grade_level": "...",
        "difficulty": 3,
    },
    ensure_ascii=False,
)
_CJK = re.compile(f"[{CJK_CLASS}]")
_SPACES = re.compile(r"\s+")

_EN_SYSTEM = (
    "You are an experienced curriculum designer and exam author. You identify the knowledge points "
    "an exam question tests, name each the way a textbook index would, and grade the question. "
    "You answer with one JSON object and nothing else."
)
_ZH_SYSTEM = (
    "你是一位经验丰富的课程设计专家和命题人。你的任务是找出一道考题所考查的知识点，用教材索引式的规范名称"
    "命名每个知识点，并评定题目的学段与难度。只输出一个 JSON 对象，不要输出其他内容。"
)
_ZH_DIFFICULTY = {
    1: "很容易：回忆单个事实或定义",
    2: "容易：一两步直接运用一个概念",
    3: "中等：结合两个概念或需要几步推理",
    4: "较难：跨多个概念的多步推理，易被干扰项误导",
    5: "很难：需要深入洞察或长链推理",
}


def _letter(i: int) -> str:
    return chr(ord("A") + i)


def _question_block(seed: Mapping[str, Any], zh: bool) -> str:
    """The seed as the model sees it: question, lettered choices, answer, explanation (truncated)."""
    labels = ("题目", "选项", "答案", "解析") if zh else ("Question", "Choices", "Answer", "Explanation")
    parts = [f"{labels[0]}:\n{str(seed['question'])[:_MAX_QUESTION_CHARS]}"]
    choices = seed.get("choices")
    if choices:
        parts.append(f"{labels[1]}:\n" + "\n".join(f"{_letter(i)}. {c}" for i, c in enumerate(choices)))
    if seed.get("answer"):
        parts.append(f"{labels[2]}: {seed['answer']}")
    if seed.get("explanation"):
        parts.append(f"{labels[3]}:\n{str(seed['explanation'])[:_MAX_EXPLANATION_CHARS]}")
    return "\n\n".join(parts)


def _en_prompt(seed: Mapping[str, Any], discipline_name: str) -> str:
    grades = "\n".join(f"  - {g.id}: {g.name} — {g.description}" for g in _TAXONOMY.grade_levels)
    levels = "\n".join(f"  - {d.level}: {d.name} — {d.description}" for d in _TAXONOMY.difficulty_levels)
    disciplines = ", ".join(DISCIPLINES)
    return f"""List the knowledge points this question tests and annotate it.

{_question_block(seed, zh=False)}

The dataset files this question under the discipline "{discipline_name}".

Rules for knowledge points:
- {MIN_KPS} to {MAX_KPS} knowledge points, the most central first.
- "name": a short canonical term as in a textbook index (at most {MAX_NAME_WORDS} words), e.g.
  "Newton's second law", "binary star system", "price elasticity of demand".
  Not a sentence, not a copy of the question, no answer letters.
- "description": one sentence saying what the knowledge point is and how the question uses it.
- Write names and descriptions in English.

Annotation:
- "discipline": one of {disciplines}.
- "grade_level": one of
{grades}
- "difficulty": an integer 1-5:
{levels}

Answer with JSON only, in this shape:
{_ANSWER_SHAPE}"""


def _zh_prompt(seed: Mapping[str, Any], discipline_name: str) -> str:
    grades = "\n".join(f"  - {g.id}：{g.label_zh}" for g in _TAXONOMY.grade_levels)
    levels = "\n".join(f"  - {level}：{text}" for level, text in _ZH_DIFFICULTY.items())
    disciplines = ", ".join(DISCIPLINES)
    return f"""请列出这道题考查的知识点，并对题目进行标注。

{_question_block(seed, zh=True)}

数据集把这道题归入学科"{discipline_name}"。

知识点要求：
- {MIN_KPS} 至 {MAX_KPS} 个知识点，最核心的排在最前。
- "name"：简体中文的规范知识点名称，像教材索引中的术语（不超过 {MAX_ZH_NAME_CHARS} 个字），
  例如"牛顿第二定律"、"细胞凋亡"、"需求价格弹性"。不要写成句子，不要照抄题干，不要包含选项字母。
- "description"：用一句中文说明该知识点是什么、题目如何用到它。

标注要求：
- "discipline"：从以下学科代码中选一个：{disciplines}。
- "grade_level"：从以下学段代码中选一个：
{grades}
- "difficulty"：1-5 的整数：
{levels}

只输出如下格式的 JSON：
{_ANSWER_SHAPE}"""


def build_kp_messages(seed: Mapping[str, Any], discipline_name: str) -> list[dict[str, str]]:
    """Chat messages for one seed (a SEED_SCHEMA row as a dict); Chinese seeds get a Chinese
    prompt that asks for Chinese KP names, every other language the English one."""
    zh = seed.get("language") == "zh"
    return [
        {"role": "system", "content": _ZH_SYSTEM if zh else _EN_SYSTEM},
        {"role": "user", "content": (_zh_prompt if zh else _en_prompt)(seed, discipline_name)},
    ]


def _folded(text: str) -> str:
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def _name_problem(name: Any, zh: bool, question: str | None) -> str | None:
    if not isinstance(name, str) or not name.strip():
        return "empty name"
    text = name.strip()
    if zh and len(text) > MAX_ZH_NAME_CHARS:
        return f"name longer than {MAX_ZH_NAME_CHARS} characters: {text[:40]!r}"
    if len(text) > MAX_NAME_CHARS or len(text.split()) > MAX_NAME_WORDS:
        return f"name too long ({len(text)} chars, {len(text.split())} words): {text[:40]!r}"
    letters = sum(ch.isalpha() for ch in text)
    if letters < max(1, 0.5 * len(text.replace(" ", ""))):
        return f"name is mostly punctuation or digits: {text!r}"
    if question:
        q, n = _folded(question), _folded(text)
        if n == q or (len(q) >= 20 and len(n) >= 0.6 * len(q) and n in q):
            return f"name copies the question: {text[:40]!r}"
    return None


def validate_kp_answer(
    language: str, expected_discipline: str, answer: Any, *, question: str | None = None
) -> str | None:
    """Why a parsed answer must be retried, or None when it is usable.

    `expected_discipline` is the seed's mapped discipline id. A different known discipline in
    the answer is not a failure (it is recorded, see `discipline_agreement`); one that maps to
    no discipline at all is. Pass `question` to catch names that copy it.
    """
    if not isinstance(answer, Mapping):
        return f"answer is not a JSON object but {type(answer).__name__}"
    answer = cast(Mapping[str, Any], answer)  # parsed JSON: an object's keys are strings
    raw_kps = answer.get("knowledge_points")
    if not isinstance(raw_kps, list) or not raw_kps:
        return "no knowledge points"
    kps = cast(list[Any], raw_kps)
    if len(kps) < MIN_KPS:
        return f"only {len(kps)} knowledge point(s), need at least {MIN_KPS}"
    if len(kps) > MAX_KPS:
        return f"{len(kps)} knowledge points, at most {MAX_KPS} allowed"
    zh = language == "zh"
    names: list[str] = []
    for i, kp in enumerate(kps, start=1):
        if not isinstance(kp, Mapping):
            return f"knowledge point {i} is not an object"
        kp = cast(Mapping[str, Any], kp)
        problem = _name_problem(kp.get("name"), zh, question)
        if problem:
            return f"knowledge point {i}: {problem}"
        description = kp.get("description")
        if not isinstance(description, str) or not description.strip():
            return f"knowledge point {i}: empty description"
        names.append(kp["name"].strip())
    folded = [_folded(n) for n in names]
    if len(set(folded)) < len(folded):
        return "duplicate knowledge point names"
    with_cjk = sum(bool(_CJK.search(n)) for n in names)
    if zh and with_cjk == 0:
        return "wrong language: Chinese seed but no knowledge point name is in Chinese"
    if not zh and with_cjk:
        return f"wrong language: {language} seed but {with_cjk} knowledge point name(s) contain Chinese characters"
    discipline = answer.get("discipline")
    if not isinstance(discipline, str) or not discipline.strip():
        return "missing discipline"
    resolved, _ = discipline_agreement(expected_discipline, discipline.strip())
    if resolved == _TAXONOMY.FALLBACK and expected_discipline != _TAXONOMY.FALLBACK:
        return f"unknown discipline {discipline!r}; expected one of the taxonomy ids"
    if answer.get("grade_level") not in GRADE_LEVELS:
        return f"bad grade_level {answer.get('grade_level')!r}; expected one of {', '.join(GRADE_LEVELS)}"
    difficulty = answer.get("difficulty")
    if isinstance(difficulty, bool) or not isinstance(difficulty, int | float) or difficulty != int(difficulty):
        return f"bad difficulty {difficulty!r}; expected an integer 1-5"
    if not 1 <= int(difficulty) <= 5:
        return f"difficulty {difficulty} out of range 1-5"
    return None


def discipline_agreement(expected_discipline: str, answered: str) -> tuple[str, bool]:
    """(the answered discipline as a taxonomy id, whether it is the expected one). Free text
    such as "astronomy" is mapped through the taxonomy's subject index."""
    resolved = answered if answered in _TAXONOMY.discipline_ids else _TAXONOMY.map_subject(answered)
    return resolved, resolved == expected_discipline


def kp_links_from_answers(
    seeds: Sequence[Mapping[str, Any]] | pl.DataFrame,
    answers: Sequence[Mapping[str, Any]],
    backend: str,
    model: str,
) -> pl.DataFrame:
    """KP links (KP_LINK_SCHEMA + `llm_discipline`, `discipline_agrees`) from accepted answers,
    aligned with `seeds` (rows with seed_id, discipline, language, question).

    Every answer must pass `validate_kp_answer`; otherwise a ValueError names each failing
    seed and its reason, so that no seed can fall out of the stage unnoticed.
    """
    rows = seeds.to_dicts() if isinstance(seeds, pl.DataFrame) else list(seeds)
    if len(rows) != len(answers):
        raise ValueError(f"{len(rows)} seeds but {len(answers)} answers")
    failures: list[str] = []
    out: dict[str, list[Any]] = {c: [] for c in [*KP_LINK_SCHEMA, "llm_discipline", "discipline_agrees"]}
    for seed, answer in zip(rows, answers, strict=True):
        reason = validate_kp_answer(
            seed.get("language") or "", seed["discipline"], answer, question=seed.get("question")
        )
        if reason:
            failures.append(f"{seed['seed_id']}: {reason}")
            continue
        llm_discipline, agrees = discipline_agreement(seed["discipline"], answer["discipline"].strip())
        for rank, kp in enumerate(answer["knowledge_points"]):
            for column, value in (
                ("seed_id", seed["seed_id"]),
                ("discipline", seed["discipline"]),
                ("kp_rank", rank),
                ("kp_name", _SPACES.sub(" ", kp["name"]).strip()),
                ("kp_description", _SPACES.sub(" ", kp["description"]).strip()),
                ("grade_level", answer["grade_level"]),
                ("difficulty", int(answer["difficulty"])),
                ("backend", backend),
                ("model", model),
                ("llm_discipline", llm_discipline),
                ("discipline_agrees", agrees),
            ):
                out[column].append(value)
    if failures:
        raise ValueError(f"{len(failures)} invalid KP answer(s): " + "; ".join(failures[:20]))
    schema = {**KP_LINK_SCHEMA, "llm_discipline": pl.String(), "discipline_agrees": pl.Boolean()}
    return conform(pl.DataFrame(out, schema=schema), KP_LINK_SCHEMA)
