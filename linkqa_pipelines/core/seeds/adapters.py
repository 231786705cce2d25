"""Adapters for the benchmark layouts the pipeline knows by name: MMLU and CMMLU (CSV),
GSM8K and MATH (JSON Lines), each mapping its own fields to `RAW_SCHEMA`.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from linkqa_pipelines.core.seeds.parsing import csv_columns, csv_header, csv_records, json_records, json_table
from linkqa_pipelines.core.seeds.raw import ROW, RawRead, SeedSourceError, error_rows, finish_read, split_errors

MMLU_NAME = re.compile(r"^(?P<subject>.+)_(?:test|dev|val)$")
CMMLU_HEADER = ["Question", "A", "B", "C", "D", "Answer"]
_BOXED = re.compile(r"\\(?:boxed|fbox)\b\s*")


def mmlu_csv(path: Path) -> RawRead:
    """MMLU `<subject>_test|dev|val.csv`: no header; question, A, B, C, D, answer letter."""
    match = MMLU_NAME.match(path.stem)
    subject = match["subject"] if match else path.stem
    records, unreadable = csv_records(path)
    good, bad = csv_columns(records, ["question", "A", "B", "C", "D", "answer"])
    rows = good.select(ROW, "question", "answer", choices=pl.concat_list("A", "B", "C", "D"), subject=pl.lit(subject))
    return finish_read(path, "mmlu_csv", rows, bad, unreadable)


def cmmlu_csv(path: Path) -> RawRead:
    """CMMLU `<subject>.csv`: header `,Question,A,B,C,D,Answer` (first column is a row index)."""
    header, records, unreadable = csv_header(path, csv_records(path))
    if header[1:] != CMMLU_HEADER or len(header) != 7:
        raise SeedSourceError(f"{path}: expected the CMMLU header ',Question,A,B,C,D,Answer', found {header}")
    good, bad = csv_columns(records, ["index", *CMMLU_HEADER])
    rows = good.select(
        ROW,
        question="Question",
        answer="Answer",
        choices=pl.concat_list("A", "B", "C", "D"),
        subject=pl.lit(path.stem),
    )
    return finish_read(path, "cmmlu_csv", rows, bad, unreadable)


def gsm8k_jsonl(path: Path) -> RawRead:
    """GSM8K: `question`, `answer` = worked solution ending in `#### <final>`."""
    records, json_errors = json_records(path)
    table, value_errors = json_table(path, records, ["question", "answer"], required=["question", "answer"])
    solution = pl.col("answer")
    table, no_final = split_errors(
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
        ROW,
        "question",
        answer=pl.when(final.str.contains(r"^[-+]?[\d,]*\d(\.\d+)?$"))  # 1,000 -> 1000
        .then(final.str.replace_all(",", ""))
        .otherwise(final),
        explanation=solution.str.extract(r"(?s)^(.*)####", 1).str.replace_all(r"<<[^>]*>>", "").str.strip_chars(),
        subject=pl.lit("gsm8k"),
    )
    return finish_read(path, "gsm8k_jsonl", rows, error_rows(json_errors), value_errors, no_final)


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
    records, json_errors = json_records(path)
    fields = ["problem", "level", "type", "solution"]
    table, value_errors = json_table(path, records, fields, required=["problem", "solution"])
    boxed = pl.Series("boxed", [None if s is None else last_boxed(s) for s in table["solution"]], dtype=pl.String)
    level = pl.col("level").str.strip_chars()
    level_n = level.str.extract(r"^Level\s+(\d+)$", 1).cast(pl.Int8, strict=False)
    table, bad = split_errors(
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
        ROW,
        question="problem",
        answer="boxed",
        explanation="solution",
        ref_difficulty=level_n,
        subject=pl.col("type").fill_null("math"),
    )
    return finish_read(path, "math_jsonl", rows, error_rows(json_errors), value_errors, bad)
