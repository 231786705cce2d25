"""`linkqa show` on a finished offline home: an item's path and seeds, a rejected item's reason, a
sample of one discipline, a one-line error for an unknown id, and a copied home.

One small offline run (two disciplines, 20 paths) is shared by every test, and by both xdist
workers: the first to take the lock builds it. Expected values are read from the run's own
tables, never hard-coded.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from pathlib import Path

import polars as pl
import pytest

from linkqa_pipelines import cli
from linkqa_pipelines.core.lake import Lake

pytestmark = pytest.mark.slow  # one pipeline run, shared by the module


@pytest.fixture(scope="session")
def finished_home(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """A home after `linkqa run --disciplines physics,mathematics --paths 20` (offline backend)."""
    root = tmp_path_factory.getbasetemp()
    root = root if worker_id == "master" else root.parent  # shared by this session's workers
    home = root / "show_home"
    with (root / "show_home.lock").open("w") as lock, pytest.MonkeyPatch.context() as env:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (home / "done").exists():
            for name in [n for n in os.environ if n.startswith(("LINKQA_", "DAGSTER_HOME"))]:
                env.delenv(name)
            env.setenv("LINKQA_HOME", str(home))  # restored afterwards, though `main` sets it again
            env.setenv("DAGSTER_HOME", str(home / "dagster"))
            assert cli.main(["run", "--home", str(home), "--disciplines", "physics,mathematics", "--paths", "20"]) == 0
            (home / "done").touch()
    return home


def show(capsys: pytest.CaptureFixture[str], home: Path, *args: str) -> tuple[int, str, str]:
    code = cli.main(["show", "--home", str(home), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_show_prints_the_items_path_kps_and_seeds(finished_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lake = Lake(finished_home)
    item = lake.read("linkqa_dataset").row(0, named=True)
    path = lake.read("walk_paths").filter(pl.col("path_id") == item["path_id"]).row(0, named=True)
    seeds = lake.read("seed_sources").filter(pl.col("seed_id").is_in(item["seed_ids"]))
    code, out, _ = show(capsys, finished_home, item["qa_id"])
    assert code == cli.EXIT_OK
    lines = out.splitlines()
    kp_lines = [next(i for i, line in enumerate(lines) if kp in line) for kp in path["kp_ids"]]
    assert kp_lines == sorted(kp_lines)  # in walk order
    for seed in seeds.iter_rows(named=True):  # file and row on the seed's own line
        assert any(
            seed["seed_id"] in line and seed["source"] in line and f" {seed['source_row']} " in line for line in lines
        )
    assert "released: yes" in out
    assert "unverified (offline backend: no solver)" in out and "non-LLM algorithm" in out


def test_show_a_rejected_item_gives_its_reason(finished_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reject = Lake(finished_home).read("linkqa_dataset_rejects").row(0, named=True)
    code, out, _ = show(capsys, finished_home, reject["qa_id"], "--json")
    assert code == cli.EXIT_OK
    report = json.loads(out)
    assert report["released"] is False
    assert {(d["stage"], d["reason"], d["related_id"]) for d in report["decisions"]} >= {
        (reject["stage"], reject["reason"], reject["related_id"])
    }
    code, out, _ = show(capsys, finished_home, reject["qa_id"])
    assert reject["reason"] in out and "this item removed" in out


def test_sample_of_one_discipline(finished_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = show(capsys, finished_home, "--sample", "2", "--discipline", "physics", "--seed", "7", "--json")
    assert code == cli.EXIT_OK
    reports = json.loads(out)
    assert len({r["item"]["qa_id"] for r in reports}) == 2
    assert {r["item"]["discipline"] for r in reports} == {"physics"}
    code, out, _ = show(capsys, finished_home, "--sample", "2", "--discipline", "physics", "--seed", "7")
    assert out.count("discipline: physics") == 2 and out.count("\nitem qa_") == 2


def test_unknown_id_is_one_line_with_a_hint(finished_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = show(capsys, finished_home, "qa_does_not_exist")
    assert code == cli.EXIT_ERROR and out == ""
    assert err.splitlines() == [
        f"error: no item 'qa_does_not_exist' under {finished_home}",
        "hint: `linkqa show --sample 3` shows some items and their ids",
    ]


def test_a_copied_home_is_read_from_its_own_lake(
    finished_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only the copy's lake is read: no Dagster instance or cache is needed, and a table removed
    from the copy (the released dataset) is missing from what it shows."""
    qa_id = Lake(finished_home).read("linkqa_dataset")["qa_id"][0]
    copy = tmp_path / "elsewhere"
    shutil.copytree(finished_home, copy, ignore=shutil.ignore_patterns("dagster", "cache"))
    shutil.rmtree(copy / "lake" / "linkqa_dataset")
    code, out, _ = show(capsys, copy, qa_id, "--json")
    assert code == cli.EXIT_OK
    report = json.loads(out)
    assert report["released"] is False and report["seeds"] and all(s["source"] for s in report["seeds"])
    assert json.loads(show(capsys, finished_home, qa_id, "--json")[1])["released"] is True
