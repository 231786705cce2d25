"""The enhancement task: a model rewrites a QA into a harder one; offline, the QA is composed with
one more seed of its path (or asked for an explicit justification) — see `offline_enhance`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import polars as pl

from linkqa_pipelines.core.contracts import SYNTH_QA_SCHEMA, conform
from linkqa_pipelines.core.llm.types import ChatRequest
from linkqa_pipelines.core.synthesis import (
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
from linkqa_pipelines.core.text import char_shingles, normalize_texts

OFFLINE_ENHANCE_MODEL = OFFLINE_SYNTH_MODEL

REJECTED_VARIANT_SCHEMA: dict[str, pl.DataType] = {
    "qa_id": pl.String(),  # the variant
    "enhanced_from": pl.String(),  # its original (kept in difficulty_scored_qa)
    "discipline": pl.String(),
    "language": pl.String(),
    "question": pl.String(),
    "model": pl.String(),
    "verification": pl.String(),  # failed: it lost its own vote; else how its key stood
    "agreement": pl.Float64(),
    "difficulty": pl.Int8(),  # null when it failed verification before it was scored
    "difficulty_method": pl.String(),
    "original_difficulty": pl.Int8(),
    "reject_reason": pl.String(),
}
"""One row per harder variant that was not kept, linked to its original, with why."""


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
) -> list[ChatRequest]:
    """One enhancement request per QA row.

    `kps` is the catalog (kp_id, name, description). With `seeds` (SEED_SCHEMA) and
    `seed_kps` (seed_id, kp_id links, e.g. from kp_graph) each QA gets an extra seed: one
    linked to a KP of its path, not among its seed_ids, in its language and discipline (a
    generic KP such as "measure" must not put a GDP question into a physics item) — preferring the
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
    requests: list[ChatRequest] = []
    for row in frame.iter_rows(named=True):
        payload: dict[str, Any] = {
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
    limit = int(cast(int | None, qa["seed_ids"].list.len().max()) or 0) + 1  # list lengths: UInt32 or null
    candidates = (
        seed_kps.select("seed_id", pl.col("kp_id").alias("kp_ids"))
        .join(
            seeds.select("seed_id", "language", "discipline", "question", "choices", "answer", "explanation"),
            on="seed_id",
        )
        .sort("seed_id")
        .group_by("kp_ids", "language", "discipline", maintain_order=True)
        .head(limit)
    )
    chosen = (
        kp_info.join(qa.select("qa_id", "seed_ids", "language", "discipline"), on="qa_id")
        .join(candidates, on=["kp_ids", "language", "discipline"])
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
    rows: list[dict[str, Any]] = []
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
                "verification": "unverified",  # new text: voted on before it is kept
                "enhanced_from": p["qa_id"],
            }
        )
    schema = {**SYNTH_QA_SCHEMA, "enhanced_from": pl.String()}
    return conform(pl.DataFrame(rows, schema=schema), SYNTH_QA_SCHEMA)


def rejected_variants(rejected: pl.DataFrame, originals: pl.DataFrame) -> pl.DataFrame:
    """`REJECTED_VARIANT_SCHEMA` rows for variants that were not kept (`keep_harder`'s rejects
    and those that failed verification), each with its original's level beside its own."""
    frame = rejected.drop("original_difficulty", strict=False).join(
        originals.select(pl.col("qa_id").alias("enhanced_from"), original_difficulty=pl.col("difficulty")),
        on="enhanced_from",
        how="left",
        maintain_order="left",
    )
    missing = [c for c in REJECTED_VARIANT_SCHEMA if c not in frame.columns]
    if missing:
        raise ValueError(f"rejected_variants: rejected variants lack columns {missing}")
    return frame.select([pl.col(c).cast(t) for c, t in REJECTED_VARIANT_SCHEMA.items()])


def keep_harder(variants: pl.DataFrame, originals: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split re-scored variants (with `enhanced_from`) into those scoring at least one level
    above their original, and the rest with `reject_reason` (and `original_difficulty`)."""
    joined = variants.join(
        originals.select(pl.col("qa_id").alias("enhanced_from"), original_difficulty=pl.col("difficulty")),
        on="enhanced_from",
        how="left",
        maintain_order="left",
    )
    harder = pl.col("difficulty") >= pl.col("original_difficulty") + 1
    kept = joined.filter(harder).drop("original_difficulty")
    rejected = joined.filter(~harder.fill_null(False)).with_columns(
        reject_reason=pl.format(
            "scored {} ({}), original {}: not at least one level harder",
            pl.col("difficulty"),
            pl.col("difficulty_method"),
            pl.col("original_difficulty"),
        )
    )
    return kept, rejected
