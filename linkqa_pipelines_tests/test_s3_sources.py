"""`s3://` seed sources through dagster-aws's S3Resource against a real S3 protocol server on 127.0.0.1 (moto)."""

import shutil
from collections.abc import Iterator
from pathlib import Path

import boto3
import polars as pl
import pytest
from dagster_aws.s3 import S3Resource
from moto.server import ThreadedMotoServer
from polars.testing import assert_frame_equal

from linkqa_pipelines.core.lake import Lake
from linkqa_pipelines.core.seeds import RemoteSourceError, fetch_s3_sources
from linkqa_pipelines.defs.seeds.config import sample_seed_dir
from linkqa_pipelines_tests.pipeline import check_outcomes, materialize_assets

BUCKET = "linkqa-seeds"
INGEST = ["seed_sources", "seed_quarantine", "seed_accounting"]  # the outputs of ingest_seeds


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, s3_endpoint: str) -> str:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": s3_endpoint,
    }.items():
        monkeypatch.setenv(key, value)
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    client.create_bucket(Bucket=BUCKET)
    for path in sorted(sample_seed_dir().glob("*.jsonl")):
        client.upload_file(str(path), BUCKET, f"seeds/{path.name}")
    return s3_endpoint


def test_seed_sources_from_s3_keep_their_uri(tmp_path: Path, aws_env: str) -> None:
    local = tmp_path / "local"
    shutil.copytree(sample_seed_dir(), local)
    materialize_assets(
        tmp_path / "home",
        INGEST,
        resources={"s3": S3Resource(endpoint_url=aws_env)},
        run_config={"ops": {"ingest_seeds": {"config": {"sources": [f"s3://{BUCKET}/seeds/"]}}}},
    )
    seeds = Lake(tmp_path / "home").read("seed_sources")
    expected = sum(1 for p in local.glob("*.jsonl") for line in p.read_text().splitlines() if line.strip())
    assert seeds.height == expected
    assert seeds["source"].str.starts_with(f"s3://{BUCKET}/seeds/").all()
    # ids come from file names, so the same files read locally give the same seed ids
    materialize_assets(
        tmp_path / "home2",
        INGEST,
        resources={"s3": S3Resource()},
        run_config={"ops": {"ingest_seeds": {"config": {"sources": [str(local)]}}}},
    )
    assert set(Lake(tmp_path / "home2").read("seed_sources")["seed_id"]) == set(seeds["seed_id"])


def test_cached_objects_are_not_downloaded_twice(tmp_path: Path, aws_env: str) -> None:
    client = boto3.client("s3", endpoint_url=aws_env)
    first = fetch_s3_sources(client, [f"s3://{BUCKET}/seeds/"], tmp_path)
    stamps = {p: p.stat().st_mtime_ns for p in first}
    second = fetch_s3_sources(client, [f"s3://{BUCKET}/seeds/"], tmp_path)
    assert second == first and {p: p.stat().st_mtime_ns for p in second} == stamps


def test_missing_prefix_names_the_uri(tmp_path: Path, aws_env: str) -> None:
    client = boto3.client("s3", endpoint_url=aws_env)
    with pytest.raises(RemoteSourceError, match=f"s3://{BUCKET}/nothing-here/"):
        fetch_s3_sources(client, [f"s3://{BUCKET}/nothing-here/"], tmp_path)


@pytest.mark.filterwarnings("ignore:DuckDB view:UserWarning")  # httpfs may be absent offline
def test_lake_on_s3_round_trips(tmp_path: Path, aws_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    lake = Lake(
        tmp_path, root=f"s3://{BUCKET}/lake", storage_options={"aws_endpoint_url": aws_env, "aws_allow_http": "true"}
    )
    lake.write("seed_qa", pl.DataFrame({"seed_id": ["a"], "discipline": ["physics"]}), "physics")
    lake.write("seed_qa", pl.DataFrame({"seed_id": ["b"], "discipline": ["law"]}), "law")
    assert sorted(lake.read("seed_qa")["seed_id"]) == ["a", "b"]
    assert lake.read("seed_qa", ["law"])["seed_id"].to_list() == ["b"]
    # Lake has no byte-artefact API any more (kp_graph's arrays are rebuilt from its edge table); what
    # the pipeline stores on S3 is what the IO manager moves between assets, so round-trip that: with
    # LINKQA_LAKE_ROOT on S3, ingest writes its tables there and its check loads seed_accounting back.
    root = f"s3://{BUCKET}/pipeline-lake"
    monkeypatch.setenv("LINKQA_LAKE_ROOT", root)
    monkeypatch.setenv("AWS_ALLOW_HTTP", "true")
    home = tmp_path / "home"
    result = materialize_assets(home, INGEST, resources={"s3": S3Resource(endpoint_url=aws_env)})
    outcomes = check_outcomes(result)
    assert "seed_rows_accounted" in outcomes and all(outcomes.values()), outcomes
    remote = Lake(home, root=root, storage_options=lake.storage_options)
    for m in result.asset_materializations_for_node("ingest_seeds"):
        table = m.asset_key.to_user_string()
        assert m.metadata["lake_uri"].value == f"{root}/{table}/data.parquet"
        assert remote.read(table).height == m.metadata["dagster/row_count"].value, table
    assert not (home / "lake").exists()  # nothing went to the local default root


@pytest.mark.filterwarnings("ignore:DuckDB view:UserWarning")
def test_partitioned_run_on_an_s3_lake(tmp_path: Path, aws_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    root = f"s3://{BUCKET}/partitioned-lake"
    monkeypatch.setenv("LINKQA_LAKE_ROOT", root)
    monkeypatch.setenv("AWS_ALLOW_HTTP", "true")
    home = tmp_path / "home"
    materialize_assets(home, INGEST, resources={"s3": S3Resource(endpoint_url=aws_env)})
    materialize_assets(home, ["seed_qa"], partition="physics")
    remote = Lake(home, root=root, storage_options={"aws_endpoint_url": aws_env, "aws_allow_http": "true"})
    seeds = remote.read("seed_sources").filter(pl.col("discipline") == "physics")
    assert_frame_equal(remote.read("seed_qa", ["physics"]), seeds)
