"""Release export: shards round-trip, read back as they are by DuckDB and HF `datasets` with the
card's counts, stats equal to the data (real-tokenizer tokens, KP coverage, verification rate,
path lengths), card tables, hub front matter and disclosures, seed licences, PNG plots,
replacement."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
import yaml
from matplotlib.image import imread

from linkqa_pipelines.core.contracts import SYNTH_QA_SCHEMA
from linkqa_pipelines.core.release import card_for_display, markdown_table, seed_source_licences, write_release
from linkqa_pipelines.core.release.tokens import count_tokens

CARD_INFO = {
    "name": "LinkQA test release",
    "version": "0.1",
    "seed_sources": [
        {"name": "MMLU", "licence": "MIT", "hub_id": "mit", "url": "https://github.com/hendrycks/test", "seeds": 9},
        {"name": "CMMLU", "licence": "CC BY-NC-SA 4.0", "hub_id": "cc-by-nc-sa-4.0", "url": "", "seeds": 3},
    ],
    "dedup": {"exact": 7, "near": 3, "threshold": 0.8},
    "decontamination": {"benchmarks": "mmlu test", "flagged": 2, "removed": 2},
}


VERDICTS = ("verified", "refined", "failed")


def _dataset(n: int = 1234) -> pl.DataFrame:
    rng = np.random.default_rng(42)
    difficulty = rng.integers(1, 7, n)  # 6 stands for "not scored yet"
    mc = rng.random(n) < 0.5
    return pl.DataFrame(
        {
            "qa_id": [f"qa_{i:05d}" for i in range(n)],
            "path_id": [f"path_{i // 2}" for i in range(n)],
            "discipline": rng.choice(["physics", "law", "computer science"], n).tolist(),
            "language": rng.choice(["en", "zh"], n).tolist(),
            "qa_type": np.where(mc, "multiple_choice", "free_form").tolist(),
            "question": [f"Question {i}: what follows from step {i % 7}?" for i in range(n)],
            "choices": [["yes", "no", "maybe", "never"] if m else None for m in mc],
            "answer": ["B" if m else "42" for m in mc],
            "rationale": ["Because | of reasons."] * n,
            "kp_ids": [[f"kp_{j}" for j in range(i % 7, i % 7 + 2 + i % 3)] for i in range(n)],
            "seed_ids": [["s1", "s2"]] * n,
            "difficulty": [None if d == 6 else int(d) for d in difficulty],
            "requested_level": [None if i % 4 == 0 else 1 + i % 5 for i in range(n)],  # offline rows: none asked
            "backend": np.where(np.arange(n) % 4 == 0, "offline", "openai").tolist(),
            "model": np.where(np.arange(n) % 4 == 0, "offline-template-v1", "deepseek-reasoner").tolist(),
            "prompt_tokens": np.where(np.arange(n) % 4 == 0, 0, 900).tolist(),
            "completion_tokens": np.where(np.arange(n) % 4 == 0, 0, 1500).tolist(),
            "verification": [("unverified" if i % 4 == 0 else VERDICTS[i % 3]) for i in range(n)],
            "agreement": [None if i % 4 == 0 else (i % 3) / 3 for i in range(n)],
            "enhanced_from": [f"qa_{i - 1:05d}" if i % 10 == 9 else None for i in range(n)],
            "dimensions": [{"depth": i % 5, "steps": [i % 3, 1]} for i in range(n)],  # extra nested column
        },
        schema={
            **SYNTH_QA_SCHEMA,
            "verification": pl.String,
            "agreement": pl.Float64,
            "enhanced_from": pl.String,
            "dimensions": pl.Struct({"depth": pl.Int8, "steps": pl.List(pl.Int64)}),
        },
    )


# The dataset uses kp_0..kp_9; the catalog holds kp_0..kp_8 and one KP no row uses (kp_9 is unknown to it).
CATALOG = pl.DataFrame(
    {
        "kp_id": [f"kp_{i}" for i in range(9)] + ["kp_unused"],
        "disciplines": [["physics", "law"] if i % 2 else ["computer science"] for i in range(10)],
    }
)


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> tuple[pl.DataFrame, Path, object]:
    data = _dataset()
    source = tmp_path_factory.mktemp("src") / "dataset.parquet"
    data.write_parquet(source)
    out = tmp_path_factory.mktemp("rel") / "release"
    manifest = write_release(pl.scan_parquet(source), out, shard_rows=150, card_info=CARD_INFO, kp_catalog=CATALOG)
    return data, out, manifest


def _front_matter(out: Path) -> dict:
    card = (out / "README.md").read_text()
    assert card.startswith("---\n")
    return yaml.safe_load(card[4 : card.index("\n---\n", 4)])


def test_shards_round_trip_every_row(release: tuple) -> None:
    data, out, manifest = release
    parquet = sorted(out.glob("data/*/*.parquet"))
    jsonl = sorted(out.glob("data/*/*.jsonl"))
    assert len(parquet) == len(jsonl) > 3 and {p.parent.name for p in parquet} == {"physics", "law", "computer_science"}
    back = pl.concat([pl.read_parquet(p) for p in parquet]).sort("qa_id")
    assert back.height == data.height == manifest.rows
    assert back.equals(data.sort("qa_id"))
    lines = [json.loads(line) for p in jsonl for line in p.read_text().splitlines()]
    back_json = pl.DataFrame(lines, schema=data.schema).sort("qa_id")
    assert back_json.equals(data.sort("qa_id"))
    assert all(pl.read_parquet(p).height <= 150 for p in parquet)
    for shard in manifest.shards:  # manifest matches the files
        path = out / shard.path
        assert hashlib.sha256(path.read_bytes()).hexdigest() == shard.sha256 and path.stat().st_size == shard.bytes
    on_disk = json.loads((out / "manifest.json").read_text())
    assert sum(s["rows"] for s in on_disk["shards"] if s["format"] == "parquet") == data.height


def test_stats_match_the_data(release: tuple) -> None:
    data, out, manifest = release
    stats = json.loads((out / "stats.json").read_text())
    assert stats == manifest.stats and stats["rows"] == data.height
    expected = data.group_by("discipline", pl.col("difficulty").cast(pl.String).fill_null("unscored")).len()
    for discipline, level, n in expected.iter_rows():
        assert stats["discipline_difficulty"][discipline][level] == n
    assert stats["difficulty"]["unscored"] == data["difficulty"].null_count() > 0
    assert stats["qa_type"] == dict(data.group_by("qa_type").len().iter_rows())
    assert stats["tokens"]["completion"] == int(data["completion_tokens"].sum())
    text = data.select(
        pl.concat_str(
            ["question", pl.col("choices").list.join("\n"), "answer", "rationale"], separator="\n", ignore_nulls=True
        )
    ).to_series()
    assert (
        stats["tokens"]["text"] == int(count_tokens(text).sum()) > data.height
        and "Qwen2.5" in stats["tokens"]["tokenizer"]
    )
    verdicts = dict(data.group_by("verification").len().iter_rows())
    assert {k: stats["verification"][k] for k in verdicts} == verdicts
    assert stats["verification"]["verified_share"] == (verdicts["verified"] + verdicts["refined"]) / data.height
    lengths = data.group_by(pl.col("kp_ids").list.len().cast(pl.String)).len()
    assert stats["path_length"] == dict(lengths.sort("kp_ids").iter_rows())
    used = set(data["kp_ids"].explode().to_list())
    catalog = set(CATALOG["kp_id"].to_list())
    coverage = stats["kp_coverage"]
    assert (coverage["catalog_kps"], coverage["used_kps"], coverage["not_in_catalog"]) == (10, 9, 1)
    assert coverage["share"] == len(used & catalog) / len(catalog)
    law = CATALOG.filter(pl.col("disciplines").list.contains("law"))["kp_id"].to_list()
    law_used = set(data.filter(pl.col("discipline") == "law")["kp_ids"].explode().to_list())
    assert coverage["disciplines"]["law"] == {
        "catalog_kps": len(law),
        "used_kps": len(law_used & set(law)),
        "share": len(law_used & set(law)) / len(law),
    }
    uses = data["kp_ids"].explode().value_counts()
    assert coverage["curve"][0] == [int(uses["count"].filter(uses["kp_ids"].is_in(catalog)).min()), 9 / 10]
    assert stats["enhanced_variants"] == data["enhanced_from"].is_not_null().sum()
    assert {(r["backend"], r["model"]): r["rows"] for r in stats["backend_model"]} == {
        ("offline", "offline-template-v1"): 309,
        ("openai", "deepseek-reasoner"): 925,
    }


def test_card_has_tables_disclosures_and_licence(release: tuple) -> None:
    data, out, _ = release
    card = (out / "README.md").read_text()
    assert card.startswith("---\nlicense:\n- cc-by-nc-sa-4.0\n- mit\n") and "path: data/law/*.parquet" in card
    assert "| discipline | 1 | 2 | 3 | 4 | 5 | unscored | total |" in card
    law = data.filter(pl.col("discipline") == "law")
    counts = [law.filter(pl.col("difficulty") == lv).height for lv in range(1, 6)]
    assert f"| law | {' | '.join(map(str, counts))} | {law['difficulty'].null_count()} | {law.height} |" in card
    assert "**309 of 1234 rows (25.0%) were NOT written by a language model.**" in card
    verified = data.filter(pl.col("verification").is_in(["verified", "refined"])).height
    assert "| offline | offline-template-v1 | 309 | 0 |" in card and "| openai | deepseek-reasoner | 925 |" in card
    assert f"Verification: {verified} of 1234 rows ({verified / 1234:.1%}) were checked" in card
    assert "KP coverage: 9 of the catalog's 10 KPs (90.0% of the catalog)" in card
    assert "counted with the Qwen2.5 BPE" in card
    assert "- Deduplication: exact = 7, near = 3, threshold = 0.8." in card
    assert "- Decontamination: benchmarks = mmlu test, flagged = 2, removed = 2." in card
    assert "| seed dataset | licence | files | seeds | released rows | url |" in card
    assert "| MMLU | MIT |  | 9 |  | https://github.com/hendrycks/test |" in card
    assert "licences of those seed datasets apply" in card
    assert "| language | String | en \\| zh \\| other (script of the seeds) |" in card  # pipes escaped
    assert "![difficulty histogram](plots/difficulty_histogram.png)" in card


def test_front_matter_is_a_valid_hub_card_with_the_data_counts(release: tuple) -> None:
    from huggingface_hub import DatasetCard

    data, out, manifest = release
    front = _front_matter(out)
    hub = DatasetCard.load(out / "README.md").data.to_dict()  # the hub client parses the header
    assert hub["license"] == ["cc-by-nc-sa-4.0", "mit"] and hub["language"] == ["en", "zh"]
    assert hub["task_categories"] == ["question-answering", "multiple-choice"]
    assert hub["size_categories"] == ["1K<n<10K"] and hub["configs"] == front["configs"]
    assert [c["config_name"] for c in front["configs"]] == ["all", "computer_science", "law", "physics"]
    assert [c["config_name"] for c in front["configs"] if c["default"]] == ["all"]
    info = {i["config_name"]: i for i in front["dataset_info"]}
    assert all(i["features"] == info["all"]["features"] for i in info.values())
    assert [f["name"] for f in info["all"]["features"]] == data.columns
    rows = dict(data.group_by("discipline").len().iter_rows())
    assert info["all"]["splits"][0]["num_examples"] == data.height == manifest.rows
    assert info["computer_science"]["splits"][0]["num_examples"] == rows["computer science"]
    assert info["law"]["download_size"] == sum(
        s.bytes for s in manifest.shards if s.path.endswith(".parquet") and s.discipline == "law"
    )
    assert "*id0" not in (out / "README.md").read_text()  # no YAML anchors


def test_release_reads_back_in_duckdb_with_the_card_counts(release: tuple) -> None:
    data, out, _ = release
    front = _front_matter(out)
    rows = {i["config_name"]: i["splits"][0]["num_examples"] for i in front["dataset_info"]}
    with duckdb.connect() as con:
        parquet = con.sql(
            f"select discipline, count(*) from read_parquet('{out}/data/*/*.parquet') group by all"
        ).fetchall()
        jsonl = con.sql(f"select discipline, count(*) from read_json('{out}/data/*/*.jsonl') group by all").fetchall()
        types = con.sql(f"select typeof(choices), typeof(kp_ids) from read_json('{out}/data/law/*.jsonl') limit 1")
        assert types.fetchall() == [("VARCHAR[]", "VARCHAR[]")]
    assert dict(parquet) == dict(jsonl) == dict(data.group_by("discipline").len().iter_rows())
    assert sum(dict(parquet).values()) == rows["all"] and dict(parquet)["law"] == rows["law"]


def test_release_loads_with_hf_datasets_offline_with_the_card_counts(
    release: tuple, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    import datasets

    data, out, _ = release
    cache = str(tmp_path / "cache")
    rows = {i["config_name"]: i["splits"][0]["num_examples"] for i in _front_matter(out)["dataset_info"]}
    # The card's configs and split sizes are what load_dataset follows and verifies (a wrong
    # num_examples raises NonMatchingSplitsSizesError).
    everything = datasets.load_dataset(str(out), cache_dir=cache, verification_mode="basic_checks")["train"]
    assert everything.num_rows == rows["all"] == data.height
    law = datasets.load_dataset(str(out), "law", cache_dir=cache, verification_mode="basic_checks")["train"]
    assert law.num_rows == rows["law"] and set(law["discipline"]) == {"law"}
    assert law.features._to_yaml_list() == _front_matter(out)["dataset_info"][0]["features"]  # the card's features
    assert law.features["choices"] == datasets.List(datasets.Value("string"))
    by_id = {r["qa_id"]: r for r in data.filter(pl.col("discipline") == "law").iter_rows(named=True)}
    assert all(row == by_id[row["qa_id"]] for row in law.to_list())  # every value as written
    jsonl = datasets.load_dataset("json", data_files=str(out / "data/*/*.jsonl"), cache_dir=cache)["train"]
    assert jsonl.num_rows == data.height and sorted(jsonl["qa_id"]) == sorted(data["qa_id"].to_list())


def test_card_for_display_fences_the_front_matter(release: tuple) -> None:
    _, out, _ = release
    shown = card_for_display((out / "README.md").read_text())
    assert shown.startswith("```yaml\nlicense:\n") and "\n```\n\n# LinkQA test release" in shown


def test_seed_sources_get_their_benchmark_licence_or_unknown() -> None:
    seeds = pl.LazyFrame(
        {
            "seed_id": ["m1", "m2", "c1", "g1", "x1", "x2"],
            "source": [
                "/d/mmlu/test/anatomy_test.csv",
                "/d/mmlu/test/virology_test.csv",
                "/d/cmmlu/dev/law.csv",
                "/d/gsm8k/test.jsonl",
                "/home/me/my_mmlu_like.csv",  # names MMLU: attributed by its path
                "/home/me/college_math_test.csv",  # not the MATH benchmark
            ],
        }
    )
    dataset = pl.LazyFrame({"qa_id": ["a", "b", "c"], "seed_ids": [["m1", "c1"], ["m2"], ["x2"]]})
    got = {s["name"]: s for s in seed_source_licences(seeds, dataset)}
    assert got["MMLU"] | {} == {
        "name": "MMLU",
        "licence": "MIT",
        "hub_id": "mit",
        "url": "https://github.com/hendrycks/test",
        "files": 3,
        "seeds": 3,
        "released_rows": 2,
    }
    assert (got["CMMLU"]["licence"], got["CMMLU"]["hub_id"], got["CMMLU"]["released_rows"]) == (
        "CC BY-NC-SA 4.0",
        "cc-by-nc-sa-4.0",
        1,
    )
    assert (got["GSM8K"]["licence"], got["GSM8K"]["released_rows"]) == ("MIT", 0)
    unknown = got["college_math_test.csv"]
    assert unknown["hub_id"] == "other" and unknown["licence"].startswith("unknown") and unknown["released_rows"] == 1


def test_plots_are_valid_pngs(release: tuple) -> None:
    _, _, manifest = release
    assert {p.name for p in manifest.plot_paths} == {
        "discipline_distribution.png",
        "discipline_difficulty.png",
        "difficulty_histogram.png",
        "path_length_histogram.png",
        "kp_coverage_curve.png",
    }
    for path in manifest.plot_paths:
        raw = path.read_bytes()
        assert raw[:8] == b"\x89PNG\r\n\x1a\n" and raw[12:16] == b"IHDR"
        width, height = struct.unpack(">II", raw[16:24])
        assert width > 300 and height > 200
        pixels = imread(path)
        assert pixels.shape[:2] == (height, width) and pixels.std() > 0.05  # not a blank canvas


def test_rewrite_replaces_previous_release_and_refuses_foreign_folders(tmp_path: Path) -> None:
    out = tmp_path / "release"
    write_release(_dataset(600), out, shard_rows=50, card_info={})
    assert len(list(out.glob("data/*/*.parquet"))) > 6
    small = _dataset(40)
    manifest = write_release(small, out, shard_rows=1000, card_info={})
    assert len(list(out.glob("data/*/*.parquet"))) == 3  # no stale shards from the first run
    assert manifest.rows == 40 and "- Deduplication: not reported for this release." in (out / "README.md").read_text()
    assert "Seed sources were not listed" in (out / "README.md").read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["release"]  # no temporary folders left behind
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="refusing"):
        write_release(small, foreign, card_info={})
    assert (foreign / "notes.txt").read_text() == "mine"


def test_bad_datasets_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="lacks contract columns"):
        write_release(_dataset(5).drop("model"), tmp_path / "a", card_info={})
    with pytest.raises(ValueError, match="null discipline"):
        write_release(_dataset(5).with_columns(discipline=pl.lit(None, pl.String)), tmp_path / "b", card_info={})
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_empty_release_still_has_card_stats_and_plots(tmp_path: Path) -> None:
    manifest = write_release(pl.DataFrame(schema=SYNTH_QA_SCHEMA), tmp_path / "empty", card_info={})
    assert manifest.rows == 0 and manifest.shards == ()
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in manifest.plot_paths)
    assert "0 rows in 0 disciplines" in manifest.card_path.read_text()


def test_markdown_table_escapes_cells() -> None:
    table = markdown_table(pl.DataFrame({"a": ["x|y", "multi\nline"], "b": [0.5, None]}))
    assert table.splitlines() == ["| a | b |", "|---|---|", "| x\\|y | 0.500 |", "| multi line |  |"]
