"""The packaged sample seed set: well-formed, varied, topically linked and not copied from benchmarks."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from linkqa_pipelines.taxonomy import Taxonomy, load_taxonomy

FIELDS = {"question", "choices", "answer", "subject", "explanation"}
CJK = re.compile(r"[\u4e00-\u9fff]")


def _load_rows() -> list[dict[str, Any]]:
    folder = files("linkqa_pipelines") / "data" / "sample_seeds"
    rows: list[dict[str, Any]] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".jsonl"):
            continue
        for line_no, line in enumerate(entry.read_text(encoding="utf-8").splitlines(), start=1):
            row = json.loads(line)
            row["_where"] = f"{entry.name}:{line_no}"
            rows.append(row)
    return rows


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    return _load_rows()


def _is_mc(row: dict[str, Any]) -> bool:
    return row.get("choices") is not None


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def test_rows_are_well_formed(rows: list[dict[str, Any]]) -> None:
    taxonomy = load_taxonomy()
    for row in rows:
        where = row["_where"]
        assert set(row) - {"_where"} <= FIELDS, where
        assert {"question", "answer", "subject"} <= set(row), where
        assert isinstance(row["question"], str) and row["question"].strip(), where
        assert isinstance(row["answer"], str) and row["answer"].strip(), where
        assert taxonomy.map_subject(row["subject"]) != Taxonomy.FALLBACK, where
        if _is_mc(row):
            choices = row["choices"]
            assert isinstance(choices, list) and len(choices) == 4, where
            assert all(isinstance(c, str) and c.strip() for c in choices), where
            assert len(set(choices)) == 4, where
            assert row["answer"] in "ABCD"[: len(choices)] and len(row["answer"]) == 1, where


def test_set_size_and_coverage(rows: list[dict[str, Any]]) -> None:
    taxonomy = load_taxonomy()
    assert len(rows) >= 96
    disciplines = Counter(taxonomy.map_subject(r["subject"]) for r in rows)
    assert len(disciplines) >= 10
    chinese = [r for r in rows if CJK.search(r["question"])]
    assert len(chinese) >= 30
    assert len(rows) - len(chinese) >= 30
    free_form = [r for r in rows if not _is_mc(r)]
    assert len(free_form) >= 25
    assert len(rows) - len(free_form) >= 25
    assert any(CJK.search(r["question"]) for r in free_form)
    # worked math solutions: several free-form math rows explain their steps
    worked = [
        r
        for r in free_form
        if taxonomy.map_subject(r["subject"]) == "mathematics" and len(r.get("explanation") or "") > 40
    ]
    assert len(worked) >= 10
    # answer letters are not all the same position
    letters = Counter(r["answer"] for r in rows if _is_mc(r))
    assert set(letters) == set("ABCD") and max(letters.values()) < 0.4 * sum(letters.values())


def test_questions_are_unique(rows: list[dict[str, Any]]) -> None:
    counts = Counter(_norm(r["question"]) for r in rows)
    assert [q for q, n in counts.items() if n > 1] == []


@pytest.mark.parametrize(
    "topic",
    [
        ("photosynthesis", "光合作用"),
        ("newton", "牛顿"),
        ("demand", "需求", "供"),
        ("derivative", "导数"),
        ("binary search", "sort"),
        ("conditioning", "条件反射"),
    ],
)
def test_topics_recur_for_kp_graph(rows: list[dict[str, Any]], topic: tuple[str, ...]) -> None:
    """Shared topics give the KP co-occurrence graph real edges."""
    hits = [r for r in rows if any(t in _norm(r["question"] + " " + (r.get("explanation") or "")) for t in topic)]
    assert len(hits) >= 3, topic


def _benchmark_questions(shared_data: Callable[..., Path]) -> set[str]:
    questions: set[str] = set()
    for path in shared_data("mmlu", "test").glob("*.csv"):
        with path.open(encoding="utf-8", newline="") as fh:
            questions.update(_norm(rec[0]) for rec in csv.reader(fh) if rec)
    for path in shared_data("cmmlu", "dev").glob("*.csv"):
        with path.open(encoding="utf-8", newline="") as fh:
            questions.update(_norm(rec["Question"]) for rec in csv.DictReader(fh))
    gsm8k = shared_data("gsm8k", "test.jsonl")
    questions.update(_norm(json.loads(line)["question"]) for line in gsm8k.read_text(encoding="utf-8").splitlines())
    return questions


def test_not_copied_from_benchmarks(rows: list[dict[str, Any]], shared_data: Callable[..., Path]) -> None:
    benchmark = _benchmark_questions(shared_data)
    assert len(benchmark) > 10_000
    copied = [r["_where"] for r in rows if _norm(r["question"]) in benchmark]
    assert copied == []
