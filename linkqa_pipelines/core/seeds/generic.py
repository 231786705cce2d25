"""The generic adapter: any JSONL / JSON array / CSV (with header) / Parquet file with `question`
and `answer` columns and optional choices, subject, explanation and difficulty.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from linkqa_pipelines.core.contracts import empty_frame
from linkqa_pipelines.core.seeds.parsing import (
    choice_list,
    csv_columns,
    csv_header,
    csv_records,
    json_records,
    json_table,
)
from linkqa_pipelines.core.seeds.raw import (
    RAW_PREVIEW_CHARS,
    ROW,
    RawRead,
    SeedSourceError,
    error_rows,
    finish_read,
    require_fields,
    seed_suffix,
    split_errors,
)

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


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
    require_fields(path, ["question", "answer"], list(by_key))
    found = {raw: next((by_key[n] for n in names if n in by_key), None) for raw, names in _GENERIC_FIELDS.items()}
    errors: list[pl.DataFrame] = []
    choices: pl.Expr = pl.lit(None, pl.List(pl.String))
    if found["choices"] is not None:
        table, errors = _generic_choices(path, table, found["choices"])
        choices = pl.col(found["choices"])
    elif "A" in by_key:
        letters: list[str] = []
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
        table, difficulty_errors = split_errors(
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
        ROW,
        question=text("question"),
        answer=text("answer"),
        choices=choices,
        explanation=text("explanation"),
        ref_difficulty=difficulty,
        subject=text("subject").fill_null(path.stem),
    )
    return rows, pl.concat(errors) if errors else error_rows([])


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
    for number, value in zip(table[ROW], table[column], strict=True):
        try:
            parsed.append(choice_list(value))
        except ValueError as exc:
            parsed.append(None)
            failed.append((number, "choices", str(exc), str(value)[:RAW_PREVIEW_CHARS]))
    table = table.with_columns(pl.Series(column, parsed, dtype=pl.List(pl.String)))
    errors = error_rows(failed)
    return table.filter(~pl.col(ROW).is_in(errors[ROW].implode())), [errors]


def generic(path: Path) -> RawRead:
    """JSONL / JSON array / CSV (with header) / Parquet with `question`, `answer` and optional
    `choices` (list, JSON string of a list, or columns A, B, C...), `subject`, `explanation`,
    `difficulty`. Without a subject column the file name stem is the subject."""
    suffix = seed_suffix(path)
    pre_errors: list[pl.DataFrame] = []
    if suffix == ".csv":
        header, records, unreadable = csv_header(path, csv_records(path))
        names = [h or f"column_{i + 1}" for i, h in enumerate(header)]
        if len(set(names)) != len(names):
            raise SeedSourceError(f"{path}: duplicate CSV header names {names}")
        table, bad = csv_columns(records, names)
        pre_errors += [bad, unreadable]
    elif suffix == ".parquet":
        try:
            table = pl.read_parquet(path)
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise SeedSourceError(f"{path}: cannot read Parquet ({exc})") from exc
        table = table.with_row_index(ROW, offset=1).cast({ROW: pl.Int64})
    else:
        records, json_errors = json_records(path)
        names = {n for aliases in _GENERIC_FIELDS.values() for n in aliases}
        keys = set[str]().union(*(r.keys() for _, r in records))
        wanted = sorted(k for k in keys if k.strip().lower() in names or len(k.strip()) == 1)
        table, value_errors = json_table(path, records, wanted)
        pre_errors += [error_rows(json_errors), value_errors]
        if not records:
            return finish_read(path, "generic", empty_frame({ROW: pl.Int64()}), *pre_errors)
    rows, errors = _generic_rows(path, table)
    return finish_read(path, "generic", rows, *pre_errors, errors)
