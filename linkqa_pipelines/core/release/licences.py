"""Seed sources of a release with their licences, from a table of known benchmarks.

A seed file is attributed to a known benchmark by the benchmark's name in its path (the
folder or file a user downloads it as: `mmlu/test/...`, `cmmlu/dev/...`, `ceval/...`,
`gsm8k/test.jsonl`, `math/test.jsonl`), not by its layout alone: a user's own CSV in MMLU's
layout is not MMLU, and claiming MIT for it would be wrong. Anything else is listed with its
files and an "unknown" licence, which makes the card's `license` "other" and tells the reader to
check it. The licences are those the benchmarks publish (see ../shared/data/README.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl


@dataclass(frozen=True)
class KnownBenchmark:
    name: str
    path_pattern: str  # case-insensitive regex over the source path
    licence: str  # as the publisher states it
    hub_id: str  # the HF hub's licence identifier
    url: str


# Order matters: CMMLU before MMLU (its name contains MMLU's).
KNOWN_BENCHMARKS: tuple[KnownBenchmark, ...] = (
    KnownBenchmark(
        "C-Eval",
        r"(?i)(?:^|[/\\_.-])c[-_]?eval",
        "CC BY-NC-SA 4.0",
        "cc-by-nc-sa-4.0",
        "https://github.com/hkust-nlp/ceval",
    ),
    KnownBenchmark("CMMLU", r"(?i)cmmlu", "CC BY-NC-SA 4.0", "cc-by-nc-sa-4.0", "https://github.com/haonan-li/CMMLU"),
    KnownBenchmark("MMLU", r"(?i)mmlu", "MIT", "mit", "https://github.com/hendrycks/test"),
    KnownBenchmark("GSM8K", r"(?i)gsm8k", "MIT", "mit", "https://github.com/openai/grade-school-math"),
    KnownBenchmark(
        "MATH",
        r"(?i)(?:^|[/\\])(?:hendrycks[_-]|competition[_-])?math(?:[/\\]|\.jsonl?$)",
        "MIT",
        "mit",
        "https://github.com/hendrycks/math",
    ),
)
UNKNOWN_LICENCE = "unknown: check the source's own licence"


def benchmark_expr(source: pl.Expr) -> pl.Expr:
    """The known benchmark a source path names, or null."""
    out = pl.lit(None, pl.String)
    for known in reversed(KNOWN_BENCHMARKS):  # the first pattern that matches wins
        out = pl.when(source.str.contains(known.path_pattern)).then(pl.lit(known.name)).otherwise(out)
    return out


def seed_source_licences(seed_sources: pl.LazyFrame, dataset: pl.LazyFrame) -> list[dict[str, Any]]:
    """One entry per known benchmark (or per unknown source file) the seeds came from: name,
    licence, hub_id ("other" when unknown), url, files, seeds, and `released_rows`: rows of
    `dataset` that cite at least one of its seeds (a row citing two sources counts for each)."""
    known = {k.name: k for k in KNOWN_BENCHMARKS}
    seeds = seed_sources.select(
        "seed_id",
        "source",
        group=pl.coalesce(benchmark_expr(pl.col("source")), pl.col("source").str.extract(r"([^/\\]+)$")),
        known=benchmark_expr(pl.col("source")).is_not_null(),
    )
    cited = dataset.select("qa_id", seed_id=pl.col("seed_ids")).explode("seed_id").drop_nulls()
    released = cited.join(seeds, on="seed_id").group_by("group").agg(released_rows=pl.col("qa_id").n_unique())
    summary = (
        seeds.group_by("group", "known")
        .agg(files=pl.col("source").n_unique(), seeds=pl.len())
        .join(released, on="group", how="left")
        .sort("known", "group", descending=[True, False])
        .collect()
    )
    out: list[dict[str, Any]] = []
    for row in summary.iter_rows(named=True):
        bench = known.get(row["group"]) if row["known"] else None
        out.append(
            {
                "name": row["group"],
                "licence": bench.licence if bench else UNKNOWN_LICENCE,
                "hub_id": bench.hub_id if bench else "other",
                "url": bench.url if bench else "",
                "files": int(row["files"]),
                "seeds": int(row["seeds"]),
                "released_rows": int(row["released_rows"] or 0),
            }
        )
    return out
