"""Taxonomy loader: packaged content, subject mapping (scalar and vectorised), validation errors."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from linkqa_pipelines.taxonomy import Taxonomy, TaxonomyError, load_taxonomy, normalise_subject

PACKAGED_YAML = Path(__file__).resolve().parents[1] / "linkqa_pipelines" / "data" / "taxonomy.yaml"


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy()


def _subject_files(shared_data: Callable[..., Path], folder: str, pattern: str) -> list[Path]:
    return sorted(shared_data(folder).glob(pattern))


def test_packaged_taxonomy_content(taxonomy: Taxonomy) -> None:
    ids = taxonomy.discipline_ids
    assert ids[-1] == Taxonomy.FALLBACK == "unmapped"
    assert len(ids) - 1 >= 22
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", i) for i in ids)
    for expected in (
        "mathematics",
        "physics",
        "chemistry",
        "biology",
        "computer_science",
        "statistics",
        "clinical_medicine",
        "engineering",
        "history",
        "law",
        "economics",
        "psychology",
        "education",
        "geography",
        "arts_culture",
        "language_literature",
        "philosophy_religion",
    ):
        assert expected in ids
    assert all(d.name and d.label_zh and d.description for d in taxonomy.disciplines)
    assert taxonomy.discipline("mathematics").label_zh == "数学"
    assert taxonomy.discipline("unmapped").name == "Unmapped subjects"
    with pytest.raises(KeyError, match="nope"):
        taxonomy.discipline("nope")
    assert taxonomy.grade_level_ids == (
        "primary",
        "middle_school",
        "high_school",
        "undergraduate",
        "graduate_professional",
        "competition",
    )
    assert [d.level for d in taxonomy.difficulty_levels] == [1, 2, 3, 4, 5]
    assert all(d.description for d in taxonomy.difficulty_levels)


def test_every_mmlu_subject_file_maps(taxonomy: Taxonomy, shared_data: Callable[..., Path]) -> None:
    files = _subject_files(shared_data, "mmlu/test", "*_test.csv")
    assert len(files) == 57
    names = {f.name.removesuffix("_test.csv") for f in files}
    assert names == set(taxonomy.subject_sections["mmlu"])
    unmapped = [f.name for f in files if taxonomy.map_subject(f.name) == Taxonomy.FALLBACK]
    assert unmapped == []
    assert {taxonomy.map_subject(n) for n in names} >= {"mathematics", "law", "history", "clinical_medicine"}


def test_every_cmmlu_subject_file_maps(taxonomy: Taxonomy, shared_data: Callable[..., Path]) -> None:
    files = _subject_files(shared_data, "cmmlu/dev", "*.csv")
    assert len(files) == 67
    assert {f.stem for f in files} == set(taxonomy.subject_sections["cmmlu"])
    unmapped = [f.name for f in files if taxonomy.map_subject(f.stem) == Taxonomy.FALLBACK]
    assert unmapped == []
    assert taxonomy.map_subject("traditional_chinese_medicine") == "traditional_chinese_medicine"


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("gsm8k", "mathematics"),
        ("Counting & Probability", "mathematics"),
        ("counting_and_probability", "mathematics"),
        ("Intermediate Algebra", "mathematics"),
        ("Precalculus", "mathematics"),
        ("math", "mathematics"),
        ("Maths", "mathematics"),
        ("数学", "mathematics"),
        ("物理", "physics"),
        ("physics", "physics"),
        ("中医", "traditional_chinese_medicine"),
        ("high_school_us_history_test.csv", "history"),
        ("High-School  Biology_dev", "biology"),
        ("ＭＡＴＨ", "mathematics"),  # full-width letters
        ("Earth & space science", "earth_space_science"),  # a discipline's own name
        ("earth_space_science", "earth_space_science"),  # and its id
        ("advanced_mathematics", "mathematics"),  # C-Eval
        ("earth-science", "earth_space_science"),
    ],
)
def test_known_subjects_map(taxonomy: Taxonomy, subject: str, expected: str) -> None:
    assert taxonomy.map_subject(subject) == expected


@pytest.mark.parametrize("subject", ["underwater basket weaving", "", "   ", "test", None])
def test_unknown_subjects_fall_back(taxonomy: Taxonomy, subject: str | None) -> None:
    assert taxonomy.map_subject(subject) == "unmapped"


def test_normalise_subject() -> None:
    assert normalise_subject("High_School-Biology_test.csv") == "high school biology"
    assert normalise_subject("Counting & Probability") == "counting and probability"
    assert normalise_subject("anatomy_val_dev") == "anatomy"
    assert normalise_subject("test") == "test"


def test_vectorised_mapping_equals_scalar(taxonomy: Taxonomy) -> None:
    names = [name for section in taxonomy.subject_sections.values() for name in section]
    values = [*names, *(n.upper() + "_test" for n in names), "no such subject", "", None, "物理", None, "gsm8k"]
    series = pl.Series("subject", values)
    mapped = taxonomy.map_subjects(series)
    assert mapped.name == "subject"
    assert mapped.dtype == pl.String
    assert mapped.to_list() == [taxonomy.map_subject(v) for v in values]
    assert mapped.null_count() == 0
    categorical = taxonomy.map_subjects(series.cast(pl.Categorical))
    assert categorical.to_list() == mapped.to_list()
    assert taxonomy.map_subjects(pl.Series("s", [], dtype=pl.String)).to_list() == []


def test_load_is_cached_and_reloads_on_change(tmp_path: Path) -> None:
    assert load_taxonomy() is load_taxonomy()
    path = tmp_path / "taxonomy.yaml"
    path.write_text(PACKAGED_YAML.read_text(encoding="utf-8"), encoding="utf-8")
    first = load_taxonomy(path)
    assert load_taxonomy(path) is first
    assert first.source == str(path.resolve())
    path.write_text(path.read_text(encoding="utf-8").replace("label_zh: 数学", "label_zh: 数学科"), encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    second = load_taxonomy(path)
    assert second is not first
    assert second.discipline("mathematics").label_zh == "数学科"


def _raw() -> dict[str, Any]:
    return yaml.safe_load(PACKAGED_YAML.read_text(encoding="utf-8"))


def _set_target(doc: dict[str, Any]) -> None:
    doc["subjects"]["mmlu"]["anatomy"] = "astrology"


def _bad_id(doc: dict[str, Any]) -> None:
    doc["disciplines"][2]["id"] = "Physics-Main"


def _duplicate_id(doc: dict[str, Any]) -> None:
    doc["disciplines"][3]["id"] = doc["disciplines"][1]["id"]


def _drop_fallback(doc: dict[str, Any]) -> None:
    doc["disciplines"] = [d for d in doc["disciplines"] if d["id"] != "unmapped"]


def _conflict(doc: dict[str, Any]) -> None:
    doc["subjects"]["other"]["Anatomy"] = "law"


def _to_fallback(doc: dict[str, Any]) -> None:
    doc["subjects"]["other"]["astrology"] = "unmapped"


def _alias_target(doc: dict[str, Any]) -> None:
    doc["disciplines"][0]["aliases"].append("物理学")


def _level_gap(doc: dict[str, Any]) -> None:
    doc["difficulty_levels"][2]["level"] = 7


def _unknown_field(doc: dict[str, Any]) -> None:
    doc["disciplines"][4]["colour"] = "green"


def _missing_section(doc: dict[str, Any]) -> None:
    del doc["grade_levels"]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (_set_target, r"subjects\.mmlu\.anatomy: .*unknown discipline 'astrology'"),
        (_bad_id, r"disciplines\[2\]\.id: 'Physics-Main' is not a partition-safe"),
        (_duplicate_id, r"disciplines\[3\]\.id: duplicate discipline id 'statistics'"),
        (_drop_fallback, r"disciplines: the fallback discipline 'unmapped' is missing"),
        (
            _conflict,
            r"subjects\.other\.Anatomy: 'Anatomy' .*maps to 'law' "
            r"but subjects\.mmlu\.anatomy maps it to 'basic_medical_science'",
        ),
        (_to_fallback, r"subjects\.other\.astrology: .*fallback"),
        (_alias_target, r"disciplines\[id=mathematics\]\.aliases\[\d+\]: '物理学'.*physics"),
        (_level_gap, r"difficulty_levels\[2\]\.level: .*expected 3, got 7"),
        (_unknown_field, r"disciplines\[4\]\.colour: unknown field"),
        (_missing_section, r"<top level>: missing field\(s\) \['grade_levels'\]"),
    ],
)
def test_validation_errors_name_file_and_key(
    tmp_path: Path, mutate: Callable[[dict[str, Any]], None], expected: str
) -> None:
    doc = _raw()
    mutate(doc)
    path = tmp_path / "bad_taxonomy.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(TaxonomyError) as info:
        load_taxonomy(path)
    message = str(info.value)
    assert message.startswith(str(path.resolve()))
    assert re.search(expected, message), message


def test_duplicate_yaml_key_is_an_error(tmp_path: Path) -> None:
    text = PACKAGED_YAML.read_text(encoding="utf-8").replace(
        "    virology: basic_medical_science\n    world_religions",
        "    virology: basic_medical_science\n    virology: biology\n    world_religions",
        1,
    )
    path = tmp_path / "dup.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TaxonomyError, match=r"dup\.yaml: invalid YAML at line \d+, column 5: duplicate key 'virology'"):
        load_taxonomy(path)
