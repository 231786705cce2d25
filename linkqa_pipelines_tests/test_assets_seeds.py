"""Seed assets through Dagster: accounting check, quarantine, idempotent partitions, failures naming the file,
partitions only where seeds are, and a single-run backfill of several partitions."""

from pathlib import Path

import polars as pl
import pytest
from dagster import (
    AddDynamicPartitionsRequest,
    DagsterInstance,
    DagsterUnknownPartitionError,
    DeleteDynamicPartitionsRequest,
)
from polars.testing import assert_frame_equal

from linkqa_pipelines.core.lake import Lake
from linkqa_pipelines.core.seeds import SeedSourceError
from linkqa_pipelines.definitions import build_definitions
from linkqa_pipelines.defs.contract_checks import answers_out_of_range
from linkqa_pipelines.lib.partitions import (
    key_ranges,
    partition_requests,
    registered_disciplines,
    seeded_disciplines,
)
from linkqa_pipelines.taxonomy import load_taxonomy
from linkqa_pipelines_tests.pipeline import check_outcomes, materialize_assets

FIXTURES = Path(__file__).parent / "fixtures" / "bad_seeds"


def _ingest(
    home: Path, sources: list[str] | None = None, instance: DagsterInstance | None = None, strict: bool = False
):
    config = {"ops": {"ingest_seeds": {"config": {"sources": sources, "strict": strict}}}} if sources else None
    return materialize_assets(
        home, ["seed_sources", "seed_quarantine", "seed_accounting"], run_config=config, instance=instance
    )


def test_sample_ingest_balances_and_partitions_are_idempotent(tmp_path: Path) -> None:
    result = _ingest(tmp_path)
    outcomes = check_outcomes(result)
    assert "seed_rows_accounted" in outcomes and all(outcomes.values()), outcomes
    lake = Lake(tmp_path)
    seeds = lake.read("seed_sources")
    accounting = lake.read("seed_accounting")
    assert int(accounting["rows_in"].sum()) == seeds.height + lake.read("seed_quarantine").height + int(
        accounting["duplicates"].sum()
    )
    assert seeds["seed_id"].is_unique().all()

    discipline = seeds["discipline"].value_counts(sort=True)["discipline"][0]
    for _ in range(2):
        result = materialize_assets(tmp_path, ["seed_qa"], partition=discipline)
        assert check_outcomes(result) == {"seed_qa_schema": True, "seed_qa_answers_in_choices": True}
    part = lake.read("seed_qa", [discipline])
    assert part.height == seeds.filter(pl.col("discipline") == discipline).height
    assert part["seed_id"].is_unique().all()
    assert set(part["discipline"]) == {discipline}
    with lake.connect(read_only=True) as con:
        assert con.execute("select count(*) from seed_qa").fetchall() == [(part.height,)]


def test_bad_rows_are_quarantined_with_file_row_field_and_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "mixed.jsonl").write_text(
        '{"question": "What is 2+2?", "choices": ["3", "4"], "answer": "B", "subject": "math"}\n'
        '{"question": "", "choices": ["x", "y"], "answer": "A"}\n'
        '{"question": "Pick one", "choices": ["x", "y"], "answer": "E"}\n'
        '{"question": "Only one choice", "choices": ["x"], "answer": "A"}\n'
        "{not json\n",
        encoding="utf-8",
    )
    _ingest(tmp_path / "home", [str(bad)])
    q = Lake(tmp_path / "home").read("seed_quarantine").sort("source_row")
    assert q["source_row"].to_list() == [2, 3, 4, 5]
    assert all(s.endswith("mixed.jsonl") for s in q["source"])
    assert q["field"].to_list()[:3] == ["question", "answer", "choices"]
    assert "empty" in q["reason"][0] and "among the 2 choices" in q["reason"][1]


def test_unreadable_file_is_quarantined_and_fails_only_a_strict_materialization(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_bytes(b"\xff\xfe\x00garbage \xc3\x28 not utf-8\n")
    good = FIXTURES / "answer_not_in_choices.csv"
    result = _ingest(tmp_path / "home", [str(good), str(broken)])
    outcomes = check_outcomes(result)  # a file-level row counts in the balance
    assert "seed_rows_accounted" in outcomes and all(outcomes.values()), outcomes
    lake = Lake(tmp_path / "home")
    assert lake.read("seed_sources")["source"].unique().to_list() == [str(good)]
    row = lake.read("seed_quarantine").filter(pl.col("source") == str(broken)).row(0, named=True)
    assert (row["source_row"], row["field"]) == (None, "<file>") and row["reason"].startswith("not UTF-8 text")
    with pytest.raises(SeedSourceError, match=r"broken\.jsonl"):
        _ingest(tmp_path / "strict", [str(broken)], strict=True)


def test_answer_check_judges_only_the_partition_it_ran_for(tmp_path: Path) -> None:
    """A bad partition of another discipline must not fail (or slow) this partition's check."""
    _ingest(tmp_path)
    lake = Lake(tmp_path)
    bad = (
        lake.read("seed_sources")
        .head(1)
        .with_columns(discipline=pl.lit("law"), qa_type=pl.lit("multiple_choice"), answer=pl.lit("Z"))
    )
    lake.write("seed_qa", bad, "law")
    result = materialize_assets(tmp_path, ["seed_qa"], partition="physics")
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(evaluations) == {"seed_qa_schema", "seed_qa_answers_in_choices"}
    evaluation = evaluations["seed_qa_answers_in_choices"]
    assert evaluation.passed and evaluation.partition == "physics"
    assert answers_out_of_range(bad).height == 1  # the same rule on the planted partition finds the bad row


def test_partitions_are_the_seeded_disciplines_and_follow_the_seeds(tmp_path: Path) -> None:
    """Ingestion registers exactly the disciplines with seeds; a seedless one cannot be run."""
    instance = DagsterInstance.ephemeral()
    _ingest(tmp_path, instance=instance)
    seeded = set(Lake(tmp_path).read("seed_sources")["discipline"])
    assert registered_disciplines(instance) == seeded_disciplines(seeded)
    seedless = next(d for d in load_taxonomy().discipline_ids if d not in seeded)
    job = build_definitions(home=str(tmp_path)).resolve_job_def("discipline_seed_job")
    with pytest.raises(DagsterUnknownPartitionError):
        job.execute_in_process(partition_key=seedless, instance=instance)

    only = FIXTURES / "answer_not_in_choices.csv"  # seeds of fewer disciplines: the others are dropped
    _ingest(tmp_path, [str(only)], instance=instance)
    assert registered_disciplines(instance) == seeded_disciplines(Lake(tmp_path).read("seed_sources")["discipline"])


def test_single_run_backfill_of_three_partitions(tmp_path: Path) -> None:
    """One run materializes three partitions, each with its own rows and row count."""
    instance = DagsterInstance.ephemeral()
    _ingest(tmp_path, instance=instance)
    keys = registered_disciplines(instance)[:3]
    runs_before = len(instance.get_runs())
    result = materialize_assets(tmp_path, None, job="discipline_seed_job", partition=keys, instance=instance)
    assert len(instance.get_runs()) == runs_before + 1
    counts = {
        m.partition: m.metadata["dagster/row_count"].value for m in result.asset_materializations_for_node("seed_qa")
    }
    seeds = Lake(tmp_path).read("seed_sources")
    assert counts == {k: seeds.filter(pl.col("discipline") == k).height for k in keys}
    links = Lake(tmp_path).read("seed_knowledge_points")
    assert set(links["discipline"]) == set(keys)
    for key in keys:  # the same rows as one run per discipline (the offline KPs shared across the step)
        materialize_assets(tmp_path, None, job="discipline_seed_job", partition=key, instance=instance)
    alone = Lake(tmp_path).read("seed_knowledge_points")
    assert_frame_equal(alone.sort(alone.columns), links.sort(links.columns), check_row_order=False)
    # the KP step's per-discipline info lines are one stored log event, each line naming its discipline
    messages = [e.user_message for e in instance.all_logs(result.run_id) if not e.is_dagster_event]
    (gathered,) = [m for m in messages if m.startswith("3 disciplines:") and "requests via" in m]
    assert all(f"[{k}] seed_knowledge_points: " in gathered for k in keys)
    for key in keys:
        assert set(Lake(tmp_path).read("seed_knowledge_points", [key])["discipline"]) == {key}


def test_partition_requests_and_key_ranges() -> None:
    """What a sensor returns for new seeds (adds only; prunes only when it knows every seed), and
    how `linkqa run` splits a discipline subset into runs of neighbouring keys."""
    assert partition_requests(["physics", "law"], ["mathematics", "physics"]) == [
        AddDynamicPartitionsRequest("discipline", ["mathematics"])
    ]
    assert partition_requests(["physics", "law"], ["physics"], prune=True) == [
        DeleteDynamicPartitionsRequest("discipline", ["law"])
    ]
    with pytest.raises(ValueError, match="not taxonomy disciplines: \\['alchemy'\\]"):
        partition_requests([], ["alchemy"])
    assert key_ranges(["a", "b", "c", "d"], ["d", "a", "b"]) == [["a", "b"], ["d"]]
    assert key_ranges(["a", "b"], []) == []
