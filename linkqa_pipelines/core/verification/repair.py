"""Repairs of an item that lost its vote: refine (the verifier re-derives answer and rationale)
or regenerate (the generation model writes a new item from the same path).

Refining is the R1-generate / V3-refine pattern: the verifier sees the question, the key and
rationale it was given, and the answer the solvers agreed on instead, and derives the answer
and rationale anew. Regenerating sends the path (its KPs and seeds) back to the generator with
the disputed item as a counter-example; the new item is checked like any synthesized item
(shape, language, KPs used, copy rules against its seeds) and gets its own qa_id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from linkqa_pipelines.core.llm.task import ModelTask
from linkqa_pipelines.core.llm.types import ChatRequest
from linkqa_pipelines.core.synthesis.answers import LETTERS, SYNTH_ANSWER_SCHEMA, check_qa_answer, resolve_choice
from linkqa_pipelines.core.synthesis.prompts import difficulty_rule, request_piece
from linkqa_pipelines.core.synthesis.templates import Template, render_item, template_for
from linkqa_pipelines.core.text import normalize_texts

REFINE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"answer": {"type": "string"}, "rationale": {"type": "string"}},
    "required": ["answer", "rationale"],
    "additionalProperties": False,
}
_REFINE = {
    "en": "An exam question's reference answer is disputed: independent solvers agreed on {dissent}, the key says "
    "{key}. Solve the question carefully yourself and give the correct answer and a complete rationale that "
    "derives it step by step. Reply with one JSON object only: "
    '{{"answer": "<the letter of the correct option, or the short final answer>", "rationale": "..."}}\n\n'
    "{item}\n\nKey given: {key}\nRationale given: {rationale}",
    "zh": "下面这道题的参考答案有争议：独立解题者一致给出 {dissent}，而参考答案是 {key}。"
    "请你自己仔细解题，给出正确答案，以及逐步推导出该答案的完整解析。只输出一个 JSON 对象："
    '{{"answer": "<正确选项的字母，或简短的最终答案>", "rationale": "..."}}\n\n'
    "{item}\n\n参考答案：{key}\n参考解析：{rationale}",
}
_REGENERATE = {
    "en": 'You write exam questions for the discipline "{discipline}". Write ONE new self-contained question that '
    "combines at least two of these knowledge points, in order:\n{kps}\n\nRelated seed questions:\n{seeds}\n\n"
    "An earlier question on this path had no agreed answer (independent solvers answered: {answers}), so it was "
    "ambiguous or its key was wrong:\n{item}\n\nWrite a different question with exactly one defensible answer, in "
    "English, not copying any seed.{difficulty} Format: {format_rule}\nkp_names_used: the knowledge point names "
    "used, copied exactly.\n\nReply with one JSON object only:\n"
    '{{"question": "...", "qa_type": "{qa_type}", "choices": {choices_example}, "answer": "...", '
    '"rationale": "...", "kp_names_used": ["..."]}}',
    "zh": "你为“{discipline}”学科出题。请写一道新的、自洽的题目，至少结合下列知识点中的两个（按顺序）：\n{kps}\n\n"
    "相关原题：\n{seeds}\n\n此前在这条路径上出的一道题没有公认答案（独立解题者的答案：{answers}），说明题意有歧义或参考答案有误：\n"
    "{item}\n\n请写一道不同的题目，只有一个站得住的答案，使用中文，不要照抄原题。{difficulty}题型：{format_rule}\n"
    "kp_names_used：用到的知识点名称，须与上面完全一致。\n\n只输出一个 JSON 对象：\n"
    '{{"question": "...", "qa_type": "{qa_type}", "choices": {choices_example}, "answer": "...", '
    '"rationale": "...", "kp_names_used": ["..."]}}',
}
MAX_SEEDS = 5  # seeds shown in a regeneration prompt


def _lang(language: str) -> str:
    return "zh" if language == "zh" else "en"


def refine_messages(payload: Mapping[str, Any]) -> tuple[dict[str, str], ...]:
    content = _REFINE[_lang(payload["language"])].format(
        dissent=payload["dissent"],
        key=payload["answer"],
        rationale=payload["rationale"] or "-",
        item=render_item(payload),
    )
    return ({"role": "user", "content": content},)


def build_refine_requests(items: Sequence[tuple[Mapping[str, Any], str]], round_: int) -> list[ChatRequest]:
    """One request per (item, the answer the solvers agreed on instead of its key)."""
    return [
        request_piece(
            f"refine:{item['qa_id']}:{round_}",
            {
                **{k: item[k] for k in ("qa_id", "language", "question", "choices", "answer", "rationale")},
                "dissent": dissent,
            },
            refine_messages,
            REFINE_SCHEMA,
            "linkqa_refine",
        )
        for item, dissent in items
    ]


def validate_refine(payload: Mapping[str, Any], answer: Mapping[str, Any]) -> str | None:
    """A non-empty rationale, and an answer that names one of the options (multiple choice)."""
    text, rationale = answer.get("answer"), answer.get("rationale")
    if not isinstance(text, str) or not text.strip():
        return "answer is missing or empty"
    if not isinstance(rationale, str) or not rationale.strip():
        return "rationale is missing or empty"
    choices = payload["choices"]
    if choices and resolve_choice(text, choices) is None:
        return f"answer {text!r} is not one of the options A-{LETTERS[len(choices) - 1]}"
    return None


def regenerate_messages(payload: Mapping[str, Any]) -> tuple[dict[str, str], ...]:
    t = template_for(payload["language"])
    n_choices = len(payload["choices"]) if payload["choices"] else 0
    content = _REGENERATE[_lang(payload["language"])].format(
        discipline=payload["discipline"],
        kps="\n".join(f"{i}. {n}" for i, n in enumerate(payload["kp_names"], start=1)),
        seeds="\n\n".join(render_item(s) for s in payload["seeds"]) or "-",
        answers=", ".join(payload["answers"]) or "-",
        item=render_item(payload),
        difficulty=_asked_level(t, payload.get("requested_level"), payload["language"]),
        **t.answer_format(payload["qa_type"], n_choices),
    )
    return ({"role": "user", "content": content},)


def _asked_level(t: Template, level: int | None, language: str) -> str:
    """The level the disputed item was asked for, asked of its replacement too (nothing when none was)."""
    if level is None:
        return ""
    rule = difficulty_rule(t, [level], language)
    return rule if language == "zh" else f" {rule[0].upper()}{rule[1:]}"


def build_regenerate_requests(
    items: Sequence[tuple[Mapping[str, Any], Sequence[str]]],
    kp_names: Mapping[str, str],
    seeds: Mapping[str, Mapping[str, Any]],
    round_: int,
) -> list[ChatRequest]:
    """One request per (item, the answers its solvers gave); `kp_names` maps kp_id -> name and
    `seeds` seed_id -> seed (question, choices) for the item's path."""
    requests: list[ChatRequest] = []
    for item, answers in items:
        missing = [kp for kp in item["kp_ids"] if kp not in kp_names]
        if missing:
            raise ValueError(f"item {item['qa_id']}: KPs {missing[:3]} are not in the KP catalog")
        payload = {
            **{
                k: item[k]
                for k in ("qa_id", "path_id", "discipline", "language", "qa_type", "question", "choices", "answer")
            },
            "kp_names": [kp_names[kp] for kp in item["kp_ids"]],
            "seeds": [
                {"question": seeds[s]["question"], "choices": seeds[s]["choices"]}
                for s in item["seed_ids"][:MAX_SEEDS]
                if s in seeds
            ],
            "answers": list(answers),
            "requested_level": item.get("requested_level"),  # the replacement is asked for the same level
        }
        requests.append(
            request_piece(
                f"regenerate:{item['qa_id']}:{round_}",
                payload,
                regenerate_messages,
                SYNTH_ANSWER_SCHEMA,
                "linkqa_synthesis",
            )
        )
    return requests


def validate_regenerate(payload: Mapping[str, Any], answer: Mapping[str, Any]) -> str | None:
    """The synthesis checks (same type and option count, language, two KPs, copy rules against
    the path's seeds), and a question that differs from the disputed one."""
    reason = check_qa_answer(
        answer,
        language=payload["language"],
        qa_type=payload["qa_type"],
        n_choices=len(payload["choices"]) if payload["choices"] else None,
        kp_names=payload["kp_names"],
        copies_of=[s["question"] for s in payload["seeds"]],
    )
    if reason:
        return reason
    old, new = normalize_texts([payload["question"], answer["question"]])
    return "the question is the disputed one unchanged" if old == new else None


def no_offline_repair(payloads: Sequence[Mapping[str, Any]]) -> list[dict[str, Any] | None]:
    """Offline votes abstain, so no item reaches a repair; were one to, it has no answer (a
    recorded failure), never an invented one."""
    return [None for _ in payloads]


REFINE_TASK = ModelTask(
    stage="qa_verification_refine", offline_model="offline-none", offline=no_offline_repair, validate=validate_refine
)
REGENERATE_TASK = ModelTask(
    stage="qa_verification_regenerate",
    offline_model="offline-none",
    offline=no_offline_repair,
    validate=validate_regenerate,
)
