"""Which seed files are new, changed or gone since last look, and which disciplines each touches.

A watcher (the seed sensor) keeps a `WatchState`: per file URI, a fingerprint and the disciplines
its seeds fell into when it was read. Fingerprints are cheap to take without reading a file:
size and modification time for local files, the ETag for `s3://` objects. Only a new or changed
file is read, with the same reader and normalisation as ingestion, to learn its disciplines; a
changed or removed file also touches the disciplines it had before (its seeds leave them).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import polars as pl

from linkqa_pipelines.core.seeds.normalise import normalise_seeds
from linkqa_pipelines.core.seeds.raw import SeedSourceError
from linkqa_pipelines.core.seeds.remote import list_s3_objects, split_s3_uri
from linkqa_pipelines.core.seeds.sources import iter_source_files, read_source


@dataclass(frozen=True)
class SeedFile:
    """One seed file as a watcher sees it: where it is and what it looks like from outside."""

    uri: str  # a local path or s3://bucket/key
    fingerprint: str  # local "size:mtime_ns", s3 "etag:<ETag>"


@dataclass(frozen=True)
class Watched:
    fingerprint: str
    disciplines: tuple[str, ...]


@dataclass(frozen=True)
class WatchState:
    """What the watcher knew after its last look; `dumps`/`loads` make it a sensor cursor."""

    files: Mapping[str, Watched] = field(default_factory=dict[str, Watched])

    def dumps(self) -> str:
        return json.dumps({uri: [w.fingerprint, list(w.disciplines)] for uri, w in sorted(self.files.items())})

    @classmethod
    def loads(cls, cursor: str | None) -> WatchState:
        if not cursor:
            return cls()
        try:
            raw = cast(dict[str, list[Any]], json.loads(cursor))
            return cls({uri: Watched(str(fp), tuple(map(str, ds))) for uri, (fp, ds) in raw.items()})
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"seed watch cursor is not a {{uri: [fingerprint, disciplines]}} JSON object: {exc}"
            ) from exc


@dataclass(frozen=True)
class SeedChanges:
    """The outcome of one look: files to re-ingest, and the disciplines whose seeds may differ."""

    changed: tuple[str, ...]  # new or changed file URIs
    removed: tuple[str, ...]  # URIs that are gone
    disciplines: tuple[str, ...]  # sorted
    state: WatchState  # the state to keep for the next look

    @property
    def any(self) -> bool:
        return bool(self.changed or self.removed)


def local_seed_files(sources: Sequence[str]) -> list[SeedFile]:
    """Every seed file under local files/folders (the files ingestion reads), fingerprinted."""
    files: list[SeedFile] = []
    for path in iter_source_files(sources):
        stat = path.stat()
        files.append(SeedFile(str(path.resolve()), f"{stat.st_size}:{stat.st_mtime_ns}"))
    return files


def s3_seed_files(client: Any, uris: Sequence[str]) -> list[SeedFile]:
    """Every supported object under `s3://` keys or prefixes, fingerprinted by its ETag."""
    files: list[SeedFile] = []
    for uri in uris:
        bucket, _ = split_s3_uri(uri)
        files.extend(
            SeedFile(f"s3://{bucket}/{o['Key']}", f"etag:{o.get('ETag')}") for o in list_s3_objects(client, uri)
        )
    return files


def file_disciplines(path: Path, map_subjects: Callable[[pl.Series], pl.Series]) -> tuple[str, ...]:
    """The disciplines of the seeds one file yields, read and normalised as ingestion does
    (an unreadable file yields none: ingestion quarantines it)."""
    try:
        read = read_source(path)
    except SeedSourceError:
        return ()
    seeds = normalise_seeds(read.rows, map_subjects, read_errors=read.errors).seeds
    return tuple(sorted(seeds["discipline"].unique().to_list()))


def seed_changes(
    previous: WatchState, current: Iterable[SeedFile], disciplines_of: Callable[[str], tuple[str, ...]]
) -> SeedChanges:
    """Compare the files now with the last look; `disciplines_of(uri)` reads a new or changed file."""
    now = {f.uri: f.fingerprint for f in current}
    files: dict[str, Watched] = {}
    changed: list[str] = []
    touched: set[str] = set()
    for uri, fingerprint in sorted(now.items()):
        before = previous.files.get(uri)
        if before is not None and before.fingerprint == fingerprint:
            files[uri] = before
            continue
        found = disciplines_of(uri)
        files[uri] = Watched(fingerprint, found)
        changed.append(uri)
        touched.update(found)
        if before is not None:
            touched.update(before.disciplines)
    removed = sorted(set(previous.files) - set(now))
    for uri in removed:
        touched.update(previous.files[uri].disciplines)
    return SeedChanges(tuple(changed), tuple(removed), tuple(sorted(touched)), WatchState(files))
