"""Release statistics: small aggregates of the rows, accumulated one discipline at a time, and
the `stats.json` content made from them, which the plots and the dataset card read.

The aggregates never hold rows: a cube (discipline x difficulty x language x qa_type x backend
x model x verification, with row and token counts), path lengths per discipline, and how many
rows use each KP (for coverage against the KP catalog).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from linkqa_pipelines.core.contracts import SYNTH_QA_SCHEMA
from linkqa_pipelines.core.release.tokens import TOKENIZER_NAME, count_tokens

LEVEL_KEYS: tuple[str, ...] = ("1", "2", "3", "4", "5", "unscored")
VERIFICATION_KEYS: tuple[str, ...] = ("verified", "refined", "failed", "unverified")
CHECKED = ("verified", "refined")  # rows a second model's answers agreed with (after refinement or not)


@dataclass(frozen=True)
class ReleaseAggregate:
    cube: pl.DataFrame  # CUBE_KEYS + rows, enhanced, prompt_tokens, completion_tokens, text_tokens
    path_lengths: pl.DataFrame  # discipline, kps (KPs on the item's path), rows
    kp_usage: pl.DataFrame  # discipline, kp_id, rows (items of the discipline linking the KP)


CUBE_KEYS = ("discipline", "level", "language", "qa_type", "backend", "model", "verification")


def aggregate(part: pl.DataFrame) -> ReleaseAggregate:
    """The aggregates of some rows (SYNTH_QA_SCHEMA); text tokens by `tokens.count_tokens` over
    question, choices, answer and rationale. Rows without a verdict count as unverified."""
    text = part.select(
        pl.concat_str(
            [pl.col("question"), pl.col("choices").list.join("\n"), pl.col("answer"), pl.col("rationale")],
            separator="\n",
            ignore_nulls=True,
        )
    ).to_series()
    enhanced = pl.col("enhanced_from").is_not_null() if "enhanced_from" in part.columns else pl.lit(False)
    verdict = pl.col("verification") if "verification" in part.columns else pl.lit(None, pl.String)
    cube = (
        part.with_columns(_text_tokens=pl.Series(count_tokens(text)))
        .group_by(
            "discipline",
            pl.col("difficulty").cast(pl.String).fill_null("unscored").alias("level"),
            "language",
            "qa_type",
            "backend",
            "model",
            verdict.fill_null("unverified").alias("verification"),
        )
        .agg(
            rows=pl.len().cast(pl.Int64),
            enhanced=enhanced.sum().cast(pl.Int64),
            prompt_tokens=pl.col("prompt_tokens").fill_null(0).sum().cast(pl.Int64),
            completion_tokens=pl.col("completion_tokens").fill_null(0).sum().cast(pl.Int64),
            text_tokens=pl.col("_text_tokens").sum().cast(pl.Int64),
        )
    )
    path_lengths = part.group_by("discipline", kps=pl.col("kp_ids").list.len().fill_null(0).cast(pl.Int64)).agg(
        rows=pl.len().cast(pl.Int64)
    )
    kp_usage = (
        part.select("discipline", kp_id=pl.col("kp_ids").list.unique())
        .explode("kp_id")
        .drop_nulls("kp_id")
        .group_by("discipline", "kp_id")
        .agg(rows=pl.len().cast(pl.Int64))
    )
    return ReleaseAggregate(cube=cube, path_lengths=path_lengths, kp_usage=kp_usage)


def combine(parts: Sequence[ReleaseAggregate]) -> ReleaseAggregate:
    """One aggregate of several (parts of different disciplines, as `write_release` makes them)."""
    if not parts:
        return aggregate(pl.DataFrame(schema=SYNTH_QA_SCHEMA))
    return ReleaseAggregate(
        cube=pl.concat([p.cube for p in parts]),
        path_lengths=pl.concat([p.path_lengths for p in parts]),
        kp_usage=pl.concat([p.kp_usage for p in parts]),
    )


def _counts(frame: pl.DataFrame, by: str) -> dict[str, int]:
    return {str(k): int(v) for k, v in frame.group_by(by).agg(pl.col("rows").sum()).sort(by).iter_rows()}


def kp_coverage(agg: ReleaseAggregate, catalog: pl.DataFrame | None) -> dict[str, Any]:
    """Share of the catalog's KPs (columns kp_id, disciplines) that released rows use, overall and
    per discipline, and the coverage curve: share of catalog KPs used by at least t rows.
    Without a catalog only the used counts are given."""
    usage = agg.kp_usage
    used_total = usage.group_by("kp_id").agg(pl.col("rows").sum())
    if catalog is None:
        return {
            "catalog_kps": None,
            "used_kps": used_total.height,
            "share": None,
            "disciplines": {
                d: {"catalog_kps": None, "used_kps": int(n), "share": None}
                for d, n in usage.group_by("discipline").len().sort("discipline").iter_rows()
            },
            "curve": [],
        }
    kps = catalog.select("kp_id").unique()
    in_catalog = used_total.join(kps, on="kp_id")
    per_kp = kps.join(used_total, on="kp_id", how="left").with_columns(pl.col("rows").fill_null(0))
    curve = (
        per_kp.filter(pl.col("rows") > 0)
        .group_by("rows")
        .len()
        .sort("rows", descending=True)
        .with_columns(at_least=pl.col("len").cum_sum())
        .sort("rows")
    )
    catalog_by_discipline = (
        catalog.select("kp_id", discipline=pl.col("disciplines")).explode("discipline").drop_nulls().unique()
    )
    per_discipline = (
        catalog_by_discipline.join(
            usage.select("discipline", "kp_id", used=pl.lit(True)), on=["discipline", "kp_id"], how="left"
        )
        .group_by("discipline")
        .agg(catalog_kps=pl.len(), used_kps=pl.col("used").sum())
    )
    disciplines = sorted(set(usage["discipline"].to_list()) | set(per_discipline["discipline"].to_list()))
    lookup = {r["discipline"]: r for r in per_discipline.iter_rows(named=True)}
    return {
        "catalog_kps": kps.height,
        "used_kps": in_catalog.height,
        "share": in_catalog.height / kps.height if kps.height else None,
        "not_in_catalog": used_total.height - in_catalog.height,
        "disciplines": {
            d: {
                "catalog_kps": int(lookup[d]["catalog_kps"]) if d in lookup else 0,
                "used_kps": int(lookup[d]["used_kps"]) if d in lookup else 0,
                "share": lookup[d]["used_kps"] / lookup[d]["catalog_kps"] if d in lookup else None,
            }
            for d in disciplines
        },
        # [t, share of catalog KPs used by >= t rows], one point per distinct usage count
        "curve": [[int(t), n / kps.height] for t, n in curve.select("rows", "at_least").iter_rows()],
    }


def release_stats(
    agg: ReleaseAggregate, disciplines: Sequence[str], catalog: pl.DataFrame | None = None
) -> dict[str, Any]:
    """stats.json content from the aggregates (`catalog`: the KP catalog, for coverage)."""
    cube = agg.cube
    by_disc_level = {d: dict.fromkeys(LEVEL_KEYS, 0) for d in disciplines}
    for d, level, n in cube.group_by("discipline", "level").agg(pl.col("rows").sum()).iter_rows():
        by_disc_level[d][level] = int(n)
    levels = _counts(cube, "level")
    rows = int(cube["rows"].sum())
    verification = _counts(cube, "verification")
    checked = sum(verification.get(k, 0) for k in CHECKED)
    return {
        "rows": rows,
        "disciplines": {d: sum(v.values()) for d, v in by_disc_level.items()},
        "discipline_difficulty": by_disc_level,
        "difficulty": {k: levels.get(k, 0) for k in LEVEL_KEYS},
        "language": _counts(cube, "language"),
        "qa_type": _counts(cube, "qa_type"),
        "backend_model": [
            {"backend": b, "model": m, "rows": int(n), "verified": int(v)}
            for b, m, n, v in cube.group_by("backend", "model")
            .agg(pl.col("rows").sum(), verified=pl.col("rows").filter(pl.col("verification").is_in(CHECKED)).sum())
            .sort("backend", "model")
            .iter_rows()
        ],
        "verification": {
            **{k: verification.get(k, 0) for k in VERIFICATION_KEYS},
            "verified_share": checked / rows if rows else None,
        },
        "path_length": _counts(agg.path_lengths.sort("kps"), "kps"),
        "kp_coverage": kp_coverage(agg, catalog),
        "enhanced_variants": int(cube["enhanced"].sum()),
        "tokens": {
            "prompt": int(cube["prompt_tokens"].sum()),
            "completion": int(cube["completion_tokens"].sum()),
            "text": int(cube["text_tokens"].sum()),
            "tokenizer": TOKENIZER_NAME,
        },
    }
