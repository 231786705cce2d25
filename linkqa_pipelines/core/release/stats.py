"""Release statistics: a small aggregate of the rows (discipline x difficulty x language x
qa_type x backend x model, with row and token counts), accumulated shard by shard, and the
`stats.json` content made from it, which the plots and the dataset card read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from linkqa_pipelines.core.text import token_estimate_expr

LEVEL_KEYS: tuple[str, ...] = ("1", "2", "3", "4", "5", "unscored")


def stats_cube(part: pl.DataFrame) -> pl.DataFrame:
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
