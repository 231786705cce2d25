"""Machine- and clock-independent digests of a lake's tables, for the behaviour-parity test.

A table is every `data.parquet` under `<lake>/<table>/` (Hive partition folders included),
unioned by column name. Its digest is the sha256 of its rows in canonical form, so two runs
of the same code on different machines, homes, checkouts or days digest identically:

- clock columns (`recorded_at`, `*seconds`) are dropped: they change every run;
- `source` (the seed file's absolute path) keeps only its file name; `s3://` URIs stay whole;
- any other string containing a local seed directory's absolute path (e.g. a quarantine
  `reason`/`raw`) has that directory prefix removed: the checkout's location is not behaviour.
  The directories are the parents of the local `source` values in the seed tables;
- lists and structs become JSON text; floats are rounded to 9 significant digits, so float
  noise in the last bits (summation order, BLAS) does not count as a change;
- rows are serialised as JSON arrays (columns in sorted order) and sorted, so row order and
  column order do not matter, while duplicates still do.

Checked on the pre-restructure code: two runs from the same checkout gave value-identical
tables; a third from a copy of the checkout at another path, with another home and cwd,
differed only in `source` (seed_sources, seed_qa, seed_accounting). With these rules all
three digest identically. Ids are hashes of content and seed file *names*, so need nothing.
The other rules are precautions: the sample run has no clock values (llm_failures is empty),
no quarantined rows and no float drift between runs.

The golden `golden/sample_run.json` is made from a sample run's lake with
`python -m linkqa_pipelines_tests.lake_digest <home>/lake > linkqa_pipelines_tests/golden/sample_run.json`
(two runs of the current code digest identically; checked when it was regenerated).
"""

from __future__ import annotations

import hashlib
import math
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import orjson
import polars as pl

SEED_TABLES = ("seed_sources", "seed_accounting", "seed_quarantine", "seed_qa")
SIGNIFICANT = 9


def is_clock_column(name: str) -> bool:
    """Wall-clock columns differ on every run, so they are never compared."""
    return name == "recorded_at" or name.endswith("seconds")


def read_table(table_dir: Path) -> pl.DataFrame:
    """All partitions of one table, unioned by column name (a partition may lack a column)."""
    files = sorted(table_dir.rglob("data.parquet"))
    if not files:
        return pl.DataFrame()
    return pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")


def seed_dirs(lake_root: Path) -> list[str]:
    """Local directories the seeds were read from (longest first), taken from the seed tables' `source`."""
    dirs: set[str] = set()
    for name in SEED_TABLES:
        frame = read_table(lake_root / name)
        if "source" in frame.columns:
            for src in frame["source"].drop_nulls().unique().to_list():
                if "://" not in src:
                    dirs.add(str(Path(src).parent))
    return sorted((d for d in dirs if d not in ("", ".", "/")), key=len, reverse=True)


def _canon(value: Any, strip: Sequence[str]) -> Any:
    """One cell as a JSON-ready value with the machine-dependent parts removed."""
    if isinstance(value, float):
        return value if math.isnan(value) or math.isinf(value) else float(f"{value:.{SIGNIFICANT}g}")
    if isinstance(value, str):
        for prefix in strip:
            value = value.replace(prefix + "/", "").replace(prefix, ".")
        return value
    if isinstance(value, list):
        return [_canon(v, strip) for v in value]
    if isinstance(value, dict):
        return {k: _canon(v, strip) for k, v in value.items()}
    return value


def _json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY, default=str)


def canonical_rows(frame: pl.DataFrame, columns: Iterable[str], strip: Sequence[str] = ()) -> list[bytes]:
    """The selected columns' rows in canonical form (see the module docstring), sorted."""
    cols = sorted(c for c in set(columns) if not is_clock_column(c))
    selected = frame.select(cols)
    if "source" in cols:  # file name only; s3:// URIs are location-independent and stay
        src = pl.col("source")
        selected = selected.with_columns(
            pl.when(src.str.contains("://")).then(src).otherwise(src.str.extract(r"([^/\\]+)$", 1))
        )
    out = []
    for row in selected.iter_rows():
        cells = [_canon(v, strip) for v in row]
        cells = [_json(c).decode() if isinstance(c, (list, dict)) else c for c in cells]
        out.append(_json(cells))
    return sorted(out)


def digest(frame: pl.DataFrame, columns: list[str], strip: Sequence[str] = ()) -> str:
    """sha256 of the canonical rows; `strip` are seed directories to make relative in strings."""
    h = hashlib.sha256()
    for row in canonical_rows(frame, columns, strip):
        h.update(row + b"\n")
    return h.hexdigest()


def table_names(lake_root: Path) -> list[str]:
    return sorted(p.name for p in lake_root.iterdir() if p.is_dir() and any(p.rglob("data.parquet")))


def table_digests(lake_root: Path) -> dict[str, dict]:
    """Per table: rows, sorted columns and the digest over all of them."""
    strip = seed_dirs(lake_root)
    result: dict[str, dict] = {}
    for name in table_names(lake_root):
        frame = read_table(lake_root / name)
        columns = sorted(frame.columns)
        result[name] = {"rows": frame.height, "columns": columns, "sha256": digest(frame, columns, strip)}
    return result


def compare(lake_root: Path, golden: dict[str, dict]) -> list[str]:
    """One line per golden table that is missing, lacks a golden column, or differs in rows or digest.

    Extra tables and columns in `lake_root` are fine: only the golden's columns are digested.
    """
    strip = seed_dirs(lake_root)
    problems: list[str] = []
    for table, want in sorted(golden.items()):
        if not (lake_root / table).is_dir():
            problems.append(f"{table}: table missing")
            continue
        frame = read_table(lake_root / table)
        missing = sorted(set(want["columns"]) - set(frame.columns))
        if missing:
            problems.append(f"{table}: columns missing {missing}")
            continue
        got = digest(frame, want["columns"], strip)
        if frame.height != want["rows"] or got != want["sha256"]:
            rows = f"rows {frame.height} (golden {want['rows']})"
            problems.append(f"{table}: {rows}, sha256 {got[:12]} (golden {want['sha256'][:12]})")
    return problems


def main(argv: Sequence[str] | None = None) -> None:
    """Print the digests of the lake given on the command line as pretty, key-sorted JSON."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        raise SystemExit("usage: python -m linkqa_pipelines_tests.lake_digest LAKE_ROOT")
    data = table_digests(Path(args[0]))
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n")


if __name__ == "__main__":
    main()
