"""The image starts as its own non-root user: infra/Dockerfile replayed without Docker.

No Docker daemon here, so the test rebuilds what the image's user sees under a scratch root: the
package as a read-only copy owned by root (site-packages in the image), its dependencies from
this venv, `python` and `dagster` in `usr/local/bin`, the image's `ENV` with every absolute path
moved under the root, and only the user's home and the folders the Dockerfile `chown`s writable
by its UID. The venv's own interpreter may sit where that UID cannot reach it (pyenv under
/root), so the tree uses the system's Python of the same minor version, as python:3.X-slim has.

As that UID it then runs: a bare import of the walk kernels as the image was before (no
`NUMBA_CACHE_DIR`, read-only home), which must fail the way it did there, so the reproduction is
faithful; the Dockerfile's own `RUN` lines after `USER` (import check, kernels compiled into the
cache); one job with the `dagster` CLI; and the image's `CMD` (the code server) until it answers
a gRPC health check. Switching users needs root; CI runs as root.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from linkqa_pipelines_tests.conftest import in_ci
from linkqa_pipelines_tests.dockerfile import (
    ROOT,
    dockerfile_instructions,
    image_cmd,
    image_env,
    image_user,
    runs_as_user,
)

pytestmark = pytest.mark.slow

INSTRUCTIONS = dockerfile_instructions()
UID, GID = image_user(INSTRUCTIONS)
PYTHON = f"python{sys.version_info.major}.{sys.version_info.minor}"


def chowned_variables() -> list[str]:
    """Variables naming the folders the image gives its user (`chown -R user:group "$A" "$B"`)."""
    kinds = [kind for kind, _ in INSTRUCTIONS]
    before_user = " ".join(args for kind, args in INSTRUCTIONS[: kinds.index("USER")] if kind == "RUN")
    chown = re.search(r"chown -R \S+((?:\s+\"\$\w+\")+)", before_user)
    assert chown, "the Dockerfile must chown the app user's folders"
    return re.findall(r"\$(\w+)", chown.group(1))


def user_home() -> str:
    """The home `useradd --create-home --home-dir DIR` gives the image's user."""
    runs = " ".join(args for kind, args in INSTRUCTIONS if kind == "RUN")
    useradd = re.search(r"useradd [^&]*", runs)
    assert useradd and "--create-home" in useradd.group(0), "the image's user needs a home of its own"
    home = re.search(r"--home-dir (\S+)", useradd.group(0))
    assert home, "useradd must name the home"
    return home.group(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def read_only_copy(source: Path, dest: Path) -> None:
    """`source` copied to `dest` the way pip leaves it for a non-root user: root's, not writable."""
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for path in [dest, *dest.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)


@pytest.fixture
def image_root() -> Iterator[Path]:
    """A scratch root the image's UID can traverse (pytest's own tmp dirs are root-only)."""
    if os.geteuid() != 0:
        reason = "replaying the image as its UID needs root (to switch users)"
        if in_ci():
            pytest.fail(f"{reason}; CI runs as root", pytrace=False)
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="linkqa-image-"))
    root.chmod(0o755)
    yield root
    for path in [root, *root.rglob("*")]:  # the read-only copy must be writable to be removed
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    shutil.rmtree(root)


def image_tree(root: Path) -> dict[str, str]:
    """Lay out the image under `root`; returns the environment its processes get."""
    python = shutil.which(PYTHON, path="/usr/local/bin:/usr/bin")
    if python is None:
        reason = f"no system {PYTHON} for the image's user"
        if in_ci():
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    bin_dir = root / "usr" / "local" / "bin"
    site = root / "usr" / "local" / "lib" / PYTHON / "site-packages"
    site.mkdir(parents=True)
    read_only_copy(ROOT / "linkqa_pipelines", site / "linkqa_pipelines")
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").symlink_to(python)
    (bin_dir / "dagster").write_text('#!/bin/sh\nexec python -m dagster "$@"\n', encoding="utf-8")
    (bin_dir / "dagster").chmod(0o755)
    env = {k: str(root / v.lstrip("/")) if v.startswith("/") else v for k, v in image_env(INSTRUCTIONS).items()}
    tmp = root / "tmp"
    tmp.mkdir()
    tmp.chmod(0o1777)
    (workdir,) = [args for kind, args in INSTRUCTIONS if kind == "WORKDIR"]
    (root / workdir.lstrip("/")).mkdir(parents=True)  # root's, as in the image
    home = root / user_home().lstrip("/")
    for folder in [home, *(Path(env[name]) for name in chowned_variables())]:
        folder.mkdir(parents=True)
        os.chown(folder, UID, GID)
    return env | {
        "HOME": str(home),
        "WORKDIR": str(root / workdir.lstrip("/")),
        "TMPDIR": str(tmp),
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        # the package's copy first, then its dependencies from this venv (no .pth: no editable finder)
        "PYTHONPATH": f"{site}:{sysconfig.get_paths()['purelib']}",
        "LANG": "C.UTF-8",
    }


def as_user(args: list[str], env: Mapping[str, str], cwd: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        env=dict(env),
        cwd=cwd,
        user=UID,
        group=GID,
        extra_groups=[],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_image_user_imports_the_definitions_runs_a_step_and_serves(image_root: Path) -> None:
    env = image_tree(image_root)
    cwd = env.pop("WORKDIR")
    assert "NUMBA_CACHE_DIR" in chowned_variables(), "the numba cache folder must be the app user's"

    # Control, the image as it was: no NUMBA_CACHE_DIR and a read-only home. The import fails.
    bare = {k: v for k, v in env.items() if k != "NUMBA_CACHE_DIR"} | {"HOME": cwd}
    control = as_user(["python", "-c", "import linkqa_pipelines.core.walks.kernels"], bare, cwd, 60)
    assert control.returncode != 0 and "no locator available" in control.stderr, control.stderr[-2000:]

    # The Dockerfile's own check, as its user: definitions load, kernels compile into the cache.
    checks = runs_as_user(INSTRUCTIONS)
    assert checks, "the image must check itself after dropping root"
    for command in checks:
        done = as_user(["/bin/sh", "-c", command], env, cwd, 120)
        assert done.returncode == 0, f"RUN {command}\n{done.stderr[-3000:]}"
    cache = Path(env["NUMBA_CACHE_DIR"])
    assert list(cache.rglob("*.nbi")) and list(cache.rglob("*.nbc")), "no numba cache was baked"
    site = Path(env["PYTHONPATH"].split(":")[0])
    where = as_user(["python", "-c", "import linkqa_pipelines; print(linkqa_pipelines.__file__)"], env, cwd, 60)
    assert Path(where.stdout.strip()).is_relative_to(site), where.stdout
    assert not list(site.rglob("__pycache__")), "the package folder must stay untouched"

    # The image's CMD (the code server) on loopback, started now so that it loads while a step runs.
    cmd = image_cmd(INSTRUCTIONS)
    module = cmd[cmd.index("-m") + 1]
    port = free_port()
    cmd[cmd.index("-h") + 1], cmd[cmd.index("-p") + 1] = "127.0.0.1", str(port)
    log_path = Path(env["TMPDIR"]) / "code-server.log"
    log = log_path.open("wb")
    server = subprocess.Popen(
        cmd,
        env=env,
        cwd=cwd,
        user=UID,
        group=GID,
        extra_groups=[],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        # One step, as a run pod would: the CLI loads the code location's module and runs the
        # pipeline's first job (seed ingestion, the one `linkqa run` starts with).
        step = as_user(["dagster", "job", "execute", "-m", module, "-j", "ingest_job"], env, cwd, 120)
        assert step.returncode == 0 and "RUN_SUCCESS" in step.stderr + step.stdout, step.stderr[-3000:]
        written = [p for p in Path(env["LINKQA_HOME"]).rglob("*.parquet") if p.stat().st_uid == UID]
        assert written, "the step wrote no table into LINKQA_HOME"

        deadline = time.monotonic() + 60
        health = None
        while time.monotonic() < deadline and server.poll() is None:
            health = subprocess.run(
                [sys.executable, "-m", "dagster", "api", "grpc-health-check", "-h", "127.0.0.1", "-p", str(port)],
                capture_output=True,
                text=True,
                timeout=30,
            )
            if health.returncode == 0:
                break
            time.sleep(1)
        served = log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
        assert server.poll() is None, f"the code server exited:\n{served}"
        assert health is not None and health.returncode == 0, f"no health check passed:\n{served}"
    finally:
        # A code server still loading under a busy machine (the suite on 2 workers) can take
        # longer than 30 s to honour SIGTERM; its shutdown is not what this test checks.
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)
        log.close()
