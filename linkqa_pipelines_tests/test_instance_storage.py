"""The pooled event log (`lib/instance_storage.py`) and the dagster.yaml `linkqa` writes for it.

A run through it records what Dagster's own SQLite storage records; another process reads and
writes the same home while this one keeps its connections open; `dispose` closes every file it
held, and no more than `run_engines` run shards stay open.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from linkqa_pipelines.cli import OLD_LOCAL_INSTANCE_YAML, _write_instance_yaml
from linkqa_pipelines.lib.instance_storage import PooledSqliteEventLogStorage, local_instance_yaml


@dg.asset
def numbers() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"total": 6})


@dg.asset_check(asset=numbers, blocking=True)
def numbers_positive() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True, metadata={"checked": 3})


def _instance(home: Path, yaml_text: str) -> dg.DagsterInstance:
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(yaml_text, encoding="utf-8")
    return dg.DagsterInstance.from_config(str(home))


def _run(instance: dg.DagsterInstance) -> list[str]:
    """Materialize `numbers` with its check; the run's event types in order."""
    result = dg.materialize([numbers, numbers_positive], instance=instance)
    return [str(e.dagster_event_type) for e in instance.all_logs(result.run_id) if e.is_dagster_event]


def _open_files(folder: Path) -> set[str]:
    """Files under `folder` this process holds open."""
    found: set[str] = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = str(fd.readlink())
        except OSError:  # closed between the listing and the read
            continue
        if target.startswith(str(folder)):
            found.add(target)
    return found


@pytest.fixture
def pooled(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    home = tmp_path / "pooled"
    with _instance(home, local_instance_yaml(home)) as instance:
        yield instance


def test_records_what_the_default_storage_records(pooled: dg.DagsterInstance, tmp_path: Path) -> None:
    assert isinstance(pooled.event_log_storage, PooledSqliteEventLogStorage)
    with _instance(tmp_path / "default", OLD_LOCAL_INSTANCE_YAML) as default:
        assert type(default.event_log_storage).__name__ == "SqliteEventLogStorage"
        expected = _run(default)
    assert _run(pooled) == expected and "ASSET_CHECK_EVALUATION" in str(expected)
    latest = pooled.get_latest_materialization_event(numbers.key)
    assert latest is not None and latest.asset_materialization is not None
    assert latest.asset_materialization.metadata["total"] == dg.IntMetadataValue(6)
    assert len(pooled.fetch_materializations(numbers.key, limit=10).records) == 1
    check = pooled.event_log_storage.get_latest_asset_check_execution_by_key([numbers_positive.check_key])
    assert check[numbers_positive.check_key].status.value == "SUCCEEDED"
    # the default home, upgraded to the pooled storage, still has its run and events (the same files)
    with _instance(tmp_path / "default", local_instance_yaml(tmp_path / "default")) as upgraded:
        assert isinstance(upgraded.event_log_storage, PooledSqliteEventLogStorage)
        (run,) = upgraded.get_runs()
        assert [str(e.dagster_event_type) for e in upgraded.all_logs(run.run_id) if e.is_dagster_event] == expected


@pytest.mark.slow
def test_another_process_shares_the_home_while_connections_stay_open(pooled: dg.DagsterInstance) -> None:
    _run(pooled)
    base = Path(pooled.root_directory) / "history" / "runs"
    assert _open_files(base), "the storage keeps its shards open between writes"
    other = (
        "import sys, dagster as dg\n"
        "with dg.DagsterInstance.from_config(sys.argv[1]) as instance:\n"
        "    event = instance.get_latest_materialization_event(dg.AssetKey('numbers'))\n"
        "    print(event.asset_materialization.metadata['total'].value)\n"
        "    instance.report_runless_asset_event(dg.AssetMaterialization('numbers', metadata={'total': 7}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", other, pooled.root_directory], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "6", proc.stderr[-2000:]
    latest = pooled.get_latest_materialization_event(numbers.key)  # through the connection kept open
    assert latest is not None and latest.asset_materialization is not None
    assert latest.asset_materialization.metadata["total"] == dg.IntMetadataValue(7)


def test_dispose_closes_every_shard_and_run_shards_are_bounded(tmp_path: Path) -> None:
    home = tmp_path / "bounded"
    base = home / "history" / "runs"
    config = local_instance_yaml(home).replace(f"base_dir: {base}/", f"base_dir: {base}/\n    run_engines: 2")
    with _instance(home, config) as instance:
        for _ in range(3):
            _run(instance)
        shards = {Path(f).name for f in _open_files(base) if f.endswith(".db")}
        assert "index.db" in shards and len(shards - {"index.db"}) == 2  # the oldest run's shard was closed
        instance.event_log_storage.dispose()
        assert not _open_files(base)
        assert len(instance.get_runs()) == 3 and _run(instance)  # usable again after dispose


def test_linkqa_writes_the_pooled_instance_and_leaves_other_files_alone(tmp_path: Path) -> None:
    home = tmp_path / "dagster"
    home.mkdir()
    config = home / "dagster.yaml"
    _write_instance_yaml(home)  # a new home
    assert config.read_text(encoding="utf-8") == local_instance_yaml(home)
    config.write_text(OLD_LOCAL_INSTANCE_YAML, encoding="utf-8")  # what linkqa wrote before: upgraded
    _write_instance_yaml(home)
    assert config.read_text(encoding="utf-8") == local_instance_yaml(home)
    moved = tmp_path / "moved"
    home.rename(moved)  # a home that moved gets its own paths
    _write_instance_yaml(moved)
    assert str(home) not in (moved / "dagster.yaml").read_text(encoding="utf-8")
    custom = "telemetry:\n  enabled: true\n"
    (moved / "dagster.yaml").write_text(custom, encoding="utf-8")  # a file someone else wrote stays
    _write_instance_yaml(moved)
    assert (moved / "dagster.yaml").read_text(encoding="utf-8") == custom
    assert [p.name for p in moved.iterdir()] == ["dagster.yaml"]  # no temporary file left behind
