"""Bad seed input: every rejected row is quarantined once with source, row, field and reason;
files that cannot be read raise SeedSourceError naming the file; rows are always accounted for."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from linkqa_pipelines.core.contracts import QUARANTINE_SCHEMA, SEED_SCHEMA
from linkqa_pipelines.core.seeds import SeedSourceError, detect_adapter, iter_source_files, normalise_seeds, read_source

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "bad_seeds"
UNREADABLE = {"not_json.json"}


def to_discipline(subjects: pl.Series) -> pl.Series:
    return subjects.replace_strict({"arithmetic": "mathematics"}, default="unmapped", return_dtype=pl.String)


@pytest.mark.parametrize(
    ("name", "adapter", "row", "field", "reason"),
    [
        ("empty_question.jsonl", "generic", 2, "question", "empty question"),
        (
            "answer_not_in_choices.csv",
            "generic",
            2,
            "answer",
            "answer 'E' is neither a letter among the 4 choices (A-D) nor the text of a choice",
        ),
        ("too_few_choices.jsonl", "generic", 2, "choices", "fewer than two choices (1)"),
        ("field_too_long.jsonl", "generic", 2, "explanation", "explanation has 325 characters, over the limit of 200"),
        ("missing_field.jsonl", "generic", 2, "answer", "missing field 'answer'"),
        ("malformed_line.jsonl", "generic", 2, "<json>", "malformed JSON line: unexpected end of data"),
        ("ragged_test.csv", "mmlu_csv", 2, "<csv>", "expected 6 fields (question, A, B, C, D, answer), found 5"),
        ("gsm8k_no_final.jsonl", "gsm8k_jsonl", 2, "answer", "solution has no '#### <final answer>' line"),
        ("math_layout.jsonl", "math_jsonl", 3, "solution", "no \\boxed{...} or \\fbox{...} final answer"),
        ("bad_difficulty.jsonl", "generic", 2, "difficulty", "difficulty 'hard' is not a whole number from 1 to 5"),
        ("bad_difficulty.jsonl", "generic", 3, "difficulty", "difficulty '7' is not a whole number from 1 to 5"),
        ("conflicting_answers.jsonl", "generic", 2, "answer", "answer 'A' conflicts with"),
    ],
)
def test_each_reason_quarantines_the_row(name: str, adapter: str, row: int, field: str, reason: str) -> None:
    path = FIXTURES / name
    assert detect_adapter(path) == adapter
    read = read_source(path)
    result = normalise_seeds(read.rows, to_discipline, max_field_chars=200, read_errors=read.errors)
    hits = result.quarantine.filter(pl.col("source_row") == row)
    assert hits.height == 1, result.quarantine
    hit = hits.row(0, named=True)
    assert (hit["source"], hit["field"]) == (str(path), field)
    assert hit["reason"].startswith(reason)
    assert hit["raw"]  # the offending row is kept for inspection
    acc = result.accounting.row(0, named=True)
    assert acc["rows_in"] == read.n_rows_in == acc["seeds"] + acc["quarantined"] + acc["duplicates"]
    assert row not in result.seeds["source_row"].to_list()


def test_good_rows_of_bad_files_survive_and_answer_text_becomes_its_letter() -> None:
    read = read_source(FIXTURES / "answer_not_in_choices.csv")
    seeds = normalise_seeds(read.rows, to_discipline).seeds
    assert seeds.select("source_row", "answer").rows() == [(1, "B"), (3, "C")]  # "Jupiter" -> C
    read = read_source(FIXTURES / "field_too_long.jsonl")
    assert normalise_seeds(read.rows, to_discipline).quarantine.is_empty()  # default limit is 20,000


def test_first_failing_field_wins_one_row_per_rejected_row() -> None:
    raw = pl.DataFrame(
        {
            "source": ["s.jsonl"] * 5,
            "source_row": [1, 2, 3, 4, 5],
            "adapter": ["generic"] * 5,
            "subject": ["arithmetic"] * 5,
            "question": [None, "Q?", "Q2?", "Q3?", "Q4?"],
            "choices": [["a"], ["a", ""], ["x", "y"], ["x", "y"], ["x", "y"]],
            "answer": [None, "Z", None, "b", "x"],
            "explanation": [None] * 5,
            "ref_difficulty": [None, None, None, None, 9],
        }
    )
    result = normalise_seeds(raw, to_discipline)
    assert result.quarantine.select("source_row", "field", "reason").rows() == [
        (1, "question", "missing field 'question'"),
        (2, "choices", "choice B is empty"),
        (3, "answer", "missing field 'answer'"),
        (5, "ref_difficulty", "difficulty 9 is outside 1-5"),
    ]
    assert result.seeds.select("answer", "discipline", "qa_type").rows() == [("B", "mathematics", "multiple_choice")]


def test_whitespace_and_unicode_are_normalised_before_validation_and_dedup() -> None:
    raw = pl.DataFrame(
        {
            "source": ["s.jsonl", "t.jsonl"],
            "source_row": [1, 1],
            "adapter": ["generic"] * 2,
            "subject": [" arithmetic ", "arithmetic"],
            "question": ["Cafe\u0301  costs\u00a0what?\r\n\n\n\n  Line two. ", "Caf\u00e9 costs what?\n\nLine two."],
            "choices": [[" 1 ", "2\n"], ["1", "2"]],
            "answer": [" a ", "A"],
            "explanation": ["  Step\t one.  \n\n\n\nStep two.", None],
            "ref_difficulty": [None, None],
        }
    )
    result = normalise_seeds(raw, to_discipline)
    seed = result.seeds.row(0, named=True)
    assert seed["question"] == "Caf\u00e9 costs what?\n\nLine two."
    assert seed["choices"] == ["1", "2"] and seed["answer"] == "A" and seed["subject"] == "arithmetic"
    assert seed["explanation"] == "Step one.\n\nStep two."
    assert result.seeds.height == 1  # t.jsonl's row is the same seed once normalised
    assert dict(result.duplicates.iter_rows()) == {"s.jsonl": 0, "t.jsonl": 1}


def test_rows_with_unreadable_encoding_are_quarantined_one_by_one(tmp_path: Path) -> None:
    read = read_source(FIXTURES / "latin1.csv")
    assert read.rows["question"].to_list() == ["What is 6 + 1?"]
    err = read.errors.row(0, named=True)
    assert err["source"].endswith("latin1.csv") and err["source_row"] == 2 and err["field"] == "column 1"
    assert err["reason"] == "unreadable encoding: byte 0xe7 is not UTF-8" and "\ufffd" in err["raw"]
    lines = tmp_path / "mixed.jsonl"
    lines.write_bytes(b'{"question": "ok?", "answer": "yes"}\n{"question": "caf\xe9?", "answer": "x"}\n')
    read = read_source(lines)
    assert read.rows.height == 1 and read.n_rows_in == 2
    assert read.errors.select("source_row", "field").row(0) == (2, "<encoding>")


def test_file_in_another_encoding_fails_naming_file_and_line(tmp_path: Path) -> None:
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes("question,answer\nWhat is 6 + 1?,7\n".encode("utf-16"))
    with pytest.raises(SeedSourceError, match=r"utf16\.csv: not UTF-8 text \(byte 0xff at line 1"):
        read_source(utf16)
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes('{"question": "Où est la café?", "answer": "là"}\n'.encode("latin-1") * 3)
    with pytest.raises(SeedSourceError, match=r"latin\.jsonl: not UTF-8 text .*3 of 3 lines undecodable"):
        read_source(latin)


def test_unreadable_files_raise_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(SeedSourceError, match=r"not_json\.json: not JSON Lines, no line parses \(line 1"):
        read_source(FIXTURES / "not_json.json")
    with pytest.raises(SeedSourceError, match=r"missing\.jsonl: cannot read file"):
        read_source(tmp_path / "missing.jsonl")
    with pytest.raises(SeedSourceError, match=r"missing\.jsonl: cannot read file"):
        read_source(tmp_path / "missing.jsonl", adapter="gsm8k_jsonl")
    obj = tmp_path / "object.json"
    obj.write_text('{"question": "q", "answer": "a"}')
    with pytest.raises(SeedSourceError, match=r"object\.json: top-level JSON object"):
        read_source(obj)
    no_answer = tmp_path / "no_answer.csv"
    no_answer.write_text("question,solution\nWhat?,This.\n")
    with pytest.raises(SeedSourceError, match=r"no_answer\.csv: no 'answer' field in the file"):
        read_source(no_answer)
    (tmp_path / "art.csv").write_text("idx,question\n")
    with pytest.raises(SeedSourceError, match=r"art\.csv: expected the CMMLU header"):
        read_source(tmp_path / "art.csv", adapter="cmmlu_csv")
    broken = tmp_path / "broken.csv"
    broken.write_text('question,answer\n"unterminated,A\n')
    with pytest.raises(SeedSourceError, match=r"broken\.csv: malformed CSV near line"):
        read_source(broken)
    gsm = tmp_path / "gsm.jsonl"
    gsm.write_text('{"problem": "x", "answer": "#### 1"}\n')
    with pytest.raises(SeedSourceError, match=r"gsm\.jsonl: no 'question' field in the file"):
        read_source(gsm, adapter="gsm8k_jsonl")


def test_accounting_identity_over_every_readable_bad_file() -> None:
    paths = [p for p in iter_source_files([FIXTURES]) if p.name not in UNREADABLE]
    reads = [read_source(p) for p in paths]
    result = normalise_seeds(
        pl.concat([r.rows for r in reads]),
        to_discipline,
        max_field_chars=200,
        read_errors=pl.concat([r.errors for r in reads]),
    )
    acc = result.accounting
    assert acc.height == len(paths)
    assert (acc["rows_in"] == acc["seeds"] + acc["quarantined"] + acc["duplicates"]).all()
    assert acc["rows_in"].to_list() == [r.n_rows_in for r in reads]
    assert acc["quarantined"].sum() == result.quarantine.height == 13  # latin1.csv adds its bad row
    assert acc["duplicates"].sum() == 1 and result.seeds["seed_id"].is_unique().all()
    assert result.seeds.schema == pl.Schema(SEED_SCHEMA)
    assert result.quarantine.schema == pl.Schema(QUARANTINE_SCHEMA)


def test_no_input_gives_typed_empty_outputs() -> None:
    result = normalise_seeds(pl.DataFrame(), to_discipline)
    assert result.seeds.is_empty() and result.seeds.schema == pl.Schema(SEED_SCHEMA)
    assert result.quarantine.is_empty() and result.accounting.is_empty()


def test_json_values_of_the_wrong_shape_are_row_errors(tmp_path: Path) -> None:
    path = tmp_path / "shapes.jsonl"
    rows = [
        {"question": "Fine?", "answer": "yes"},
        {"question": {"text": "nested"}, "answer": "yes"},
        {"question": "Choices?", "choices": "A) one B) two", "answer": "A"},
        ["not", "an", "object"],
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    read = read_source(path)
    assert read.rows["source_row"].to_list() == [1] and read.n_rows_in == 4
    assert read.errors.select("source_row", "field").rows() == [(2, "question"), (3, "choices"), (4, "<json>")]
    assert read.errors["reason"].to_list()[0] == "expected text, got a JSON dict"
    assert read.errors["reason"].to_list()[2] == "row is a JSON list, not an object"
