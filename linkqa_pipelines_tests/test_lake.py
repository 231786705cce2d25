"""The lake: atomic partition replacement, columnar reads, DuckDB views, concurrent writers."""

from __future__ import annotations

import multiprocessing as mp
import threading
from pathlib import Path

import duckdb
import polars as pl
import pytest

from linkqa_pipelines.core.lake import Lake, LakeError


def test_partition_replace_is_idempotent_and_visible_in_duckdb(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    lake.write("seed_qa", pl.DataFrame({"seed_id": ["a", "b"], "discipline": ["x", "x"]}), "x")
    lake.write("seed_qa", pl.DataFrame({"seed_id": ["c"], "discipline": ["y"]}), "y")
    lake.write("seed_qa", pl.DataFrame({"seed_id": ["a", "b"], "discipline": ["x", "x"]}), "x")
    assert sorted(lake.read("seed_qa")["seed_id"].to_list()) == ["a", "b", "c"]
    assert lake.read("seed_qa", ["y"])["seed_id"].to_list() == ["c"]
    con = duckdb.connect(str(lake.warehouse_path), read_only=True)
    assert con.execute("select count(*) from seed_qa").fetchall() == [(3,)]
    con.close()
    assert lake.tables() == ["seed_qa"]
    assert not list(tmp_path.rglob("*.tmp"))


def test_missing_table_names_itself_unless_schema_given(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    with pytest.raises(LakeError, match="walk_paths"):
        lake.read("walk_paths")
    empty = lake.read("walk_paths", schema={"path_id": pl.String()})
    assert empty.height == 0 and empty.columns == ["path_id"]


def test_partitions_with_different_optional_columns_align(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    lake.write("t", pl.DataFrame({"a": [1]}), "x")
    lake.write("t", pl.DataFrame({"a": [2], "b": ["extra"]}), "y")
    df = lake.read("t").sort("a")
    assert df.to_dicts() == [{"a": 1, "b": None}, {"a": 2, "b": "extra"}]


def test_invalid_names_rejected(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    with pytest.raises(ValueError, match="invalid table name 'Bad Name'"):
        lake.write("Bad Name", pl.DataFrame({"a": [1]}))
    with pytest.raises(ValueError, match=r"invalid partition discipline='\.\./escape'"):
        lake.write("t", pl.DataFrame({"a": [1]}), "../escape")


def test_a_view_write_waits_until_the_warehouse_is_closed(tmp_path: Path) -> None:
    """The warehouse lock spans DuckDB's whole open-write-close, so a writer never opens the file
    while another process (here: a thread, with its own lock file handle) has it open."""
    lake = Lake(tmp_path)
    lake.write("t", pl.DataFrame({"a": [1]}))
    done = threading.Event()
    writer = threading.Thread(target=lambda: (lake.write("u", pl.DataFrame({"a": [2]})), done.set()))
    with lake.connect(read_only=True) as con:
        writer.start()
        assert not done.wait(0.5)
        assert con.execute("select count(*) from t").fetchall() == [(1,)]
    writer.join(30)
    assert done.is_set()
    assert lake.tables() == ["t", "u"]


def _writer(home: str, key: str) -> None:
    lake = Lake(Path(home))
    for i in range(5):
        lake.write("concurrent", pl.DataFrame({"k": [key] * 100, "i": list(range(100))}), key)
        lake.write(f"own_{key}_{i}", pl.DataFrame({"i": [i]}))


@pytest.mark.slow
def test_concurrent_processes_never_fail_on_the_duckdb_lock(tmp_path: Path) -> None:
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), f"p{i}")) for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    lake = Lake(tmp_path)
    assert lake.read("concurrent").height == 400
    assert len(lake.tables()) == 1 + 4 * 5
