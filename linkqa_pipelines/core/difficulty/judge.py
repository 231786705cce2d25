"""The difficulty judge task: a model rates a QA's difficulty (score 1-5, grade level,
justification); offline, the heuristic answers in the same shape and says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from linkqa_pipelines.core.difficulty.heuristic import OFFLINE_DIFFICULTY_MODEL, heuristic_features, seed_reference
from linkqa_pipelines.core.difficulty.targets import LEVELS
from linkqa_pipelines.core.llm.types import ChatRequest
from linkqa_pipelines.core.synthesis import LETTERS, meta_columns, request_piece

GRADE_LEVELS: tuple[str, ...] = ("primary_school", "middle_school", "high_school", "undergraduate", "graduate")


JUDGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "score": {"type": "integer", "enum": list(LEVELS)},
        "grade_level": {"type": "string", "enum": list(GRADE_LEVELS)},
        "justification": {"type": "string"},
    },
    "required": ["score", "grade_level", "justification"],
    "additionalProperties": False,
}


_JUDGE_PROMPT = """Rate the difficulty of the exam question below for a student of the discipline "{discipline}".
The question may be in English or Chinese; answer in English.

Scale:
1 = recall of a single fact or definition;
2 = applying one concept in one step;
3 = combining two concepts or a few routine steps;
4 = multi-step reasoning across several concepts, or non-routine application;
5 = long chains of reasoning across many concepts, at competition or graduate level.
grade_level: the education level at which a typical student could solve it, one of {grades}.

Question:
{question}
{choices}Answer: {answer}
Reference solution: {rationale}

Reply with one JSON object only: {{"score": 1-5, "grade_level": "...", "justification": "one or two sentences"}}"""


def build_judge_requests(qa: pl.DataFrame, seeds: pl.DataFrame | None = None) -> list[ChatRequest]:
    """One judge request per QA row; `seeds` lets the offline heuristic use seed ref difficulty."""
    frame = qa.join(seed_reference(qa, seeds), on="qa_id", how="left", maintain_order="left")
    requests: list[ChatRequest] = []
    for row in frame.select(
        "qa_id", "discipline", "language", "question", "qa_type", "choices", "answer", "rationale", "kp_ids", "seed_ref"
    ).iter_rows(named=True):
        payload = {"task": "difficulty_judge", **row}
        requests.append(
            request_piece(f"difficulty:{row['qa_id']}", payload, judge_messages, JUDGE_SCHEMA, "linkqa_difficulty")
        )
    return requests


def judge_messages(payload: Mapping[str, Any]) -> tuple[dict[str, str], ...]:
    """One user turn asking for a 1-5 score, grade level and justification."""
    choices = "".join(f"{LETTERS[i]}. {c}\n" for i, c in enumerate(payload["choices"] or ()))
    content = _JUDGE_PROMPT.format(
        discipline=payload["discipline"],
        grades=", ".join(GRADE_LEVELS),
        question=payload["question"],
        choices=choices,
        answer=payload["answer"],
        rationale=payload["rationale"] or "-",
    )
    return ({"role": "user", "content": content},)


def offline_judge(payloads: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The heuristic's verdict in the judge's answer shape; the justification states that
    it is the offline heuristic and lists the features it saw."""
    if not payloads:
        return []
    frame = heuristic_features(
        pl.DataFrame(
            [{k: p[k] for k in ("question", "choices", "kp_ids", "seed_ref")} for p in payloads],
            schema={
                "question": pl.String,
                "choices": pl.List(pl.String),
                "kp_ids": pl.List(pl.String),
                "seed_ref": pl.Float64,
            },
        )
    )
    answers: list[dict[str, Any]] = []
    for r in frame.iter_rows(named=True):
        ref = "n/a" if r["seed_ref"] is None else f"{r['seed_ref']:.1f}"
        answers.append(
            {
                "score": r["difficulty_score"],
                "grade_level": GRADE_LEVELS[r["difficulty_score"] - 1],
                "justification": (
                    f"{OFFLINE_DIFFICULTY_MODEL} heuristic, not a model judgement: {r['f_kps']} knowledge points, "
                    f"{r['f_steps']} parts/steps, ~{r['f_tokens']} tokens, "
                    f"numbers: {'yes' if r['f_number'] else 'no'}, "
                    f"formula: {'yes' if r['f_formula'] else 'no'}, seed reference difficulty: {ref} "
                    f"-> raw {r['difficulty_raw']:.2f} -> {r['difficulty_score']}."
                ),
            }
        )
    return answers


def validate_judge(payload: Mapping[str, Any], answer: Mapping[str, Any]) -> str | None:
    """Reason to reject a judge answer, or None."""
    score = answer.get("score")
    if isinstance(score, bool) or not isinstance(score, int) or score not in LEVELS:
        return f"score {score!r} is not an integer 1-5"
    if answer.get("grade_level") not in GRADE_LEVELS:
        return f"grade_level {answer.get('grade_level')!r} is not one of {GRADE_LEVELS}"
    justification = answer.get("justification")
    if not isinstance(justification, str) or not justification.strip():
        return "justification is missing or empty"
    return None


def judge_frame(
    qa: pl.DataFrame,
    payloads: Sequence[Mapping[str, Any]],
    answers: Sequence[Mapping[str, Any] | None],
    meta: Sequence[Mapping[str, Any] | object],
) -> pl.DataFrame:
    """`qa` with difficulty, difficulty_method (the judging model), grade_level and
    difficulty_justification. Every row is kept; rows whose judging failed have null
    difficulty — score them with `offline_difficulty(..., only_missing=True)` or leave them
    out explicitly (`select_to_target` refuses unscored rows)."""
    if not len(payloads) == len(answers) == len(meta):
        raise ValueError(f"payloads ({len(payloads)}), answers ({len(answers)}) and meta ({len(meta)}) must align")
    verdicts = pl.DataFrame(
        [
            {
                "qa_id": p["qa_id"],
                "_score": a["score"],
                "_method": meta_columns(m)["model"],
                "grade_level": a["grade_level"],
                "difficulty_justification": a["justification"].strip(),
            }
            for p, a, m in zip(payloads, answers, meta, strict=True)
            if a is not None
        ],
        schema={
            "qa_id": pl.String,
            "_score": pl.Int8,
            "_method": pl.String,
            "grade_level": pl.String,
            "difficulty_justification": pl.String,
        },
    )
    base = qa.drop([c for c in ("difficulty_method", "grade_level", "difficulty_justification") if c in qa.columns])
    return (
        base.join(verdicts, on="qa_id", how="left", maintain_order="left")
        .with_columns(difficulty=pl.col("_score"), difficulty_method=pl.col("_method"))
        .drop("_score", "_method")
    )
