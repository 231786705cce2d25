"""The Dagster UI in a real browser: the asset graph shows every asset and its lineage, and a
partition launched through the UI's GraphQL API runs to success.

`dagster-webserver` serves the code location on 127.0.0.1 over a home whose seeds are ingested
(the instance has that run). Debian's Chromium, driven by Playwright (no browser download),
opens the global asset graph with every group expanded. Every asset the GraphQL API lists must
be a node there, and the graph must draw exactly the API's dependency edges: each drawn edge is
mapped to the nodes its ends touch. Then one discipline partition of `discipline_seed_job` is
launched through GraphQL's `launchRun` (the mutation the UI's launchpad sends), and its run
page must show the success. Screenshots are kept under $LINKQA_ARTIFACTS (or the test's tmp
dir), and the folder is printed. Without Chromium the test skips, or fails under CI=true
(.ci/run installs Debian's `chromium` and `fonts-noto-cjk`).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from dagster import DagsterInstance

from linkqa_pipelines_tests.conftest import in_ci
from linkqa_pipelines_tests.pipeline import materialize_assets

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
# Headless, and nothing that reaches outside the machine: no sync, no component updates, no QUIC.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Read at import: the autouse _hermetic_env fixture drops LINKQA_* variables before each test.
ARTIFACTS = os.environ.get("LINKQA_ARTIFACTS", "")
MODULE = "linkqa_pipelines.definitions"
# A run coordinator that launches at once: the default one queues runs for a daemon.
INSTANCE_YAML = """\
telemetry:
  enabled: false
run_coordinator:
  module: dagster._core.run_coordinator
  class: DefaultRunCoordinator
"""
ASSETS_QUERY = "{ assetNodes { assetKey { path } groupName dependencyKeys { path } } }"
REPOS_QUERY = "{ repositoriesOrError { ... on RepositoryConnection { nodes { name location { name } } } } }"
LAUNCH_RUN = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on Error { message }
  }
}"""
RUN_STATUS = "query Status($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"
# Each drawn node and edge, in the graph's own SVG coordinates.
GRAPH_GEOMETRY = """() => {
  const svg = document.querySelector("svg[class*=AssetGraphExplorer_svgContainer]");
  const nodes = [...svg.querySelectorAll("foreignObject")].flatMap((box) => {
    const name = box.querySelector("[class*=AssetNode_assetName]");
    const at = (key) => Number(box.getAttribute(key));
    return name ? [{label: name.textContent, x: at("x"), y: at("y"), w: at("width"), h: at("height")}] : [];
  });
  const edges = [...svg.querySelectorAll("path[marker-end]")].map(
    (path) => path.getAttribute("d").match(/-?[0-9.]+/g).map(Number),
  );
  return {nodes, edges};
}"""


@dataclass(frozen=True)
class Webserver:
    url: str

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = httpx.post(f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=60)
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def webserver(linkqa_home: Path, linkqa_env: dict[str, str], tmp_path: Path) -> Iterator[Webserver]:
    """The webserver over a home with its seeds ingested; stopped (with its code server) after."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} absent (Debian's chromium package)"
        if in_ci():
            pytest.fail(f"{reason}: CI=true needs it (.ci/run installs it)", pytrace=False)
        pytest.skip(reason)
    (linkqa_home / "dagster" / "dagster.yaml").write_text(INSTANCE_YAML, encoding="utf-8")
    server = Webserver(f"http://127.0.0.1:{free_port()}")
    port = urllib.parse.urlparse(server.url).port
    log = (tmp_path / "webserver.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "dagster_webserver", "-h", "127.0.0.1", "-p", str(port), "-m", MODULE],
        env=linkqa_env | {"PYTHONPATH": str(ROOT)},  # this tree's code, as the in-process runs use
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the code server it starts stops with it
    )
    try:
        # While the webserver loads the code location, ingest the seeds (a run on the instance).
        assert materialize_assets(linkqa_home, None, job="ingest_job", instance=DagsterInstance.get()).success
        deadline = time.monotonic() + 150
        while True:
            assert process.poll() is None, (tmp_path / "webserver.log").read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "the webserver did not serve the code location in time"
            try:
                if server.graphql(ASSETS_QUERY)["assetNodes"]:
                    break
            except (httpx.HTTPError, AssertionError):
                pass
            time.sleep(1)
        yield server
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        log.close()


def shown_as(label: str, name: str) -> bool:
    """Whether a node label shows `name`: in full, or middle-truncated (`seed_knowl…_points`)."""
    head, ellipsis, tail = label.partition("…")
    return label == name or bool(ellipsis and name.startswith(head) and name.endswith(tail))


def resolve_labels(labels: list[str], names: set[str]) -> dict[str, str]:
    """label -> asset name, when every label stands for exactly one asset (else the test fails)."""
    candidates = {label: {n for n in names if shown_as(label, n)} for label in labels}
    assert len(candidates) == len(labels), f"two nodes show the same label: {sorted(labels)}"
    resolved: dict[str, str] = {}
    while candidates:
        sure = {label: next(iter(c)) for label, c in candidates.items() if len(c) == 1}
        assert sure, f"labels match no asset or several: {candidates}"
        resolved |= sure
        candidates = {label: c - set(sure.values()) for label, c in candidates.items() if label not in sure}
    return resolved


def nearest_node(nodes: list[dict[str, Any]], x: float, y: float) -> dict[str, Any]:
    """The node whose box is closest to the point (an edge ends just outside its nodes)."""

    def distance(node: dict[str, Any]) -> float:
        dx = max(node["x"] - x, 0.0, x - node["x"] - node["w"])
        dy = max(node["y"] - y, 0.0, y - node["y"] - node["h"])
        return float((dx * dx + dy * dy) ** 0.5)

    best = min(nodes, key=distance)
    assert distance(best) < 40, f"an edge ends at ({x}, {y}), away from every node"
    return best


def test_asset_graph_shows_every_asset_and_edge_and_a_launched_partition_succeeds(
    webserver: Webserver, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    shots = Path(ARTIFACTS or tmp_path) / "ui-screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    print(f"screenshots: {shots}")

    api_nodes = webserver.graphql(ASSETS_QUERY)["assetNodes"]
    names = {"/".join(n["assetKey"]["path"]) for n in api_nodes}
    api_edges = {("/".join(d["path"]), "/".join(n["assetKey"]["path"])) for n in api_nodes for d in n["dependencyKeys"]}
    groups = sorted({n["groupName"] for n in api_nodes})
    expanded = ",".join(f"global@global:{group}" for group in groups)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True)
        # Tall enough that the fitted graph keeps every node on screen (the UI skips off-screen ones).
        page = browser.new_context(viewport={"width": 2000, "height": 2600}).new_page()
        page.add_init_script("window.localStorage.setItem('communityNux', '\"1\"')")  # no newsletter dialog
        page.goto(f"{webserver.url}/asset-groups?{urllib.parse.urlencode({'expanded': expanded})}")
        page.wait_for_function(
            "(n) => document.querySelectorAll('[class*=AssetNode_assetName]').length >= n", arg=len(names)
        )
        page.wait_for_load_state("networkidle")
        page.screenshot(path=shots / "asset-graph.png")
        geometry = page.evaluate(GRAPH_GEOMETRY)

        labels = resolve_labels([n["label"] for n in geometry["nodes"]], names)
        assert set(labels.values()) == names
        drawn = set()
        for d in geometry["edges"]:
            upstream = nearest_node(geometry["nodes"], d[0], d[1])
            downstream = nearest_node(geometry["nodes"], d[-2], d[-1])
            drawn.add((labels[upstream["label"]], labels[downstream["label"]]))
        assert drawn == api_edges, {"missing": api_edges - drawn, "extra": drawn - api_edges}

        # One partition through the API the launchpad uses; the run page must show it succeeded.
        (repo,) = webserver.graphql(REPOS_QUERY)["repositoriesOrError"]["nodes"]
        params = {
            "selector": {
                "repositoryLocationName": repo["location"]["name"],
                "repositoryName": repo["name"],
                "jobName": "discipline_seed_job",
            },
            "runConfigData": {},
            "executionMetadata": {"tags": [{"key": "dagster/partition", "value": "physics"}]},
        }
        launched = webserver.graphql(LAUNCH_RUN, {"params": params})["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        run_id = launched["run"]["runId"]
        deadline = time.monotonic() + 180
        status = ""
        while status not in {"SUCCESS", "FAILURE", "CANCELED"}:
            assert time.monotonic() < deadline, f"run {run_id} still {status} after 180 s"
            time.sleep(1)
            status = webserver.graphql(RUN_STATUS, {"id": run_id})["runOrError"]["status"]
        page.goto(f"{webserver.url}/runs/{run_id}")
        page.get_by_text(status.capitalize(), exact=True).first.wait_for()  # the run page shows the status
        page.wait_for_load_state("networkidle")  # and its event log
        page.screenshot(path=shots / "run.png")
        browser.close()
    assert status == "SUCCESS", f"run {run_id}: {status} (see {shots / 'run.png'})"
