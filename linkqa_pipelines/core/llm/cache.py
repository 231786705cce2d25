"""Response cache: raw responses in SQLite, keyed by a hash of everything that shapes the answer.

Why SQLite in WAL mode: several partitions run at once in separate processes and all share
one file; WAL lets readers proceed while one writer commits, `busy_timeout` makes writers
queue instead of failing, and committing each response as it arrives means a SIGKILL loses
only the requests still in flight. Rows hold the raw text, so parsing stays after the cache.

A response that a chain finally rejected (unparseable or invalid even after repairs) is
marked `rejected`: it is served again only if the current parser and validator accept it,
otherwise the next run asks the model anew.

The same file holds the attempt ledger (`attempts`): per stage, partition and request key, how
many of the request's answers were rejected over all runs and in how many runs it ended failed.
The client varies the next try by the latter and stops asking at a total (`LedgerEntry`).
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

from linkqa_pipelines.core.llm.types import Call, RawResponse

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    backend TEXT NOT NULL,
    model TEXT NOT NULL,
    text TEXT NOT NULL,
    reasoning TEXT,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    reasoning_tokens INTEGER NOT NULL,
    finish_reason TEXT,
    rejected TEXT,
    created_at REAL NOT NULL
) WITHOUT ROWID
"""
_LEDGER = """
CREATE TABLE IF NOT EXISTS attempts (
    stage TEXT NOT NULL,
    partition TEXT NOT NULL,
    key TEXT NOT NULL,
    rejected INTEGER NOT NULL,
    failed_runs INTEGER NOT NULL,
    last_reason TEXT,
    updated_at REAL NOT NULL,
    PRIMARY KEY (stage, partition, key)
) WITHOUT ROWID
"""
_CHUNK = 500  # keys per SELECT ... IN (...), below SQLite's variable limit


def cache_key(backend: str, model: str, call: Call) -> str:
    """sha256 of (backend, model, messages, schema, sampling params, response format)."""
    material = [backend, model, call.messages, call.schema, call.schema_name, asdict(call.params), call.response_format]
    return hashlib.sha256(orjson.dumps(material, option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass(frozen=True)
class LedgerEntry:
    """A request's record over all runs: answers rejected by parsing or validation, runs in which
    it ended failed (what the next try varies by), and the last rejection's reason."""

    rejected: int = 0
    failed_runs: int = 0
    last_reason: str | None = None


@dataclass(frozen=True)
class CachedResponse:
    raw: RawResponse
    rejected: str | None


class ResponseCache:
    """One connection per instance (opened lazily, so instances survive a fork unopened)."""

    def __init__(self, path: Path, busy_timeout_s: float = 60.0) -> None:
        self.path = Path(path)
        self.busy_timeout_ms = int(busy_timeout_s * 1000)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path, timeout=self.busy_timeout_ms / 1000, check_same_thread=False, isolation_level=None
            )
            conn.execute(f"PRAGMA busy_timeout={self.busy_timeout_ms}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: committed rows survive a process kill
            conn.execute(_SCHEMA)
            conn.execute(_LEDGER)
            self._conn = conn
        return self._conn

    def get_many(self, keys: Sequence[str]) -> dict[str, CachedResponse]:
        rows = self._select_keys(
            "SELECT key, text, reasoning, prompt_tokens, completion_tokens, reasoning_tokens, finish_reason,"
            " rejected FROM responses WHERE",
            [],
            keys,
        )
        return {row[0]: CachedResponse(RawResponse(*row[1:7]), row[7]) for row in rows}

    def _select_keys(self, select: str, params: Sequence[object], keys: Sequence[str]) -> list[tuple[Any, ...]]:
        """Rows of `select ... AND key IN (...)` over `keys`, in chunks SQLite's parameter limit allows
        (`select` ends where the key condition goes)."""
        found: list[tuple[Any, ...]] = []
        with self._lock:
            db = self._db()
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                found += db.execute(f"{select} key IN ({','.join('?' * len(chunk))})", [*params, *chunk]).fetchall()
        return found

    def put_many(self, backend: str, model: str, responses: Iterable[tuple[str, RawResponse]]) -> None:
        """Store (key, response) pairs in one transaction, committed before returning."""
        now = time.time()
        rows = [
            (
                key,
                backend,
                model,
                raw.text,
                raw.reasoning,
                raw.prompt_tokens,
                raw.completion_tokens,
                raw.reasoning_tokens,
                raw.finish_reason,
                now,
            )
            for key, raw in responses
        ]
        self._write("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)", rows)

    def reject(self, reasons: Iterable[tuple[str, str]]) -> None:
        """Mark (key, reason) rows as not to be served again unless they now parse and validate."""
        self._write("UPDATE responses SET rejected = ? WHERE key = ?", [(r, k) for k, r in reasons])

    def ledger(self, stage: str, partition: str | None, keys: Sequence[str]) -> dict[str, LedgerEntry]:
        """The ledger entries of `keys` that exist."""
        rows = self._select_keys(
            "SELECT key, rejected, failed_runs, last_reason FROM attempts WHERE stage = ? AND partition = ? AND",
            [stage, partition or ""],
            keys,
        )
        return {
            key: LedgerEntry(rejected, failed_runs, last_reason) for key, rejected, failed_runs, last_reason in rows
        }

    def record(self, stage: str, partition: str | None, entries: Iterable[tuple[str, LedgerEntry]]) -> None:
        """Store the entries of (key, entry) pairs, replacing what was there, in one transaction."""
        now = time.time()
        rows = [(stage, partition or "", key, e.rejected, e.failed_runs, e.last_reason, now) for key, e in entries]
        self._write("INSERT OR REPLACE INTO attempts VALUES (?, ?, ?, ?, ?, ?, ?)", rows)

    def _write(self, sql: str, rows: Sequence[tuple[object, ...]]) -> None:
        if not rows:
            return
        with self._lock:
            db = self._db()
            db.execute("BEGIN IMMEDIATE")  # take the write lock up front: waits (busy_timeout) instead of failing
            try:
                db.executemany(sql, rows)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def count(self) -> int:
        with self._lock:
            return int(self._db().execute("SELECT count(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
