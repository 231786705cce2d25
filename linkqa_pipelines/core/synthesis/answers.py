"""A generated QA answer: its JSON shape (`SYNTH_ANSWER_SCHEMA`), the checks that make it usable,
and the QA columns it becomes. Shared by synthesis and difficulty enhancement, which both ask a
model for a QA in this shape.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Literal, TypeGuard, cast

from linkqa_pipelines.core.language import language_of
from linkqa_pipelines.core.synthesis.copies import CopyRule, copy_reason
from linkqa_pipelines.core.text import normalize_texts

LETTERS = "ABCDEFGHIJ"

QaType = Literal["multiple_choice", "free_form"]
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")

SYNTH_ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "question": {"type": "string"},
        "qa_type": {"type": "string", "enum": ["multiple_choice", "free_form"]},
        "choices": {"type": ["array", "null"], "items": {"type": "string"}},
        "answer": {"type": "string"},
        "rationale": {"type": "string"},
        "kp_names_used": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["question", "qa_type", "choices", "answer", "rationale", "kp_names_used"],
    "additionalProperties": False,
}
# A synthesized item also names the seeds (numbered as in the prompt) whose knowledge it fuses.
SYNTH_ITEM_SCHEMA: dict[str, Any] = {
    **SYNTH_ANSWER_SCHEMA,
    "properties": {**SYNTH_ANSWER_SCHEMA["properties"], "seeds_used": {"type": "array", "items": {"type": "integer"}}},
    "required": [*SYNTH_ANSWER_SCHEMA["required"], "seeds_used"],
}


# The reply to a synthesis request: `{"items": [...]}`. How many items is said in the prompt and
# checked by `reply_reason`, which names the count; a schema bound would be reported as a schema
# violation quoting the whole reply, and not every structured-output engine supports it.
SYNTH_REPLY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"items": {"type": "array", "items": SYNTH_ITEM_SCHEMA}},
    "required": ["items"],
    "additionalProperties": False,
}


def _is_str_list(value: object) -> TypeGuard[list[str]]:
    """Whether parsed JSON `value` is a list of strings."""
    return isinstance(value, list) and all(isinstance(v, str) for v in cast(list[object], value))


def resolve_choice(answer: str, choices: Sequence[str]) -> int | None:
    """Index of the choice an answer names: a letter ("B", "(B)", "B.") or the choice text."""
    text = answer.strip()
    m = re.fullmatch(r"\(?([A-Ja-j])\)?[.:)]?", text)
    if m:
        idx = LETTERS.index(m.group(1).upper())
        return idx if idx < len(choices) else None
    norm_answer, *norm_choices = normalize_texts([text, *choices])
    return norm_choices.index(norm_answer) if norm_answer in norm_choices else None


def clean_choices(choices: Sequence[str]) -> list[str]:
    """Choices stripped, and without "A." / "(B)" prefixes when every option carries its own
    letter in order (models often add them despite being asked not to)."""
    stripped = [c.strip() for c in choices]
    prefix = [re.match(rf"\(?{LETTERS[i]}[.:)）．、]\)?\s*", c) for i, c in enumerate(stripped[: len(LETTERS)])]
    matched = [m for m in prefix if m is not None]
    if stripped and len(stripped) <= len(LETTERS) and len(matched) == len(prefix):
        return [c[m.end() :].strip() for c, m in zip(stripped, matched, strict=True)]
    return stripped


def check_qa_answer(
    answer: Mapping[str, Any],
    *,
    language: str,
    qa_type: QaType | None,
    n_choices: int | None,
    kp_names: Sequence[str],
    copies_of: Sequence[str] = (),
    copy_exempt: Collection[CopyRule] = (),
) -> str | None:
    """Reasons a generated QA is unusable, shared by synthesis and enhancement.

    Checks types and non-empty fields, the requested qa_type, choices (distinct, the
    requested count) and that the answer names one of them, the script of the question
    (en/zh), that at least two of the path's knowledge points (all, on a one-KP path) are
    claimed as used, and that the question is not a copy of any text in `copies_of` (see
    `copy_reason`; the rules in `copy_exempt` are not applied).
    """
    for field in ("question", "answer", "rationale"):
        value = answer.get(field)
        if not isinstance(value, str) or not value.strip():
            return f"field {field!r} is missing or empty"
    got_type = answer.get("qa_type")
    if got_type not in ("multiple_choice", "free_form"):
        return f"qa_type {got_type!r} is not multiple_choice or free_form"
    if qa_type is not None and got_type != qa_type:
        return f"qa_type is {got_type}, {qa_type} was requested"
    choices = answer.get("choices")
    if got_type == "multiple_choice":
        if not _is_str_list(choices):
            return "multiple_choice answer needs a list of choice strings"
        choices = clean_choices(choices)
        if not all(choices):
            return "a choice is empty"
        if len(choices) < 2 or (n_choices is not None and len(choices) != n_choices):
            return f"{len(choices)} choices given, {n_choices or 'at least 2'} required"
        if len(set(normalize_texts(choices))) != len(choices):
            return "choices are not distinct"
        if resolve_choice(answer["answer"], choices) is None:
            return f"answer {answer['answer']!r} is not one of the choices A-{LETTERS[len(choices) - 1]}"
    elif choices:
        return "free_form answer must have choices null"
    # Without any Han character a question cannot be Chinese: skip the full script count.
    found = language_of(answer["question"]) if _HAN.search(answer["question"]) else "not zh"
    if language == "zh" and found != "zh":
        return f"question is not in Chinese (script looks {found})"
    if language == "en" and found == "zh":
        return "question is in Chinese, English was expected"
    return kps_used_reason(answer.get("kp_names_used"), kp_names) or copy_reason(
        answer["question"], copies_of, copy_exempt, kp_names
    )


def kps_used_reason(used: object, kp_names: Sequence[str]) -> str | None:
    """Why `kp_names_used` does not name at least two of the path's knowledge points (all, on a
    one-KP path), or None."""
    if not _is_str_list(used):
        return "kp_names_used must be a list of strings"
    path_names = {n.casefold().strip() for n in kp_names}
    n_used = len(path_names & {u.casefold().strip() for u in used})
    if n_used < min(2, len(path_names)):
        return f"uses {n_used} of the path's knowledge points, at least {min(2, len(path_names))} required"
    return None


def answer_columns(answer: Mapping[str, Any]) -> dict[str, Any]:
    """The QA columns of a validated answer; multiple-choice answers become the choice letter."""
    choices = clean_choices(answer["choices"]) if answer["qa_type"] == "multiple_choice" else None
    text = answer["answer"].strip()
    if choices is not None:
        idx = resolve_choice(text, choices)
        if idx is None:
            raise ValueError(f"answer {text!r} names none of the choices {choices}: validate answers first")
        text = LETTERS[idx]
    return {
        "qa_type": answer["qa_type"],
        "question": answer["question"].strip(),
        "choices": choices,
        "answer": text,
        "rationale": answer["rationale"].strip(),
    }
