"""What comes back from synthesis: validation of a reply and of each of its items against
the request, and the SYNTH_QA_SCHEMA rows (stable `qa_id`, provenance columns) that validated
items become.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from typing import Any, cast

import polars as pl

from linkqa_pipelines.core.contracts import SYNTH_QA_SCHEMA, conform
from linkqa_pipelines.core.synthesis.answers import answer_columns, check_qa_answer, kps_used_reason
from linkqa_pipelines.core.synthesis.copies import COMPOSITION_EXEMPT, CopyRule
from linkqa_pipelines.core.synthesis.templates import render_item
from linkqa_pipelines.core.text import normalize_texts


def qa_id(path_id: str, question: str) -> str:
    """Stable id of a synthesized QA: same path and question text -> same id."""
    return "qa_" + hashlib.sha256(f"{path_id}\x1f{question}".encode()).hexdigest()[:20]


def validate_synthesis(payload: Mapping[str, Any], answer: Mapping[str, Any]) -> str | None:
    """Reason to reject a synthesis reply, or None: its shape (`reply_reason`) and, for a one-item
    request or a replacement, every item (`item_reason`). The items of a path's k-item reply are
    checked one by one afterwards (`synthesize`), so one bad item does not cost the others."""
    reason = reply_reason(payload, answer)
    if reason is not None or (payload["k"] > 1 and payload["slots"] is None):
        return reason
    for n, item in enumerate(answer["items"], start=1):
        reason = item_reason(payload, item)
        if reason is not None:
            return f"item {n}: {reason}" if payload["k"] > 1 else reason
    return None


def validate_composition(payload: Mapping[str, Any], answer: Mapping[str, Any]) -> str | None:
    """`validate_synthesis` for an offline composition: exempt only from the copy rule it is
    built on, quoting its seeds whole (`COMPOSITION_EXEMPT`), each with its options as rendered."""
    copies_of = [render_item(s) for s in payload["seeds"]]
    return reply_reason(payload, answer) or _check(payload, answer["items"][0], copies_of, COMPOSITION_EXEMPT)


def reply_reason(payload: Mapping[str, Any], answer: Mapping[str, Any]) -> str | None:
    """Why a reply is malformed, or None: it must hold exactly the k items asked for, with distinct
    questions (also distinct from the path's questions a replacement must avoid), each naming at
    least two of the path's knowledge points and two of its seeds (by number) that it fuses."""
    items: object = answer.get("items")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in cast(list[object], items)):
        return '"items" must be a list of objects'
    items = cast(list[dict[str, Any]], items)
    if len(items) != payload["k"]:
        return f"{len(items)} items given, {payload['k']} asked for"
    questions = [i.get("question") for i in items]
    empty = next((n for n, q in enumerate(questions, start=1) if not (isinstance(q, str) and q.strip())), None)
    if empty is not None:
        return ("" if payload["k"] == 1 else f"item {empty}: ") + "field 'question' is missing or empty"
    norms = normalize_texts([*cast(list[str], questions), *payload["avoid"]])
    if len(set(norms)) != len(norms):
        return "the items' questions are not distinct" + (" from the path's other items" if payload["avoid"] else "")
    n_seeds = len(payload["seeds"])
    for n, item in enumerate(items, start=1):
        reason = kps_used_reason(item.get("kp_names_used"), payload["kp_names"])
        used: object = item.get("seeds_used")
        numbers = cast(list[object], used) if isinstance(used, list) else None
        if reason is None and (numbers is None or not all(type(u) is int and 1 <= u <= n_seeds for u in numbers)):
            reason = f"seeds_used must list seed numbers 1-{n_seeds}"
        elif reason is None and len(set(cast(list[int], numbers))) < 2:
            reason = "seeds_used names fewer than two seeds: an item must fuse knowledge from different seeds"
        if reason is not None:
            return f"item {n}: {reason}" if payload["k"] > 1 else reason
    return None


def item_reason(payload: Mapping[str, Any], item: Mapping[str, Any]) -> str | None:
    """Reason to reject one model-written item (see `check_qa_answer`), or None."""
    return _check(payload, item, [s["question"] for s in payload["seeds"]], ())


def _check(
    payload: Mapping[str, Any], item: Mapping[str, Any], copies_of: Sequence[str], exempt: Collection[CopyRule]
) -> str | None:
    return check_qa_answer(
        item,
        language=payload["language"],
        qa_type=payload["qa_type"],
        n_choices=payload["n_choices"],
        kp_names=payload["kp_names"],
        copies_of=copies_of,
        copy_exempt=exempt,
    )


def synthesized_frame(
    payloads: Sequence[Mapping[str, Any]],
    items: Sequence[Mapping[str, Any]],
    meta: Sequence[Mapping[str, Any] | object],
    slots: Sequence[int] | None = None,
) -> pl.DataFrame:
    """SYNTH_QA_SCHEMA rows, one per validated item with the payload of the request it came from
    and `meta`: backend, model, prompt_tokens and completion_tokens (its share of the reply's).
    An item's `kp_ids` and `seed_ids` are the path's knowledge points and seeds it names as
    fused, in path order. `difficulty` is null until the difficulty stage; `requested_level` is
    the level its request asked for (`slots`: each item's position in its reply; none asked
    when the payload has no `levels`)."""
    if not len(payloads) == len(items) == len(meta) == (len(items) if slots is None else len(slots)):
        raise ValueError(f"payloads ({len(payloads)}), items ({len(items)}), meta ({len(meta)}) and slots must align")
    rows = [
        {
            "qa_id": qa_id(p["path_id"], a["question"].strip()),
            "path_id": p["path_id"],
            "discipline": p["discipline"],
            "language": p["language"],
            **answer_columns(a),
            **_fused(p, a),
            "difficulty": None,
            "requested_level": _asked(p, i),
            **meta_columns(m),
            "verification": "unverified",  # until the verification stage
        }
        for p, a, m, i in zip(payloads, items, meta, [None] * len(items) if slots is None else slots, strict=True)
    ]
    return conform(pl.DataFrame(rows, schema=SYNTH_QA_SCHEMA), SYNTH_QA_SCHEMA)


def _asked(payload: Mapping[str, Any], slot: int | None) -> int | None:
    """The level a payload asked its `slot`-th item for, if any."""
    levels = payload.get("levels")
    if not levels:
        return None
    if slot is None:
        raise ValueError(f"request {payload['path_id']} asked for levels {levels}: its items' slots are needed")
    return int(levels[slot])


def _fused(payload: Mapping[str, Any], item: Mapping[str, Any]) -> dict[str, list[str]]:
    """The knowledge points and seeds an item names, in path order."""
    names = {n.casefold().strip() for n in item["kp_names_used"]}
    seeds = set(item["seeds_used"])
    return {
        "kp_ids": [
            k for k, n in zip(payload["kp_ids"], payload["kp_names"], strict=True) if n.casefold().strip() in names
        ],
        "seed_ids": [s for i, s in enumerate(payload["seed_ids"], start=1) if i in seeds],
    }


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
