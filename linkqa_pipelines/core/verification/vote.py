"""The vote: k answers to an item without its key, compared with the key.

Each sample is its own request with its own sampling seed (`round * k + sample`): the
response cache keys calls by messages and sampling, so identical prompts with one seed would
be one call answered k times, and a re-vote on a refined key (same question) would replay the
earlier round.

Answers are compared by identity (`canonical`): the option letter for multiple choice (a
letter, "(B)", or the option's text), else the normalised text, with numbers compared as
numbers ("0.50" = ".5", "1,000" = "1000", "$42$" = "42 cm" = "42": a percentage sign or unit word
after the number is not compared). Free-form answers that say the same thing in other words do
not match; such items fail or get refined, never pass wrongly.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal

from linkqa_pipelines.core.llm.task import ModelTask
from linkqa_pipelines.core.llm.types import ChatRequest
from linkqa_pipelines.core.synthesis.answers import LETTERS, resolve_choice
from linkqa_pipelines.core.synthesis.prompts import request_piece
from linkqa_pipelines.core.synthesis.templates import render_item
from linkqa_pipelines.core.text import normalize_texts

Verification = Literal["verified", "refined", "failed", "unverified"]
VERIFICATIONS: tuple[Verification, ...] = ("verified", "refined", "failed", "unverified")
OFFLINE_VERIFY_MODEL = "offline-abstain-v1"
VERIFY_ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"answer": {"type": ["string", "null"]}, "rationale": {"type": "string"}},
    "required": ["answer", "rationale"],
    "additionalProperties": False,
}
_PROMPT = {
    "en": 'Solve this question independently. Reply with one JSON object only: {{"answer": "<{what}>", '
    '"rationale": "..."}}\n\n{item}',
    "zh": '请独立解答下面的题目。只输出一个 JSON 对象：{{"answer": "<{what}>", "rationale": "..."}}\n\n{item}',
}
_WHAT = {
    ("en", True): "the letter of the correct option",
    ("en", False): "the final answer only: a number, expression or short term, without units or explanation",
    ("zh", True): "正确选项的字母",
    ("zh", False): "只写最终答案：一个数、式子或简短术语，不带单位和解释",
}
# a number, optionally wrapped ($...$, \boxed{...}) and followed by a unit word ("42 cm", "$3.5$")
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?")
_NUMERIC_ANSWER = re.compile(rf"(?:\\boxed\{{)?\$?\s*({_NUMBER.pattern})\s*\$?\}}?\s*[^\W\d_%]*\s*%?[.。]?")


def verify_messages(payload: Mapping[str, Any]) -> tuple[dict[str, str], ...]:
    """One user turn with the question and its options, never the key."""
    language = "zh" if payload["language"] == "zh" else "en"
    what = _WHAT[language, bool(payload["choices"])]
    return ({"role": "user", "content": _PROMPT[language].format(what=what, item=render_item(payload))},)


def build_verification_requests(items: Sequence[Mapping[str, Any]], k: int, round_: int = 0) -> list[ChatRequest]:
    """k keyless requests per item (`qa_id`, `language`, `question`, `choices`) for vote `round_`;
    key `verify:<qa_id>:<round>:<sample>`, sampling seed `round_ * k + sample`."""
    if k < 1:
        raise ValueError(f"k (answers per item) must be >= 1, got {k}")
    requests: list[ChatRequest] = []
    for item in items:
        payload = {k_: item[k_] for k_ in ("qa_id", "language", "question", "choices")}
        for i in range(k):
            piece = request_piece(
                f"verify:{item['qa_id']}:{round_}:{i}",
                {**payload, "round": round_, "sample": i},
                verify_messages,
                VERIFY_ANSWER_SCHEMA,
                "linkqa_verify",
            )
            requests.append(replace(piece, params=replace(piece.params, seed=round_ * k + i)))
    return requests


def offline_verify(payloads: Sequence[Mapping[str, Any]]) -> list[dict[str, Any] | None]:
    """No solver offline: every sample abstains, so nothing is verified."""
    return [{"answer": None, "rationale": "offline backend: no solver"} for _ in payloads]


VERIFY_TASK = ModelTask(stage="qa_verification", offline_model=OFFLINE_VERIFY_MODEL, offline=offline_verify)


def canonical(item: Mapping[str, Any], answer: str | None) -> str | None:
    """The identity an answer is compared by (see the module docstring); None when it gives
    none (empty, or naming no option of a multiple-choice item)."""
    if answer is None or not answer.strip():
        return None
    choices = item.get("choices")
    if choices:
        pick = resolve_choice(answer, choices)
        return LETTERS[pick] if pick is not None else None
    number = _NUMERIC_ANSWER.fullmatch(answer.strip().replace(",", ""))
    if number:
        return repr(float(number.group(1)))
    return normalize_texts([answer])[0]


def tally(item: Mapping[str, Any], votes: Sequence[str | None]) -> tuple[Verification, float | None]:
    """`verified` when more than half of the answers given name the key, `failed` otherwise,
    `unverified` when no answer was given; with the share of answers given that agree (None
    when none). An answer naming no option counts as given and wrong."""
    given = [v for v in votes if v is not None and v.strip()]
    if not given:
        return "unverified", None
    key = canonical(item, item["answer"])
    agree = sum(canonical(item, v) == key for v in given)
    share = agree / len(given)
    return ("verified" if share > 0.5 else "failed"), share


def consensus(item: Mapping[str, Any], votes: Sequence[str | None]) -> str | None:
    """The answer (as given) that more than half of the answers given name, or None."""
    given = [v for v in votes if v is not None and v.strip()]
    named = Counter(c for c in (canonical(item, v) for v in given) if c is not None)
    if not named:
        return None
    top, n = named.most_common(1)[0]
    if n * 2 <= len(given):
        return None
    return next(v for v in given if canonical(item, v) == top)
