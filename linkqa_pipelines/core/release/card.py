"""The release's README.md dataset card: front matter, how the rows were made (with a plain
disclosure of rows not written by a model), schema, distributions, dedup/decontamination and
licence, from `stats.json` and what the caller knows (`CardInfo`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

import polars as pl
import yaml

from linkqa_pipelines.core.difficulty import OFFLINE_DIFFICULTY_MODEL
from linkqa_pipelines.core.release.stats import LEVEL_KEYS
from linkqa_pipelines.core.synthesis import OFFLINE_SYNTH_MODEL

COLUMN_DOCS: dict[str, str] = {
    "qa_id": "stable id: hash of path_id and question",
    "path_id": "the knowledge-point walk the QA was synthesized from",
    "discipline": "discipline (taxonomy name)",
    "language": "en | zh | other (script of the seeds)",
    "qa_type": "multiple_choice | free_form",
    "question": "question text (options inline only for composed free-form items)",
    "choices": "options, null for free form",
    "answer": "choice letter for multiple choice, final answer otherwise",
    "rationale": "worked solution / explanation",
    "kp_ids": "knowledge points the QA links, in path order",
    "seed_ids": "seed QA the QA was made from",
    "difficulty": "1 (recall) - 5 (long multi-concept reasoning)",
    "backend": "openai | vllm | offline",
    "model": "model that wrote the row; offline-* = non-LLM algorithm",
    "prompt_tokens": "prompt tokens spent on the row",
    "completion_tokens": "completion tokens spent on the row",
    "enhanced_from": "qa_id of the original when the row is a harder variant",
    "difficulty_method": "model or heuristic that scored difficulty",
}


class CardInfo(TypedDict, total=False):
    """What the caller knows that the rows do not say; every key is optional, and the card
    states plainly when one is missing."""

    name: str
    version: str
    description: str
    seed_sources: list[dict[str, str]]  # {"name", "licence", "url"}
    dedup: dict[str, Any]  # e.g. {"exact": 12, "near": 30, "threshold": 0.8}
    decontamination: dict[str, Any]  # e.g. {"benchmarks": ["mmlu test"], "flagged": 4, "removed": 4, "n": 13}
    selection: str  # Markdown, e.g. the select_to_target report
    notes: str


def markdown_table(df: pl.DataFrame) -> str:
    """A GitHub Markdown table of a small frame (cells' `|` and newlines escaped)."""

    def cell(v: Any) -> str:
        text = f"{v:.3f}" if isinstance(v, float) else ("" if v is None else str(v))
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * df.width]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.iter_rows()]
    return "\n".join(lines)


def _share_table(counts: Mapping[str, int], key: str, total: int) -> str:
    return markdown_table(
        pl.DataFrame(
            {key: list(counts), "rows": list(counts.values()), "share": [v / max(total, 1) for v in counts.values()]},
            schema={key: pl.String, "rows": pl.Int64, "share": pl.Float64},
        )
    )


def dataset_card(
    stats: Mapping[str, Any],
    schema: Mapping[str, pl.DataType],
    slugs: Mapping[str, str],
    info: Mapping[str, Any],
) -> str:
    """README.md: front matter, what, how made (backends, offline disclosure), schema,
    distributions, dedup/decontamination, licence."""
    name = info.get("name", "LinkQA synthetic QA")
    total = stats["rows"]
    languages = sorted(k for k in stats["language"] if k in ("en", "zh"))
    front = {
        "license": "other",
        "pretty_name": name,
        "language": languages,
        "task_categories": ["question-answering"],
        "configs": [{"config_name": "all", "data_files": "data/*/*.parquet", "default": True}]
        + [{"config_name": slug, "data_files": f"data/{slug}/*.parquet"} for slug in slugs.values()],
    }
    out = ["---", yaml.safe_dump(front, sort_keys=False, allow_unicode=True).strip(), "---", ""]
    out += [f"# {name}" + (f" ({info['version']})" if info.get("version") else ""), ""]
    out += [info.get("description", "Synthetic question-answer pairs made by the LinkQA pipeline."), ""]
    out += [
        f"{total} rows in {len(stats['disciplines'])} disciplines, as Parquet and JSONL shards under "
        "`data/<discipline>/` (the same rows in both formats). `stats.json` has the numbers below in machine-readable "
        "form, `plots/` the figures, `manifest.json` every file with its row count and SHA-256.",
        "",
        "## How it was made",
        "",
        "LinkSyn pipeline: seed QA datasets -> knowledge points (KPs) extracted per seed -> KP co-occurrence graph -> "
        "value-guided walks over the graph -> one new QA synthesized per walk from the seeds linked along it -> "
        "difficulty scored (harder variants made for scarce levels) -> selected to the target difficulty mix, "
        "deduplicated and decontaminated -> this release.",
        "",
        "Rows per backend and model:",
        "",
        markdown_table(
            pl.DataFrame(stats["backend_model"], schema={"backend": pl.String, "model": pl.String, "rows": pl.Int64})
        ),
        "",
    ]
    offline = sum(
        r["rows"] for r in stats["backend_model"] if r["backend"] == "offline" or r["model"].startswith("offline")
    )
    if offline:
        out += [
            f"> **{offline} of {total} rows ({offline / max(total, 1):.1%}) were NOT written by a language model.** "
            "They come from the pipeline's offline backend (models named `offline-*`): "
            f"`{OFFLINE_SYNTH_MODEL}` composes existing seed questions into multi-part questions along a KP path "
            "(answers and explanations are the seeds' own; no new knowledge is added), and "
            f"`{OFFLINE_DIFFICULTY_MODEL}` estimates difficulty from the text. No offline row was verified by a "
            "model: their `verification` is `unverified`. Use these rows as a structural baseline or for pipeline "
            "testing, not as model-synthesized data.",
            "",
        ]
    if stats["enhanced_variants"]:
        out += [f"{stats['enhanced_variants']} rows are harder variants of other rows (`enhanced_from`).", ""]
    out += ["## Schema", ""]
    out += [
        markdown_table(
            pl.DataFrame(
                [{"column": c, "type": str(t), "meaning": COLUMN_DOCS.get(c, "")} for c, t in schema.items()],
                schema={"column": pl.String, "type": pl.String, "meaning": pl.String},
            )
        )
    ]
    out += ["", "## Distributions", "", "Rows per discipline and difficulty:", ""]
    level_cols = [k for k in LEVEL_KEYS if k != "unscored" or stats["difficulty"]["unscored"]]
    out += [
        markdown_table(
            pl.DataFrame(
                [
                    {"discipline": d, **{k: v[k] for k in level_cols}, "total": sum(v.values())}
                    for d, v in stats["discipline_difficulty"].items()
                ],
                schema={"discipline": pl.String, **dict.fromkeys(level_cols, pl.Int64), "total": pl.Int64},
            )
        ),
        "",
        "![rows per discipline and difficulty](plots/discipline_difficulty.png)",
        "",
        "Difficulty:",
        "",
        _share_table({k: stats["difficulty"][k] for k in level_cols}, "difficulty", total),
        "",
        "![difficulty histogram](plots/difficulty_histogram.png)",
        "",
        "Language:",
        "",
        _share_table(stats["language"], "language", total),
        "",
        "Question type:",
        "",
        _share_table(stats["qa_type"], "qa_type", total),
        "",
        f"Tokens: {stats['tokens']['text_estimate']} estimated text tokens in the rows; generation spent "
        f"{stats['tokens']['prompt']} prompt and {stats['tokens']['completion']} completion tokens.",
        "",
    ]
    if info.get("selection"):
        out += ["Difficulty selection:", "", info["selection"], ""]
    out += ["## Deduplication and decontamination", ""]
    out += [_facts("Deduplication", info.get("dedup")), _facts("Decontamination", info.get("decontamination")), ""]
    out += ["## Licence", ""]
    out += [
        "Every row derives from the seed questions named in its `seed_ids`; the licences of those seed datasets "
        "apply to the derived rows (for example CC BY-NC-SA 4.0 seeds make their derived rows non-commercial and "
        "share-alike). The pipeline's own code licence does not cover the data.",
        "",
    ]
    sources = info.get("seed_sources")
    if sources:
        out += [
            markdown_table(
                pl.DataFrame(
                    [
                        {"seed dataset": s.get("name", ""), "licence": s.get("licence", ""), "url": s.get("url", "")}
                        for s in sources
                    ]
                )
            ),
            "",
        ]
    else:
        out += ["Seed sources were not listed: check every seed dataset's licence before redistributing.", ""]
    if info.get("notes"):
        out += ["## Notes", "", info["notes"], ""]
    return "\n".join(out)


def _facts(title: str, facts: Mapping[str, Any] | None) -> str:
    if not facts:
        return f"- {title}: not reported for this release."
    return f"- {title}: " + ", ".join(f"{k} = {v}" for k, v in facts.items()) + "."
