"""Record parsing for the adapters: CSV records (quoted fields may hold commas and newlines)
and JSON Lines / JSON arrays into numbered tables, with per-row errors. Python loops appear
only here, where a format needs them; field extraction and checks are Polars expressions.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import orjson
import polars as pl

from linkqa_pipelines.core.seeds.decoding import printable, read_text, undecodable_reason
from linkqa_pipelines.core.seeds.raw import RAW_PREVIEW_CHARS, ROW, SeedSourceError, error_rows, require_fields

# The csv module's default limit (128 KiB per field) would fail the whole file on one huge field;
# with no limit here the normaliser's `max_field_chars` quarantines just that row.
csv.field_size_limit(2**31 - 1)


def csv_records(path: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """CSV records as a list column, numbered from 1 (quoted fields may hold commas and newlines),
    and the records holding bytes that are not UTF-8 as row errors (field = its column).

    Blank and whitespace-only lines are not records; a record of empty fields (`,,,`) is one,
    so it reaches validation and the quarantine instead of vanishing.
    """
    reader = csv.reader(io.StringIO(read_text(path), newline=""), strict=True)
    try:
        records = [r for r in reader if len(r) > 1 or (r and r[0].strip())]
    except csv.Error as exc:
        raise SeedSourceError(f"{path}: malformed CSV near line {reader.line_num}: {exc}") from exc
    good: list[list[str]] = []
    numbers: list[int] = []
    errors: list[tuple[int, str, str, str]] = []
    for number, record in enumerate(records, 1):
        bad = next(((i, r) for i, f in enumerate(record) if (r := undecodable_reason(f))), None)
        if bad is None:
            good.append(record)
            numbers.append(number)
        else:
            errors.append((number, f"column {bad[0] + 1}", bad[1], printable(",".join(record))))
    frame = pl.DataFrame({ROW: numbers, "fields": good}, schema={ROW: pl.Int64, "fields": pl.List(pl.String)})
    return frame, error_rows(errors)


def csv_header(path: Path, read: tuple[pl.DataFrame, pl.DataFrame]) -> tuple[list[str], pl.DataFrame, pl.DataFrame]:
    """Split off the header record; data rows (and their encoding errors) are renumbered from 1."""
    records, errors = read
    if records.height == 0 or records[ROW][0] != 1:
        raise SeedSourceError(f"{path}: empty CSV or unreadable header, expected a header row")
    header = [h.strip() for h in records["fields"][0]]
    return header, records.slice(1).with_columns(pl.col(ROW) - 1), errors.with_columns(pl.col(ROW) - 1)


def csv_columns(records: pl.DataFrame, names: Sequence[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Records with exactly len(names) fields as named columns; others become `<csv>` errors."""
    width = pl.col("fields").list.len()
    bad = records.filter(width != len(names)).select(
        ROW,
        field=pl.lit("<csv>"),
        reason=pl.concat_str(
            pl.lit(f"expected {len(names)} fields ({', '.join(names)}), found "), width.cast(pl.String)
        ),
        raw=pl.col("fields").list.join(",").str.slice(0, RAW_PREVIEW_CHARS),
    )
    good = records.filter(width == len(names)).select(
        ROW, *(pl.col("fields").list.get(i).alias(name) for i, name in enumerate(names))
    )
    return good, bad


def json_records(path: Path) -> tuple[list[tuple[int, dict[str, Any]]], list[tuple[int, str, str, str]]]:
    """Objects of a JSON Lines file (or a `.json` array) with their row numbers, plus per-row errors.

    A malformed line is a row error (field `<json>`); a file where no line parses, or whose
    top level is not an array of records / JSON Lines, is a file error.
    """
    text = read_text(path)
    items: list[tuple[int, Any]] = []
    errors: list[tuple[int, str, str, str]] = []
    if path.suffix.lower() == ".json" and text.lstrip().startswith("["):
        if reason := undecodable_reason(text):
            raise SeedSourceError(f"{path}: {reason} (a JSON array is read whole; re-encode the file as UTF-8)")
        try:
            items = list(enumerate(cast(list[Any], orjson.loads(text)), 1))  # the text opens with '['
        except orjson.JSONDecodeError as exc:
            raise SeedSourceError(f"{path}: not valid JSON ({exc})") from exc
    else:
        for number, line in enumerate(text.split("\n"), 1):
            line = line.strip()
            if not line:
                continue
            if reason := undecodable_reason(line):
                errors.append((number, "<encoding>", reason, printable(line)))
                continue
            try:
                items.append((number, orjson.loads(line)))
            except orjson.JSONDecodeError as exc:
                errors.append((number, "<json>", f"malformed JSON line: {exc}", line[:RAW_PREVIEW_CHARS]))
        if errors and not items:
            raise SeedSourceError(f"{path}: not JSON Lines, no line parses (line {errors[0][0]}: {errors[0][2]})")
        if path.suffix.lower() == ".json" and len(items) == 1 and not errors and isinstance(items[0][1], dict):
            raise SeedSourceError(f"{path}: top-level JSON object; expected an array of records or JSON Lines")
    records: list[tuple[int, dict[str, Any]]] = []
    for number, item in items:
        if isinstance(item, dict):
            records.append((number, cast(dict[str, Any], item)))  # a JSON object: string keys
        else:
            raw = orjson.dumps(item).decode()[:RAW_PREVIEW_CHARS]
            errors.append((number, "<json>", f"row is a JSON {type(item).__name__}, not an object", raw))
    return records, errors


def _text(value: Any) -> str | None:
    """A scalar JSON value as text; nested values are an error (raised as ValueError with the reason)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float)):
        return str(value)
    raise ValueError(f"expected text, got a JSON {type(value).__name__}")


def choice_list(value: Any) -> list[str | None] | None:
    """Choices given as a list or as a JSON string of a list."""
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"choices is a string but not a JSON list ({exc})") from exc
    if value is None:
        return None
    if not isinstance(value, list):
        raise ValueError(f"choices must be a list, got a JSON {type(value).__name__}")
    return [_text(v) for v in cast(list[Any], value)]


def json_table(
    path: Path, records: list[tuple[int, dict[str, Any]]], fields: Sequence[str], required: Sequence[str] = ()
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Columns `fields` of JSON records (text; `choices` as list[str]); bad values are row errors.

    A `required` key that no record has is a file error; one missing from some records is
    left null for the normaliser to quarantine as a missing field.
    """
    if records:
        require_fields(path, required, list(set[str]().union(*(r.keys() for _, r in records))))
    columns: dict[str, list[Any]] = {ROW: [], **{f: [] for f in fields}}
    errors: list[tuple[int, str, str, str]] = []
    for number, record in records:
        values: list[Any] = []
        for field in fields:
            convert = choice_list if field.strip().lower() == "choices" else _text
            try:
                values.append(convert(record.get(field)))
            except ValueError as exc:
                errors.append((number, field, str(exc), orjson.dumps(record).decode()[:RAW_PREVIEW_CHARS]))
                break
        if len(values) < len(fields):
            continue
        columns[ROW].append(number)
        for field, value in zip(fields, values, strict=True):
            columns[field].append(value)
    text_or_list = {f: pl.List(pl.String) if f.strip().lower() == "choices" else pl.String for f in fields}
    schema = {ROW: pl.Int64, **text_or_list}
    return pl.DataFrame(columns, schema=schema), error_rows(errors)
