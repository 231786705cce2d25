"""KP extraction as a model task: one request per seed, the keyphrase extractor as its offline
answer, the answer check, and the KP link frame built from whatever succeeded."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import polars as pl

from linkqa_pipelines.core.contracts import KP_LINK_SCHEMA, empty_frame
from linkqa_pipelines.core.knowledge_points.keyphrases import OFFLINE_MODEL, extract_keyphrases
from linkqa_pipelines.core.knowledge_points.prompts import (
    KP_EXTRACTION_SCHEMA,
    build_kp_messages,
    kp_links_from_answers,
    validate_kp_answer,
)
from linkqa_pipelines.core.llm import ChatRequest, ModelTask, TaskOutcome

STAGE = "seed_knowledge_points"


def offline_kp_answers(seeds: pl.DataFrame, corpus: pl.DataFrame) -> dict[str, dict[str, Any]]:
    """The keyphrase extractor's output in the LLM answer schema, keyed by seed_id."""
    links = extract_keyphrases(seeds, corpus=corpus)
    grouped = (
        links.sort("seed_id", "kp_rank")
        .group_by("seed_id", maintain_order=True)
        .agg(
            knowledge_points=pl.struct(name="kp_name", description="kp_description"),
            discipline=pl.col("discipline").first(),
            grade_level=pl.col("grade_level").first(),
            difficulty=pl.col("difficulty").first().cast(pl.Int64),
        )
    )
    return {row.pop("seed_id"): row for row in grouped.iter_rows(named=True)}


def kp_requests(seeds: pl.DataFrame, discipline_name: str) -> list[ChatRequest]:
    """One request per seed; the payload carries the seed row for the offline answer and the check."""
    return [
        ChatRequest(
            key=row["seed_id"],
            messages=tuple(build_kp_messages(row, discipline_name)),
            schema=KP_EXTRACTION_SCHEMA,
            schema_name="knowledge_points",
            payload=row,
        )
        for row in seeds.to_dicts()
    ]


def kp_task(
    seeds: pl.DataFrame,
    corpus: pl.DataFrame,
    discipline: str,
    corpus_answers: Callable[[], Mapping[str, dict[str, Any]]] | None = None,
) -> ModelTask:
    """The task for one discipline's seeds; the offline extractor sees the whole seed corpus (IDF).

    `corpus_answers` gives `offline_kp_answers(corpus, corpus)` (computed once and shared by the
    disciplines of one run: each call tokenizes the whole corpus, and a seed's answer is the same
    whichever seeds are asked with it)."""

    def offline(payloads: Sequence[Mapping[str, Any]]) -> list[dict[str, Any] | None]:
        ids = [p["seed_id"] for p in payloads]
        if corpus_answers is not None:
            answers = corpus_answers()
        else:
            answers = offline_kp_answers(seeds.filter(pl.col("seed_id").is_in(ids)), corpus=corpus)
        empty: dict[str, Any] = {
            "knowledge_points": [],
            "discipline": discipline,
            "grade_level": None,
            "difficulty": None,
        }
        return [answers.get(i, empty) for i in ids]

    def validate(seed: Mapping[str, Any], answer: Mapping[str, Any]) -> str | None:
        return validate_kp_answer(seed["language"], discipline, answer, question=seed["question"])

    return ModelTask(stage=STAGE, offline_model=OFFLINE_MODEL, offline=offline, validate=validate)


def kp_links(outcome: TaskOutcome) -> pl.DataFrame:
    """KP links of every seed whose answer was accepted, labelled with the backend and model that made them."""
    by_model: dict[tuple[str, str], list[tuple[Mapping[str, Any], dict[str, Any]]]] = {}
    for request, result in zip(outcome.requests, outcome.results, strict=True):
        if result.ok and result.parsed is not None:
            by_model.setdefault((result.backend, result.model), []).append((request.payload, result.parsed))
    parts = [
        kp_links_from_answers([seed for seed, _ in pairs], [answer for _, answer in pairs], backend, model)
        for (backend, model), pairs in by_model.items()
    ]
    return pl.concat(parts, how="vertical_relaxed") if parts else empty_frame(KP_LINK_SCHEMA)
