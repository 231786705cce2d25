"""The contract every seed adapter meets: one local file in, a `RawRead` out — parsed rows in
`RAW_SCHEMA`, unparseable rows as quarantine errors — plus the plumbing adapters share to build
it (error rows, per-row checks, required fields, the supported file types).

A row an adapter cannot parse becomes an `errors` row (QUARANTINE_SCHEMA: source, source_row,
field, reason, raw) instead of failing the file; a file that cannot be read at all raises
`SeedSourceError` naming it, which `unreadable_file` turns into one file-level errors row
(field `<file>`, no row number) so one bad file never stops the others. `source_row` is the
1-based data record for CSV (header excluded; a record may span lines), the line number for
JSON Lines, and the element / row index for JSON arrays and Parquet, so a user can find the
row in the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from linkqa_pipelines.core.contracts import QUARANTINE_SCHEMA, conform
from linkqa_pipelines.core.seeds.remote import SUPPORTED_SUFFIXES

RAW_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),
    "source_row": pl.Int64(),
    "adapter": pl.String(),
    "subject": pl.String(),
    "question": pl.String(),
    "choices": pl.List(pl.String()),
    "answer": pl.String(),
    "explanation": pl.String(),
    "ref_difficulty": pl.Int8(),
}


RAW_PREVIEW_CHARS = 500  # how much of an offending row the quarantine keeps
ROW = "__row__"  # internal row-number column; a file may carry its own `source_row`


class SeedSourceError(ValueError):
    """A seed file cannot be read at all; the message names the file (and row/field when known)."""


@dataclass(frozen=True)
class RawRead:
    """What one file yielded: parsed rows (RAW_SCHEMA), unparseable rows (QUARANTINE_SCHEMA)."""

    rows: pl.DataFrame
    errors: pl.DataFrame
    n_rows_in: int  # data rows found in the file = rows + errors


FILE_FIELD = "<file>"  # the `field` of a quarantine row that stands for a whole unreadable file


def unreadable_file(path: Path, error: SeedSourceError) -> RawRead:
    """A file that cannot be read as one quarantine row (no row number); it counts as one row in."""
    reason = str(error).removeprefix(f"{path}: ")
    errors = pl.DataFrame(
        {"source": [str(path)], "source_row": [None], "field": [FILE_FIELD], "reason": [reason], "raw": [None]},
        schema=QUARANTINE_SCHEMA,
    )
    return RawRead(rows=pl.DataFrame(schema=RAW_SCHEMA), errors=errors, n_rows_in=1)


def seed_suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise SeedSourceError(f"{path}: unsupported file type {suffix or '(none)'!r}; expected {SUPPORTED_SUFFIXES}")
    return suffix


def error_rows(rows: list[tuple[int, str, str, str]]) -> pl.DataFrame:
    """(row, field, reason, raw) tuples from a parsing loop as an errors frame (without source)."""
    return pl.DataFrame(
        rows, schema={ROW: pl.Int64, "field": pl.String, "reason": pl.String, "raw": pl.String}, orient="row"
    )


def split_errors(
    table: pl.DataFrame, checks: Sequence[tuple[str, pl.Expr, pl.Expr]]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows failing a check (the first failing one names field and reason) vs the rest."""
    failure: Any = None
    for field, failing, reason in checks:
        then = pl.struct(field=pl.lit(field), reason=reason)
        failure = pl.when(failing).then(then) if failure is None else failure.when(failing).then(then)
    marked = table.with_columns(failure.otherwise(None).alias("__failure__"))
    raw_json = pl.struct(pl.exclude(ROW, "__failure__")).struct.json_encode().str.slice(0, RAW_PREVIEW_CHARS)
    errors = marked.filter(pl.col("__failure__").is_not_null()).select(
        ROW, pl.col("__failure__").struct.unnest(), raw=raw_json
    )
    return marked.filter(pl.col("__failure__").is_null()).drop("__failure__"), errors


def finish_read(path: Path, adapter: str, rows: pl.DataFrame, *errors: pl.DataFrame) -> RawRead:
    """Add source/adapter, fill absent raw columns with nulls and cast both frames to their schemas."""
    source = str(path)
    given = {"source": pl.lit(source), "adapter": pl.lit(adapter)}
    present = {*rows.columns, *given, "source_row"}
    fill = [pl.lit(None, dtype).alias(c) for c, dtype in RAW_SCHEMA.items() if c not in present]
    rows = rows.rename({ROW: "source_row"}).with_columns(*fill, **given)
    err = pl.concat([e.select(ROW, "field", "reason", "raw") for e in errors]) if errors else error_rows([])
    err = err.rename({ROW: "source_row"}).with_columns(source=pl.lit(source)).sort("source_row")
    rows_out = conform(rows, RAW_SCHEMA).select(list(RAW_SCHEMA)).sort("source_row")
    err_out = conform(err, QUARANTINE_SCHEMA).select(list(QUARANTINE_SCHEMA))
    return RawRead(rows=rows_out, errors=err_out, n_rows_in=rows_out.height + err_out.height)


def require_fields(path: Path, names: Sequence[str], present: Sequence[str]) -> None:
    """A field no row has at all means the file has the wrong structure (not a per-row problem)."""
    missing = [n for n in names if n not in present]
    if missing:
        found = sorted(c for c in present if c != ROW)
        raise SeedSourceError(f"{path}: no {', '.join(map(repr, missing))} field in the file (found {found})")
