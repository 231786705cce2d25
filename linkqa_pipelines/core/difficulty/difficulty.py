"""Difficulty control: score QA difficulty (1-5), make QA harder, select a target mix.

Two LLM-layer tasks, each with request builder, offline algorithm, validator and frame:
- judge: a model rates difficulty (score, grade_level, justification); offline, the
  documented heuristic `offline_difficulty` answers instead, saying so in its justification;
- enhance: a model rewrites a QA into a harder one; offline, the QA is composed with one
  more seed of its path (or asked for an explicit justification) — see `offline_enhance`;
and the selection that turns scored QA into the released mix: `select_to_target` with
per-discipline targets from `load_targets`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import yaml

from linkqa_pipelines.core.contracts import SYNTH_QA_SCHEMA, conform
from linkqa_pipelines.core.release.dedup import char_shingles, normalize_texts, qa_text_expr, token_estimate_expr
from linkqa_pipelines.core.synthesis.synthesis import (
    LETTERS,
    OFFLINE_SYNTH_MODEL,
    SYNTH_ANSWER_SCHEMA,
    answer_columns,
    answer_text,
    check_qa_answer,
    meta_columns,
    qa_id,
    render_item,
    request_piece,
    template_for,
)

OFFLINE_DIFFICULTY_MODEL = "offline-heuristic-v1"
OFFLINE_ENHANCE_MODEL = OFFLINE_SYNTH_MODEL
LEVELS: tuple[int, ...] = (1, 2, 3, 4, 5)
DEFAULT_TARGET: dict[int, float] = {1: 0.10, 2: 0.20, 3: 0.30, 4: 0.25, 5: 0.15}
GRADE_LEVELS: tuple[str, ...] = ("primary_school", "middle_school", "high_school", "undergraduate", "graduate")

_PARTS = r"(?i)\bpart \d+\s*:|第\s*\d+\s*部分|additional part|附加部分"
_FORMULA = r"\$|\\(?:frac|sqrt|sum|int|log|sin|cos|tan|lim)|[=≤≥±×÷∑∫√∞^]|\d\s*[-+*/]\s*\d"


# --- heuristic scoring ------------------------------------------------------------------


@dataclass(frozen=True)
class HeuristicWeights:
    """Weights of `offline_difficulty`; the raw score starts at 1 and each feature adds:

    - `kp` per knowledge point beyond the first (at most `kp_cap` of them): linking KPs is
      what LinkSyn makes questions hard with;
    - `step` per part/sub-question beyond the first (at most `step_cap`): composed and
      multi-step questions need more reasoning steps;
    - `length` per doubling of the estimated token count beyond 40 tokens (at most 2);
    - `number` if the text has digits, `formula` if it has a formula (LaTeX, operators,
      arithmetic): quantitative questions need computation.
    When the seeds carry a human reference difficulty (MATH levels) the result is blended:
    (1 - seed_ref) * heuristic + seed_ref * mean seed level. Rounded, clipped to 1-5.
    """

    kp: float = 0.5
    kp_cap: int = 4
    step: float = 0.5
    step_cap: int = 3
    length: float = 0.5
    number: float = 0.25
    formula: float = 0.5
    seed_ref: float = 0.4


WEIGHTS = HeuristicWeights()


def heuristic_features(frame: pl.DataFrame, w: HeuristicWeights = WEIGHTS) -> pl.DataFrame:
    """Add feature columns, `difficulty_raw` and the 1-5 `difficulty_score` to a frame with
    question, choices, kp_ids and seed_ref (nullable mean seed reference difficulty)."""
    text = qa_text_expr()
    unlabelled = text.str.replace_all(_PARTS, "")  # "Part 2:" is structure, not a quantity
    feats = frame.with_columns(
        f_kps=pl.col("kp_ids").list.len().fill_null(0).cast(pl.Int64),
        f_steps=pl.max_horizontal(
            pl.col("question").str.count_matches(_PARTS), pl.col("question").str.count_matches(r"[?？]"), pl.lit(1)
        ).cast(pl.Int64),
        f_tokens=token_estimate_expr(text),
        f_number=unlabelled.str.contains(r"\d"),
        f_formula=unlabelled.str.contains(_FORMULA),
    )
    heuristic = (
        1.0
        + w.kp * (pl.col("f_kps") - 1).clip(0, w.kp_cap)
        + w.step * (pl.col("f_steps") - 1).clip(0, w.step_cap)
        + w.length * (pl.col("f_tokens").clip(1, None) / 40.0).log(2).clip(0.0, 2.0)
        + w.number * pl.col("f_number").cast(pl.Float64)
        + w.formula * pl.col("f_formula").cast(pl.Float64)
    )
    raw = (
        pl.when(pl.col("seed_ref").is_not_null())
        .then((1.0 - w.seed_ref) * heuristic + w.seed_ref * pl.col("seed_ref"))
        .otherwise(heuristic)
    )
    return feats.with_columns(difficulty_raw=raw).with_columns(
        difficulty_score=(pl.col("difficulty_raw") + 0.5).floor().clip(1, 5).cast(pl.Int8)
    )


def _seed_ref(qa: pl.DataFrame, seeds: pl.DataFrame | None) -> pl.DataFrame:
    """qa_id -> mean ref_difficulty of its seeds (null when none has one)."""
    if seeds is None or "ref_difficulty" not in seeds.columns:
        return qa.select("qa_id", seed_ref=pl.lit(None, pl.Float64))
    return (
        qa.select("qa_id", "seed_ids")
        .explode("seed_ids")
        .join(seeds.select(pl.col("seed_id").alias("seed_ids"), "ref_difficulty"), on="seed_ids", how="left")
        .group_by("qa_id", maintain_order=True)
        .agg(seed_ref=pl.col("ref_difficulty").cast(pl.Float64).mean())
    )


def offline_difficulty(
    qa: pl.DataFrame, seeds: pl.DataFrame | None = None, *, only_missing: bool = False
) -> pl.DataFrame:
    """Heuristic difficulty (see `HeuristicWeights`), vectorised: fills `difficulty` (1-5),
    `difficulty_method` ("offline-heuristic-v1") and `difficulty_raw`.

    `seeds` (seed_id, ref_difficulty) adds the seed reference blend. With `only_missing`
    rows that already have a difficulty (e.g. from a model judge) keep it and its method.
    """
    if qa["qa_id"].n_unique() != qa.height:
        raise ValueError("offline_difficulty: qa_id is not unique")
    scored = heuristic_features(qa.join(_seed_ref(qa, seeds), on="qa_id", how="left", maintain_order="left"))
    keep = pl.col("difficulty").is_not_null() if only_missing else pl.lit(False)
    method = pl.col("difficulty_method") if "difficulty_method" in qa.columns else pl.lit(None, pl.String)
    return scored.with_columns(
        difficulty=pl.when(keep).then(pl.col("difficulty")).otherwise(pl.col("difficulty_score")).cast(pl.Int8),
        difficulty_method=pl.when(keep).then(method).otherwise(pl.lit(OFFLINE_DIFFICULTY_MODEL)),
        difficulty_raw=pl.when(keep).then(None).otherwise(pl.col("difficulty_raw")),
    ).drop("seed_ref", "difficulty_score", "f_kps", "f_steps", "f_tokens", "f_number", "f_formula")


# --- judge task -------------------------------------------------------------------------

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


def build_judge_requests(qa: pl.DataFrame, seeds: pl.DataFrame | None = None) -> list[dict[str, Any]]:
    """One judge request per QA row; `seeds` lets the offline heuristic use seed ref difficulty."""
    frame = qa.join(_seed_ref(qa, seeds), on="qa_id", how="left", maintain_order="left")
    requests = []
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
    answers = []
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


# --- enhancement task -------------------------------------------------------------------

ENHANCE_SCHEMA: dict[str, Any] = {
    **SYNTH_ANSWER_SCHEMA,
    "properties": {**SYNTH_ANSWER_SCHEMA["properties"], "harder_because": {"type": "string"}},
    "required": [*SYNTH_ANSWER_SCHEMA["required"], "harder_because"],
}


@dataclass(frozen=True)
class _EnhanceWording:
    prompt: str
    extra: str  # "{kp}", "{seed}" -> the additional-material paragraph
    no_extra: str
    additional: str  # "{kp}" -> label of the added part
    ask_both: str
    justify: str  # "{first}", "{last}"
    justification: str  # label before the original rationale in the answer
    original: str
    because_extra: str  # "{kp}"
    because_justify: str


_EN_ENHANCE = _EnhanceWording(
    prompt=(
        'Make the exam question below harder for the discipline "{discipline}". Knowledge path it is built on:\n'
        "{kps}\n\nOriginal question:\n{question}\n{choices}Answer: {answer}\nRationale: {rationale}\n\n{material}\n\n"
        "Rewrite it into ONE harder question: add at least one genuine reasoning step (e.g. require an intermediate "
        "quantity, a justification, or a second concept), keep it self-contained, unambiguous and correct, with "
        "exactly one correct answer, in English. Keep the format: {format_rule}\n"
        "kp_names_used: the knowledge point names the new question uses, copied exactly; harder_because: one "
        "sentence on what makes it harder.\n\nReply with one JSON object only:\n"
        '{{"question": "...", "qa_type": "{qa_type}", "choices": {choices_example}, "answer": "...", '
        '"rationale": "...", "kp_names_used": ["..."], "harder_because": "..."}}'
    ),
    extra='Combine it with the knowledge point "{kp}", illustrated by this related question:\n{seed}',
    no_extra="Deepen the reasoning along the path instead of adding new facts.",
    additional="Additional part ({kp})",
    ask_both="Answer the question above and the additional part.",
    justify="Also justify your answer: state the intermediate result or principle that connects {first} and {last}.",
    justification="Justification",
    original="Original question",
    because_extra='adds a second question on "{kp}" from the same knowledge path that must also be answered',
    because_justify="requires stating the intermediate result that links the path's knowledge points",
)

_ZH_ENHANCE = _EnhanceWording(
    prompt=(
        "请将下面这道“{discipline}”学科的题目改写得更难。题目所依据的知识点路径：\n{kps}\n\n原题：\n{question}\n{choices}"
        "答案：{answer}\n解析：{rationale}\n\n{material}\n\n"
        "请改写成一道更难的题目：至少增加一个真正的推理步骤（例如要求求出中间量、给出论证，或结合另一个概念），"
        "保持题目自洽、无歧义、准确，且只有一个正确答案，使用中文。保持题型：{format_rule}\n"
        "kp_names_used：新题用到的知识点名称，须与路径中的名称完全一致；harder_because：一句话说明为何更难。\n\n"
        "只输出一个 JSON 对象：\n"
        '{{"question": "...", "qa_type": "{qa_type}", "choices": {choices_example}, "answer": "...", '
        '"rationale": "...", "kp_names_used": ["..."], "harder_because": "..."}}'
    ),
    extra="请结合知识点“{kp}”，可参考下面这道相关题目：\n{seed}",
    no_extra="请沿知识路径加深推理，而不是增加新的事实。",
    additional="附加部分（{kp}）",
    ask_both="请同时回答上题和附加部分。",
    justify="并请说明理由：写出连接“{first}”与“{last}”的中间结论或原理。",
    justification="理由",
    original="原题",
    because_extra="增加了同一知识路径上关于“{kp}”的第二问，须一并作答",
    because_justify="要求写出连接路径上各知识点的中间结论",
)


def _enhance_wording(language: str) -> _EnhanceWording:
    return _ZH_ENHANCE if language == "zh" else _EN_ENHANCE


def build_enhance_requests(
    qa: pl.DataFrame,
    kps: pl.DataFrame,
    seeds: pl.DataFrame | None = None,
    seed_kps: pl.DataFrame | None = None,
    *,
    n_choices: int = 4,
) -> list[dict[str, Any]]:
    """One enhancement request per QA row.

    `kps` is the catalog (kp_id, name, description). With `seeds` (SEED_SCHEMA) and
    `seed_kps` (seed_id, kp_id links, e.g. from kp_graph) each QA gets an extra seed: one
    linked to a KP of its path, not among its seed_ids, in its language — preferring the
    path's last KP (extending the chain), then the smallest seed_id, so the choice is
    deterministic. Without them (or with no such seed) the request asks to deepen the
    reasoning instead.
    """
    kp_info = (
        qa.select("qa_id", "kp_ids")
        .with_columns(kp_pos=pl.int_ranges(pl.col("kp_ids").list.len()))
        .explode("kp_ids", "kp_pos")
        .join(kps.select(pl.col("kp_id").alias("kp_ids"), "name", "description"), on="kp_ids", how="left")
    )
    missing = kp_info.filter(pl.col("name").is_null() & pl.col("kp_ids").is_not_null())
    if missing.height:
        examples = missing.select("qa_id", "kp_ids").head(5).rows()
        raise ValueError(f"{missing.height} QA KPs are not in the KP catalog, e.g. {examples}")
    names = (
        kp_info.filter(pl.col("kp_ids").is_not_null())
        .sort("qa_id", "kp_pos")
        .group_by("qa_id", maintain_order=True)
        .agg(kp_names=pl.col("name"), kp_descriptions=pl.col("description").fill_null(""))
    )
    frame = qa.join(names, on="qa_id", how="left", maintain_order="left").join(
        _extra_seeds(qa, kp_info, seeds, seed_kps), on="qa_id", how="left", maintain_order="left"
    )
    requests = []
    for row in frame.iter_rows(named=True):
        payload = {
            "task": "enhance",
            **{k: row[k] for k in ("qa_id", "path_id", "discipline", "language", "kp_ids", "seed_ids")},
            "kp_names": row["kp_names"] or [],
            "kp_descriptions": row["kp_descriptions"] or [],
            "original": {k: row[k] for k in ("question", "qa_type", "choices", "answer", "rationale")},
            "extra": row["extra"],
            "n_choices": len(row["choices"]) if row["qa_type"] == "multiple_choice" else n_choices,
        }
        requests.append(
            request_piece(f"enhance:{row['qa_id']}", payload, enhance_messages, ENHANCE_SCHEMA, "linkqa_enhance")
        )
    return requests


def _extra_seeds(
    qa: pl.DataFrame, kp_info: pl.DataFrame, seeds: pl.DataFrame | None, seed_kps: pl.DataFrame | None
) -> pl.DataFrame:
    """qa_id -> struct of one unused seed linked to the QA's path (see build_enhance_requests)."""
    if seeds is None or seed_kps is None or qa.height == 0:
        return qa.select("qa_id", extra=pl.lit(None))
    # A QA holds at most `limit - 1` seeds, so the first `limit` seeds of a KP (by seed_id, per
    # language) always include its answer: popular KPs stay cheap however many seeds they have.
    limit = int(qa["seed_ids"].list.len().max() or 0) + 1  # type: ignore[arg-type]
    candidates = (
        seed_kps.select("seed_id", pl.col("kp_id").alias("kp_ids"))
        .join(seeds.select("seed_id", "language", "question", "choices", "answer", "explanation"), on="seed_id")
        .sort("seed_id")
        .group_by("kp_ids", "language", maintain_order=True)
        .head(limit)
    )
    chosen = (
        kp_info.join(qa.select("qa_id", "seed_ids", "language"), on="qa_id")
        .join(candidates, on=["kp_ids", "language"])
        .filter(~pl.col("seed_ids").list.contains(pl.col("seed_id")))
        .sort(["qa_id", "kp_pos", "seed_id"], descending=[False, True, False])
        .unique("qa_id", keep="first", maintain_order=True)
    )
    return chosen.select(
        "qa_id",
        extra=pl.struct(
            "seed_id",
            pl.col("kp_ids").alias("kp_id"),
            pl.col("name").alias("kp_name"),
            "question",
            "choices",
            "answer",
            "explanation",
        ),
    )


def enhance_messages(payload: Mapping[str, Any]) -> tuple[dict[str, str], ...]:
    """One user turn asking for a harder version of the original QA."""
    wording = _enhance_wording(payload["language"])
    t = template_for(payload["language"])
    original = payload["original"]
    extra = payload["extra"]
    material = wording.extra.format(kp=extra["kp_name"], seed=render_item(extra)) if extra else wording.no_extra
    content = wording.prompt.format(
        discipline=payload["discipline"],
        kps="\n".join(f"{i}. {n}" for i, n in enumerate(payload["kp_names"], start=1)),
        question=original["question"],
        choices="".join(f"{LETTERS[i]}. {c}\n" for i, c in enumerate(original["choices"] or ())),
        answer=original["answer"],
        rationale=original["rationale"],
        material=material,
        **t.answer_format(original["qa_type"], payload["n_choices"]),
    )
    return ({"role": "user", "content": content},)


def offline_enhance(payloads: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Deterministic enhancement without a model (label `OFFLINE_ENHANCE_MODEL`).

    With an extra seed: the original question (options inline) followed by an "Additional
    part" holding the extra seed's question; the answer gives both answers, the rationale
    both explanations. Without one: the original question plus a request to justify the
    answer by the result linking the path's first and last KP, answered by the original
    rationale. Either way the result is free form, longer by one real step, and built only
    from existing material — no new facts are invented.
    """
    return [_enhance(p) for p in payloads]


def _enhance(payload: Mapping[str, Any]) -> dict[str, Any]:
    wording = _enhance_wording(payload["language"])
    t = template_for(payload["language"])
    original, extra = payload["original"], payload["extra"]
    kp_names = list(payload["kp_names"])
    original_answer = answer_text(original)
    if extra:
        label = wording.additional.format(kp=extra["kp_name"])
        extra_answer = answer_text(extra)
        question = f"{render_item(original)}\n\n{label}{t.colon}{render_item(extra)}\n\n{wording.ask_both}"
        answer = f"{wording.original}{t.colon}{original_answer}{t.sep}{label}{t.colon}{extra_answer}"
        extra_reason = (extra["explanation"] or "").strip() or t.stated(extra_answer)
        rationale = f"{original['rationale'].strip()}\n{label}{t.colon}{extra_reason}"
        because = wording.because_extra.format(kp=extra["kp_name"])
        used = kp_names if extra["kp_name"] in kp_names else [*kp_names, extra["kp_name"]]
    else:
        first, last = (kp_names[0], kp_names[-1]) if kp_names else ("-", "-")
        question = f"{render_item(original)}\n\n{wording.justify.format(first=first, last=last)}"
        answer = f"{original_answer}{t.sep}{wording.justification}{t.colon}{original['rationale'].strip()}"
        rationale = original["rationale"].strip()
        because, used = wording.because_justify, kp_names
    return {
        "question": question,
        "qa_type": "free_form",
        "choices": None,
        "answer": answer,
        "rationale": rationale,
        "kp_names_used": used,
        "harder_because": because,
    }


def validate_enhance(payload: Mapping[str, Any], answer: Mapping[str, Any]) -> str | None:
    """Reason to reject an enhanced QA, or None: the shared QA checks (any qa_type — a
    composition may turn multiple choice into free form), a non-empty `harder_because`,
    and a question that adds text beyond the original's."""
    extra = payload["extra"]
    reason = check_qa_answer(
        answer,
        language=payload["language"],
        qa_type=None,
        n_choices=None,
        kp_names=[*payload["kp_names"], *([extra["kp_name"]] if extra else [])],
    )
    if reason:
        return reason
    because = answer.get("harder_because")
    if not isinstance(because, str) or not because.strip():
        return "harder_because is missing or empty"
    if not char_shingles(answer["question"]) - char_shingles(payload["original"]["question"]):
        return "question adds nothing to the original"
    return None


def enhanced_frame(
    payloads: Sequence[Mapping[str, Any]],
    answers: Sequence[Mapping[str, Any] | None],
    meta: Sequence[Mapping[str, Any] | object],
) -> pl.DataFrame:
    """The harder variants as SYNTH_QA_SCHEMA rows plus `enhanced_from` (the original qa_id).

    A variant inherits its original's path, discipline, language and KPs; the extra seed
    joins seed_ids when the answer claims its KP. Difficulty is null: rescore the variants.
    Concatenate with the originals using `pl.concat(..., how="diagonal_relaxed")`.
    """
    if not len(payloads) == len(answers) == len(meta):
        raise ValueError(f"payloads ({len(payloads)}), answers ({len(answers)}) and meta ({len(meta)}) must align")
    rows = []
    for p, a, m in zip(payloads, answers, meta, strict=True):
        if a is None:
            continue
        extra = p["extra"]
        used = set(normalize_texts(a["kp_names_used"]))
        with_extra = bool(extra) and normalize_texts([extra["kp_name"]])[0] in used
        rows.append(
            {
                "qa_id": qa_id(p["path_id"], a["question"].strip()),
                "path_id": p["path_id"],
                "discipline": p["discipline"],
                "language": p["language"],
                **answer_columns(a),
                "kp_ids": list(p["kp_ids"]),
                "seed_ids": [*p["seed_ids"], *([extra["seed_id"]] if with_extra else [])],
                "difficulty": None,
                **meta_columns(m),
                "enhanced_from": p["qa_id"],
            }
        )
    schema = {**SYNTH_QA_SCHEMA, "enhanced_from": pl.String()}
    return conform(pl.DataFrame(rows, schema=schema), SYNTH_QA_SCHEMA)


# --- target mix -------------------------------------------------------------------------


def _check_target(raw: Mapping[Any, Any], where: str) -> dict[int, float]:
    """Levels 1-5 -> share, missing levels 0; the shares must sum to 1 (+-0.01)."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: expected a mapping of difficulty level -> share, got {type(raw).__name__}")
    target = {level: 0.0 for level in LEVELS}
    for key, value in raw.items():
        try:
            level = int(key)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: key {key!r} is not a difficulty level 1-5") from None
        if level not in LEVELS:
            raise ValueError(f"{where}: key {key!r} is not a difficulty level 1-5")
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise ValueError(f"{where}: share of level {level} is {value!r}, expected a number >= 0")
        target[level] = float(value)
    total = sum(target.values())
    if abs(total - 1.0) > 0.01:
        raise ValueError(f"{where}: shares sum to {total:.4f}, expected 1")
    return {level: share / total for level, share in target.items()}


@dataclass(frozen=True)
class DifficultyTargets:
    """Per-discipline difficulty mixes with a default for disciplines not listed."""

    default: dict[int, float] = field(default_factory=lambda: dict(DEFAULT_TARGET))
    disciplines: dict[str, dict[int, float]] = field(default_factory=dict)

    def for_discipline(self, discipline: str) -> dict[int, float]:
        return self.disciplines.get(discipline, self.default)


def load_targets(path: Path | str | None) -> DifficultyTargets:
    """Read targets from YAML; None gives the built-in default for every discipline.

    Layout::

        default: {1: 0.1, 2: 0.2, 3: 0.3, 4: 0.25, 5: 0.15}   # optional
        disciplines:                                          # optional
          mathematics: {1: 0.05, 2: 0.15, 3: 0.3, 4: 0.3, 5: 0.2}
    """
    if path is None:
        return DifficultyTargets()
    path = Path(path)
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: expected a mapping with 'default' and/or 'disciplines'")
    unknown = set(data) - {"default", "disciplines"}
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)}; expected 'default' and/or 'disciplines'")
    default = _check_target(data["default"], f"{path}: default") if "default" in data else dict(DEFAULT_TARGET)
    per = data.get("disciplines") or {}
    if not isinstance(per, Mapping):
        raise ValueError(f"{path}: 'disciplines' must map discipline names to targets")
    return DifficultyTargets(
        default=default,
        disciplines={str(d): _check_target(t, f"{path}: disciplines.{d}") for d, t in per.items()},
    )


def _apportion(n: int, target: Mapping[int, float]) -> dict[int, int]:
    """Largest-remainder split of n rows over levels (ties to the lower level): sums to n."""
    exact = {level: n * target[level] for level in LEVELS}
    counts = {level: math.floor(v) for level, v in exact.items()}
    by_remainder = sorted(LEVELS, key=lambda level: (-(exact[level] - counts[level]), level))
    for level in by_remainder[: n - sum(counts.values())]:
        counts[level] += 1
    return counts


def select_to_target(
    qa: pl.DataFrame,
    target: Mapping[int, float],
    n: int | None = None,
    seed: int = 0,
    *,
    id_col: str = "qa_id",
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Pick rows whose difficulty mix matches `target` (level -> share) as closely as possible.

    `n` rows are wanted, split over levels by largest remainder; a level with fewer rows
    than wanted gives all it has and the shortfall is reported as its `deficit` — never
    filled from other levels, which would distort the mix. `n=None` takes the largest n
    the available rows meet exactly on every level that has rows (levels with none are
    reported as deficits). Within a level rows are drawn at random with `seed`, in a way
    that depends only on the set of rows, not their order. Selected rows keep input order.

    Returns (selected, report) with report columns difficulty, target_share, available,
    wanted, selected, deficit, selected_share.
    """
    shares = _check_target(target, "target")
    if n is not None and n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if qa["difficulty"].null_count():
        bad = qa.filter(pl.col("difficulty").is_null())[id_col].head(5).to_list()
        raise ValueError(f"{qa['difficulty'].null_count()} rows have no difficulty (e.g. {bad}); score them first")
    outside = qa.filter(~pl.col("difficulty").is_in(LEVELS))
    if outside.height:
        raise ValueError(f"difficulty outside 1-5 in {outside.height} rows, e.g. {outside[id_col].head(5).to_list()}")
    counts = dict(qa.group_by("difficulty").len().iter_rows())
    available = {level: int(counts.get(level, 0)) for level in LEVELS}
    if n is None:
        limits = [available[lv] / shares[lv] for lv in LEVELS if shares[lv] > 0 and available[lv] > 0]
        n = math.floor(min(limits) + 1e-9) if limits else 0
    wanted = _apportion(n, shares)
    take = {level: min(available[level], wanted[level]) for level in LEVELS}

    ranked = (
        qa.with_columns(_row=pl.int_range(pl.len()))
        .sort(id_col)
        .with_columns(_u=pl.Series(np.random.default_rng(seed).random(qa.height)))
        .with_columns(_rank=pl.col("_u").rank("ordinal").over("difficulty"))
    )
    quota = pl.DataFrame({"difficulty": list(LEVELS), "_take": [take[lv] for lv in LEVELS]}).cast(
        {"difficulty": qa.schema["difficulty"]}
    )
    selected = (
        ranked.join(quota, on="difficulty")
        .filter(pl.col("_rank") <= pl.col("_take"))
        .sort("_row")
        .drop("_row", "_u", "_rank", "_take")
    )
    total = max(selected.height, 1)
    report = pl.DataFrame(
        {
            "difficulty": list(LEVELS),
            "target_share": [shares[lv] for lv in LEVELS],
            "available": [available[lv] for lv in LEVELS],
            "wanted": [wanted[lv] for lv in LEVELS],
            "selected": [take[lv] for lv in LEVELS],
            "deficit": [wanted[lv] - take[lv] for lv in LEVELS],
            "selected_share": [take[lv] / total for lv in LEVELS],
        },
        schema={
            "difficulty": pl.Int8,
            "target_share": pl.Float64,
            "available": pl.Int64,
            "wanted": pl.Int64,
            "selected": pl.Int64,
            "deficit": pl.Int64,
            "selected_share": pl.Float64,
        },
    )
    return selected, report
