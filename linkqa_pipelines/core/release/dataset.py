"""What goes into the dataset index for decontamination, and how a left-out item is recorded."""

from __future__ import annotations

import polars as pl

from linkqa_pipelines.core.release.decontamination import BenchmarkIndex, load_benchmark_questions
from linkqa_pipelines.core.text import qa_text_expr

# Seeds read by these adapters are benchmark test items: synthesized QA must never overlap them.
BENCHMARK_ADAPTERS = ("mmlu_csv", "cmmlu_csv", "gsm8k_jsonl", "math_jsonl")


def benchmark_index(seeds: pl.LazyFrame, paths: list[str]) -> tuple[BenchmarkIndex | None, list[str]]:
    """Index configured benchmarks plus every seed that came from a benchmark layout."""
    frames: list[pl.DataFrame] = []
    names: list[str] = []
    if paths:
        loaded = load_benchmark_questions(paths)
        frames.append(loaded.select("benchmark_id", "question", "text"))
        names += sorted(set(loaded["benchmark"]))
    bench_seeds = seeds.filter(pl.col("adapter").is_in(BENCHMARK_ADAPTERS)).collect()
    if bench_seeds.height:
        frames.append(
            bench_seeds.select(
                benchmark_id=pl.concat_str("adapter", "subject", pl.col("source_row").cast(pl.String), separator="/"),
                question="question",
                text=qa_text_expr(),
            )
        )
        names += [f"seed items from {a}" for a in sorted(set(bench_seeds["adapter"]))]
    if not frames:
        return None, []
    return BenchmarkIndex.from_frame(pl.concat(frames, how="vertical_relaxed")), names


def rejects(frame: pl.DataFrame, stage: str, reason: pl.Expr, related: pl.Expr) -> pl.DataFrame:
    """Rows of `linkqa_dataset_rejects` for the items of `frame` left out at `stage`."""
    return frame.select("qa_id", "discipline", "question", stage=pl.lit(stage), reason=reason, related_id=related).cast(
        {"reason": pl.String, "related_id": pl.String}
    )
