"""The local instance's event log: Dagster's SQLite storage, with its database engines kept open.

`SqliteEventLogStorage` makes a new SQLAlchemy engine (NullPool) for every connection: each
event written pays create_engine, a SQLite connect and a close, and SQLAlchemy's compiled
statement cache (per engine) never gets a second use. A `linkqa run` of the bundled sample writes
about 850 events, each to its run's shard and most also to the index shard: that was about a
quarter of its wall time. `PooledSqliteEventLogStorage` keeps one engine (one pooled connection)
per shard instead: the index shard's for the storage's life, the run shards' for the few most
recently used runs (a webserver or daemon reads many runs' shards over its life and must not
hold a file handle for each).

Everything else is Dagster's: the same files under the same `base_dir`, the same schema set-up
on a shard's first use (`_initdb`), the same per-storage lock around each transaction. Other
processes on the home (`dagster dev`, the daemon, another `linkqa run`) read and write the
same files as before: SQLite locks per transaction, and an idle pooled connection holds no lock.
Named in `$DAGSTER_HOME/dagster.yaml` (see `linkqa_pipelines.cli._configure_env`) as

    event_log_storage:
      module: linkqa_pipelines.lib.instance_storage
      class: PooledSqliteEventLogStorage
      config:
        base_dir: <DAGSTER_HOME>/history/runs/
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from dagster import Field, IntSource, StringSource

# Private imports, one place: a storage class is Dagster's extension point for dagster.yaml, with no
# public base class in 1.13 (its documented module path is dagster._core.storage.event_log).
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (  # noqa: TID251
    INDEX_SHARD_NAME,
    SqliteEventLogStorage,
)
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS  # noqa: TID251
from dagster._serdes import ConfigurableClassData  # noqa: TID251
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool, QueuePool

LOCAL_INSTANCE_MARK = "# linkqa local instance: SQLite beside this file; linkqa rewrites it while this line stays first"
RUN_ENGINES = 4
"""Run shards whose engines stay open: a `linkqa run` writes one run at a time; more only keeps
file handles in a long-lived webserver."""


def _relaxed_sync(dbapi_connection: Any, record: Any) -> None:
    """`synchronous=NORMAL`, SQLite's advice for WAL databases (Dagster's shards are): a commit no
    longer waits for an fsync of the log, which was most of a write's time on a busy disk. The
    database stays consistent; only an OS crash or power cut (not a killed process) can lose the
    last events written before it."""
    del record  # SQLAlchemy's connection record: nothing to keep on it
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


def _new_shard(dbapi_connection: Any, record: Any) -> None:
    """A new shard is made a WAL database (as Dagster's set-up leaves it) before its tables are."""
    dbapi_connection.execute("PRAGMA journal_mode=WAL")
    _relaxed_sync(dbapi_connection, record)


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """`SqliteEventLogStorage` with one engine per shard, kept open: the index shard's always, the
    `run_engines` most recently used run shards' (least recently used closed first)."""

    def __init__(
        self, base_dir: str, inst_data: ConfigurableClassData | None = None, run_engines: int = RUN_ENGINES
    ) -> None:
        if run_engines < 1:
            raise ValueError(f"PooledSqliteEventLogStorage: run_engines must be at least 1, got {run_engines}")
        self._run_engines = run_engines
        self._engines: OrderedDict[str, Engine] = OrderedDict()  # least recently used first
        self._tables: set[str] = set()  # index-shard tables known to exist
        super().__init__(base_dir, inst_data)

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {
            "base_dir": StringSource,
            "run_engines": Field(IntSource, is_required=False, default_value=RUN_ENGINES),
        }

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> PooledSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        """Dagster's `_connect` (under the storage's lock, one transaction), on a kept engine."""
        with self._db_lock, self._engine(shard).connect() as conn, conn.begin():
            yield conn

    def _engine(self, shard: str) -> Engine:
        """The shard's engine, made (and its schema set up) on first use; called under the lock."""
        engine = self._engines.get(shard)
        if engine is not None:
            self._engines.move_to_end(shard)
            return engine
        url, connect_args = self.conn_string_for_shard(shard), {"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
        if shard not in self._initialized_dbs:  # as Dagster does it (its schema set-up opens two connections)
            setup = create_engine(url, poolclass=NullPool, connect_args=connect_args)
            if not Path(self.path_for_shard(shard)).exists():
                # Dagster turns a new shard to WAL after creating its tables, each CREATE a transaction
                # of its own with a rollback journal and its fsyncs (~0.1 s a run): WAL from the start
                event.listen(setup, "connect", _new_shard)
            self._initdb(setup)
            self._initialized_dbs.add(shard)
        # one connection: every use is under self._db_lock, so no two are ever checked out at once
        engine = create_engine(url, poolclass=QueuePool, pool_size=1, max_overflow=0, connect_args=connect_args)
        event.listen(engine, "connect", _relaxed_sync)
        self._engines[shard] = engine
        runs = [s for s in self._engines if s != INDEX_SHARD_NAME]
        for old in runs[: max(0, len(runs) - self._run_engines)]:
            self._engines.pop(old).dispose()
        return engine

    def has_table(self, table_name: str) -> bool:
        """Dagster asks before most asset-event writes (hundreds of times a run), each time on a new
        engine; a table, once there, stays (migrations add tables), so only its absence is asked again.
        Not under the storage's lock: Dagster asks while it holds an index connection."""
        if table_name not in self._tables and super().has_table(table_name):
            self._tables.add(table_name)
        return table_name in self._tables

    def _dispose_engines(self) -> None:
        with self._db_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()

    def wipe(self) -> None:
        """Dagster's wipe deletes the run shards' files: close their connections first, so no
        write goes to a deleted file."""
        self._dispose_engines()
        super().wipe()

    def dispose(self) -> None:
        """Close every kept connection (and, as Dagster's, stop the file watcher)."""
        self._dispose_engines()
        super().dispose()


def local_instance_yaml(dagster_home: Path) -> str:
    """The dagster.yaml of a local home: no telemetry, and the pooled event log in the folder
    Dagster's default SQLite instance uses (`<DAGSTER_HOME>/history/runs/`), so the home's existing
    runs stay visible; run and schedule storage are Dagster's defaults (`history/`, `schedules/`)."""
    config = {
        "telemetry": {"enabled": False},
        "event_log_storage": {
            "module": __name__,
            "class": PooledSqliteEventLogStorage.__name__,
            "config": {"base_dir": str(dagster_home / "history" / "runs") + "/"},
        },
    }
    return f"{LOCAL_INSTANCE_MARK}\n{yaml.safe_dump(config, sort_keys=False)}"
