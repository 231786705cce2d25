"""Release export: shards, statistics, plots and a dataset card for a finished QA corpus.

`write_release` streams the dataset one discipline at a time (pass a LazyFrame and only one
discipline's rows are in memory), writes each as Parquet and JSONL shards of at most
`shard_rows` rows under `data/<discipline>/`, and accumulates a small aggregate
(discipline x difficulty x language x qa_type x backend x model) from which `stats.json`,
the PNG plots and the README.md dataset card are made. The release is assembled in a
temporary sibling folder and swapped in at the end, so a crash never leaves a half-written
release where a reader looks; a previous release in `out_dir` (it has a manifest.json) is
replaced, any other non-empty folder is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import polars as pl
import yaml
from matplotlib import font_manager, rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from linkqa_pipelines.core.contracts import SYNTH_QA_SCHEMA, conform
from linkqa_pipelines.core.release.dedup import token_estimate_expr

MANIFEST = "manifest.json"
LEVEL_KEYS: tuple[str, ...] = ("1", "2", "3", "4", "5", "unscored")

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


@dataclass(frozen=True)
class ShardFile:
    """One written shard, enough to verify a download."""

    path: str  # relative to the release folder
    format: str  # parquet | jsonl
    discipline: str
    rows: int
    bytes: int
    sha256: str


@dataclass(frozen=True)
class ReleaseManifest:
    """What `write_release` wrote (also saved as manifest.json), for asset metadata."""

    out_dir: Path
    rows: int
    shards: tuple[ShardFile, ...]
    stats: dict[str, Any]
    card_path: Path
    stats_path: Path
    plot_paths: tuple[Path, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; paths relative to the release folder."""
        return {
            "rows": self.rows,
            "shards": [asdict(s) for s in self.shards],
            "card": self.card_path.name,
            "stats": self.stats_path.name,
            "plots": [p.relative_to(self.out_dir).as_posix() for p in self.plot_paths],
        }


def markdown_table(df: pl.DataFrame) -> str:
    """A GitHub Markdown table of a small frame (cells' `|` and newlines escaped)."""

    def cell(v: Any) -> str:
        text = f"{v:.3f}" if isinstance(v, float) else ("" if v is None else str(v))
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * df.width]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.iter_rows()]
    return "\n".join(lines)


def _slug(discipline: str) -> str:
    slug = re.sub(r"[^\w.-]+", "_", discipline.strip()).strip("._")
    if not slug:
        raise ValueError(f"discipline {discipline!r} gives no usable folder name")
    return slug


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _prepare_target(out_dir: Path) -> None:
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / MANIFEST).is_file():
        raise FileExistsError(f"{out_dir} is not empty and holds no {MANIFEST}: refusing to replace it")


def write_release(
    dataset: pl.DataFrame | pl.LazyFrame,
    out_dir: Path,
    *,
    shard_rows: int = 100_000,
    card_info: CardInfo | Mapping[str, Any],
) -> ReleaseManifest:
    """Write the release (see module docstring) and return its manifest.

    `dataset` must carry the SYNTH_QA_SCHEMA columns (extra columns are kept after them);
    every discipline must be non-null. Row order within a discipline is preserved.
    """
    if shard_rows < 1:
        raise ValueError(f"shard_rows must be >= 1, got {shard_rows}")
    out_dir = Path(out_dir)
    _prepare_target(out_dir)
    lf = dataset.lazy()
    schema = lf.collect_schema()
    missing = [c for c in SYNTH_QA_SCHEMA if c not in schema]
    if missing:
        raise ValueError(f"dataset lacks contract columns {missing}")
    found = lf.select(pl.col("discipline").unique()).collect()["discipline"]
    if found.null_count():
        raise ValueError("dataset has rows with a null discipline; every row must belong to a discipline")
    disciplines: list[str] = found.sort().to_list()
    slugs = {d: _slug(d) for d in disciplines}
    if len(set(slugs.values())) != len(slugs):
        raise ValueError(f"disciplines map to clashing folder names: {slugs}")

    tmp = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "plots").mkdir(parents=True)
    shards: list[ShardFile] = []
    cubes: list[pl.DataFrame] = []
    out_schema = dict(conform(pl.DataFrame(schema=dict(schema)), SYNTH_QA_SCHEMA).schema)
    try:
        for discipline in disciplines:
            part = conform(lf.filter(pl.col("discipline") == discipline).collect(), SYNTH_QA_SCHEMA)
            folder = tmp / "data" / slugs[discipline]
            folder.mkdir(parents=True)
            for index, start in enumerate(range(0, part.height, shard_rows)):
                chunk = part.slice(start, shard_rows)
                for fmt in ("parquet", "jsonl"):
                    path = folder / f"part-{index:05d}.{fmt}"
                    if fmt == "parquet":
                        chunk.write_parquet(path, compression="zstd")
                    else:
                        chunk.write_ndjson(path)
                    shards.append(
                        ShardFile(
                            path=path.relative_to(tmp).as_posix(),
                            format=fmt,
                            discipline=discipline,
                            rows=chunk.height,
                            bytes=path.stat().st_size,
                            sha256=_sha256(path),
                        )
                    )
            cubes.append(_cube(part))
        cube = pl.concat(cubes) if cubes else _cube(pl.DataFrame(schema=SYNTH_QA_SCHEMA))
        stats = release_stats(cube, disciplines)
        (tmp / "stats.json").write_text(json.dumps(stats, indent=2, ensure_ascii=False), encoding="utf-8")
        with rc_context({"font.family": _font_family()}):
            plot_paths = (
                _plot_heatmap(stats, tmp / "plots" / "discipline_difficulty.png"),
                _plot_histogram(cube, tmp / "plots" / "difficulty_histogram.png"),
            )
        (tmp / "README.md").write_text(dataset_card(stats, out_schema, slugs, dict(card_info)), encoding="utf-8")
        manifest = ReleaseManifest(  # paths as they will be once the release is swapped in
            out_dir=out_dir,
            rows=stats["rows"],
            shards=tuple(shards),
            stats=stats,
            card_path=out_dir / "README.md",
            stats_path=out_dir / "stats.json",
            plot_paths=tuple(out_dir / p.relative_to(tmp) for p in plot_paths),
        )
        (tmp / MANIFEST).write_text(json.dumps(manifest.to_dict(), indent=2, ensure_ascii=False), encoding="utf-8")
        _swap_in(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def _swap_in(tmp: Path, out_dir: Path) -> None:
    """Replace out_dir by tmp: rename the old release aside, move the new one in, delete the old."""
    _prepare_target(out_dir)
    old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
    if out_dir.exists():
        out_dir.rename(old)
    tmp.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)


# --- statistics ---------------------------------------------------------------------------


def _cube(part: pl.DataFrame) -> pl.DataFrame:
    """Row and token counts per discipline x difficulty x language x qa_type x backend x model."""
    text = pl.concat_str(
        [pl.col("question"), pl.col("choices").list.join("\n"), pl.col("answer"), pl.col("rationale")],
        separator="\n",
        ignore_nulls=True,
    )
    enhanced = pl.col("enhanced_from").is_not_null() if "enhanced_from" in part.columns else pl.lit(False)
    return part.group_by(
        "discipline",
        pl.col("difficulty").cast(pl.String).fill_null("unscored").alias("level"),
        "language",
        "qa_type",
        "backend",
        "model",
    ).agg(
        rows=pl.len().cast(pl.Int64),
        enhanced=enhanced.sum().cast(pl.Int64),
        prompt_tokens=pl.col("prompt_tokens").fill_null(0).sum().cast(pl.Int64),
        completion_tokens=pl.col("completion_tokens").fill_null(0).sum().cast(pl.Int64),
        text_tokens=token_estimate_expr(text).sum().cast(pl.Int64),
    )


def _counts(cube: pl.DataFrame, by: str) -> dict[str, int]:
    return {str(k): int(v) for k, v in cube.group_by(by).agg(pl.col("rows").sum()).sort(by).iter_rows()}


def release_stats(cube: pl.DataFrame, disciplines: Sequence[str]) -> dict[str, Any]:
    """stats.json content from the aggregate cube."""
    by_disc_level = {d: dict.fromkeys(LEVEL_KEYS, 0) for d in disciplines}
    for d, level, n in cube.group_by("discipline", "level").agg(pl.col("rows").sum()).iter_rows():
        by_disc_level[d][level] = int(n)
    levels = _counts(cube, "level")
    return {
        "rows": int(cube["rows"].sum()),
        "disciplines": {d: sum(v.values()) for d, v in by_disc_level.items()},
        "discipline_difficulty": by_disc_level,
        "difficulty": {k: levels.get(k, 0) for k in LEVEL_KEYS},
        "language": _counts(cube, "language"),
        "qa_type": _counts(cube, "qa_type"),
        "backend_model": [
            {"backend": b, "model": m, "rows": int(n)}
            for b, m, n in cube.group_by("backend", "model")
            .agg(pl.col("rows").sum())
            .sort("backend", "model")
            .iter_rows()
        ],
        "enhanced_variants": int(cube["enhanced"].sum()),
        "tokens": {
            "prompt": int(cube["prompt_tokens"].sum()),
            "completion": int(cube["completion_tokens"].sum()),
            "text_estimate": int(cube["text_tokens"].sum()),
        },
    }


# --- plots --------------------------------------------------------------------------------


_CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "SimHei",
    "Microsoft YaHei",
)


def _new_figure(width: float, height: float) -> Figure:
    """An Agg figure (no pyplot global state) whose text falls back to an installed CJK font,
    so Chinese discipline names render when such a font exists (else they show as boxes)."""
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def _font_family() -> list[str]:
    installed = {f.name for f in font_manager.fontManager.ttflist}
    return ["DejaVu Sans", *(f for f in _CJK_FONTS if f in installed)]


def _save(fig: Figure, path: Path) -> Path:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        warnings.filterwarnings("ignore", message="Tight layout not applied")  # empty release: nothing to fit
        fig.tight_layout()
        fig.savefig(path, dpi=110)
    return path


def _plot_heatmap(stats: Mapping[str, Any], path: Path) -> Path:
    """Rows per discipline x difficulty level, annotated."""
    disciplines = list(stats["discipline_difficulty"])
    keys = [k for k in LEVEL_KEYS if k != "unscored" or stats["difficulty"]["unscored"]]
    matrix = np.array([[stats["discipline_difficulty"][d][k] for k in keys] for d in disciplines], dtype=float)
    fig = _new_figure(1.2 * len(keys) + 3.5, 0.4 * max(len(disciplines), 1) + 1.8)
    ax = fig.add_subplot()
    if matrix.size:
        image = ax.imshow(matrix, cmap="Blues", aspect="auto")
        fig.colorbar(image, ax=ax, label="rows")
        for (i, j), v in np.ndenumerate(matrix):
            dark = float(np.asarray(image.norm(v))) > 0.6
            ax.text(j, i, f"{int(v)}", ha="center", va="center", color="white" if dark else "black", fontsize=8)
    else:
        ax.text(0.5, 0.5, "no rows", ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks(range(len(keys)), keys)
    ax.set_yticks(range(len(disciplines)), disciplines)
    ax.set_xlabel("difficulty")
    ax.set_title("Rows per discipline and difficulty")
    return _save(fig, path)


def _plot_histogram(cube: pl.DataFrame, path: Path) -> Path:
    """Difficulty histogram, stacked by language."""
    fig = _new_figure(6, 3.6)
    ax = fig.add_subplot()
    keys = [k for k in LEVEL_KEYS if k != "unscored" or (cube["level"] == "unscored").any()]
    bottom = np.zeros(len(keys))
    for language in sorted(cube["language"].unique().to_list()):
        sub = dict(cube.filter(pl.col("language") == language).group_by("level").agg(pl.col("rows").sum()).iter_rows())
        heights = np.array([sub.get(k, 0) for k in keys], dtype=float)
        ax.bar(keys, heights, bottom=bottom, label=language)
        bottom += heights
    for x, total in enumerate(bottom):
        ax.text(x, total, f"{int(total)}", ha="center", va="bottom", fontsize=8)
    if cube.height:
        ax.legend(title="language")
    ax.set_xlabel("difficulty")
    ax.set_ylabel("rows")
    ax.set_title("Difficulty distribution")
    return _save(fig, path)


# --- dataset card -------------------------------------------------------------------------


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
            "They come from the pipeline's offline backend (models named `offline-*`): `offline-template-v1` "
            "composes existing seed questions into multi-part questions along a KP path (answers and explanations are "
            "the seeds' own; no new knowledge is added), and `offline-heuristic-v1` scores difficulty from surface "
            "features. Use these rows as a structural baseline or for pipeline testing, not as model-synthesized data.",
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
                schema={"discipline": pl.String, **{k: pl.Int64 for k in level_cols}, "total": pl.Int64},
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
