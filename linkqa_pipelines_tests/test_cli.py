"""`linkqa` tells the truth: exit codes, one-line errors that name the file, bad files quarantined,
runs on one home that cannot mix KP graph versions.

In process (`cli.main`), with small inputs: the failure cases stop at ingestion, so each takes
a few seconds. The exact first line of every expected error is pinned.
"""

from __future__ import annotations

import gzip
import io
import os
from pathlib import Path

import polars as pl
import pytest
from rich.console import Console

from linkqa_pipelines import cli
from linkqa_pipelines.cli.errors import CLIError
from linkqa_pipelines.cli.run import check_graph_current
from linkqa_pipelines.cli.stages import Materialized, StageResult
from linkqa_pipelines.cli.summary import print_summary
from linkqa_pipelines.core.lake import Lake

GOOD = (
    "question,choices,answer,subject\n"
    '"What is 2+2?","[""3"",""4""]",B,mathematics\n'
    '"Which is a vector quantity?","[""mass"",""velocity""]",B,physics\n'
)


def error_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The lines of stderr from the first `error:` line on."""
    err = capsys.readouterr().err.splitlines()
    start = next(i for i, line in enumerate(err) if line.startswith("error:"))
    return err[start:]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    data = tmp_path / "data"
    data.mkdir()
    (data / "empty_dir").mkdir()
    paths = {
        "good": data / "good.csv",
        "gzip": data / "gzip.csv",
        "gbk": data / "gbk.csv",
        "empty": data / "empty.csv",
        "huge": data / "huge.csv",
    }
    paths["good"].write_text(GOOD, encoding="utf-8")
    paths["gzip"].write_bytes(gzip.compress(GOOD.encode(), mtime=0))
    paths["gbk"].write_bytes("question,answer\n中文问题一,答案\n中文问题二,答案\n".encode("gbk"))
    paths["empty"].write_bytes(b"")
    paths["huge"].write_text(f'question,answer,subject\n"{"x" * 200_000}",B,physics\nok?,yes,physics\n')
    return paths


def test_help_documents_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    out = capsys.readouterr().out
    assert "exit codes:" in out and "--max-failure-rate" in out and "--strict" in out
    for code in range(5):
        assert f"\n  {code}  " in out


@pytest.mark.parametrize("before", [True, False])
def test_home_before_or_after_subcommand_and_tables_on_empty_home(
    tmp_path: Path, before: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    argv = ["--home", str(home), "tables"] if before else ["tables", "--home", str(home)]
    assert cli.main(argv) == cli.EXIT_ERROR
    assert error_lines(capsys) == [
        f"error: no tables under {home} yet",
        "hint: `linkqa run` makes them (or pass the right --home)",
    ]
    assert os.environ["LINKQA_HOME"] == str(home)


def test_query_errors_are_one_line(linkqa_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["query", "select 1"]) == cli.EXIT_ERROR
    assert error_lines(capsys)[0] == f"error: no warehouse at {linkqa_home / 'warehouse.duckdb'}"
    with Lake(linkqa_home).connect():  # an empty warehouse
        pass
    assert cli.main(["query", "select * from seed_qa"]) == cli.EXIT_ERROR
    lines = error_lines(capsys)
    assert lines[0] == "error: query failed: Catalog Error: Table with name seed_qa does not exist!"
    assert lines[1:] == ["hint: `linkqa tables` lists the tables"]


def test_unwritable_home_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert cli.main(["--home", str(blocker / "home"), "tables"]) == cli.EXIT_ERROR
    assert error_lines(capsys) == [
        f"error: LINKQA_HOME {blocker / 'home'} is not writable: {blocker / 'home'}: Not a directory",
        "hint: pass a writable --home (or set LINKQA_HOME)",
    ]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through read-only permissions")
def test_read_only_home_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "ro"
    home.mkdir()
    home.chmod(0o500)
    try:
        assert cli.main(["--home", str(home), "tables"]) == cli.EXIT_ERROR
    finally:
        home.chmod(0o700)
    assert error_lines(capsys)[0].startswith(f"error: LINKQA_HOME {home} is not writable: ")


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "--disciplines", "alchemy"]) == cli.EXIT_USAGE
    assert error_lines(capsys)[0] == "error: unknown discipline(s) ['alchemy']"
    assert cli.main(["doctor", "--backend", "openai", "--model", "gpt-4o-mini"]) == cli.EXIT_USAGE
    assert error_lines(capsys) == [
        "error: LLM backend openai with no --base-url uses https://api.openai.com/v1, which needs a key: set "
        "LINKQA_LLM_API_KEY or OPENAI_API_KEY or DEEPSEEK_API_KEY, or pass --base-url for a server that needs none",
        "hint: `linkqa doctor` runs these checks alone",
    ]
    assert cli.main(["run", "--backend", "openai"]) == cli.EXIT_USAGE
    assert error_lines(capsys)[0] == "error: LLM backend openai needs a model: pass --model or set LINKQA_LLM_MODEL"


@pytest.mark.parametrize(
    ("name", "first_line"),
    [
        ("missing", "error: ingest: {path}: no such file or folder"),
        ("empty_dir", "error: ingest: {path}: folder holds no .jsonl/.json/.csv/.parquet files"),
        (
            "gzip",
            "error: ingest: {path}: not UTF-8 text (byte 0x8b at line 1, byte offset 1; 1 of 1 lines undecodable); "
            "re-encode the file as UTF-8",
        ),
        (
            "gbk",
            "error: ingest: {path}: not UTF-8 text (byte 0xd6 at line 2, byte offset 16; 2 of 3 lines undecodable); "
            "re-encode the file as UTF-8",
        ),
        ("empty", "error: ingest: {path}: empty CSV or unreadable header, expected a header row"),
    ],
)
def test_strict_run_fails_on_a_bad_source_in_one_line(
    files: dict[str, Path], name: str, first_line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = files.get(name, files["good"].parent / name)
    assert cli.main(["run", "--strict", "--seeds", str(path), "--disciplines", "physics"]) == cli.EXIT_ERROR
    lines = error_lines(capsys)
    assert lines[0] == first_line.format(path=path)
    assert len(lines) == 2 and lines[1].startswith("hint: ")
    assert not any("Traceback" in line for line in lines)


def test_bad_files_are_quarantined_and_the_run_stops_over_the_failure_rate(
    files: dict[str, Path], linkqa_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seeds = [str(files[n]) for n in ("good", "gzip", "gbk", "empty", "huge")]
    code = cli.main(["run", "--seeds", *seeds, "--disciplines", "physics"])
    assert code == cli.EXIT_FAILURES
    err = capsys.readouterr().err.splitlines()
    assert err[-2].startswith("failed: ingest: 4 of 7 seed rows quarantined (57.1%); most often: ")
    assert err[-1] == "linkqa run stopped: over --max-failure-rate 0.05; exit code 3"
    assert any(line.startswith(f"  warning ingest_seeds: {files['gbk']}: not UTF-8 text") for line in err)

    lake = Lake(linkqa_home)
    seeds_read = lake.read("seed_sources")
    assert set(seeds_read["source"].to_list()) == {str(files["good"]), str(files["huge"])}  # good rows go on
    quarantine = lake.read("seed_quarantine")
    file_level = quarantine.filter(pl.col("field") == "<file>")
    assert set(file_level["source"].to_list()) == {str(files[n]) for n in ("gzip", "gbk", "empty")}
    assert file_level["source_row"].is_null().all()
    huge = quarantine.filter(pl.col("source") == str(files["huge"]))
    assert huge.select("source_row", "field", "reason").rows() == [
        (1, "question", "question has 200000 characters, over the limit of 20000")
    ]
    accounting = lake.read("seed_accounting")
    assert (accounting["rows_in"] == accounting["seeds"] + accounting["quarantined"] + accounting["duplicates"]).all()
    assert accounting.filter(pl.col("source") == str(files["gzip"]))["rows_in"].to_list() == [1]


def test_a_partition_on_a_replaced_graph_fails_the_run_in_one_line(linkqa_home: Path) -> None:
    """Walk paths that name a graph version other than kp_seed_links' current one are reported."""
    lake = Lake(linkqa_home)
    lake.write("kp_seed_links", pl.DataFrame({"seed_id": ["s1"], "graph_version": ["new"]}))
    lake.write("walk_paths", pl.DataFrame({"discipline": ["physics"], "graph_version": ["new"]}), "physics")
    check_graph_current(["physics"])  # current: passes
    lake.write("walk_paths", pl.DataFrame({"discipline": ["law"], "graph_version": ["old"]}), "law")
    with pytest.raises(CLIError) as caught:
        check_graph_current(["physics", "law"])
    assert str(caught.value).startswith(
        "mixed KP graph versions: walk_paths of ['law'] were built on graph ['old'], but the current graph is new"
    )


def test_summary_explains_where_rows_went_once_per_failure(linkqa_home: Path) -> None:
    """Rows in/out per step with their reasons, each failure counted once, at full width."""
    lake = Lake(linkqa_home)
    lake.write(
        "screened_qa_rejects",
        pl.DataFrame({"qa_id": ["a", "b", "c"], "stage": ["dedup", "dedup", "decontamination"]}).with_columns(
            reason=pl.Series(["exact_duplicate", "exact_duplicate", "benchmark_overlap"])
        ),
    )
    seeds = [Materialized("seed_sources", None, {"dagster/row_count": 9, "rows_in": 10, "quarantined": 1})]
    seeds.append(Materialized("seed_quarantine", None, {"dagster/row_count": 1, "quarantine_reasons": {}}))
    walks = [
        Materialized("walk_paths", "physics", {"dagster/row_count": 4}),
        Materialized("walk_paths_unseeded", "physics", {"dagster/row_count": 2}),
        Materialized(
            "synthesized_qa",
            "physics",
            {"dagster/row_count": 3, "llm_requests": 4, "llm_failures": 1, "llm_failure_reasons": {"bad json": 1}},
        ),
        Materialized("qa_verification", "physics", {"dagster/row_count": 3}),
        Materialized("difficulty_scored_qa", "physics", {"dagster/row_count": 3}),
    ]
    results = [
        StageResult("ingest", (), 1.0, materialized=seeds),
        StageResult("walks", ("physics",), 2.0, materialized=walks),
        StageResult("screening", (), 1.0, materialized=[Materialized("screened_qa", None, {"dagster/row_count": 0})]),
    ]
    out = io.StringIO()
    print_summary(Console(file=out, width=1000), results, 4.0)
    rows = {
        line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:6]]
        for line in out.getvalue().splitlines()
        if line.startswith("│ ") and len(line.split("│")) > 6
    }
    assert rows["walks"] == ["6", "4", "2", "2x path got fewer than two seeds"]
    assert rows["synthesis"] == ["4", "3", "1", "1x bad json"]
    assert rows["screening"] == ["3", "0", "3", "2x dedup: exact_duplicate; 1x decontamination: benchmark_overlap"]
