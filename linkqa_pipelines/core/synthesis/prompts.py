"""Synthesis requests: one per KP path asking for `qa_per_path` distinct items, with the path's
KPs and seeds in a single user message; and the one-item requests that replace a rejected item.

The prompt targets reasoning models (DeepSeek-R1 style): everything is in one user message,
since R1's guidance is to use no system prompt, and the answer is a JSON object whose
reasoning lives in the model's own reasoning channel plus a short `rationale` per item.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import polars as pl

from linkqa_pipelines.core.level_scale import LEVEL_SCALE
from linkqa_pipelines.core.llm.types import ChatRequest, SamplingParams
from linkqa_pipelines.core.synthesis.answers import LETTERS, SYNTH_REPLY_SCHEMA, QaType
from linkqa_pipelines.core.synthesis.templates import Template, answer_text, template_for

MAX_EXPLANATION_CHARS = 2000  # per seed in the prompt: long worked solutions add cost, not signal
# DeepSeek's recommended R1 sampling, room for its reasoning plus the JSON answer.
R1_PARAMS = SamplingParams(temperature=0.6, top_p=0.95, max_tokens=8192)


def request_piece(
    key: str,
    payload: Mapping[str, Any],
    messages: Callable[[Mapping[str, Any]], tuple[dict[str, str], ...]],
    schema: dict[str, Any],
    schema_name: str,
) -> ChatRequest:
    """One request of a model task (synthesis, judge, enhancement): R1 sampling, a JSON schema,
    and the payload its offline algorithm and validator read."""
    return ChatRequest(
        key=key,
        messages=messages(payload),
        schema=schema,
        schema_name=schema_name,
        params=R1_PARAMS,
        payload=payload,
    )


def build_synthesis_requests(
    paths: pl.DataFrame,
    seeds: pl.DataFrame,
    kps: pl.DataFrame,
    *,
    qa_type: QaType | Literal["auto"] = "auto",
    n_choices: int = 4,
    max_seeds: int = 5,
    qa_per_path: int = 1,
    levels: Mapping[str, Sequence[int]] | None = None,
) -> list[ChatRequest]:
    """One request per path (PATH_SCHEMA) for `qa_per_path` distinct items, with its KPs
    (kp_catalog: kp_id, name, description) and its first `max_seeds` seeds (SEED_SCHEMA).
    `levels` (path_id -> one level per item, `core.difficulty.requested_levels`) asks for each
    item at that level of `core.level_scale`; without it every item is asked to be at least as
    hard as the path's hardest seed.

    qa_type "auto" asks for multiple choice when most of the path's seeds are multiple
    choice, free form otherwise. The language is the majority language of the seeds (ties:
    the first seed's). A path with fewer than 2 seeds, or naming a seed or KP that is not
    given, is a broken walk output and raises with the path ids.
    """
    if not 2 <= n_choices <= len(LETTERS):
        raise ValueError(f"n_choices must be in 2..{len(LETTERS)}, got {n_choices}")
    if qa_per_path < 1:
        raise ValueError(f"qa_per_path must be at least 1, got {qa_per_path}")
    if levels is not None:
        unasked = paths.filter(~pl.col("path_id").is_in(list(levels)))["path_id"].to_list()
        if unasked:
            raise ValueError(f"levels name no level for paths {unasked[:10]}")
        wrong = {p: list(v) for p, v in levels.items() if len(v) != qa_per_path or not set(v) <= set(range(1, 6))}
        if wrong:
            shown = dict(list(wrong.items())[:5])
            raise ValueError(f"levels must give {qa_per_path} levels in 1-5 per path, got {shown}")
    short = paths.filter(pl.col("seed_ids").list.len() < 2)
    if short.height:
        raise ValueError(f"paths with fewer than 2 seeds cannot be synthesized: {short['path_id'].head(10).to_list()}")
    kp_rows = (
        paths.select("path_id", "kp_ids")
        .with_columns(kp_pos=pl.int_ranges(pl.col("kp_ids").list.len()))
        .explode("kp_ids", "kp_pos")
        .rename({"kp_ids": "kp_id"})
        .join(kps.select("kp_id", "name", "description"), on="kp_id", how="left")
    )
    seed_rows = (
        paths.select("path_id", pl.col("seed_ids").list.head(max_seeds))
        .with_columns(seed_pos=pl.int_ranges(pl.col("seed_ids").list.len()))
        .explode("seed_ids", "seed_pos")
        .rename({"seed_ids": "seed_id"})
        .join(
            seeds.select("seed_id", "language", "qa_type", "question", "choices", "answer", "explanation"),
            on="seed_id",
            how="left",
        )
    )
    for what, frame, id_col, probe in (("KPs", kp_rows, "kp_id", "name"), ("seeds", seed_rows, "seed_id", "question")):
        missing = frame.filter(pl.col(probe).is_null())
        if missing.height:
            pairs = missing.select("path_id", id_col).head(10).rows()
            raise ValueError(f"{missing.height} path {what} are not in the given {what} table, e.g. {pairs}")
    grouped = (
        paths.select("path_id", "discipline")
        .join(
            kp_rows.sort("path_id", "kp_pos")
            .group_by("path_id", maintain_order=True)
            .agg(kp_ids=pl.col("kp_id"), kp_names=pl.col("name"), kp_descriptions=pl.col("description").fill_null("")),
            on="path_id",
            maintain_order="left",
        )
        .join(
            seed_rows.sort("path_id", "seed_pos")
            .group_by("path_id", maintain_order=True)
            .agg(seeds=pl.struct("seed_id", "language", "qa_type", "question", "choices", "answer", "explanation")),
            on="path_id",
            maintain_order="left",
        )
    )
    requests: list[ChatRequest] = []
    for row in grouped.iter_rows(named=True):
        seed_list = row.pop("seeds")
        for s in seed_list:
            if s["choices"]:
                answer_text(s)  # raises on a seed whose answer letter names no choice
        languages = Counter(s["language"] for s in seed_list)
        top = max(languages.values())
        language = next(s["language"] for s in seed_list if languages[s["language"]] == top)
        n_mc = sum(s["qa_type"] == "multiple_choice" for s in seed_list)
        wanted = qa_type if qa_type != "auto" else ("multiple_choice" if 2 * n_mc > len(seed_list) else "free_form")
        payload = {
            "task": "synthesis",
            **row,
            "seed_ids": [s["seed_id"] for s in seed_list],
            "language": language,
            "qa_type": wanted,
            "n_choices": n_choices if wanted == "multiple_choice" else None,
            "seeds": seed_list,
            "k": qa_per_path,
            "levels": None if levels is None else [int(v) for v in levels[row["path_id"]]],
            "slots": None,  # a replacement request: the slots of the path's reply it refills
            "avoid": [],  # questions the items must differ from (a replacement: those kept)
            "retry_reason": None,  # a replacement: why the items it replaces were rejected
        }
        requests.append(_request(f"synthesis:{row['path_id']}", payload))
    return requests


def replacement_request(path_request: ChatRequest, rejected: Mapping[int, str], kept: Sequence[str]) -> ChatRequest:
    """One request for new items in the `rejected` slots (slot -> reason) of a path's reply, keyed
    apart (`synthesis:<path>:<slots>`), whose questions must differ from the `kept` ones."""
    slots = sorted(rejected)
    reason = "; ".join(f"{i + 1}: {rejected[i]}" for i in slots)
    asked = path_request.payload.get("levels")
    payload = {
        **path_request.payload,
        "k": len(slots),
        "levels": None if asked is None else [asked[i] for i in slots],
        "slots": slots,
        "avoid": list(kept),
        "retry_reason": reason,
    }
    return _request(f"{path_request.key}:{'+'.join(str(i) for i in slots)}", payload)


def _request(key: str, payload: Mapping[str, Any]) -> ChatRequest:
    return request_piece(key, payload, synthesis_messages, SYNTH_REPLY_SCHEMA, "linkqa_synthesis")


def synthesis_messages(payload: Mapping[str, Any]) -> tuple[dict[str, str], ...]:
    """The chat messages of a synthesis payload: a single user turn (no system prompt, per R1 guidance)."""
    t = template_for(payload["language"])
    kps = "\n".join(
        t.kp_line.format(i=i, name=name, description=desc or "-").rstrip()
        for i, (name, desc) in enumerate(zip(payload["kp_names"], payload["kp_descriptions"], strict=True), start=1)
    )
    seeds = "\n\n".join(
        t.seed_block.format(
            i=i,
            question=s["question"].strip(),
            choices="".join(f"{LETTERS[j]}. {c}\n" for j, c in enumerate(s["choices"] or ())),
            answer=s["answer"],
            explanation=(s["explanation"] or "-").strip()[:MAX_EXPLANATION_CHARS],
        )
        for i, s in enumerate(payload["seeds"], start=1)
    )
    shape = t.answer_format(payload["qa_type"], payload["n_choices"])
    k = payload["k"]
    retry = ""
    if payload["retry_reason"] is not None:
        avoid = "\n".join(f"- {q}" for q in payload["avoid"]) or "-"
        retry = t.retry.format(reason=payload["retry_reason"], avoid=avoid)
    content = t.prompt.format(
        discipline=payload["discipline"],
        kps=kps,
        seeds=seeds,
        count=t.one if k == 1 else t.many.format(k=k),
        distinct="" if k == 1 else t.distinct,
        retry=retry,
        difficulty_rule=difficulty_rule(t, payload.get("levels"), payload["language"]),
        k=k,
        **shape,
    )
    return ({"role": "user", "content": content},)


def difficulty_rule(t: Template, levels: Sequence[int] | None, language: str) -> str:
    """The prompt's difficulty requirement: the levels asked for on the shared scale, or no
    easier than the hardest seed when none are."""
    if not levels:
        return t.no_level
    scale = LEVEL_SCALE["zh" if language == "zh" else "en"]
    if len(levels) == 1:
        return t.one_level.format(level=levels[0], scale=scale)
    return t.many_levels.format(levels=", ".join(str(v) for v in levels), scale=scale)
