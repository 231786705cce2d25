"""Seed source adapters: one local file in, a raw Polars frame plus row-level read errors out.

Every adapter returns the same `RAW_SCHEMA` columns, so `seed_normalise` treats all
sources alike. A row an adapter cannot parse becomes an `errors` row (QUARANTINE_SCHEMA:
source, source_row, field, reason, raw) instead of failing the file; a file that cannot
be read at all raises `SeedSourceError` naming it. Python loops appear only where a
format needs them (CSV records, JSON lines and values, the balanced braces of
`\\boxed{}`); field extraction and checks are Polars expressions.

`source_row` is the 1-based data record for CSV (header excluded; a record may span
lines), the line number for JSON Lines, and the element / row index for JSON arrays and
Parquet, so a user can find the row in the file.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from linkqa_pipelines.core.contracts import QUARANTINE_SCHEMA, conform, empty_frame
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
_ROW = "__row__"  # internal row-number column; a file may carry its own `source_row`
_SNIFF_BYTES = 256 * 1024
_MMLU_NAME = re.compile(r"^(?P<subject>.+)_(?:test|dev|val)$")
_CMMLU_HEADER = ["Question", "A", "B", "C", "D", "Answer"]
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_BOXED = re.compile(r"\\(?:boxed|fbox)\b\s*")


class SeedSourceError(ValueError):
    """A seed file cannot be read at all; the message names the file (and row/field when known)."""


@dataclass(frozen=True)
class RawRead:
    """What one file yielded: parsed rows (RAW_SCHEMA), unparseable rows (QUARANTINE_SCHEMA)."""

    rows: pl.DataFrame
    errors: pl.DataFrame
    n_rows_in: int  # data rows found in the file = rows + errors


# ---------------------------------------------------------------- shared plumbing


_UNDECODABLE = re.compile("[\udc80-\udcff]")  # bytes that were not UTF-8, kept by surrogateescape
_MAX_BAD_LINE_SHARE = 0.5  # above this a file is in another encoding, not a UTF-8 file with bad rows


def _read_text(path: Path) -> str:
    """Whole file as text: UTF-8 with an optional BOM.

    A few undecodable bytes are kept as surrogate escapes so the rows holding them can be
    quarantined one by one (`_undecodable_reason`); a file mostly in another encoding, or
    holding NUL bytes (UTF-16, binary), cannot be read at all and is a file-level error.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SeedSourceError(f"{path}: cannot read file ({exc.strerror or exc})") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        lines = data.splitlines()
        bad_lines = sum(1 for line in lines if not _is_utf8(line))
        if b"\x00" in data or bad_lines > _MAX_BAD_LINE_SHARE * max(len(lines), 1):
            line = data.count(b"\n", 0, exc.start) + 1
            raise SeedSourceError(
                f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at line {line}, byte offset {exc.start}; "
                f"{bad_lines} of {len(lines)} lines undecodable); re-encode the file as UTF-8"
            ) from exc
        return data.decode("utf-8-sig", errors="surrogateescape")


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _undecodable_reason(text: str) -> str | None:
    """Why a row's text is unreadable (its first non-UTF-8 byte), or None when it is clean."""
    found = _UNDECODABLE.search(text)
    if found is None:
        return None
    return f"unreadable encoding: byte 0x{ord(found.group()) - 0xDC00:02x} is not UTF-8"


def _printable(text: str) -> str:
    """Text with escaped bytes shown as U+FFFD, safe to store and print."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")[:RAW_PREVIEW_CHARS]


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise SeedSourceError(f"{path}: unsupported file type {suffix or '(none)'!r}; expected {SUPPORTED_SUFFIXES}")
    return suffix


def _error_rows(rows: list[tuple[int, str, str, str]]) -> pl.DataFrame:
    """(row, field, reason, raw) tuples from a parsing loop as an errors frame (without source)."""
    return pl.DataFrame(
        rows, schema={_ROW: pl.Int64, "field": pl.String, "reason": pl.String, "raw": pl.String}, orient="row"
    )


def _split_errors(
    table: pl.DataFrame, checks: Sequence[tuple[str, pl.Expr, pl.Expr]]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows failing a check (the first failing one names field and reason) vs the rest."""
    failure: Any = None
    for field, failing, reason in checks:
        then = pl.struct(field=pl.lit(field), reason=reason)
        failure = pl.when(failing).then(then) if failure is None else failure.when(failing).then(then)
    marked = table.with_columns(failure.otherwise(None).alias("__failure__"))
    raw_json = pl.struct(pl.exclude(_ROW, "__failure__")).struct.json_encode().str.slice(0, RAW_PREVIEW_CHARS)
    errors = marked.filter(pl.col("__failure__").is_not_null()).select(
        _ROW, pl.col("__failure__").struct.unnest(), raw=raw_json
    )
    return marked.filter(pl.col("__failure__").is_null()).drop("__failure__"), errors


def _finish(path: Path, adapter: str, rows: pl.DataFrame, *errors: pl.DataFrame) -> RawRead:
    """Add source/adapter, fill absent raw columns with nulls and cast both frames to their schemas."""
    source = str(path)
    given = {"source": pl.lit(source), "adapter": pl.lit(adapter)}
    present = {*rows.columns, *given, "source_row"}
    fill = [pl.lit(None, dtype).alias(c) for c, dtype in RAW_SCHEMA.items() if c not in present]
    rows = rows.rename({_ROW: "source_row"}).with_columns(*fill, **given)
    err = (
        pl.concat([e.select(_ROW, "field", "reason", "raw") for e in errors])
        if errors
        else _error_rows([])
    )
    err = err.rename({_ROW: "source_row"}).with_columns(source=pl.lit(source)).sort("source_row")
    rows_out = conform(rows, RAW_SCHEMA).select(list(RAW_SCHEMA)).sort("source_row")
    err_out = conform(err, QUARANTINE_SCHEMA).select(list(QUARANTINE_SCHEMA))
    return RawRead(rows=rows_out, errors=err_out, n_rows_in=rows_out.height + err_out.height)


def _require(path: Path, names: Sequence[str], present: Sequence[str]) -> None:
    """A field no row has at all means the file has the wrong structure (not a per-row problem)."""
    missing = [n for n in names if n not in present]
    if missing:
        found = sorted(c for c in present if c != _ROW)
        raise SeedSourceError(f"{path}: no {', '.join(map(repr, missing))} field in the file (found {found})")


# ---------------------------------------------------------------- CSV


def _csv_records(path: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """CSV records as a list column, numbered from 1 (quoted fields may hold commas and newlines),
    and the records holding bytes that are not UTF-8 as row errors (field = its column).

    Blank and whitespace-only lines are not records; a record of empty fields (`,,,`) is one,
    so it reaches validation and the quarantine instead of vanishing.
    """
    reader = csv.reader(io.StringIO(_read_text(path), newline=""), strict=True)
    try:
        records = [r for r in reader if len(r) > 1 or (r and r[0].strip())]
    except csv.Error as exc:
        raise SeedSourceError(f"{path}: malformed CSV near line {reader.line_num}: {exc}") from exc
    good: list[list[str]] = []
    numbers: list[int] = []
    errors: list[tuple[int, str, str, str]] = []
    for number, record in enumerate(records, 1):
        bad = next(((i, r) for i, f in enumerate(record) if (r := _undecodable_reason(f))), None)
        if bad is None:
            good.append(record)
            numbers.append(number)
        else:
            errors.append((number, f"column {bad[0] + 1}", bad[1], _printable(",".join(record))))
    frame = pl.DataFrame({_ROW: numbers, "fields": good}, schema={_ROW: pl.Int64, "fields": pl.List(pl.String)})
    return frame, _error_rows(errors)


def _csv_header(
    path: Path, read: tuple[pl.DataFrame, pl.DataFrame]
) -> tuple[list[str], pl.DataFrame, pl.DataFrame]:
    """Split off the header record; data rows (and their encoding errors) are renumbered from 1."""
    records, errors = read
    if records.height == 0 or records[_ROW][0] != 1:
        raise SeedSourceError(f"{path}: empty CSV or unreadable header, expected a header row")
    header = [h.strip() for h in records["fields"][0]]
    return header, records.slice(1).with_columns(pl.col(_ROW) - 1), errors.with_columns(pl.col(_ROW) - 1)


def _csv_columns(records: pl.DataFrame, names: Sequence[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Records with exactly len(names) fields as named columns; others become `<csv>` errors."""
    width = pl.col("fields").list.len()
    bad = records.filter(width != len(names)).select(
        _ROW,
        field=pl.lit("<csv>"),
        reason=pl.concat_str(
            pl.lit(f"expected {len(names)} fields ({', '.join(names)}), found "), width.cast(pl.String)
        ),
        raw=pl.col("fields").list.join(",").str.slice(0, RAW_PREVIEW_CHARS),
    )
    good = records.filter(width == len(names)).select(
        _ROW, *(pl.col("fields").list.get(i).alias(name) for i, name in enumerate(names))
    )
    return good, bad


def mmlu_csv(path: Path) -> RawRead:
    """MMLU `<subject>_test|dev|val.csv`: no header; question, A, B, C, D, answer letter."""
    match = _MMLU_NAME.match(path.stem)
    subject = match["subject"] if match else path.stem
    records, unreadable = _csv_records(path)
    good, bad = _csv_columns(records, ["question", "A", "B", "C", "D", "answer"])
    rows = good.select(_ROW, "question", "answer", choices=pl.concat_list("A", "B", "C", "D"), subject=pl.lit(subject))
    return _finish(path, "mmlu_csv", rows, bad, unreadable)


def cmmlu_csv(path: Path) -> RawRead:
    """CMMLU `<subject>.csv`: header `,Question,A,B,C,D,Answer` (first column is a row index)."""
    header, records, unreadable = _csv_header(path, _csv_records(path))
    if header[1:] != _CMMLU_HEADER or len(header) != 7:
        raise SeedSourceError(f"{path}: expected the CMMLU header ',Question,A,B,C,D,Answer', found {header}")
    good, bad = _csv_columns(records, ["index", *_CMMLU_HEADER])
    rows = good.select(
        _ROW,
        question="Question",
        answer="Answer",
        choices=pl.concat_list("A", "B", "C", "D"),
        subject=pl.lit(path.stem),
    )
    return _finish(path, "cmmlu_csv", rows, bad, unreadable)


# ---------------------------------------------------------------- JSON


def _json_records(path: Path) -> tuple[list[tuple[int, dict[str, Any]]], list[tuple[int, str, str, str]]]:
    """Objects of a JSON Lines file (or a `.json` array) with their row numbers, plus per-row errors.

    A malformed line is a row error (field `<json>`); a file where no line parses, or whose
    top level is not an array of records / JSON Lines, is a file error.
    """
    text = _read_text(path)
    items: list[tuple[int, Any]] = []
    errors: list[tuple[int, str, str, str]] = []
    if path.suffix.lower() == ".json" and text.lstrip().startswith("["):
        if reason := _undecodable_reason(text):
            raise SeedSourceError(f"{path}: {reason} (a JSON array is read whole; re-encode the file as UTF-8)")
        try:
            items = list(enumerate(orjson.loads(text), 1))
        except orjson.JSONDecodeError as exc:
            raise SeedSourceError(f"{path}: not valid JSON ({exc})") from exc
    else:
        for number, line in enumerate(text.split("\n"), 1):
            line = line.strip()
            if not line:
                continue
            if reason := _undecodable_reason(line):
                errors.append((number, "<encoding>", reason, _printable(line)))
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
            records.append((number, item))
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


def _choice_list(value: Any) -> list[str | None] | None:
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
    return [_text(v) for v in value]


def _json_table(
    path: Path, records: list[tuple[int, dict[str, Any]]], fields: Sequence[str], required: Sequence[str] = ()
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Columns `fields` of JSON records (text; `choices` as list[str]); bad values are row errors.

    A `required` key that no record has is a file error; one missing from some records is
    left null for the normaliser to quarantine as a missing field.
    """
    if records:
        _require(path, required, list(set().union(*(r.keys() for _, r in records))))
    columns: dict[str, list[Any]] = {_ROW: [], **{f: [] for f in fields}}
    errors: list[tuple[int, str, str, str]] = []
    for number, record in records:
        values: list[Any] = []
        for field in fields:
            convert = _choice_list if field.strip().lower() == "choices" else _text
            try:
                values.append(convert(record.get(field)))
            except ValueError as exc:
                errors.append((number, field, str(exc), orjson.dumps(record).decode()[:RAW_PREVIEW_CHARS]))
                break
        if len(values) < len(fields):
            continue
        columns[_ROW].append(number)
        for field, value in zip(fields, values, strict=True):
            columns[field].append(value)
    text_or_list = {f: pl.List(pl.String) if f.strip().lower() == "choices" else pl.String for f in fields}
    schema = {_ROW: pl.Int64, **text_or_list}
    return pl.DataFrame(columns, schema=schema), _error_rows(errors)


def gsm8k_jsonl(path: Path) -> RawRead:
    """GSM8K: `question`, `answer` = worked solution ending in `#### <final>`."""
    records, json_errors = _json_records(path)
    table, value_errors = _json_table(path, records, ["question", "answer"], required=["question", "answer"])
    solution = pl.col("answer")
    table, no_final = _split_errors(
        table,
        [
            (
                "answer",
                solution.is_not_null() & ~solution.str.contains("####"),
                pl.lit("solution has no '#### <final answer>' line"),
            )
        ],
    )
    final = solution.str.extract(r"(?s).*####(.*)$", 1).str.strip_chars()
    rows = table.select(
        _ROW,
        "question",
        answer=pl.when(final.str.contains(r"^[-+]?[\d,]*\d(\.\d+)?$"))  # 1,000 -> 1000
        .then(final.str.replace_all(",", ""))
        .otherwise(final),
        explanation=solution.str.extract(r"(?s)^(.*)####", 1).str.replace_all(r"<<[^>]*>>", "").str.strip_chars(),
        subject=pl.lit("gsm8k"),
    )
    return _finish(path, "gsm8k_jsonl", rows, _error_rows(json_errors), value_errors, no_final)


def last_boxed(text: str) -> str | None:
    """Content of the last top-level `\\boxed{...}` / `\\fbox{...}` (balanced braces), or None.

    Braces nest arbitrarily (`\\boxed{\\frac{1}{2}}`), which no regex can match, hence the scan.
    The brace-less form `\\boxed 5` yields `5`.
    """
    answer = None
    pos = 0
    while match := _BOXED.search(text, pos):
        start = match.end()
        if not text.startswith("{", start):
            bare = re.match(r"[^\s$]+", text[start:])
            answer, pos = (bare.group(0), start + bare.end()) if bare else (answer, start)
            continue
        depth, i = 0, start
        while i < len(text):
            char = text[i]
            if char == "\\":
                i += 2
                continue
            depth += {"{": 1, "}": -1}.get(char, 0)
            if depth == 0:
                break
            i += 1
        if depth != 0:  # unbalanced to the end of the text
            return answer
        answer, pos = text[start + 1 : i], i + 1
    return answer


def math_jsonl(path: Path) -> RawRead:
    """MATH: `problem`, `level` ("Level N"), `type` (subject), `solution` with the answer in the last `\\boxed{}`."""
    records, json_errors = _json_records(path)
    fields = ["problem", "level", "type", "solution"]
    table, value_errors = _json_table(path, records, fields, required=["problem", "solution"])
    boxed = pl.Series("boxed", [None if s is None else last_boxed(s) for s in table["solution"]], dtype=pl.String)
    level = pl.col("level").str.strip_chars()
    level_n = level.str.extract(r"^Level\s+(\d+)$", 1).cast(pl.Int8, strict=False)
    table, bad = _split_errors(
        table.with_columns(boxed),
        [
            (
                "solution",
                pl.col("solution").is_not_null() & pl.col("boxed").is_null(),
                pl.lit("no \\boxed{...} or \\fbox{...} final answer in the solution"),
            ),
            (
                "level",
                level.is_not_null() & level_n.is_null() & (level != "Level ?"),
                pl.format("level {} is not 'Level N' or 'Level ?'", level),
            ),
        ],
    )
    rows = table.select(
        _ROW,
        question="problem",
        answer="boxed",
        explanation="solution",
        ref_difficulty=level_n,
        subject=pl.col("type").fill_null("math"),
    )
    return _finish(path, "math_jsonl", rows, _error_rows(json_errors), value_errors, bad)


# ---------------------------------------------------------------- generic

_GENERIC_FIELDS = {  # raw column -> accepted names in the file (case-insensitive)
    "question": ("question",),
    "answer": ("answer",),
    "choices": ("choices",),
    "subject": ("subject",),
    "explanation": ("explanation",),
    "ref_difficulty": ("difficulty", "ref_difficulty"),
}


def _generic_rows(path: Path, table: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Map a table with the generic layout to raw columns; choices from a list / JSON-string column or A, B, C..."""
    by_key: dict[str, str] = {}
    for column in table.columns:
        key = column.strip().lower() if len(column.strip()) > 1 else column.strip().upper()
        if key in by_key:
            raise SeedSourceError(f"{path}: columns {by_key[key]!r} and {column!r} both name {key!r}")
        by_key[key] = column
    _require(path, ["question", "answer"], list(by_key))
    found = {raw: next((by_key[n] for n in names if n in by_key), None) for raw, names in _GENERIC_FIELDS.items()}
    errors: list[pl.DataFrame] = []
    choices: pl.Expr = pl.lit(None, pl.List(pl.String))
    if found["choices"] is not None:
        table, errors = _generic_choices(path, table, found["choices"])
        choices = pl.col(found["choices"])
    elif "A" in by_key:
        letters = []
        for letter in _LETTERS:  # consecutive columns A, B, C... ; trailing empty cells are absent choices
            if letter not in by_key:
                break
            letters.append(by_key[letter])
        present = pl.element().is_not_null() & (pl.element().str.strip_chars() != "")
        last = pl.int_range(pl.len()).filter(present).max()
        choices = pl.concat_list(pl.col(letters).cast(pl.String)).list.eval(
            pl.element().filter(pl.int_range(pl.len()) <= last)
        )
    difficulty: pl.Expr = pl.lit(None, pl.Int8)
    if found["ref_difficulty"] is not None:
        given = pl.col(found["ref_difficulty"])
        number = given.cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)
        table, difficulty_errors = _split_errors(
            table,
            [
                (
                    "difficulty",
                    given.is_not_null() & (number.is_null() | (number != number.round()) | ~number.is_between(1, 5)),
                    pl.format("difficulty '{}' is not a whole number from 1 to 5", given.cast(pl.String)),
                )
            ],
        )
        difficulty = number.cast(pl.Int64)
        errors.append(difficulty_errors)

    def text(raw: str) -> pl.Expr:
        column = found[raw]
        return pl.lit(None, pl.String) if column is None else pl.col(column).cast(pl.String)

    rows = table.select(
        _ROW,
        question=text("question"),
        answer=text("answer"),
        choices=choices,
        explanation=text("explanation"),
        ref_difficulty=difficulty,
        subject=text("subject").fill_null(path.stem),
    )
    return rows, pl.concat(errors) if errors else _error_rows([])


def _generic_choices(path: Path, table: pl.DataFrame, column: str) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
    """Normalise a `choices` column to list[str]: list types are cast, JSON strings parsed row by row."""
    dtype = table.schema[column]
    if isinstance(dtype, pl.List) or dtype == pl.Null:
        try:
            return table.with_columns(pl.col(column).cast(pl.List(pl.String))), []
        except pl.exceptions.PolarsError as exc:
            raise SeedSourceError(f"{path}: column {column!r} of type {dtype} is not a list of texts ({exc})") from exc
    if dtype != pl.String:
        raise SeedSourceError(f"{path}: column {column!r} has type {dtype}; expected a list or a JSON list string")
    parsed: list[list[str | None] | None] = []
    failed: list[tuple[int, str, str, str]] = []
    for number, value in zip(table[_ROW], table[column], strict=True):
        try:
            parsed.append(_choice_list(value))
        except ValueError as exc:
            parsed.append(None)
            failed.append((number, "choices", str(exc), str(value)[:RAW_PREVIEW_CHARS]))
    table = table.with_columns(pl.Series(column, parsed, dtype=pl.List(pl.String)))
    errors = _error_rows(failed)
    return table.filter(~pl.col(_ROW).is_in(errors[_ROW].implode())), [errors]


def generic(path: Path) -> RawRead:
    """JSONL / JSON array / CSV (with header) / Parquet with `question`, `answer` and optional
    `choices` (list, JSON string of a list, or columns A, B, C...), `subject`, `explanation`,
    `difficulty`. Without a subject column the file name stem is the subject."""
    suffix = _suffix(path)
    pre_errors: list[pl.DataFrame] = []
    if suffix == ".csv":
        header, records, unreadable = _csv_header(path, _csv_records(path))
        names = [h or f"column_{i + 1}" for i, h in enumerate(header)]
        if len(set(names)) != len(names):
            raise SeedSourceError(f"{path}: duplicate CSV header names {names}")
        table, bad = _csv_columns(records, names)
        pre_errors += [bad, unreadable]
    elif suffix == ".parquet":
        try:
            table = pl.read_parquet(path)
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise SeedSourceError(f"{path}: cannot read Parquet ({exc})") from exc
        table = table.with_row_index(_ROW, offset=1).cast({_ROW: pl.Int64})
    else:
        records, json_errors = _json_records(path)
        names = {n for aliases in _GENERIC_FIELDS.values() for n in aliases}
        keys = set().union(*(r.keys() for _, r in records))
        wanted = sorted(k for k in keys if k.strip().lower() in names or len(k.strip()) == 1)
        table, value_errors = _json_table(path, records, wanted)
        pre_errors += [_error_rows(json_errors), value_errors]
        if not records:
            return _finish(path, "generic", empty_frame({_ROW: pl.Int64()}), *pre_errors)
    rows, errors = _generic_rows(path, table)
    return _finish(path, "generic", rows, *pre_errors, errors)


# ---------------------------------------------------------------- detection and entry points

ADAPTERS: dict[str, Callable[[Path], RawRead]] = {
    "mmlu_csv": mmlu_csv,
    "cmmlu_csv": cmmlu_csv,
    "gsm8k_jsonl": gsm8k_jsonl,
    "math_jsonl": math_jsonl,
    "generic": generic,
}


def detect_adapter(path: Path) -> str:
    """Adapter name from the extension and the file's first record (header / first JSON object)."""
    suffix = _suffix(path)
    if suffix == ".parquet":
        return "generic"
    try:
        with path.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES).decode("utf-8-sig", errors="replace")
    except OSError as exc:
        raise SeedSourceError(f"{path}: cannot read file ({exc.strerror or exc})") from exc
    if suffix == ".csv":
        try:
            first = next(csv.reader(io.StringIO(head, newline="")), [])
        except csv.Error:
            return "generic"
        first = [f.strip() for f in first]
        if len(first) == 7 and first[1:] == _CMMLU_HEADER:
            return "cmmlu_csv"
        if len(first) == 6 and _MMLU_NAME.match(path.stem) and first[5].upper() in {"A", "B", "C", "D"}:
            return "mmlu_csv"
        return "generic"
    if suffix == ".json" and head.lstrip().startswith("["):
        records, _ = _json_records(path)
        record = records[0][1] if records else {}
    else:
        line = next((ln for ln in head.split("\n") if ln.strip()), "")
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            record = {}
    if not isinstance(record, dict):
        return "generic"
    if {"problem", "solution"} <= record.keys():
        return "math_jsonl"
    if {"question", "answer"} <= record.keys() and "####" in str(record["answer"]):
        return "gsm8k_jsonl"
    return "generic"


def read_source(path: Path, adapter: str | None = None) -> RawRead:
    """Read one local seed file with the given adapter, or the detected one."""
    path = Path(path)
    name = adapter or detect_adapter(path)
    if name not in ADAPTERS:
        raise SeedSourceError(f"{path}: unknown adapter {name!r}; choose one of {sorted(ADAPTERS)}")
    return ADAPTERS[name](path)


def iter_source_files(paths: Sequence[str | Path]) -> list[Path]:
    """Expand files and folders (recursively, hidden entries skipped) to supported seed files.

    Arguments keep their order (it decides which copy of a duplicate survives); each folder's
    files are sorted by relative path; a file named twice is read once.
    """
    found: list[Path] = []
    for given in map(Path, paths):
        if given.is_dir():
            inside = sorted(
                (
                    p
                    for p in given.rglob("*")
                    if p.is_file()
                    and p.suffix.lower() in SUPPORTED_SUFFIXES
                    and not any(part.startswith(".") for part in p.relative_to(given).parts)
                ),
                key=lambda p: p.relative_to(given).as_posix(),
            )
            if not inside:
                raise SeedSourceError(f"{given}: folder holds no {'/'.join(SUPPORTED_SUFFIXES)} files")
            found.extend(inside)
        elif given.is_file():
            _suffix(given)
            found.append(given)
        else:
            raise SeedSourceError(f"{given}: no such file or folder")
    seen: set[Path] = set()
    unique = []
    for path in found:
        if (resolved := path.resolve()) not in seen:
            seen.add(resolved)
            unique.append(path)
    return unique
