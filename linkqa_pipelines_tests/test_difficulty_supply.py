"""Difficulty supply and whole-dataset discipline shares (issue 12): level-aware seed choice gives
a discipline's easy levels supply, and the release selects discipline quotas, records every row
left out and shows achieved against target in the UI and on the card."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from dagster import DagsterInstance, TableMetadataValue

from linkqa_pipelines.core.contracts import SEED_SCHEMA, SYNTH_QA_SCHEMA
from linkqa_pipelines.core.difficulty import (
    DifficultyTargets,
    discipline_plan,
    level_aware_paths,
    load_targets,
    needs_easier,
    requested_levels,
)
from linkqa_pipelines.core.difficulty.composition import conjunction_level, level_expr
from linkqa_pipelines.core.lake import Lake
from linkqa_pipelines.core.tables import REJECT_SCHEMA
from linkqa_pipelines.defs.seeds.config import PipelineInputs
from linkqa_pipelines_tests.pipeline import materialize_assets

EASY_FIRST = {1: 0.5, 2: 0.0, 3: 0.0, 4: 0.5, 5: 0.0}


def _paths(seed_ids: list[list[str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {"path_id": [f"p{i}" for i in range(len(seed_ids))], "seed_ids": seed_ids},
        schema={"path_id": pl.String, "seed_ids": pl.List(pl.String)},
    )


def _levels(levels: dict[str, float]) -> pl.DataFrame:
    return pl.DataFrame({"seed_id": list(levels), "seed_level": list(levels.values())})


def _predicted(paths: pl.DataFrame, levels: pl.DataFrame) -> list[int]:
    parts = (
        paths.with_columns(pos=pl.int_range(pl.len()))
        .explode("seed_ids")
        .join(levels, left_on="seed_ids", right_on="seed_id", maintain_order="left")
        .group_by("pos", maintain_order=True)
        .agg(pl.col("seed_level"))
    )
    return parts.select(level_expr(conjunction_level(pl.col("seed_level")))).to_series().to_list()


def test_level_aware_paths_compose_the_easiest_seeds_only_where_the_target_needs_them() -> None:
    # every path: a level-4 seed with easy ones; all seeds together make level 4
    levels = _levels({"h1": 4.0, "h2": 4.0, "h3": 4.0, "h4": 4.0, "e1": 1.0, "e2": 1.0, "e3": 1.0, "e4": 1.0})
    paths = _paths([["h1", "e1", "e2"], ["h2", "e2", "e3"], ["h3", "e3", "e4"], ["h4", "e4", "e1"]])
    assert _predicted(paths, levels) == [4, 4, 4, 4]
    out, report = level_aware_paths(paths, levels, EASY_FIRST, max_seeds=5)
    after = _predicted(out, levels)
    assert sorted(after) == [1, 1, 4, 4]  # half level 1, as the target asks; the levels are the seeds' own
    for old, new in zip(paths["seed_ids"].to_list(), out["seed_ids"].to_list(), strict=True):
        assert len(new) >= 2 and set(new) <= set(old)  # still a composition of the path's own seeds
        assert new == [s for s in old if s in new]  # in the path's order
    assert len({frozenset(s) for s in out["seed_ids"].to_list()}) == out.height  # no two identical compositions
    assert report["all_seeds"].to_list() == [0, 0, 0, 4, 0] and report["level_aware"].to_list() == [2, 0, 0, 2, 0]
    # a target the full compositions already meet changes nothing, and says so before any linked seed is read
    assert needs_easier(paths, levels, EASY_FIRST, max_seeds=5)
    assert not needs_easier(paths, levels, {4: 1.0}, max_seeds=5)
    same, _ = level_aware_paths(paths, levels, {4: 1.0}, max_seeds=5)
    assert same["seed_ids"].to_list() == paths["seed_ids"].to_list()
    with pytest.raises(ValueError, match="no seed level"):
        level_aware_paths(paths, levels.head(3), EASY_FIRST, max_seeds=5)


def test_two_seed_walks_compose_easier_seeds_linked_to_their_kps_in_their_language() -> None:
    levels = _levels({"h1": 4.0, "h2": 4.0, "h3": 4.0, "h4": 4.0, "e1": 1.0, "e2": 1.0, "e3": 1.0, "z1": 1.0})
    levels = levels.with_columns(language=pl.when(pl.col("seed_id") == "z1").then(pl.lit("zh")).otherwise(pl.lit("en")))
    paths = _paths([["h1", "h2"], ["h3", "h4"], ["h2", "h3"], ["h4", "h1"]]).with_columns(kp_ids=pl.lit(["ka", "kb"]))
    links = pl.DataFrame({"seed_id": ["e1", "e2", "e3", "z1", "h1"], "kp_id": ["ka", "kb", "kb", "ka", "kb"]})
    out, report = level_aware_paths(paths, levels, EASY_FIRST, max_seeds=5, links=links, max_reuse=1)
    new = [set(s) for s in out["seed_ids"].to_list() if s not in paths["seed_ids"].to_list()]
    assert new and all(s <= {"e1", "e2", "e3"} for s in new)  # linked to the path's KPs, never the zh seed
    assert len(new) == 1  # one pair uses e.g. e1 and e2; max_reuse=1 leaves no second disjoint pair of easy seeds
    assert report["all_seeds"].to_list() == [0, 0, 0, 0, 4] and report["level_aware"].to_list() == [1, 0, 0, 0, 3]
    assert _predicted(out, levels).count(1) == 1


LEVEL_POOLS = {
    "mathematics": {1: 20, 2: 40, 3: 60, 4: 50, 5: 30},  # science mix: supply 150, bounds the dataset
    "physics": {1: 10, 2: 30, 3: 60, 4: 60, 5: 40},  # supply 200
    "law": {1: 8, 2: 16, 3: 24, 4: 20, 5: 12},  # default mix: supply 80
}
SHARES = {"mathematics": 0.5, "physics": 0.3, "law": 0.2}


def _screened() -> pl.DataFrame:
    rows = [
        {"qa_id": f"{d}-{lv}-{i}", "discipline": d, "difficulty": lv, "question": f"{d} question {lv}.{i}?"}
        for d, counts in LEVEL_POOLS.items()
        for lv, n in counts.items()
        for i in range(n)
    ]
    base = {
        "path_id": "p",
        "language": "en",
        "qa_type": "free_form",
        "answer": "x",
        "rationale": "r",
        "kp_ids": ["kp_a"],
        "seed_ids": ["s1"],
        "backend": "offline",
        "model": "offline-template-v2",
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "verification": "unverified",
    }
    frame = pl.DataFrame([base | r for r in rows], infer_schema_length=None)
    return frame.with_columns([pl.lit(None).alias(c) for c in SYNTH_QA_SCHEMA if c not in frame.columns]).select(
        [pl.col(c).cast(t) for c, t in SYNTH_QA_SCHEMA.items()]
    )


def test_a_model_is_asked_for_the_target_mix_easiest_paths_easiest_levels() -> None:
    # six paths of two seeds each: two level-3 seeds compose to level 4, two level-4 or level-5 seeds to 5
    levels = _levels({f"s{lv}{i}": float(lv) for lv in (3, 4, 5) for i in range(6)})
    paths = _paths([["s50", "s51"], ["s30", "s31"], ["s40", "s41"], ["s32", "s33"], ["s42", "s43"], ["s34", "s35"]])
    predicted = dict(zip(paths["path_id"], _predicted(paths, levels), strict=True))
    target = {1: 0.1, 2: 0.2, 3: 0.3, 4: 0.25, 5: 0.15}
    asked = requested_levels(paths, levels, target, per_path=3, max_seeds=5)
    slots = asked["requested_levels"].explode().to_list()
    # 18 slots split by largest remainder: 1.8, 3.6, 5.4, 4.5, 2.7 -> 2, 4, 5, 4, 3 (the .5 tie to level 4)
    assert sorted(slots) == [1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5]
    assert set(asked["path_id"]) == set(paths["path_id"]) and all(len(v) == 3 for v in asked["requested_levels"])
    # paths in order of how easy their seeds are get ever harder slots: easiest seeds, easiest items
    order = [predicted[p] for p in asked["path_id"]]
    assert order == [4, 4, 4, 5, 5, 5]
    assert asked["requested_levels"].to_list() == [slots[i : i + 3] for i in range(0, 18, 3)] and slots == sorted(slots)
    by_path = dict(zip(asked["path_id"], asked["requested_levels"].to_list(), strict=True))
    assert by_path["p1"] == [1, 1, 2] and by_path["p4"] == [5, 5, 5]  # level-3 seeds lead, level-5 seeds close
    one = requested_levels(paths.head(1), levels, {1: 0.0, 2: 1.0, 3: 0.0, 4: 0.0, 5: 0.0}, per_path=2, max_seeds=5)
    assert one["requested_levels"].to_list() == [[2, 2]]  # a model is asked below its seeds when the target says so
    with pytest.raises(ValueError, match="per_path"):
        requested_levels(paths, levels, target, per_path=0, max_seeds=5)


def test_discipline_shares_are_met_and_the_ui_tables_match_the_data(tmp_path: Path) -> None:
    targets_path = tmp_path / "targets.yaml"
    targets_path.write_text(
        "default: {1: 0.10, 2: 0.20, 3: 0.30, 4: 0.25, 5: 0.15}\n"
        "disciplines:\n  mathematics: {1: 0.05, 2: 0.15, 3: 0.30, 4: 0.30, 5: 0.20}\n"
        "  physics: {1: 0.05, 2: 0.15, 3: 0.30, 4: 0.30, 5: 0.20}\n"
        "discipline_shares: {mathematics: 0.5, physics: 0.3, law: 0.2}\n",
        encoding="utf-8",
    )
    screened = _screened()
    plan = discipline_plan(screened, load_targets(targets_path))
    assert dict(plan.select("discipline", "supply").iter_rows()) == {"law": 80, "mathematics": 150, "physics": 200}
    assert dict(plan.select("discipline", "quota").iter_rows()) == {"law": 60, "mathematics": 150, "physics": 90}
    assert plan.filter(pl.col("discipline") == "mathematics")["cause"].item().startswith("bounds the dataset")

    lake = Lake(tmp_path)
    lake.write("screened_qa", screened)
    lake.write("screened_qa_rejects", pl.DataFrame(schema=REJECT_SCHEMA))
    seed = dict.fromkeys(SEED_SCHEMA) | {
        "seed_id": "s1",
        "source": "own.jsonl",
        "adapter": "generic",
        "discipline": "law",
    }
    lake.write("seed_sources", pl.DataFrame([seed], schema=SEED_SCHEMA))
    lake.write("kp_catalog", pl.DataFrame({"kp_id": ["kp_a"], "disciplines": [list(SHARES)]}))
    instance = DagsterInstance.ephemeral()
    inputs = {"inputs": PipelineInputs(difficulty_targets=str(targets_path))}  # every stage reads these targets
    materialize_assets(
        tmp_path,
        ["linkqa_dataset", "linkqa_dataset_rejects"],
        partition=sorted(SHARES),
        resources=inputs,
        instance=instance,
    )
    release = materialize_assets(tmp_path, ["linkqa_release"], resources=inputs, instance=instance)

    released = lake.read("linkqa_dataset")
    sizes = dict(released.group_by("discipline").len().iter_rows())
    assert sizes == {"mathematics": 150, "physics": 90, "law": 60}  # the shares, exactly
    targets = load_targets(targets_path)
    for d, size in sizes.items():  # and each discipline's level mix
        got = dict(released.filter(pl.col("discipline") == d).group_by("difficulty").len().iter_rows())
        assert all(abs(got.get(lv, 0) / size - share) <= 0.05 for lv, share in targets.for_discipline(d).items())
    rejected = lake.read("linkqa_dataset_rejects")
    why = {(d, r): n for d, r, n in rejected.group_by("discipline", "reason").len().iter_rows()}
    assert why == {
        ("mathematics", "over_target_mix"): 50,  # its level target: 150 of 200
        ("physics", "over_discipline_share"): 110,  # its level target allows 200, its share wants 90
        ("law", "over_discipline_share"): 20,
    }
    assert rejected.height + released.height == screened.height  # every row left out is recorded

    meta = release.asset_materializations_for_node("linkqa_release")[0].metadata
    table = meta["discipline_shares_vs_target"]
    assert isinstance(table, TableMetadataValue)
    shown = {
        r.data["discipline"]: (r.data["items"], r.data["target_share"], r.data["within_5_points"])
        for r in table.records
    }
    assert shown == {d: (sizes[d], SHARES[d], True) for d in SHARES}
    mix = meta["mix_vs_target"]
    assert isinstance(mix, TableMetadataValue)
    levels = {(r.data["scope"], r.data["difficulty"]): r.data["items"] for r in mix.records}
    counts = {(d, lv): n for d, lv, n in released.group_by("discipline", "difficulty").len().iter_rows()}
    assert {k: v for k, v in levels.items() if k[1] is not None and k[0] != "(all)" and v} == counts
    card = (tmp_path / "release" / "README.md").read_text(encoding="utf-8")
    assert "Discipline shares of the whole dataset" in card
    assert "50 items left out to meet the per-discipline difficulty targets, 130 to meet the discipline shares." in card


def test_a_discipline_with_a_share_and_no_supply_is_a_deficit_not_an_empty_dataset() -> None:
    pool = pl.DataFrame({"discipline": ["physics"] * 10, "difficulty": [4] * 10})
    plan = discipline_plan(pool, DifficultyTargets(default={4: 1.0}, shares={"physics": 0.5, "law": 0.5}))
    rows = {r["discipline"]: r for r in plan.iter_rows(named=True)}
    assert rows["physics"]["quota"] == 10 and rows["law"]["quota"] == 10
    assert rows["law"]["deficit"] == 10 and rows["law"]["cause"].startswith("supply: 0 of its 0 screened items")
