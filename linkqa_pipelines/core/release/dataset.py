"""What the decontamination index holds (evaluation sets, never training seeds), and how a
left-out item is recorded.

Seeds versus evaluation sets: the index holds the benchmark files the user names
(`LINKQA_BENCHMARKS`) and every seed that came from an *evaluation split* of a known benchmark
(read by a benchmark adapter from a test split, recognised by layout and name: MMLU/C-Eval
`<subject>_test.csv`, a `test/` folder as in CMMLU, GSM8K and MATH `test.jsonl`). Seeds from
dev, validation or training splits are what a synthetic corpus is meant to be built from, so
they are not indexed unless named; otherwise the release would be emptied of everything
derived from them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import polars as pl

from linkqa_pipelines.core.release.decontamination import BENCHMARK_SCHEMA, load_benchmark_questions
from linkqa_pipelines.core.text import qa_text_expr

# Adapters of known benchmark layouts; their test splits are evaluation sets.
BENCHMARK_ADAPTERS = ("mmlu_csv", "cmmlu_csv", "gsm8k_jsonl", "math_jsonl")
# A `test` path component, a file named `test.*` / `test-*`, or a `<subject>_test.<ext>` file.
EVALUATION_SPLIT = r"(?i)(?:^|[/\\])test(?:[/\\]|[._-][^/\\]*$|$)|_test\.[^/\\.]+$"

RejectReason = Literal[
    "verification_failed",
    "not_verified",
    "exact_duplicate",
    "near_duplicate",
    "benchmark_overlap",
    "over_target_mix",
    "over_discipline_share",
]
REJECT_REASONS: tuple[RejectReason, ...] = (
    "verification_failed",
    "not_verified",
    "exact_duplicate",
    "near_duplicate",
    "benchmark_overlap",
    "over_target_mix",  # its level is over the discipline's level target
    "over_discipline_share",  # the level target would keep it, the discipline's share of the dataset does not
)
KEPT_VERIFICATION: tuple[str, ...] = ("verified", "refined")


def evaluation_split_expr() -> pl.Expr:
    """True for a seed read by a benchmark adapter from that benchmark's evaluation (test) split."""
    return pl.col("adapter").is_in(BENCHMARK_ADAPTERS) & pl.col("source").str.contains(EVALUATION_SPLIT)


def benchmark_items(seeds: pl.LazyFrame, paths: list[str]) -> pl.DataFrame:
    """BENCHMARK_SCHEMA rows of the named benchmark files plus the evaluation-split seeds, one row
    per benchmark item (a named file that is also a seed file counts once)."""
    named = load_benchmark_questions(paths) if paths else pl.DataFrame(schema=BENCHMARK_SCHEMA)
    evaluation = seeds.filter(evaluation_split_expr()).collect()
    benchmark = pl.col("adapter").str.replace(r"_(?:csv|jsonl)$", "")
    from_seeds = evaluation.select(
        benchmark_id=pl.concat_str(benchmark, "subject", pl.col("source_row").cast(pl.String), separator="/"),
        benchmark=benchmark,
        subject="subject",
        source="source",
        source_row="source_row",
        question="question",
        choices="choices",
        text=qa_text_expr(),
    ).cast(pl.Schema(BENCHMARK_SCHEMA))
    return pl.concat([named, from_seeds]).unique("benchmark_id", keep="first", maintain_order=True)


def verification_screen(qa: pl.DataFrame, keep: Sequence[str] = KEPT_VERIFICATION) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(kept, reject rows): a model-written row stays only if its `verification` is in `keep`;
    the others leave with reason `verification_failed` (it lost every vote) or `not_verified`
    (no answer reached it). Offline rows are unverified by construction (no solver), disclosed
    on the dataset card, and stay."""
    out = (pl.col("backend") != "offline") & ~pl.col("verification").fill_null("unverified").is_in(list(keep))
    reason = (
        pl.when(pl.col("verification") == "failed")
        .then(pl.lit("verification_failed"))
        .otherwise(pl.lit("not_verified"))
    )
    return qa.filter(~out), rejects(qa.filter(out), "verification", reason)


def rejects(
    frame: pl.DataFrame,
    stage: str,
    reason: RejectReason | pl.Expr,
    *,
    related: pl.Expr | None = None,
    matched: pl.Expr | None = None,
    similarity: pl.Expr | None = None,
) -> pl.DataFrame:
    """Rows of `linkqa_dataset_rejects` for the items of `frame` left out at `stage`: `reason` is
    one of REJECT_REASONS; the detail (item kept instead or benchmark item, matched text,
    similarity) is in its own columns."""
    none = pl.lit(None)
    return frame.select(
        "qa_id",
        "discipline",
        "question",
        stage=pl.lit(stage),
        reason=reason if isinstance(reason, pl.Expr) else pl.lit(reason),
        related_id=none if related is None else related,
        matched_text=none if matched is None else matched,
        similarity=none if similarity is None else similarity,
    ).cast({"reason": pl.String, "related_id": pl.String, "matched_text": pl.String, "similarity": pl.Float64})
