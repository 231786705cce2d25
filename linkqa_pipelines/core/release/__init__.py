"""Pure logic of the release stage (no Dagster): dedup, decontamination and the release export."""

from linkqa_pipelines.core.release.card import card_for_display, markdown_table
from linkqa_pipelines.core.release.dataset import (
    KEPT_VERIFICATION,
    REJECT_REASONS,
    benchmark_items,
    evaluation_split_expr,
    rejects,
    verification_screen,
)
from linkqa_pipelines.core.release.decontamination import (
    BENCHMARK_SCHEMA,
    CONTAMINATION_SCHEMA,
    BenchmarkIndex,
    DecontaminationSettings,
    find_contaminated,
    load_benchmark_questions,
)
from linkqa_pipelines.core.release.dedup import dedup, dedup_text_expr, keep_priority_expr, lsh_params
from linkqa_pipelines.core.release.export import write_release
from linkqa_pipelines.core.release.licences import KNOWN_BENCHMARKS, seed_source_licences
from linkqa_pipelines.core.release.ngrams import ngram_hashes, token_arrays
from linkqa_pipelines.core.text import qa_text_expr

__all__ = [
    "BENCHMARK_SCHEMA",
    "CONTAMINATION_SCHEMA",
    "KEPT_VERIFICATION",
    "KNOWN_BENCHMARKS",
    "REJECT_REASONS",
    "BenchmarkIndex",
    "DecontaminationSettings",
    "benchmark_items",
    "card_for_display",
    "dedup",
    "dedup_text_expr",
    "evaluation_split_expr",
    "find_contaminated",
    "keep_priority_expr",
    "load_benchmark_questions",
    "lsh_params",
    "markdown_table",
    "ngram_hashes",
    "qa_text_expr",
    "rejects",
    "seed_source_licences",
    "token_arrays",
    "verification_screen",
    "write_release",
]
