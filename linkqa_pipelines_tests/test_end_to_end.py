"""End to end through real processes: `linkqa run` (one run per stage, one run group), two concurrent
`linkqa run` on one home, concurrent multiprocess partition runs, `dg check defs`."""

import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey, DagsterInstance

from linkqa_pipelines.core.lake import Lake
from linkqa_pipelines.definitions import build_definitions
from linkqa_pipelines.defs.graph.version import stale_disciplines

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
pytestmark = pytest.mark.slow


def _linkqa(env: dict[str, str], *args: str, timeout: int = 400) -> subprocess.CompletedProcess[str]:
    """`linkqa *args` in a child process with `env` (the `linkqa_env` fixture: fresh home, offline LLM)."""
    return subprocess.run(
        [str(BIN / "linkqa"), *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def test_linkqa_run_end_to_end_then_instance_shows_materializations(
    linkqa_home: Path, linkqa_env: dict[str, str]
) -> None:
    home = linkqa_home
    disciplines = {"mathematics", "statistics", "physics"}  # neighbours in the partitions' order: one range
    proc = _linkqa(linkqa_env, "run", "--disciplines", ",".join(sorted(disciplines)), "--paths", "40")
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    group = re.search(r"runs tagged linkqa/run_group=(\S+);", out)
    assert group is not None and f"/runs?q%5B%5D=tag%3Alinkqa%2Frun_group%3D{group[1]}" in out
    for text in (
        "Rows per discipline partition",
        "Time per stage",
        "LLM use per stage",
        "quarantined seed rows",
        "offline",
    ):
        assert text in out

    instance = DagsterInstance.get()  # DAGSTER_HOME = home/dagster, set by the linkqa_home fixture
    for name in ("seed_sources", "kp_graph", "linkqa_release"):
        assert instance.get_latest_materialization_event(AssetKey(name)) is not None, name
    parts = instance.get_materialized_partitions(AssetKey("walk_paths"))
    assert parts == disciplines
    # every asset the pipeline materializes, the side tables and failure ledgers too, was materialized
    # (run_failures is an external asset a sensor records, only when a run fails)
    graph = build_definitions(env={}).resolve_asset_graph()
    all_keys = {k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable}
    assert {
        "seed_accounting",
        "kp_aliases",
        "kp_links",
        "kp_seed_links",
        "walk_paths_unseeded",
        "linkqa_dataset_rejects",
        "seed_knowledge_points_llm_failures",
        "synthesized_qa_llm_failures",
        "difficulty_scored_qa_llm_failures",
    } <= {k.to_user_string() for k in all_keys}
    for key in all_keys:
        assert instance.get_latest_materialization_event(key) is not None, key.to_user_string()
    runs = instance.get_runs()
    # ingest, seeds + KPs, catalog + graph, walks .. difficulty, screening, dataset, release: one run each
    assert len(runs) == 7 and all(r.is_success for r in runs)
    assert {r.tags.get("linkqa/run_group") for r in runs} == {group[1]}
    instance.dispose()

    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        views = {r[0] for r in con.execute("select view_name from duckdb_views() where not internal").fetchall()}
        assert {
            "seed_qa",
            "seed_quarantine",
            "seed_knowledge_points",
            "kp_catalog",
            "kp_graph",
            "walk_paths",
            "synthesized_qa",
            "difficulty_scored_qa",
            "linkqa_dataset",
        } <= views
        partitions = {r[0] for r in con.execute("select distinct discipline from walk_paths").fetchall()}
        assert partitions == disciplines
        backends = {r[0] for r in con.execute("select distinct backend from linkqa_dataset").fetchall()}
        assert backends == {"offline"}
        # Every released item, hardened variants included, is built from seeds of its own discipline.
        foreign = con.execute(
            "select count(*) from (select discipline, unnest(seed_ids) as seed_id from linkqa_dataset) d "
            "join seed_qa s using (seed_id) where s.discipline <> d.discipline"
        ).fetchone()
        assert foreign == (0,)
    finally:
        con.close()
    assert (home / "release" / "README.md").exists()


def test_two_concurrent_runs_on_one_home_end_on_one_graph(linkqa_home: Path, linkqa_env: dict[str, str]) -> None:
    """Two `linkqa run` at once: the KP graph lock makes the second wait, so both succeed and every
    partition was walked on the current graph (or one fails naming the mixed versions)."""
    args = [str(BIN / "linkqa"), "run", "--disciplines", "physics", "--paths", "10"]
    procs = [
        subprocess.Popen(args, env=linkqa_env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=600) for p in procs]
    codes = [p.returncode for p in procs]
    errors = [err[-1500:] for _, err in outputs]
    assert codes == [0, 0] or (min(codes) == 0 and any("mixed KP graph versions" in e for e in errors)), errors
    lake = Lake(linkqa_home)
    current = lake.read("kp_seed_links")["graph_version"].unique().to_list()
    assert len(current) == 1
    assert lake.read("walk_paths")["graph_version"].unique().to_list() == current
    assert stale_disciplines(lake.scan("walk_paths"), current[0]).is_empty()


def test_linkqa_run_fails_naming_the_unreadable_file(tmp_path: Path, linkqa_env: dict[str, str]) -> None:
    bad = tmp_path / "broken.jsonl"
    bad.write_bytes(b"\xff\xfe\x00 not utf-8 \xc3\x28\n")
    proc = _linkqa(linkqa_env, "run", "--seeds", str(bad))
    assert proc.returncode != 0
    assert "broken.jsonl" in proc.stderr


def test_unknown_discipline_is_refused(linkqa_env: dict[str, str]) -> None:
    proc = _linkqa(linkqa_env, "run", "--disciplines", "astrology")
    assert proc.returncode == 2 and "astrology" in proc.stderr


def test_four_partitions_at_once_with_the_multiprocess_executor(linkqa_home: Path, linkqa_env: dict[str, str]) -> None:
    home = linkqa_home
    env = linkqa_env
    ingest = subprocess.run(
        [
            str(BIN / "dagster"),
            "asset",
            "materialize",
            "-m",
            "linkqa_pipelines.definitions",
            "--select",
            "seed_sources,seed_quarantine,seed_accounting",  # every output of the ingest_seeds multi-asset
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ingest.returncode == 0, ingest.stderr[-2000:]
    keys = ["mathematics", "physics", "chemistry", "economics"]
    procs = [
        subprocess.Popen(
            [
                str(BIN / "dagster"),
                "asset",
                "materialize",
                "-m",
                "linkqa_pipelines.definitions",
                "--select",
                "seed_qa,seed_knowledge_points,seed_knowledge_points_llm_failures",
                "--partition",
                key,
            ],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for key in keys
    ]
    outputs = [p.communicate(timeout=400)[0] for p in procs]
    for key, p, out in zip(keys, procs, outputs, strict=True):
        assert p.returncode == 0, f"{key}: {out[-2000:]}"
        assert "multiprocess executor" in out
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        got = dict(
            con.execute("select discipline, count(distinct seed_id) from seed_knowledge_points group by 1").fetchall()
        )
        expected = dict(con.execute("select discipline, count(*) from seed_qa group by 1").fetchall())
    finally:
        con.close()
    assert set(got) == set(keys) and set(expected) == set(keys)
    assert all(got[k] >= 0.8 * expected[k] for k in keys)


def test_dg_check_defs(linkqa_env: dict[str, str]) -> None:
    proc = subprocess.run(
        [str(BIN / "dg"), "check", "defs"],
        env={**linkqa_env, "PATH": f"{BIN}:{os.environ['PATH']}"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "All definitions loaded successfully" in proc.stdout + proc.stderr
