"""Release export: write a finished QA corpus as a release folder — shards, stats.json, plots,
dataset card and manifest — and swap it in atomically.

`write_release` streams the dataset one discipline at a time (pass a LazyFrame and only one
discipline's rows are in memory), writes each as Parquet and JSONL shards of at most
`shard_rows` rows under `data/<discipline>/`, and accumulates small aggregates
(`stats.aggregate`; with the KP catalog, for coverage) from which `stats.json`, the PNG plots
(`plots`) and the README.md dataset card (`card`) are made. The release is assembled in a
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
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import polars as pl

from linkqa_pipelines.core.contracts import SYNTH_QA_SCHEMA, conform
from linkqa_pipelines.core.release.card import CardInfo, dataset_card
from linkqa_pipelines.core.release.plots import write_plots
from linkqa_pipelines.core.release.stats import ReleaseAggregate, aggregate, combine, release_stats

MANIFEST = "manifest.json"


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
    kp_catalog: pl.DataFrame | pl.LazyFrame | None = None,
) -> ReleaseManifest:
    """Write the release (see module docstring) and return its manifest.

    `dataset` must carry the SYNTH_QA_SCHEMA columns (extra columns are kept after them);
    every discipline must be non-null. Row order within a discipline is preserved.
    `kp_catalog` (columns kp_id, disciplines) is what KP coverage is measured against.
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
    parts: list[ReleaseAggregate] = []
    sizes: dict[str, dict[str, int]] = {}  # per discipline: in-memory (Arrow) and Parquet bytes
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
            parts.append(aggregate(part))
            sizes[discipline] = {
                "memory": int(part.estimated_size()),
                "parquet": sum(s.bytes for s in shards if s.discipline == discipline and s.format == "parquet"),
            }
        catalog = None if kp_catalog is None else kp_catalog.lazy().select("kp_id", "disciplines").collect()
        agg = combine(parts)
        stats: dict[str, Any] = {**release_stats(agg, disciplines, catalog), "bytes": sizes}
        (tmp / "stats.json").write_text(json.dumps(stats, indent=2, ensure_ascii=False), encoding="utf-8")
        plot_paths = write_plots(stats, agg.cube, tmp / "plots")
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
