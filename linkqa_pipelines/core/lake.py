"""The lake: Parquet files per asset partition, with DuckDB views as the query surface.

Why this shape: Dagster runs partitions in parallel (separate processes locally, pods in
production) and DuckDB allows one writing process per database file. So every asset
partition owns its own Parquet file (`<root>/<table>/discipline=<key>/data.parquet`),
written atomically, and the DuckDB file under `LINKQA_HOME` only holds views whose globs
are resolved at query time. Writers never contend; the only shared write is the short
`CREATE OR REPLACE VIEW`, made under the home's `warehouse` lock (`Lake.connect`).

Roots may be local folders or `s3://bucket/prefix` URIs (Polars reads and writes object
storage natively; credentials come from the environment).
"""

from __future__ import annotations

import os
import random
import re
import time
import uuid
import warnings
from collections.abc import Generator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import duckdb
import polars as pl
import pyarrow.fs as pafs

from linkqa_pipelines.core.home_lock import HomeLock

DATA_FILE = "data.parquet"
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_KEY_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")

PartitionSpec = Mapping[str, str] | str | None


class LakeError(RuntimeError):
    """A lake table or partition is missing or unreadable."""


def _partition_parts(partition: PartitionSpec) -> list[str]:
    if partition is None:
        return []
    pairs = {"discipline": partition} if isinstance(partition, str) else dict(partition)
    parts: list[str] = []
    for key, value in pairs.items():
        if not _NAME_RE.match(key) or not _KEY_RE.match(value):
            raise ValueError(f"invalid partition {key}={value!r}")
        parts.append(f"{key}={value}")
    return parts


@dataclass(frozen=True)
class Lake:
    """Local or object-storage Parquet lake plus the DuckDB view file that exposes it."""

    home: Path
    root: str = ""  # default: <home>/lake
    storage_options: Mapping[str, str] = field(default_factory=dict[str, str])
    lock_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "home", Path(self.home).expanduser().resolve())
        if not self.root:
            object.__setattr__(self, "root", str(self.home / "lake"))
        elif not self.is_remote:
            object.__setattr__(self, "root", str(Path(self.root).expanduser().resolve()))

    @property
    def is_remote(self) -> bool:
        return "://" in self.root

    @property
    def warehouse_path(self) -> Path:
        return self.home / "warehouse.duckdb"

    # ---- paths -------------------------------------------------------------------
    def table_uri(self, table: str) -> str:
        if not _NAME_RE.match(table):
            raise ValueError(f"invalid table name {table!r}")
        return f"{self.root.rstrip('/')}/{table}"

    def file_uri(self, table: str, partition: PartitionSpec = None, name: str = DATA_FILE) -> str:
        return "/".join([self.table_uri(table), *_partition_parts(partition), name])

    # ---- writes ------------------------------------------------------------------
    def write(self, table: str, df: pl.DataFrame, partition: PartitionSpec = None, *, view: bool = True) -> str:
        """Replace one partition (or the whole unpartitioned table) atomically; returns its URI.
        `view=False` leaves the DuckDB view for the caller to refresh once after several writes."""
        uri = self.file_uri(table, partition)
        if self.is_remote:
            df.write_parquet(uri, storage_options=dict(self.storage_options) or None)
        else:
            target = Path(uri)
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
            try:
                df.write_parquet(tmp, compression="zstd", statistics=True)
                tmp.replace(target)
            finally:
                tmp.unlink(missing_ok=True)
        if view:
            self.ensure_view(table)
        return uri

    # ---- reads -------------------------------------------------------------------
    def files(self, table: str, partitions: Sequence[PartitionSpec] | None = None) -> list[str]:
        """Data files of a table that exist, optionally only those of the given partitions
        (partitions never materialized are skipped, locally and on object storage alike)."""
        if self.is_remote:
            present = self._remote_files(table)
        else:
            present = {str(p) for p in Path(self.table_uri(table)).glob(f"**/{DATA_FILE}")}
        if partitions is None:
            return sorted(present)
        return [uri for key in partitions if (uri := self.file_uri(table, key)) in present]

    def _remote_files(self, table: str) -> set[str]:
        """Every data file under a table's prefix, in one listing of the object store."""
        scheme, path = self.table_uri(table).split("://", 1)
        selector = cast(Any, pafs.FileSelector)(path, recursive=True, allow_not_found=True)  # pyarrow is untyped
        infos = cast(list[Any], self._remote_fs().get_file_info(selector))
        return {f"{scheme}://{info.path}" for info in infos if str(info.path).endswith("/" + DATA_FILE)}

    def _remote_fs(self) -> Any:
        """pyarrow's S3 filesystem, configured from the same options and environment Polars uses."""
        opts = dict(self.storage_options)
        endpoint = opts.get("aws_endpoint_url") or os.environ.get("AWS_ENDPOINT_URL")
        kwargs: dict[str, object] = {"region": opts.get("aws_region") or os.environ.get("AWS_REGION", "us-east-1")}
        if endpoint:
            kwargs["endpoint_override"] = endpoint
            kwargs["scheme"] = "http" if endpoint.startswith("http://") else "https"
        if opts.get("aws_access_key_id"):
            kwargs["access_key"] = opts["aws_access_key_id"]
            kwargs["secret_key"] = opts.get("aws_secret_access_key", "")
        return cast(Any, pafs.S3FileSystem(**kwargs))

    def scan(
        self,
        table: str,
        partitions: Sequence[PartitionSpec] | None = None,
        schema: Mapping[str, pl.DataType] | None = None,
    ) -> pl.LazyFrame:
        """Lazy, columnar read of a table (all partitions unless some are named).

        A missing table raises LakeError unless `schema` is given, in which case an empty
        frame of that schema stands in (an upstream partition with no data is normal).
        """
        opts = dict(self.storage_options) or None
        files = self.files(table, partitions)
        if not files:
            if schema is not None:
                return pl.LazyFrame(schema=dict(schema))
            raise LakeError(
                f"table {table!r} has no data under {self.table_uri(table)}"
                + (f" for partitions {list(partitions)}" if partitions is not None else "")
                + ": materialize its asset first"
            )
        if len(files) == 1:
            return pl.scan_parquet(files[0], storage_options=opts)
        # Partitions may differ in optional columns (an empty partition carries only the
        # contract's): align them by name instead of failing.
        return pl.concat([pl.scan_parquet(f, storage_options=opts) for f in files], how="diagonal_relaxed")

    def read(self, table: str, partitions: Sequence[PartitionSpec] | None = None, **kw: object) -> pl.DataFrame:
        return self.scan(table, partitions, **kw).collect()  # type: ignore[arg-type]

    # ---- DuckDB query surface ----------------------------------------------------
    @contextmanager
    def connect(self, read_only: bool = False) -> Generator[duckdb.DuckDBPyConnection]:
        """The warehouse file, open while this process holds the home's `warehouse` lock
        (`core.home_lock`): shared for a reader, exclusive for a writer, from before DuckDB opens
        the file until after it has closed it.

        DuckDB's own lock does not cover that span: a process that opened the file while another
        was creating it read a half-written header ("exists, but it is not a valid DuckDB database
        file"), and views created by one process were missing once all had exited: 4 of 200 rounds
        of `test_concurrent_processes_never_fail_on_the_duckdb_lock`'s four writers failed, five
        rounds at a time on 2 cores; 0 of 200 with this lock. DuckDB's lock is still waited for,
        against a process outside the lake (the DuckDB CLI on the warehouse)."""
        self.home.mkdir(parents=True, exist_ok=True)
        lock = HomeLock(self.home, "warehouse")
        (lock.shared if read_only else lock.exclusive)(timeout=self.lock_timeout_s)
        try:
            con = self._open(read_only, deadline=time.monotonic() + self.lock_timeout_s)
            try:
                yield con
            finally:
                con.close()
        finally:
            lock.release()

    def _open(self, read_only: bool, deadline: float) -> duckdb.DuckDBPyConnection:
        delay = 0.05
        while True:
            try:
                return duckdb.connect(str(self.warehouse_path), read_only=read_only)
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 1.0)

    def ensure_view(self, table: str) -> None:
        """(Re)create `table` as a view over its Parquet files; the glob resolves at query time."""
        glob = f"{self.table_uri(table)}/**/{DATA_FILE}".replace("'", "''")
        sql = (
            f'CREATE OR REPLACE VIEW "{table}" AS SELECT * FROM '
            f"read_parquet('{glob}', union_by_name = true, hive_partitioning = false)"
        )
        with self.connect() as con:
            if self.is_remote:
                try:
                    con.execute("LOAD httpfs")
                    con.execute("CREATE SECRET IF NOT EXISTS linkqa_s3 (TYPE s3, PROVIDER credential_chain)")
                except duckdb.Error as exc:
                    # The data is written; only the query surface waits for the extension.
                    warnings.warn(
                        f"DuckDB view {table!r} over {self.root} not refreshed: httpfs unavailable ({exc})",
                        stacklevel=2,
                    )
                    return
            con.execute(sql)

    def tables(self) -> list[str]:
        """Views present in the warehouse file."""
        if not self.warehouse_path.exists():
            return []
        with self.connect(read_only=True) as con:
            rows = con.execute("select view_name from duckdb_views() where not internal order by 1").fetchall()
        return [r[0] for r in rows]
