"""Discipline taxonomy: the partition keys of every discipline-partitioned asset, and the
mapping from benchmark subject names and free-text subjects onto them.

Pure Python (no Dagster) so that seed readers, checks and tests can use it directly;
`partitions.py` builds the Dagster partitions from `load_taxonomy().discipline_ids`.
The data lives in `data/taxonomy.yaml`; it is validated once at load, so a typo in a
mapping fails loudly with the file and key instead of silently routing seeds to `unmapped`.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, NoReturn, cast

import polars as pl
import yaml

_ID_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,63}")
_FILE_EXTENSION = re.compile(r"\.(?:csv|tsv|jsonl|json|parquet)$")
_SEPARATORS = re.compile(r"[\s_\-]+")
_SPLIT_SUFFIX = re.compile(r"(?: (?:test|dev|val|validation|train))+$")
_TOP_LEVEL_KEYS = ("disciplines", "grade_levels", "difficulty_levels", "subjects")
_YAML_MERGE_TAG = "tag:yaml.org,2002:merge"


class TaxonomyError(ValueError):
    """A taxonomy file that breaks a rule; the message names the file and the offending key."""


@dataclass(frozen=True)
class Discipline:
    """One discipline; `id` is its Dagster partition key."""

    id: str
    name: str
    label_zh: str
    description: str


@dataclass(frozen=True)
class GradeLevel:
    """An educational stage a question is pitched at (primary ... competition)."""

    id: str
    name: str
    label_zh: str
    description: str


@dataclass(frozen=True)
class DifficultyLevel:
    """One step of the 1-5 difficulty scale used by KP extraction and difficulty control."""

    level: int
    name: str
    description: str


def normalise_subject(subject: str) -> str:
    """Lookup key for a subject name, so that `High_School-Biology_test.csv`,
    `high school biology` and `HIGH SCHOOL BIOLOGY` all find the same mapping.

    NFKC + casefold, drop a data-file extension, `&` -> `and`, collapse spaces, hyphens and
    underscores to one space, then drop trailing split names (`test`, `dev`, `val`, `train`).
    """
    key = unicodedata.normalize("NFKC", subject).casefold().strip()
    key = _FILE_EXTENSION.sub("", key).replace("&", " and ")
    key = _SEPARATORS.sub(" ", key).strip()
    return _SPLIT_SUFFIX.sub("", key)


@dataclass(frozen=True, eq=False)
class Taxonomy:
    """A validated taxonomy. Build it with `load_taxonomy` (or `parse_taxonomy`)."""

    FALLBACK: ClassVar[str] = "unmapped"

    source: str
    disciplines: tuple[Discipline, ...]  # file order, fallback last
    grade_levels: tuple[GradeLevel, ...]
    difficulty_levels: tuple[DifficultyLevel, ...]
    # section name -> subject name as written -> discipline id (e.g. "mmlu" -> "anatomy" -> ...)
    subject_sections: Mapping[str, Mapping[str, str]] = field(repr=False)
    # normalised subject key -> discipline id: sections, aliases, and each discipline's own names
    subject_index: Mapping[str, str] = field(repr=False)

    @property
    def discipline_ids(self) -> tuple[str, ...]:
        return tuple(d.id for d in self.disciplines)

    @property
    def grade_level_ids(self) -> tuple[str, ...]:
        return tuple(g.id for g in self.grade_levels)

    def discipline(self, discipline_id: str) -> Discipline:
        """The discipline with this id; KeyError listing the known ids otherwise."""
        for d in self.disciplines:
            if d.id == discipline_id:
                return d
        raise KeyError(f"unknown discipline {discipline_id!r}; known: {', '.join(self.discipline_ids)}")

    def map_subject(self, subject: str | None) -> str:
        """Discipline id for a subject name; `FALLBACK` when it is missing or unknown."""
        if subject is None:
            return self.FALLBACK
        return self.subject_index.get(normalise_subject(subject), self.FALLBACK)

    def map_subjects(self, subjects: pl.Series) -> pl.Series:
        """Column version of `map_subject`: each distinct value is mapped once, then the
        column is translated in one `replace_strict` (nulls and unknowns -> `FALLBACK`)."""
        values = subjects.cast(pl.String)
        distinct = values.drop_nulls().unique()
        targets = pl.Series([self.map_subject(s) for s in distinct], dtype=pl.String)
        return values.replace_strict(distinct, targets, default=self.FALLBACK, return_dtype=pl.String).alias(
            subjects.name
        )


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate mapping keys, which PyYAML would silently overwrite."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == _YAML_MERGE_TAG:
                continue
            key = cast(object, self.construct_object(key_node, deep=deep))  # untyped in the PyYAML stubs
            if isinstance(key, Hashable):
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark, f"duplicate key {key!r}", key_node.start_mark
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


class _Parser:
    """Validating reader of the taxonomy document; every error names file and key path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> NoReturn:
        raise TaxonomyError(f"{self.source}: {where}: {problem}")

    def mapping(self, value: Any, where: str) -> dict[Any, Any]:
        if not isinstance(value, dict):
            self.fail(where, f"expected a mapping, got {type(value).__name__}")
        return cast(dict[Any, Any], value)

    def record(
        self, value: Any, where: str, required: tuple[str, ...], optional: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        entry = self.mapping(value, where)
        missing = [k for k in required if k not in entry]
        if missing:
            self.fail(where, f"missing field(s) {missing}")
        unknown = [k for k in entry if k not in required and k not in optional]
        if unknown:
            self.fail(f"{where}.{unknown[0]}", f"unknown field; allowed: {list(required + optional)}")
        return entry

    def records(self, doc: dict[str, Any], key: str) -> list[Any]:
        value = doc[key]
        if not isinstance(value, list) or not value:
            self.fail(key, "expected a non-empty list")
        return cast(list[Any], value)

    def text(self, entry: dict[str, Any], key: str, where: str) -> str:
        value = entry[key]
        if not isinstance(value, str) or not value.strip():
            self.fail(f"{where}.{key}", f"expected a non-empty string, got {value!r}")
        return value.strip()

    def identifier(self, entry: dict[str, Any], where: str, seen: set[str], kind: str) -> str:
        value = self.text(entry, "id", where)
        if not _ID_PATTERN.fullmatch(value):
            self.fail(f"{where}.id", f"{value!r} is not a partition-safe snake_case id ([a-z][a-z0-9_]*, <= 64 chars)")
        if value in seen:
            self.fail(f"{where}.id", f"duplicate {kind} id {value!r}")
        seen.add(value)
        return value

    def parse(self, document: Any) -> Taxonomy:
        doc = self.record(document, "<top level>", _TOP_LEVEL_KEYS)
        disciplines, aliases = self.disciplines(doc)
        sections = self.subject_sections(doc)
        index = self.subject_index(disciplines, sections, aliases)
        return Taxonomy(
            source=self.source,
            disciplines=disciplines,
            grade_levels=self.grade_levels(doc),
            difficulty_levels=self.difficulty_levels(doc),
            subject_sections=MappingProxyType({k: MappingProxyType(v) for k, v in sections.items()}),
            subject_index=MappingProxyType(index),
        )

    def disciplines(self, doc: dict[str, Any]) -> tuple[tuple[Discipline, ...], dict[str, list[Any]]]:
        """Disciplines (fallback moved last) and each discipline's alias list."""
        seen: set[str] = set()
        found: list[Discipline] = []
        aliases: dict[str, list[Any]] = {}
        for i, value in enumerate(self.records(doc, "disciplines")):
            where = f"disciplines[{i}]"
            entry = self.record(value, where, ("id", "name", "label_zh", "description"), ("aliases",))
            did = self.identifier(entry, where, seen, "discipline")
            found.append(Discipline(did, *(self.text(entry, k, where) for k in ("name", "label_zh", "description"))))
            names: object = entry.get("aliases") or []
            if not isinstance(names, list):
                self.fail(f"{where}.aliases", "expected a list of names")
            if names and did == Taxonomy.FALLBACK:
                self.fail(f"{where}.aliases", f"the fallback {Taxonomy.FALLBACK!r} cannot have aliases")
            aliases[did] = cast(list[Any], names)
        if Taxonomy.FALLBACK not in seen:
            self.fail("disciplines", f"the fallback discipline {Taxonomy.FALLBACK!r} is missing")
        ordered = [d for d in found if d.id != Taxonomy.FALLBACK] + [d for d in found if d.id == Taxonomy.FALLBACK]
        return tuple(ordered), aliases

    def grade_levels(self, doc: dict[str, Any]) -> tuple[GradeLevel, ...]:
        seen: set[str] = set()
        levels: list[GradeLevel] = []
        for i, value in enumerate(self.records(doc, "grade_levels")):
            where = f"grade_levels[{i}]"
            entry = self.record(value, where, ("id", "name", "label_zh", "description"))
            gid = self.identifier(entry, where, seen, "grade level")
            levels.append(GradeLevel(gid, *(self.text(entry, k, where) for k in ("name", "label_zh", "description"))))
        return tuple(levels)

    def difficulty_levels(self, doc: dict[str, Any]) -> tuple[DifficultyLevel, ...]:
        levels: list[DifficultyLevel] = []
        for i, value in enumerate(self.records(doc, "difficulty_levels")):
            where = f"difficulty_levels[{i}]"
            entry = self.record(value, where, ("level", "name", "description"))
            level = entry["level"]
            if isinstance(level, bool) or level != i + 1:
                self.fail(f"{where}.level", f"levels must count up from 1 in order; expected {i + 1}, got {level!r}")
            name, description = (self.text(entry, k, where) for k in ("name", "description"))
            levels.append(DifficultyLevel(i + 1, name, description))
        return tuple(levels)

    def subject_sections(self, doc: dict[str, Any]) -> dict[str, dict[str, str]]:
        sections: dict[str, dict[str, str]] = {}
        for section, body in self.mapping(doc["subjects"], "subjects").items():
            where = f"subjects.{section}"
            if not isinstance(section, str):
                self.fail(where, "section names must be strings")
            sections[section] = {}
            for subject, target in self.mapping(body, where).items():
                if not isinstance(subject, str):
                    self.fail(f"{where}.{subject!r}", "subject names must be strings (quote the key in YAML)")
                sections[section][subject] = target
        return sections

    def subject_index(
        self,
        disciplines: tuple[Discipline, ...],
        sections: dict[str, dict[str, str]],
        aliases: dict[str, list[Any]],
    ) -> dict[str, str]:
        """Normalised name -> discipline id. Names that normalise alike must agree, because
        `map_subject` sees only the name, not which benchmark it came from."""
        known = {d.id for d in disciplines}
        index: dict[str, str] = {}
        origin: dict[str, str] = {}

        def add(name: Any, target: Any, where: str) -> None:
            if not isinstance(name, str):
                self.fail(where, f"expected a string name, got {name!r}")
            if target not in known:
                self.fail(where, f"maps {name!r} to unknown discipline {target!r}")
            if target == Taxonomy.FALLBACK:
                self.fail(where, f"maps {name!r} to the fallback {Taxonomy.FALLBACK!r}; leave it unmapped instead")
            key = normalise_subject(name)
            if not key:
                self.fail(where, f"{name!r} is empty after normalisation")
            if index.get(key, target) != target:
                self.fail(
                    where,
                    f"{name!r} (normalised {key!r}) maps to {target!r} but {origin[key]} maps it to {index[key]!r}",
                )
            index.setdefault(key, target)
            origin.setdefault(key, where)

        for i, d in enumerate(disciplines):
            if d.id != Taxonomy.FALLBACK:
                for attr in ("id", "name", "label_zh"):
                    add(getattr(d, attr), d.id, f"disciplines[{i}].{attr}")
        for section, mapping in sections.items():
            for subject, target in mapping.items():
                add(subject, target, f"subjects.{section}.{subject}")
        for did, names in aliases.items():
            for j, name in enumerate(names):
                add(name, did, f"disciplines[id={did}].aliases[{j}]")
        return index


def parse_taxonomy(text: str, source: str) -> Taxonomy:
    """Validate and build a taxonomy from YAML text; `source` names it in error messages."""
    try:
        document = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise TaxonomyError(f"{source}: invalid YAML{where}: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise TaxonomyError(f"{source}: invalid YAML: {exc}") from exc
    return _Parser(source).parse(document)


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """The taxonomy at `path`, or the packaged `data/taxonomy.yaml` when None.

    Cached: repeated calls return the same object; a file is re-read only when its
    modification time changes.
    """
    if path is None:
        return _load_packaged()
    resolved = Path(path).resolve()
    return _load_file(resolved, resolved.stat().st_mtime_ns)


@functools.cache
def _load_packaged() -> Taxonomy:
    resource = files("linkqa_pipelines") / "data" / "taxonomy.yaml"
    return parse_taxonomy(resource.read_text(encoding="utf-8"), source=str(resource))


@functools.lru_cache(maxsize=16)
def _load_file(path: Path, mtime_ns: int) -> Taxonomy:  # noqa: ARG001 - part of the cache key: a changed file is reloaded
    return parse_taxonomy(path.read_text(encoding="utf-8"), source=str(path))
