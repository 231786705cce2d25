"""Release export: shards round-trip, stats, card tables and disclosures, PNG plots, replacement."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from matplotlib.image import imread

from linkqa_pipelines.core.contracts import SYNTH_QA_SCHEMA
from linkqa_pipelines.core.release import markdown_table, write_release

CARD_INFO = {
    "name": "LinkQA test release",
    "version": "0.1",
    "seed_sources": [{"name": "MMLU test", "licence": "MIT", "url": "https://github.com/hendrycks/test"}],
    "dedup": {"exact": 7, "near": 3, "threshold": 0.8},
    "decontamination": {"benchmarks": "mmlu test", "flagged": 2, "removed": 2},
}


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
            "kp_ids": [["kp_a", "kp_b"]] * n,
            "seed_ids": [["s1", "s2"]] * n,
            "difficulty": [None if d == 6 else int(d) for d in difficulty],
            "backend": np.where(np.arange(n) % 4 == 0, "offline", "openai").tolist(),
            "model": np.where(np.arange(n) % 4 == 0, "offline-template-v1", "deepseek-reasoner").tolist(),
            "prompt_tokens": np.where(np.arange(n) % 4 == 0, 0, 900).tolist(),
            "completion_tokens": np.where(np.arange(n) % 4 == 0, 0, 1500).tolist(),
            "enhanced_from": [f"qa_{i - 1:05d}" if i % 10 == 9 else None for i in range(n)],
        },
        schema={**SYNTH_QA_SCHEMA, "enhanced_from": pl.String},
    )


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> tuple[pl.DataFrame, Path, object]:
    data = _dataset()
    source = tmp_path_factory.mktemp("src") / "dataset.parquet"
    data.write_parquet(source)
    out = tmp_path_factory.mktemp("rel") / "release"
    manifest = write_release(pl.scan_parquet(source), out, shard_rows=150, card_info=CARD_INFO)
    return data, out, manifest


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
    assert stats["enhanced_variants"] == data["enhanced_from"].is_not_null().sum()
    assert {(r["backend"], r["model"]): r["rows"] for r in stats["backend_model"]} == {
        ("offline", "offline-template-v1"): 309,
        ("openai", "deepseek-reasoner"): 925,
    }


def test_card_has_tables_disclosures_and_licence(release: tuple) -> None:
    data, out, _ = release
    card = (out / "README.md").read_text()
    assert card.startswith("---\nlicense: other\n") and "data_files: data/law/*.parquet" in card
    assert "| discipline | 1 | 2 | 3 | 4 | 5 | unscored | total |" in card
    law = data.filter(pl.col("discipline") == "law")
    counts = [law.filter(pl.col("difficulty") == lv).height for lv in range(1, 6)]
    assert f"| law | {' | '.join(map(str, counts))} | {law['difficulty'].null_count()} | {law.height} |" in card
    assert "**309 of 1234 rows (25.0%) were NOT written by a language model.**" in card
    assert "| offline | offline-template-v1 | 309 |" in card
    assert "- Deduplication: exact = 7, near = 3, threshold = 0.8." in card
    assert "- Decontamination: benchmarks = mmlu test, flagged = 2, removed = 2." in card
    assert "| MMLU test | MIT | https://github.com/hendrycks/test |" in card
    assert "licences of those seed datasets apply" in card
    assert "| language | String | en \\| zh \\| other (script of the seeds) |" in card  # pipes escaped
    assert "![difficulty histogram](plots/difficulty_histogram.png)" in card


def test_plots_are_valid_pngs(release: tuple) -> None:
    _, _, manifest = release
    assert {p.name for p in manifest.plot_paths} == {"discipline_difficulty.png", "difficulty_histogram.png"}
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
