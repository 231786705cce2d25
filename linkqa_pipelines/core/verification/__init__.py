"""Pure logic of the verification stage (no Dagster): each QA answered k times without its key,
the answers voted against the key.

- `build_verification_requests(qa, k)` -> k keyless `ChatRequest`s per item (sample i has seed i);
- `VERIFY_TASK`: the model task; offline it abstains (no solver), so every item stays `unverified`:
  the offline backend never marks anything verified;
- `tally(item, votes)` -> (`verification`, agreement): `verified` when more than half of the
  answers given name the key, `failed` otherwise, `unverified` with no answer. `refined` is
  reserved for the refine round (not built yet).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import polars as pl

from linkqa_pipelines.core.llm.task import ModelTask
from linkqa_pipelines.core.llm.types import ChatRequest
from linkqa_pipelines.core.synthesis.answers import LETTERS, resolve_choice
from linkqa_pipelines.core.synthesis.prompts import request_piece
from linkqa_pipelines.core.synthesis.templates import render_item
from linkqa_pipelines.core.text import normalize_texts

Verification = Literal["verified", "refined", "failed", "unverified"]
OFFLINE_VERIFY_MODEL = "offline-abstain-v1"
VERIFY_ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"answer": {"type": ["string", "null"]}, "rationale": {"type": "string"}},
    "required": ["answer", "rationale"],
    "additionalProperties": False,
}
_PROMPT = (
    "Solve this question independently. Reply with one JSON object only: "
    '{{"answer": "<the letter of the correct option, or the short final answer>", "rationale": "..."}}\n\n{item}'
)


def build_verification_requests(qa: pl.DataFrame, k: int) -> list[ChatRequest]:
    """k requests per QA row (`qa_id`, `question`, `choices`), none of which shows the key."""
    return [
        request_piece(
            f"verify:{row['qa_id']}:{i}",
            {"qa_id": row["qa_id"], "sample": i, "question": row["question"], "choices": row["choices"]},
            lambda p: ({"role": "user", "content": _PROMPT.format(item=render_item(p))},),
            VERIFY_ANSWER_SCHEMA,
            "linkqa_verify",
        )
        for row in qa.select("qa_id", "question", "choices").iter_rows(named=True)
        for i in range(k)
    ]


def offline_verify(payloads: Sequence[Mapping[str, Any]]) -> list[dict[str, Any] | None]:
    """No solver offline: every sample abstains, so nothing is verified."""
    return [{"answer": None, "rationale": "offline backend: no solver"} for _ in payloads]


VERIFY_TASK = ModelTask(stage="qa_verification", offline_model=OFFLINE_VERIFY_MODEL, offline=offline_verify)


def tally(item: Mapping[str, Any], votes: Sequence[str | None]) -> tuple[Verification, float | None]:
    """The verification status of `item` (`answer`, `choices`) from its keyless answers and
    the share of the answers given that agree with the key (None when none was given)."""
    given = [v for v in votes if v is not None and v.strip()]
    if not given:
        return "unverified", None
    choices = item.get("choices")
    if choices:
        picks = [resolve_choice(v, choices) for v in given]
        agree = sum(p is not None and LETTERS[p] == item["answer"] for p in picks)
    else:
        key, *answers = normalize_texts([item["answer"], *given])
        agree = sum(a == key for a in answers)
    share = agree / len(given)
    return ("verified" if share > 0.5 else "failed"), share
