"""Entry points of seed reading: which files are seed files (`iter_source_files`), which adapter
reads each (`detect_adapter`, from the extension and the first record), `read_source` for one
file and `read_sources` for many (an unreadable file quarantined, not fatal).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import orjson

from linkqa_pipelines.core.seeds.adapters import CMMLU_HEADER, MMLU_NAME, cmmlu_csv, gsm8k_jsonl, math_jsonl, mmlu_csv
from linkqa_pipelines.core.seeds.generic import generic
from linkqa_pipelines.core.seeds.parsing import json_records
from linkqa_pipelines.core.seeds.raw import RawRead, SeedSourceError, seed_suffix, unreadable_file
from linkqa_pipelines.core.seeds.remote import SUPPORTED_SUFFIXES

_SNIFF_BYTES = 256 * 1024


ADAPTERS: dict[str, Callable[[Path], RawRead]] = {
    "mmlu_csv": mmlu_csv,
    "cmmlu_csv": cmmlu_csv,
    "gsm8k_jsonl": gsm8k_jsonl,
    "math_jsonl": math_jsonl,
    "generic": generic,
}


def detect_adapter(path: Path) -> str:
    """Adapter name from the extension and the file's first record (header / first JSON object)."""
    suffix = seed_suffix(path)
    if suffix == ".parquet":
        return "generic"
    try:
        with path.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES).decode("utf-8-sig", errors="replace")
    except OSError as exc:
        raise SeedSourceError(f"{path}: cannot read file ({exc.strerror or exc})") from exc
    if suffix == ".csv":
        try:
            first = next(csv.reader(io.StringIO(head, newline="")), list[str]())
        except csv.Error:
            return "generic"
        first = [f.strip() for f in first]
        if len(first) == 7 and first[1:] == CMMLU_HEADER:
            return "cmmlu_csv"
        if len(first) == 6 and MMLU_NAME.match(path.stem) and first[5].upper() in {"A", "B", "C", "D"}:
            return "mmlu_csv"
        return "generic"
    record: object  # the first JSON value, an object or not
    if suffix == ".json" and head.lstrip().startswith("["):
        records, _ = json_records(path)
        record = records[0][1] if records else {}
    else:
        line = next((ln for ln in head.split("\n") if ln.strip()), "")
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            record = {}
    if not isinstance(record, dict):
        return "generic"
    fields = cast(dict[str, Any], record)  # a JSON object: its keys are strings
    if {"problem", "solution"} <= fields.keys():
        return "math_jsonl"
    if {"question", "answer"} <= fields.keys() and "####" in str(fields["answer"]):
        return "gsm8k_jsonl"
    return "generic"


def read_source(path: Path, adapter: str | None = None) -> RawRead:
    """Read one local seed file with the given adapter, or the detected one."""
    path = Path(path)
    name = adapter or detect_adapter(path)
    if name not in ADAPTERS:
        raise SeedSourceError(f"{path}: unknown adapter {name!r}; choose one of {sorted(ADAPTERS)}")
    return ADAPTERS[name](path)


def read_sources(paths: Sequence[Path], adapter: str | None = None, *, strict: bool = False) -> list[RawRead]:
    """Read every file; one that cannot be read becomes a file-level quarantine row and the
    others are still read (with `strict`, the first unreadable file raises instead)."""
    reads: list[RawRead] = []
    for path in paths:
        try:
            reads.append(read_source(path, adapter=adapter))
        except SeedSourceError as exc:
            if strict:
                raise
            reads.append(unreadable_file(path, exc))
    return reads


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
            seed_suffix(given)
            found.append(given)
        else:
            raise SeedSourceError(f"{given}: no such file or folder")
    seen: set[Path] = set()
    unique: list[Path] = []
    for path in found:
        if (resolved := path.resolve()) not in seen:
            seen.add(resolved)
            unique.append(path)
    return unique
