"""What comes back from synthesis: validation of an answer against its request, and the
SYNTH_QA_SCHEMA rows (stable `qa_id`, provenance columns) that validated answers become.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from typing import Any, cast

import polars as pl

from linkqa_pipelines.core.contracts import SYNTH_QA_SCHEMA, conform
from linkqa_pipelines.core.synthesis.answers import answer_columns, check_qa_answer
from linkqa_pipelines.core.synthesis.copies import COMPOSITION_EXEMPT, CopyRule
from linkqa_pipelines.core.synthesis.templates import render_item


def qa_id(path_id: str, question: str) -> str:
    """Stable id of a synthesized QA: same path and question text -> same id."""
    return "qa_" + hashlib.sha256(f"{path_id}\x1f{question}".encode()).hexdigest()[:20]


def validate_synthesis(payload: Mapping[str, Any], answer: Mapping[str, Any]) -> str | None:
    """Reason to reject a synthesis answer (see `check_qa_answer`), or None."""
    return _check(payload, answer, [s["question"] for s in payload["seeds"]], ())


def validate_composition(payload: Mapping[str, Any], answer: Mapping[str, Any]) -> str | None:
    """`validate_synthesis` for an offline composition: exempt only from the copy rule it is
    built on, quoting its seeds whole (`COMPOSITION_EXEMPT`), each with its options as rendered."""
    return _check(payload, answer, [render_item(s) for s in payload["seeds"]], COMPOSITION_EXEMPT)


def _check(
    payload: Mapping[str, Any], answer: Mapping[str, Any], copies_of: Sequence[str], exempt: Collection[CopyRule]
) -> str | None:
    return check_qa_answer(
        answer,
        language=payload["language"],
        qa_type=payload["qa_type"],
        n_choices=payload["n_choices"],
        kp_names=payload["kp_names"],
        copies_of=copies_of,
        copy_exempt=exempt,
    )


def synthesized_frame(
    payloads: Sequence[Mapping[str, Any]],
    answers: Sequence[Mapping[str, Any] | None],
    meta: Sequence[Mapping[str, Any] | object],
) -> pl.DataFrame:
    """SYNTH_QA_SCHEMA rows for the validated answers (None = failed request, skipped here:
    the LLM layer records its failure). `meta[i]` gives backend, model, prompt_tokens and
    completion_tokens of answer i. `difficulty` is null until the difficulty stage."""
    if not len(payloads) == len(answers) == len(meta):
        raise ValueError(f"payloads ({len(payloads)}), answers ({len(answers)}) and meta ({len(meta)}) must align")
    rows = [
        {
            "qa_id": qa_id(p["path_id"], a["question"].strip()),
            "path_id": p["path_id"],
            "discipline": p["discipline"],
            "language": p["language"],
            **answer_columns(a),
            "kp_ids": list(p["kp_ids"]),
            "seed_ids": list(p["seed_ids"]),
            "difficulty": None,
            **meta_columns(m),
            "verification": "unverified",  # until the verification stage
        }
        for p, a, m in zip(payloads, answers, meta, strict=True)
        if a is not None
    ]
    return conform(pl.DataFrame(rows, schema=SYNTH_QA_SCHEMA), SYNTH_QA_SCHEMA)


def meta_columns(meta: Mapping[str, Any] | object) -> dict[str, Any]:
    """Provenance columns of one result — a mapping or an object with these attributes (an
    LLM-layer `ChatResult` works as is); backend and model are required, tokens default to 0."""

    def get(name: str) -> Any:
        return cast(Mapping[str, Any], meta).get(name) if isinstance(meta, Mapping) else getattr(meta, name, None)

    missing = [k for k in ("backend", "model") if not get(k)]
    if missing:
        raise ValueError(f"result metadata lacks {missing}: every row must say which backend and model made it")
    return {
        "backend": get("backend"),
        "model": get("model"),
        "prompt_tokens": int(get("prompt_tokens") or 0),
        "completion_tokens": int(get("completion_tokens") or 0),
    }
