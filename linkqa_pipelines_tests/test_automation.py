"""Automation (issue 14): the seed sensor asks for exactly the partitions new or changed files
touch and respects its cursor, the nightly refresh backfills only stale seeded partitions through
the whole graph, failed runs are recorded, and every asset carries owners, a code version and a
column schema."""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import polars as pl
import pytest
from dagster import (
    AddDynamicPartitionsRequest,
    AssetKey,
    AssetMaterialization,
    DagsterInstance,
    Definitions,
    MarkdownMetadataValue,
    RunRequest,
    TableMetadataValue,
    asset,
    build_run_status_sensor_context,
    build_sensor_context,
    instance_for_test,
    materialize,
)
from dagster_aws.s3 import S3Resource
from moto.server import ThreadedMotoServer

from linkqa_pipelines import cli
from linkqa_pipelines.core.lake import Lake
from linkqa_pipelines.core.seeds.watch import SeedFile, WatchState, seed_changes
from linkqa_pipelines.definitions import build_definitions
from linkqa_pipelines.defs.automation.backfill import TRIGGER_TAG
from linkqa_pipelines.defs.automation.failures import record_run_failures
from linkqa_pipelines.lib.lake_resource import LakeResource
from linkqa_pipelines.lib.metadata import INLINE_MARKDOWN_CHARS, line_chart_md, table_preview
from linkqa_pipelines.lib.partitions import DISCIPLINE_PARTITIONS

LONG_AGO = "2000-01-01T02:00:00+00:00"  # a nightly tick long handled: the next one is due


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    with instance_for_test() as persistent:  # sensor contexts need a persistent instance
        yield persistent


def write_seeds(path: Path, subject: str, n: int) -> None:
    rows = [
        {"question": f"{subject} question {i}: which option is right?", "choices": ["w", "x", "y", "z"], "answer": "B"}
        | {"subject": subject}
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def partitions_of(request: RunRequest, asset_name: str) -> set[str]:
    subset = request.asset_graph_subset
    assert subset is not None, "expected a backfill request"
    if AssetKey(asset_name) not in subset.partitions_subsets_by_asset_key:
        return set()
    return set(subset.get_partitions_subset(AssetKey(asset_name)).get_partition_keys())


def backfill_assets(request: RunRequest) -> set[str]:
    assert request.asset_graph_subset is not None
    return {k.to_user_string() for k in request.asset_graph_subset.asset_keys}


@dataclass(frozen=True)
class Tick:
    """What one sensor evaluation asked for, read as the sensor daemon reads it."""

    requests: list[RunRequest]
    added: set[str]  # discipline partitions it registers
    cursor: str | None
    skipped: str | None


def tick(defs: Definitions, sensor: str, instance: DagsterInstance, cursor: str | None) -> Tick:
    """One evaluation through `evaluate_tick`, the daemon's entry point (it validates backfill requests)."""
    with build_sensor_context(
        instance=instance, cursor=cursor, repository_def=defs.get_repository_def(), resources=defs.resources
    ) as context:
        data = defs.get_sensor_def(sensor).evaluate_tick(context)
    added = {
        key
        for r in data.dynamic_partitions_requests or []
        if isinstance(r, AddDynamicPartitionsRequest) and r.partitions_def_name == DISCIPLINE_PARTITIONS
        for key in r.partition_keys
    }
    return Tick(list(data.run_requests or []), added, data.cursor, data.skip_message)


def materializable(defs: Definitions) -> set[str]:
    graph = defs.get_repository_def().asset_graph
    return {k.to_user_string() for k in graph.materializable_asset_keys}


def test_seed_sensor_requests_exactly_the_touched_partitions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, instance: DagsterInstance
) -> None:
    watched = tmp_path / "seeds"
    watched.mkdir()
    write_seeds(watched / "physics.jsonl", "high_school_physics", 3)
    monkeypatch.setenv("LINKQA_SEEDS", str(watched))
    defs = build_definitions()

    first = tick(defs, "seed_files", instance, None)
    assert len(first.requests) == 1 and first.added == {"physics"}
    backfill = first.requests[0]
    assert partitions_of(backfill, "seed_qa") == partitions_of(backfill, "linkqa_dataset") == {"physics"}
    assert backfill_assets(backfill) == materializable(defs)  # ingestion to release, the whole graph
    assert backfill.tags[TRIGGER_TAG] == "seed_files"
    instance.add_dynamic_partitions(DISCIPLINE_PARTITIONS, ["physics"])  # as the daemon applies the request

    unchanged = tick(defs, "seed_files", instance, first.cursor)
    assert not unchanged.requests and unchanged.skipped  # nothing changed: the cursor holds

    write_seeds(watched / "new_biology.jsonl", "high_school_biology", 2)
    dropped = tick(defs, "seed_files", instance, first.cursor)
    assert len(dropped.requests) == 1 and dropped.added == {"biology"}
    assert partitions_of(dropped.requests[0], "synthesized_qa") == {"biology"}  # physics is untouched
    instance.add_dynamic_partitions(DISCIPLINE_PARTITIONS, ["biology"])

    # The physics file now holds chemistry seeds: a changed size/mtime, and the disciplines it
    # leaves (physics) and enters (chemistry) are both refreshed.
    write_seeds(watched / "physics.jsonl", "college_chemistry", 4)
    changed = tick(defs, "seed_files", instance, dropped.cursor)
    assert len(changed.requests) == 1 and changed.added == {"chemistry"}
    assert partitions_of(changed.requests[0], "seed_qa") == {"chemistry", "physics"}
    assert not tick(defs, "seed_files", instance, changed.cursor).requests


def test_a_removed_file_touches_the_disciplines_it_had() -> None:
    read: list[str] = []

    def disciplines_of(uri: str) -> tuple[str, ...]:
        read.append(uri)
        return {"a.jsonl": ("law",), "b.jsonl": ("physics",)}[uri]

    both = seed_changes(WatchState(), [SeedFile("a.jsonl", "1:1"), SeedFile("b.jsonl", "2:2")], disciplines_of)
    assert both.disciplines == ("law", "physics") and read == ["a.jsonl", "b.jsonl"]
    gone = seed_changes(WatchState.loads(both.state.dumps()), [SeedFile("b.jsonl", "2:2")], disciplines_of)
    assert gone.removed == ("a.jsonl",) and gone.changed == () and gone.disciplines == ("law",)
    assert read == ["a.jsonl", "b.jsonl"]  # the unchanged file is not read again
    assert set(gone.state.files) == {"b.jsonl"}


def test_seed_sensor_on_s3_follows_etags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, instance: DagsterInstance
) -> None:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("AWS_REGION", "us-east-1")
        client = boto3.client("s3", endpoint_url=endpoint)
        client.create_bucket(Bucket="seeds")
        local = tmp_path / "law.jsonl"
        write_seeds(local, "professional_law", 2)
        client.upload_file(str(local), "seeds", "drop/law.jsonl")
        monkeypatch.setenv("LINKQA_SEEDS", "s3://seeds/drop/")
        defs = build_definitions(resources={"s3": S3Resource(endpoint_url=endpoint)})

        first = tick(defs, "seed_files", instance, None)
        assert len(first.requests) == 1 and partitions_of(first.requests[0], "seed_qa") == {"law"}
        assert not tick(defs, "seed_files", instance, first.cursor).requests  # same ETag
        write_seeds(local, "professional_law", 3)  # new content, new ETag
        client.upload_file(str(local), "seeds", "drop/law.jsonl")
        again = tick(defs, "seed_files", instance, first.cursor)
        assert len(again.requests) == 1 and partitions_of(again.requests[0], "seed_qa") == {"law"}
    finally:
        server.stop()


def test_nightly_refresh_backfills_only_stale_seeded_partitions(instance: DagsterInstance) -> None:
    defs = build_definitions()
    graph = defs.get_repository_def().asset_graph
    instance.add_dynamic_partitions(DISCIPLINE_PARTITIONS, ["physics", "biology"])

    nothing_yet = tick(defs, "nightly_stale_refresh", instance, LONG_AGO)  # both seeded partitions are missing
    assert len(nothing_yet.requests) == 1
    backfill = nothing_yet.requests[0]
    assert (
        partitions_of(backfill, "seed_qa") == partitions_of(backfill, "difficulty_scored_qa") == {"physics", "biology"}
    )  # only the seeded partitions, not the taxonomy's other disciplines
    assert backfill_assets(backfill) == materializable(defs)  # the whole graph

    # Every asset partition made by the current code: nothing to do.
    for key in graph.materializable_asset_keys:
        node = graph.get(key)
        version = {"dagster/code_version": str(node.code_version)}
        for partition in ["physics", "biology"] if node.is_partitioned else [None]:
            instance.report_runless_asset_event(AssetMaterialization(key, partition=partition, tags=version))
    fresh = tick(defs, "nightly_stale_refresh", instance, LONG_AGO)
    assert not fresh.requests and fresh.skipped and "up to date" in fresh.skipped

    # biology's synthesis was made by an older algorithm: only biology is stale.
    instance.report_runless_asset_event(
        AssetMaterialization("synthesized_qa", partition="biology", tags={"dagster/code_version": "0.0.1+old"})
    )
    drifted = tick(defs, "nightly_stale_refresh", instance, LONG_AGO)
    assert len(drifted.requests) == 1 and partitions_of(drifted.requests[0], "walk_paths") == {"biology"}


def test_nightly_refresh_waits_for_its_tick(instance: DagsterInstance) -> None:
    defs = build_definitions()
    first = tick(defs, "nightly_stale_refresh", instance, None)
    assert not first.requests and first.cursor  # remembers the last tick and waits for the next
    assert not tick(defs, "nightly_stale_refresh", instance, first.cursor).requests


def test_run_failure_sensor_records_a_failed_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], instance: DagsterInstance
) -> None:
    secret = "sk-test-secret-0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", secret)

    @asset
    def flaky_stage() -> None:
        raise RuntimeError(f"endpoint refused the request (key {os.environ['OPENAI_API_KEY']})")

    result = materialize([flaky_stage], instance=instance, raise_on_error=False, tags={"linkqa/trigger": "test"})
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    assert run is not None
    home = tmp_path / "home"
    context = build_run_status_sensor_context(
        sensor_name="record_run_failures",
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=run,
        resources={"lake": LakeResource(home=str(home))},
    ).for_run_failure()
    record_run_failures(context)

    rows = Lake(home).read("run_failures")
    assert rows.height == 1
    row = rows.row(0, named=True)
    assert row["run_id"] == result.run_id and row["failed_steps"] == ["flaky_stage"]
    assert "endpoint refused the request" in row["error"] and secret not in row["error"]
    assert row["cause"].startswith("RuntimeError: endpoint refused the request (key ") and secret not in row["cause"]
    assert json.loads(row["tags"])["linkqa/trigger"] == "test"
    event = instance.get_latest_materialization_event(AssetKey("run_failures"))
    assert event is not None and event.asset_materialization is not None
    metadata = event.asset_materialization.metadata
    assert metadata["run_id"].value == result.run_id and metadata["failures_recorded"].value == 1
    assert secret not in str(metadata["error"].value)
    assert isinstance(rows["failed_at"].dtype, pl.Datetime)

    monkeypatch.setenv("LINKQA_HOME", str(home))
    assert cli.main(["doctor"]) == cli.EXIT_OK  # offline backend: the preflight needs no endpoint
    printed = capsys.readouterr().out
    assert f"run {result.run_id[:8]} __ephemeral_asset_job__: flaky_stage: RuntimeError: endpoint refused" in printed
    assert secret not in printed


def test_every_asset_has_owners_code_version_and_column_schema() -> None:
    specs = {s.key.to_user_string(): s for s in build_definitions().resolve_all_asset_specs()}
    without_table_contract = {"linkqa_release", "kp_aliases"}  # a file export; a table with no contract yet
    for name, spec in specs.items():
        assert "team:linkqa" in spec.owners, name
        assert spec.code_version or name == "run_failures", name  # run_failures is written by a sensor
        if name not in without_table_contract:
            assert "dagster/column_schema" in spec.metadata, name
    # Model-backed stages: the code version and kinds name what answers them.
    offline = specs["seed_knowledge_points"]
    assert str(offline.code_version).endswith("+offline-keyphrase-v5") and "offline" in offline.kinds
    hosted = {
        s.key.to_user_string(): s
        for s in build_definitions(
            llm={"backend": "openai", "base_url": "https://api.deepseek.com", "model": "deepseek-chat"}
        ).resolve_all_asset_specs()
    }
    assert str(hosted["synthesized_qa"].code_version).endswith("+api_deepseek_com_deepseek_chat")
    assert "openai" in hosted["synthesized_qa"].kinds
    assert hosted["kp_graph"].code_version == specs["kp_graph"].code_version  # no model behind it


def test_previews_are_tables_and_charts_fit_inline() -> None:
    preview = table_preview(
        pl.DataFrame({"kp": ["a", "b", "c"], "seeds": [3, 2, 1], "ids": [["x", "y"], [], ["z"]]}), 2
    )
    assert isinstance(preview, TableMetadataValue)
    assert [r.data for r in preview.records] == [
        {"kp": "a", "seeds": 3, "ids": "x, y"},
        {"kp": "b", "seeds": 2, "ids": ""},
        {"kp": "… 1 more rows", "seeds": None, "ids": None},
    ]
    assert [c.type for c in preview.schema.columns] == ["string", "int", "string"]

    curves = {f"sampler {i}": [(j / 50) ** (1 + i / 4) for j in range(50)] for i in range(4)}
    chart = line_chart_md(curves, "KP coverage")
    assert isinstance(chart, MarkdownMetadataValue)
    text = chart.md_str or ""
    assert len(text) < INLINE_MARKDOWN_CHARS
    image = re.search(r"\(data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)\)", text)
    assert image is not None
    svg = base64.b64decode(image.group(1)).decode()
    assert svg.startswith("<svg") and svg.count("<polyline") == 4
    assert "indigo: sampler 0" in text and text.endswith("y from 0 to 0.98")
