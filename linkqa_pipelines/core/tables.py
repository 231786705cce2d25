"""Every lake table's column contract by table name: what the IO manager falls back to when a
partition was never written, and what the UI shows as each asset's column schema."""

from __future__ import annotations

import polars as pl

from linkqa_pipelines.core.contracts import (
    KP_CATALOG_SCHEMA,
    KP_LINK_SCHEMA,
    PATH_SCHEMA,
    QUARANTINE_SCHEMA,
    SEED_SCHEMA,
    SYNTH_QA_SCHEMA,
)
from linkqa_pipelines.core.difficulty.enhance import REJECTED_VARIANT_SCHEMA
from linkqa_pipelines.core.graph.build import KP_EDGE_SCHEMA, SEED_LINK_SCHEMA
from linkqa_pipelines.core.llm.types import FAILURE_SCHEMA
from linkqa_pipelines.core.release.decontamination import BENCHMARK_SCHEMA
from linkqa_pipelines.core.seeds.normalise import ACCOUNTING_SCHEMA
from linkqa_pipelines.core.synthesis.rounds import REASONING_SCHEMA
from linkqa_pipelines.core.verification import QA_VERIFICATION_SCHEMA, VOTES_SCHEMA

Schema = dict[str, pl.DataType]

REJECT_SCHEMA: Schema = {
    "qa_id": pl.String(),
    "discipline": pl.String(),
    "question": pl.String(),
    "stage": pl.String(),  # verification | dedup | decontamination | target_mix
    # verification_failed | not_verified | exact_duplicate | near_duplicate | benchmark_overlap | over_target_mix
    # | over_discipline_share (core/release/dataset.py: REJECT_REASONS)
    "reason": pl.String(),
    "related_id": pl.String(),  # the item kept instead, or the benchmark item matched
    "matched_text": pl.String(),  # decontamination: the benchmark gram found in the item
    "similarity": pl.Float64(),  # dedup: shingle Jaccard with the kept item (1.0 for exact)
}

TABLE_SCHEMAS: dict[str, Schema] = {
    "seed_sources": SEED_SCHEMA,
    "seed_qa": SEED_SCHEMA,
    "seed_quarantine": QUARANTINE_SCHEMA,
    "seed_accounting": ACCOUNTING_SCHEMA,
    "seed_knowledge_points": KP_LINK_SCHEMA,
    "kp_catalog": KP_CATALOG_SCHEMA,
    "kp_links": {**KP_LINK_SCHEMA, "kp_id": pl.String()},
    "kp_graph": KP_EDGE_SCHEMA,
    "kp_seed_links": SEED_LINK_SCHEMA,
    "walk_paths": PATH_SCHEMA,
    "walk_paths_unseeded": PATH_SCHEMA,
    "synthesized_qa": SYNTH_QA_SCHEMA,
    "synthesis_reasoning": REASONING_SCHEMA,
    "qa_verification": QA_VERIFICATION_SCHEMA,
    "qa_verification_votes": VOTES_SCHEMA,
    "difficulty_scored_qa": SYNTH_QA_SCHEMA,
    "difficulty_variant_votes": VOTES_SCHEMA,
    "difficulty_rejected_variants": REJECTED_VARIANT_SCHEMA,
    "benchmark_items": BENCHMARK_SCHEMA,
    "screened_qa": SYNTH_QA_SCHEMA,
    "screened_qa_rejects": REJECT_SCHEMA,
    "linkqa_dataset": SYNTH_QA_SCHEMA,
    "linkqa_dataset_rejects": REJECT_SCHEMA,
    "llm_failures": FAILURE_SCHEMA,
}
