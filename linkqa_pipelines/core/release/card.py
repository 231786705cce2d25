"""The release's README.md dataset card: front matter, how the rows were made (with a plain
disclosure of rows not written by a model), schema, distributions, dedup/decontamination and
licence, from `stats.json` and what the caller knows (`CardInfo`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

import polars as pl
import yaml
from polars.datatypes import DataTypeClass

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
    "verification": "verified | refined | failed | unverified: a majority of k keyless answers by the verifier "
    "model (the generator unless a second model is configured) named the key; refined = after the verifier "
    "re-derived the key or the item was regenerated",
    "agreement": "share of the keyless answers that named the key; null when none was given",
    "verify_rounds": "refine/regenerate rounds the item went through in verification",
    "regenerated_from": "qa_id of the disputed item this one was regenerated from",
}

# Polars dtype -> the HF `datasets` feature dtype name (the dataset card's dataset_info.features)
_HF_DTYPES: tuple[tuple[pl.DataType, str], ...] = (
    (pl.String(), "string"),
    (pl.Boolean(), "bool"),
    (pl.Int8(), "int8"),
    (pl.Int16(), "int16"),
    (pl.Int32(), "int32"),
    (pl.Int64(), "int64"),
    (pl.UInt8(), "uint8"),
    (pl.UInt16(), "uint16"),
    (pl.UInt32(), "uint32"),
    (pl.UInt64(), "uint64"),
    (pl.Float32(), "float32"),
    (pl.Float64(), "float64"),
)
_SOURCE_COLUMNS = ("name", "licence", "files", "seeds", "released_rows", "url")
# HF hub size_categories buckets: (exclusive upper bound, label)
_SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"))


class CardInfo(TypedDict, total=False):
    """What the caller knows that the rows do not say; every key is optional, and the card
    states plainly when one is missing."""

    name: str
    version: str
    description: str
    seed_sources: list[dict[str, Any]]  # licences.seed_source_licences: name, licence, hub_id, url, files, ...
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


def hf_feature(column: str, dtype: pl.DataType | DataTypeClass) -> dict[str, Any]:
    """One dataset_info feature in the hub's YAML form, as `datasets.Features._to_yaml_list` writes
    it: {name, dtype}, {name, list: ...}, {name, struct: [...]}, nested as the column is."""
    return {"name": column, **_hf_type(column, dtype)}


def _hf_type(column: str, dtype: pl.DataType | DataTypeClass) -> dict[str, Any]:
    if isinstance(dtype, DataTypeClass):  # a bare class such as pl.String in a nested type
        dtype = dtype()
    if isinstance(dtype, pl.List):
        inner = _hf_type(column, dtype.inner)
        # the YAML form collapses a list of one plain dtype or of a struct to its content
        return {"list": inner.get("dtype", inner.get("struct", inner))}
    if isinstance(dtype, pl.Struct):
        return {"struct": [hf_feature(f.name, f.dtype) for f in dtype.fields]}
    name = next((n for t, n in _HF_DTYPES if dtype == t), None)
    if name is None:
        raise ValueError(f"column {column!r}: no HF datasets feature for Polars type {dtype}")
    return {"dtype": name}


def size_category(rows: int) -> str:
    return next((label for bound, label in _SIZE_CATEGORIES if rows < bound), "1M<n<10M" if rows < 10**7 else "n>10M")


def front_matter(
    stats: Mapping[str, Any], schema: Mapping[str, pl.DataType], slugs: Mapping[str, str], info: Mapping[str, Any]
) -> dict[str, Any]:
    """The card's YAML header as the HF hub reads it: licence(s) of the seed sources, languages,
    task and size categories, one config per discipline plus `all` (Parquet shards, split
    `train`), and dataset_info with each config's features and row count, which `datasets`
    checks against the files when it loads them."""
    sources: list[Mapping[str, Any]] = info.get("seed_sources") or [{}]
    hub_ids = sorted({str(s.get("hub_id", "other")) for s in sources})
    front: dict[str, Any] = {"license": hub_ids[0] if len(hub_ids) == 1 else hub_ids}
    if "other" in hub_ids:
        front["license_name"] = "seed-dataset-licences"
        front["license_details"] = "The licences of the seed datasets apply; see the Licence section."
    features = [hf_feature(c, t) for c, t in schema.items()]
    sizes = stats["bytes"]
    configs = {"all": ("data/*/*.parquet", list(slugs))} | {
        slug: (f"data/{slug}/*.parquet", [d]) for d, slug in slugs.items()
    }
    task_categories = ["question-answering"] + (["multiple-choice"] if stats["qa_type"].get("multiple_choice") else [])
    front |= {
        "pretty_name": info.get("name", "LinkQA synthetic QA"),
        "language": sorted(k for k in stats["language"] if k in ("en", "zh")),
        "task_categories": task_categories,
        "size_categories": [size_category(stats["rows"])],
        "tags": ["synthetic"],
    }
    if stats["rows"]:  # an empty release has no shard a config could name
        front["configs"] = [
            {"config_name": c, "data_files": [{"split": "train", "path": glob}], "default": c == "all"}
            for c, (glob, _) in configs.items()
        ]
        front["dataset_info"] = [
            {
                "config_name": c,
                "features": features,
                "splits": [
                    {
                        "name": "train",
                        "num_bytes": sum(sizes[d]["memory"] for d in members),
                        "num_examples": sum(stats["disciplines"][d] for d in members),
                    }
                ],
                "download_size": sum(sizes[d]["parquet"] for d in members),
                "dataset_size": sum(sizes[d]["memory"] for d in members),
            }
            for c, (_, members) in configs.items()
        ]
    return front


def card_for_display(card: str) -> str:
    """The card with its YAML header shown as a fenced block: Markdown viewers that do not know
    front matter (Dagster's metadata view) otherwise render it as run-together text."""
    if not card.startswith("---\n"):
        return card
    end = card.index("\n---\n", 4)
    return "```yaml\n" + card[4 : end + 1] + "```\n" + card[end + 5 :]


class _PlainDumper(yaml.SafeDumper):
    """Writes repeated values out in full: the configs share one feature list, and YAML anchors
    (&id001 / *id001) are legal but unreadable on the hub's card view."""

    def ignore_aliases(self, data: Any) -> bool:  # noqa: ARG002 (the override keeps the base signature)
        return True


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
    front = front_matter(stats, schema, slugs, info)
    out = ["---", yaml.dump(front, Dumper=_PlainDumper, sort_keys=False, allow_unicode=True).strip(), "---", ""]
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
            pl.DataFrame(
                stats["backend_model"],
                schema={"backend": pl.String, "model": pl.String, "rows": pl.Int64, "verified": pl.Int64},
            )
        ),
        "",
        _verification(stats["verification"], total),
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
    out += ["", "## Distributions", "", "![rows per discipline](plots/discipline_distribution.png)", ""]
    out += ["Rows per discipline and difficulty:", ""]
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
        "KPs per item (the length of the KP path it was synthesized along):",
        "",
        _share_table(stats["path_length"], "KPs", total),
        "",
        "![path-length histogram](plots/path_length_histogram.png)",
        "",
        *_coverage(stats["kp_coverage"]),
        f"Tokens: {stats['tokens']['text']} tokens of text in the rows (question, choices, answer, rationale), "
        f"counted with the {stats['tokens']['tokenizer']} tokenizer; generation spent "
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
                pl.DataFrame([{k: s.get(k) for k in _SOURCE_COLUMNS} for s in sources]).rename(
                    {"name": "seed dataset", "released_rows": "released rows"}, strict=False
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


def _verification(counts: Mapping[str, Any], total: int) -> str:
    share = counts.get("verified_share")
    return (
        f"Verification: {counts['verified'] + counts['refined']} of {total} rows ({share:.1%}) were checked by "
        "independent keyless answers of a verifier model, a majority naming the key (`verified`, or `refined` "
        "after a correction); "
        f"{counts['failed']} failed and {counts['unverified']} were not verified."
        if share is not None
        else "Verification: no rows."
    )


def _coverage(coverage: Mapping[str, Any]) -> list[str]:
    if coverage["catalog_kps"] is None:
        return [f"KP coverage: {coverage['used_kps']} distinct KPs in the rows (no KP catalog given).", ""]
    share = coverage["share"]
    return [
        f"KP coverage: {coverage['used_kps']} of the catalog's {coverage['catalog_kps']} KPs "
        f"({share:.1%} of the catalog) are linked by at least one released row."
        if share is not None
        else "KP coverage: the KP catalog is empty.",
        "",
        markdown_table(
            pl.DataFrame(
                [{"discipline": d, **v} for d, v in coverage["disciplines"].items()],
                schema={"discipline": pl.String, "catalog_kps": pl.Int64, "used_kps": pl.Int64, "share": pl.Float64},
            )
        ),
        "",
        "![KP coverage curve](plots/kp_coverage_curve.png)",
        "",
    ]
