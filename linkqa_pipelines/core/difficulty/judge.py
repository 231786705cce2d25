"""The difficulty judge task: a model rates a QA on explicit dimensions (conceptual depth, prior
knowledge, reasoning steps, computation, ambiguity; each 1-5 with a short justification) plus an
overall level and grade; offline, the calibrated estimator answers in the same shape and says so.

The final level combines the judge with the solver check (`combine_with_solver`): the error
rate of the verification stage's k keyless answers is an empirical difficulty, weighted by k.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import polars as pl

from linkqa_pipelines.core.difficulty.calibrated import text_features
from linkqa_pipelines.core.difficulty.composition import OFFLINE_DIFFICULTY_MODEL, combined_raw, level_expr, part_levels
from linkqa_pipelines.core.difficulty.targets import LEVELS
from linkqa_pipelines.core.level_scale import LEVEL_SCALE
from linkqa_pipelines.core.llm.types import ChatRequest
from linkqa_pipelines.core.synthesis import LETTERS, meta_columns, request_piece

GRADE_LEVELS: tuple[str, ...] = ("primary_school", "middle_school", "high_school", "undergraduate", "graduate")
DIMENSIONS: tuple[str, ...] = ("conceptual_depth", "prior_knowledge", "reasoning_steps", "computation", "ambiguity")
DIFFICULTY_DIMENSIONS = DIMENSIONS[:4]  # ambiguity is a quality flag, not difficulty
SOLVER_PRIOR = 4  # the judge's verdict weighs as much as this many solver answers

_SCORED = {
    "type": "object",
    "properties": {"score": {"type": "integer", "enum": list(LEVELS)}, "justification": {"type": "string"}},
    "required": ["score", "justification"],
    "additionalProperties": False,
}
JUDGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "dimensions": {
            "type": "object",
            "properties": dict.fromkeys(DIMENSIONS, _SCORED),
            "required": list(DIMENSIONS),
            "additionalProperties": False,
        },
        "level": {"type": "integer", "enum": list(LEVELS)},
        "grade_level": {"type": "string", "enum": list(GRADE_LEVELS)},
        "justification": {"type": "string"},
    },
    "required": ["dimensions", "level", "grade_level", "justification"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class _JudgeWording:
    prompt: str
    answer_label: str
    solution_label: str


_EN = _JudgeWording(
    prompt="""Rate the difficulty of the exam question below for a student of the discipline "{discipline}".

Score each dimension from 1 (lowest) to 5 (highest) with one short sentence of justification:
- conceptual_depth: 1 = a single fact or definition; 5 = deep, abstract or non-routine concepts.
- prior_knowledge: 1 = everyday knowledge; 3 = high-school curriculum; 5 = graduate or specialist knowledge.
- reasoning_steps: 1 = one step; 3 = a few routine steps; 5 = a long chain of non-obvious steps.
- computation: 1 = none; 3 = routine algebra or arithmetic; 5 = long or error-prone calculation.
- ambiguity: 1 = one clear reading and one correct answer; 5 = underspecified or disputable.
Then the overall level 1-5 ("""
    + LEVEL_SCALE["en"]
    + """), consistent with the first four
dimensions (ambiguity is not difficulty), and grade_level: the education level at which a typical student
could solve it, one of {grades}.

Question:
{question}
{choices}{answer_label}: {answer}
{solution_label}: {rationale}

Reply with one JSON object only:
{{"dimensions": {{"conceptual_depth": {{"score": 1, "justification": "..."}}, "prior_knowledge": {{...}},
"reasoning_steps": {{...}}, "computation": {{...}}, "ambiguity": {{...}}}},
"level": 1, "grade_level": "...", "justification": "one or two sentences"}}""",
    answer_label="Answer",
    solution_label="Reference solution",
)

_ZH = _JudgeWording(
    prompt="""请评估下面这道“{discipline}”学科题目的难度。

请对每个维度按 1（最低）到 5（最高）打分，并各用一句话说明理由：
- conceptual_depth（概念深度）：1 = 单一事实或定义；5 = 深刻、抽象或非常规的概念。
- prior_knowledge（先备知识）：1 = 日常常识；3 = 高中课程；5 = 研究生或专业知识。
- reasoning_steps（推理步数）：1 = 一步；3 = 几个常规步骤；5 = 很长且不显然的推理链。
- computation（计算量）：1 = 无；3 = 常规代数或算术；5 = 冗长或易错的计算。
- ambiguity（歧义）：1 = 题意清楚且答案唯一；5 = 条件不足或有争议。
然后给出总体难度 level 1-5（"""
    + LEVEL_SCALE["zh"]
    + """），须与前四个维度一致（歧义不算难度）；grade_level：一般学生能解出此题的学段，取 {grades} 之一。
理由可用中文。

题目：
{question}
{choices}{answer_label}：{answer}
{solution_label}：{rationale}

只输出一个 JSON 对象：
{{"dimensions": {{"conceptual_depth": {{"score": 1, "justification": "..."}}, "prior_knowledge": {{...}},
"reasoning_steps": {{...}}, "computation": {{...}}, "ambiguity": {{...}}}},
"level": 1, "grade_level": "...", "justification": "一两句话"}}""",
    answer_label="答案",
    solution_label="参考解析",
)


def build_judge_requests(qa: pl.DataFrame, levels: pl.DataFrame | None = None) -> list[ChatRequest]:
    """One judge request per QA row; `levels` (the `seed_levels` frame of their seeds) give the
    part levels the offline answer combines."""
    frame = qa.join(part_levels(qa, levels), on="qa_id", how="left", maintain_order="left")
    if "requested_level" not in frame.columns:  # QA written before levels were asked for
        frame = frame.with_columns(requested_level=pl.lit(None, pl.Int8))
    requests: list[ChatRequest] = []
    for row in frame.select(
        "qa_id",
        "discipline",
        "language",
        "question",
        "qa_type",
        "choices",
        "answer",
        "rationale",
        "model",
        "seed_levels",
        "requested_level",
    ).iter_rows(named=True):
        payload = {"task": "difficulty_judge", **row}
        requests.append(
            request_piece(f"difficulty:{row['qa_id']}", payload, judge_messages, JUDGE_SCHEMA, "linkqa_difficulty")
        )
    return requests


def judge_messages(payload: Mapping[str, Any]) -> tuple[dict[str, str], ...]:
    """One user turn, in the item's language (Chinese items get the Chinese prompt)."""
    wording = _ZH if payload["language"] == "zh" else _EN
    content = wording.prompt.format(
        discipline=payload["discipline"],
        grades=", ".join(GRADE_LEVELS),
        question=payload["question"],
        choices="".join(f"{LETTERS[i]}. {c}\n" for i, c in enumerate(payload["choices"] or ())),
        answer_label=wording.answer_label,
        answer=payload["answer"],
        solution_label=wording.solution_label,
        rationale=payload["rationale"] or "-",
    )
    return ({"role": "user", "content": content},)


def _scored(score: pl.Expr, why: str) -> pl.Expr:
    return pl.struct(score=score.clip(1, 5).cast(pl.Int64), justification=pl.lit(why))


def offline_judge(payloads: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The calibrated offline level in the judge's answer shape. Dimensions are read off the
    same evidence, labelled as such: prior knowledge = the hardest part's level, reasoning steps
    = the combined level, computation from operations and advanced notation, conceptual depth =
    the overall level, ambiguity not assessed (1)."""
    if not payloads:
        return []
    frame = pl.DataFrame(
        [
            {k: p.get(k) for k in ("question", "choices", "rationale", "model", "seed_levels", "requested_level")}
            for p in payloads
        ],
        schema={
            "question": pl.String,
            "choices": pl.List(pl.String),
            "rationale": pl.String,
            "model": pl.String,
            "seed_levels": pl.List(pl.Float64),
            "requested_level": pl.Int8,
        },
    )
    feats = text_features(frame, solution="rationale")  # once per batch: polars' fixed cost is per call
    raw = combined_raw(frame, features=feats)
    tag = f"{OFFLINE_DIFFICULTY_MODEL}, not a model judgement"
    rows = (
        frame.with_columns(raw=raw, operations=feats["operations"], advanced=feats["advanced"])
        .select(
            level=level_expr(pl.col("raw")).cast(pl.Int64),
            grade_level=level_expr(pl.col("raw")).cast(pl.Int64),
            dimensions=pl.struct(
                conceptual_depth=_scored(level_expr(pl.col("raw")), f"{tag}: the overall calibrated level"),
                prior_knowledge=_scored(
                    level_expr(pl.col("seed_levels").list.max().fill_null(pl.col("raw"))),
                    f"{tag}: level of the hardest seed part",
                ),
                reasoning_steps=_scored(level_expr(pl.col("raw")), f"{tag}: level of the parts combined"),
                computation=_scored(
                    1 + (pl.col("operations") > 0).cast(pl.Int64) * 2 + (pl.col("advanced") > 0).cast(pl.Int64),
                    f"{tag}: operations and advanced notation in the text",
                ),
                ambiguity=_scored(pl.lit(1), f"{tag}: not assessed offline"),
            ),
            justification=pl.format(
                "{}: estimated from the item's text and its seeds' levels ({}): score {} -> level {}.",
                pl.lit(tag),
                pl.col("seed_levels").list.eval(pl.element().round(1).cast(pl.String)).list.join(", "),
                pl.col("raw").round(2),
                level_expr(pl.col("raw")),
            ),
        )
        .to_dicts()
    )
    return [
        {**r, "grade_level": GRADE_LEVELS[r["grade_level"] - 1], "justification": r["justification"] or tag}
        for r in rows
    ]


def validate_judge(payload: Mapping[str, Any], answer: Mapping[str, Any]) -> str | None:  # noqa: ARG001 - the validator protocol passes the payload
    """Reason to reject a judge answer, or None: every dimension scored 1-5 and justified, an
    overall level 1-5 within one of the rounded mean of the four difficulty dimensions, a known
    grade level and a justification."""
    raw_dims: object = answer.get("dimensions")
    if not isinstance(raw_dims, Mapping):
        return "dimensions is missing or not an object"
    dims = cast(Mapping[str, object], raw_dims)  # parsed JSON: string keys
    scores: dict[str, int] = {}
    for name in DIMENSIONS:
        raw_dim = dims.get(name)
        if not isinstance(raw_dim, Mapping):
            return f"dimension {name} is missing"
        dim = cast(Mapping[str, object], raw_dim)
        score, why = dim.get("score"), dim.get("justification")
        if not isinstance(score, int) or isinstance(score, bool) or score not in LEVELS:
            return f"{name} score {score!r} is not an integer 1-5"
        if not isinstance(why, str) or not why.strip():
            return f"{name} justification is missing or empty"
        scores[name] = score
    level = answer.get("level")
    if not isinstance(level, int) or isinstance(level, bool) or level not in LEVELS:
        return f"level {level!r} is not an integer 1-5"
    implied = int(sum(scores[d] for d in DIFFICULTY_DIMENSIONS) / len(DIFFICULTY_DIMENSIONS) + 0.5)
    if abs(level - implied) > 1:
        return f"level {level} contradicts its dimensions (mean {implied})"
    if answer.get("grade_level") not in GRADE_LEVELS:
        return f"grade_level {answer.get('grade_level')!r} is not one of {GRADE_LEVELS}"
    justification = answer.get("justification")
    if not isinstance(justification, str) or not justification.strip():
        return "justification is missing or empty"
    return None


VERDICT_SCHEMA: dict[str, pl.DataType] = {
    "qa_id": pl.String(),
    "difficulty_judge": pl.Int8(),
    "_method": pl.String(),
    "grade_level": pl.String(),
    "difficulty_justification": pl.String(),
    "difficulty_dimensions": pl.Struct({d: pl.Int8() for d in DIMENSIONS}),
}


def judge_frame(
    qa: pl.DataFrame,
    payloads: Sequence[Mapping[str, Any]],
    answers: Sequence[Mapping[str, Any] | None],
    meta: Sequence[Mapping[str, Any] | object],
    solver: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """`qa` with difficulty (final level, see `combine_with_solver`), difficulty_judge,
    difficulty_method (the judging model), grade_level, difficulty_justification,
    difficulty_dimensions (struct of the five 1-5 scores), solver_k and solver_error_rate.
    Every row is kept; rows whose judging failed have null difficulty — score them with
    `offline_difficulty(..., only_missing=True)` (`select_to_target` refuses unscored rows)."""
    if not len(payloads) == len(answers) == len(meta):
        raise ValueError(f"payloads ({len(payloads)}), answers ({len(answers)}) and meta ({len(meta)}) must align")
    verdicts = pl.DataFrame(
        [
            {
                "qa_id": p["qa_id"],
                "difficulty_judge": a["level"],
                "_method": meta_columns(m)["model"],
                "grade_level": a["grade_level"],
                "difficulty_justification": str(a["justification"]).strip(),
                "difficulty_dimensions": {d: a["dimensions"][d]["score"] for d in DIMENSIONS},
            }
            for p, a, m in zip(payloads, answers, meta, strict=True)
            if a is not None
        ],
        schema=VERDICT_SCHEMA,
    )
    added = [*VERDICT_SCHEMA, "difficulty_method", "solver_k", "solver_error_rate"]
    base = qa.drop([c for c in added if c in qa.columns and c != "qa_id"])
    judged = base.join(verdicts, on="qa_id", how="left", maintain_order="left").rename({"_method": "difficulty_method"})
    return combine_with_solver(judged, solver)


def solver_answers(votes: pl.DataFrame) -> pl.DataFrame:
    """The solver check's input (qa_id, k, n_wrong) from the verification stage's votes
    (`qa_verification_votes`): per item version, the answers of its last vote round — the ones
    cast against its final key — and how many of them miss it. Abstentions (offline) are no
    answers, so offline items have no row and keep the judge's level. No call is made here: the
    check reuses the verification stage's answers."""
    answered = votes.filter(pl.col("agrees").is_not_null())
    last = answered.group_by("qa_id").agg(pl.col("round").max())
    return (
        answered.join(last, on=["qa_id", "round"])
        .group_by("qa_id")
        .agg(k=pl.len().cast(pl.Int64), n_wrong=(~pl.col("agrees")).sum().cast(pl.Int64))
        .sort("qa_id")
    )


def combine_with_solver(judged: pl.DataFrame, solver: pl.DataFrame | None) -> pl.DataFrame:
    """Final `difficulty` from the judge's level and the solver check.

    `solver` (qa_id, k, n_wrong; `solver_answers`) holds the verification stage's keyless answers
    per item and how many were wrong (None or no row: no solver answers). The solver level is
    1 + 4 * n_wrong / k (all right -> 1, all wrong -> 5); the final level is
    round(((SOLVER_PRIOR * judge) + k * solver_level) / (SOLVER_PRIOR + k)): the judge weighs as
    much as SOLVER_PRIOR answers, so a handful of answers moves it and many dominate it. Without
    solver answers the final level is the judge's.
    """
    rates = (
        solver.select("qa_id", solver_k=pl.col("k").cast(pl.Int64), solver_error_rate=pl.col("n_wrong") / pl.col("k"))
        if solver is not None
        else judged.select("qa_id", solver_k=pl.lit(None, pl.Int64), solver_error_rate=pl.lit(None, pl.Float64))
    )
    out = judged.join(rates, on="qa_id", how="left", maintain_order="left")
    k = pl.col("solver_k").fill_null(0).cast(pl.Float64)
    solver_level = 1.0 + 4.0 * pl.col("solver_error_rate").fill_null(0.0)
    final = (SOLVER_PRIOR * pl.col("difficulty_judge") + k * solver_level) / (SOLVER_PRIOR + k)
    return out.with_columns(difficulty=level_expr(final))
