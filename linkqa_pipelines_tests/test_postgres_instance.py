"""A `linkqa run` on the single-VM Postgres instance (infra/local-postgres.dagster.yaml), read back.

The test starts a throwaway PostgreSQL cluster (Debian's `postgresql` package: initdb and pg_ctl
as the `postgres` user, password authentication, 127.0.0.1 on a free port, data in a temp dir),
installs the committed instance file as `$DAGSTER_HOME/dagster.yaml` with its `DAGSTER_PG_*`
variables pointing at it, runs `linkqa run` on one discipline of the bundled sample, and reads
back through `DagsterInstance` the runs, the materializations and the concurrency pools the
model-backed steps claimed. Without the server binaries the test skips, or fails under CI=true
(.ci/run installs the package).
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest
from dagster import DagsterInstance, DagsterRunStatus

from linkqa_pipelines_tests.conftest import in_ci

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    user: str
    password: str
    db: str

    def env(self) -> dict[str, str]:
        """The variables the instance files read (`{env: DAGSTER_PG_*}`)."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USER": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
            "DAGSTER_PG_DB": self.db,
        }

    def conninfo(self, db: str | None = None) -> str:
        return f"host={self.host} port={self.port} user={self.user} password={self.password} dbname={db or self.db}"


def missing(reason: str) -> None:
    if in_ci():
        pytest.fail(f"{reason}: CI=true needs it (.ci/run installs Debian's postgresql)", pytrace=False)
    pytest.skip(reason)


def server_binaries() -> Path:
    """The newest installed PostgreSQL's bin folder (Debian keeps initdb and pg_ctl off PATH)."""
    found = sorted(Path("/").glob(PG_BIN_GLOB.lstrip("/")), key=lambda p: int(p.parent.name))
    found = [b for b in found if (b / "initdb").exists() and (b / "pg_ctl").exists()]
    if not found:
        missing(f"no PostgreSQL server binaries at {PG_BIN_GLOB}")
    return found[-1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def postgres() -> Iterator[Postgres]:
    """A PostgreSQL cluster on 127.0.0.1 for this test, stopped and deleted after it."""
    bin_dir = server_binaries()
    try:
        owner = pwd.getpwnam("postgres")  # initdb refuses to run as root
    except KeyError:
        missing("no `postgres` system user to run the server as")
        raise
    if os.geteuid() not in (0, owner.pw_uid):
        missing("starting PostgreSQL as `postgres` needs root")
    workdir = Path(tempfile.mkdtemp(prefix="linkqa-pg-"))
    workdir.chmod(0o755)
    data, sockets = workdir / "data", workdir / "sockets"
    sockets.mkdir()
    password = secrets.token_hex(16)
    (workdir / "pwfile").write_text(password + "\n", encoding="utf-8")
    for path in (workdir, sockets, workdir / "pwfile"):
        os.chown(path, owner.pw_uid, owner.pw_gid)
    pg = Postgres(host="127.0.0.1", port=free_port(), user="dagster", password=password, db="dagster")

    def as_postgres(*args: str) -> None:
        done = subprocess.run(
            [str(bin_dir / args[0]), *args[1:]],
            user=owner.pw_uid,
            group=owner.pw_gid,
            extra_groups=[],
            cwd=workdir,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"{args[0]}: {done.stdout[-2000:]}{done.stderr[-2000:]}"

    options = f"-c listen_addresses={pg.host} -p {pg.port} -k {sockets} -c fsync=off -c max_connections=100"
    as_postgres("initdb", "-D", str(data), "-U", pg.user, "--auth=scram-sha-256", f"--pwfile={workdir / 'pwfile'}")
    as_postgres("pg_ctl", "-D", str(data), "-o", options, "-l", str(workdir / "server.log"), "-w", "start")
    try:
        conn = psycopg2.connect(pg.conninfo("postgres"))
        conn.autocommit = True  # CREATE DATABASE cannot run in a transaction
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {pg.db}")
        conn.close()
        yield pg
    finally:
        as_postgres("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(workdir)


def test_linkqa_run_on_the_postgres_instance_round_trips(
    postgres: Postgres, linkqa_home: Path, linkqa_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    dagster_home = linkqa_home / "dagster"
    shutil.copy(ROOT / "infra" / "local-postgres.dagster.yaml", dagster_home / "dagster.yaml")
    env = linkqa_env | postgres.env() | {"PYTHONPATH": str(ROOT)}  # this tree's code, as the other tests run
    done = subprocess.run(
        [sys.executable, "-m", "linkqa_pipelines.cli", "run", "--disciplines", "physics"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert postgres.password not in done.stdout + done.stderr, "the database password reached the output"

    for name, value in postgres.env().items():
        monkeypatch.setenv(name, value)
    with DagsterInstance.get() as instance:
        runs = instance.get_runs()
        assert runs and all(r.status == DagsterRunStatus.SUCCESS for r in runs), [(r.job_name, r.status) for r in runs]
        # A partition run is tagged with its key (dagster/partition, or a one-key range).
        assert any("physics" in r.tags.values() for r in runs), "no run of the physics partition"

        # Every asset that was materialized has its latest materialization from one of these runs.
        run_ids = {r.run_id for r in runs}
        keys = instance.get_asset_keys()
        assert keys
        for key in keys:
            event = instance.get_latest_materialization_event(key)
            assert event is not None and event.run_id in run_ids, key

        # The model-backed steps claimed slots in their endpoint's pool; none is left held.
        pools = instance.event_log_storage.get_concurrency_keys()
        assert any(pool.startswith("llm_") for pool in pools), pools
        for pool in pools:
            info = instance.event_log_storage.get_concurrency_info(pool)
            assert info.active_slot_count == 0 and info.pending_step_count == 0, (pool, info)

    # The history is in Postgres (not a SQLite file beside the instance).
    conn = psycopg2.connect(postgres.conninfo())
    with conn.cursor() as cur:
        cur.execute("select count(*) from runs")
        row = cur.fetchone()
    conn.close()
    assert row is not None and row[0] == len(runs)
    assert not list(dagster_home.rglob("*.db")), "run or event storage fell back to SQLite"
