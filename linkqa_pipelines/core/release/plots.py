"""The release's PNG plots (rows per discipline, rows per discipline x difficulty, difficulty
histogram by language, KPs-per-item histogram, KP coverage curve), drawn on Agg figures without
pyplot's global state, with a CJK font when one is installed.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import polars as pl
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from linkqa_pipelines.core.release.stats import LEVEL_KEYS

_CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "SimHei",
    "Microsoft YaHei",
)


def write_plots(stats: Mapping[str, Any], cube: pl.DataFrame, folder: Path) -> tuple[Path, ...]:
    """Draw the release plots into `folder`; returns their paths."""
    # through the module: the stub's rc_context signature has a bare os.PathLike, partially unknown on import
    with mpl.rc_context({"font.family": _font_family()}):
        return (
            _plot_disciplines(stats, folder / "discipline_distribution.png"),
            _plot_heatmap(stats, folder / "discipline_difficulty.png"),
            _plot_histogram(cube, folder / "difficulty_histogram.png"),
            _plot_path_lengths(stats, folder / "path_length_histogram.png"),
            _plot_coverage(stats, folder / "kp_coverage_curve.png"),
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


def _plot_disciplines(stats: Mapping[str, Any], path: Path) -> Path:
    """Rows per discipline, largest first (horizontal bars: long names stay readable)."""
    counts = sorted(stats["disciplines"].items(), key=lambda kv: (-kv[1], kv[0]))
    fig = _new_figure(7, 0.3 * max(len(counts), 1) + 1.6)
    ax = fig.add_subplot()
    names = [d for d, _ in counts][::-1]
    values = [n for _, n in counts][::-1]
    ax.barh(names, values, color="#4c72b0")
    for y, v in enumerate(values):
        ax.text(v, y, f" {v}", va="center", fontsize=8)
    if not counts:
        ax.text(0.5, 0.5, "no rows", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("rows")
    ax.set_title("Rows per discipline")
    return _save(fig, path)


def _plot_path_lengths(stats: Mapping[str, Any], path: Path) -> Path:
    """How many KPs each item links (its walk's length)."""
    lengths = stats["path_length"]
    fig = _new_figure(6, 3.6)
    ax = fig.add_subplot()
    keys = list(lengths)
    ax.bar(keys, [lengths[k] for k in keys], color="#55a868")
    for x, k in enumerate(keys):
        ax.text(x, lengths[k], f"{lengths[k]}", ha="center", va="bottom", fontsize=8)
    if not keys:
        ax.text(0.5, 0.5, "no rows", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("KPs on the item's path")
    ax.set_ylabel("rows")
    ax.set_title("Path-length histogram")
    return _save(fig, path)


def _plot_coverage(stats: Mapping[str, Any], path: Path) -> Path:
    """Share of the catalog's KPs used by at least t released rows, against t (log scale)."""
    coverage = stats["kp_coverage"]
    fig = _new_figure(6, 3.6)
    ax = fig.add_subplot()
    curve = np.array(coverage["curve"], dtype=float).reshape(-1, 2)
    if curve.shape[0]:
        ax.step(curve[:, 0], curve[:, 1], where="post", color="#c44e52")
        ax.set_xscale("log")
        ax.set_ylim(0, 1)
    else:
        why = "no KP catalog given" if coverage["catalog_kps"] is None else "no catalog KP is used"
        ax.text(0.5, 0.5, why, ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("t (rows linking the KP)")
    ax.set_ylabel("share of catalog KPs used by >= t rows")
    share = coverage["share"]
    ax.set_title("KP coverage" + (f": {share:.1%} of the catalog used" if share is not None else ""))
    return _save(fig, path)
