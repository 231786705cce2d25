"""Seeds per path: consecutive-pair seeds first, greedy coverage, min/max seeds, reuse cap,
explicit reasons, and the same rules on paths sampled from real MMLU seeds."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from linkqa_pipelines.core.walks import PATH_SEEDS_SCHEMA, WalkConfig, sample_paths, select_path_seeds
from linkqa_pipelines_tests.test_walks import mmlu_graph


def links(pairs: dict[str, list[int]]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"seed_id": s, "node": n} for s, nodes in pairs.items() for n in nodes],
        schema={"seed_id": pl.String, "node": pl.Int32},
    )


def test_pair_seeds_first_then_greedy_coverage() -> None:
    path = [np.array([10, 11, 12, 13])]
    seed_links = links(
        {
            "wide": [10, 12, 13, 99],  # covers 3 path KPs but only one consecutive pair (12-13)
            "pair": [10, 11],  # the pair 10-11
            "one": [12],
            "far": [99],  # not on the path
        }
    )
    out = select_path_seeds(path, seed_links, min_seeds=2, max_seeds=5)
    row = out.row(0, named=True)
    # both pair seeds before anything else, then nothing adds coverage: stop at 2 (>= min_seeds)
    assert sorted(row["seed_ids"]) == ["pair", "wide"]
    assert row["covered_kps"] == 4 and row["pair_seeds"] == 2 and row["reason"] is None
    assert out.schema == pl.Schema(PATH_SEEDS_SCHEMA)


def test_greedy_max_coverage_and_max_seeds() -> None:
    path = [np.arange(6)]
    seed_links = links({"a": [0], "b": [2], "c": [4], "bc": [2, 4], "d": [5], "e": [1], "f": [3]})
    out = select_path_seeds(path, seed_links, min_seeds=2, max_seeds=3).row(0, named=True)
    assert out["seed_ids"][0] == "bc"  # two new KPs beats one
    assert len(out["seed_ids"]) == 3 and out["covered_kps"] == 4 and out["pair_seeds"] == 0


def test_min_seeds_filled_when_one_seed_covers_everything() -> None:
    path = [np.array([1, 2, 3])]
    seed_links = links({"all": [1, 2, 3], "some": [2], "other": [3]})
    row = select_path_seeds(path, seed_links, min_seeds=2).row(0, named=True)
    assert row["seed_ids"][0] == "all" and len(row["seed_ids"]) == 2 and row["covered_kps"] == 3


def test_reuse_cap_and_explicit_reasons() -> None:
    paths = [np.array([1, 2, 3])] * 4 + [np.array([7, 8, 9]), np.array([20, 21, 22])]
    seed_links = links({"s1": [1, 2], "s2": [2, 3], "s3": [1, 3], "lonely": [8]})
    out = select_path_seeds(paths, seed_links, min_seeds=2, max_seeds=2, max_seed_reuse=2, seed=3)
    assert out["path_index"].to_list() == list(range(6))
    # the pair seeds s1 (1-2) and s2 (2-3) serve the first two paths, then they are used up
    assert [sorted(s) for s in out["seed_ids"].to_list()[:4]] == [["s1", "s2"], ["s1", "s2"], ["s3"], ["s3"]]
    assert out["reason"].to_list()[:2] == [None, None]
    assert out["reason"].to_list()[2:4] == ["only 1 of 3 linked seeds still under max_seed_reuse=2"] * 2
    assert out.row(4, named=True) == {
        "path_index": 4,
        "seed_ids": ["lonely"],
        "covered_kps": 1,
        "pair_seeds": 0,
        "reason": "only 1 seed(s) linked to the path's KPs (min_seeds=2)",
    }
    assert out.row(5, named=True)["reason"] == "no seed is linked to any KP of the path"
    assert out.row(5, named=True)["seed_ids"] == []


def test_failed_paths_do_not_use_up_seeds() -> None:
    # path 0 can only get one seed (fails); path 1 must still be able to use it
    paths = [np.array([1, 2, 3]), np.array([1, 5, 6])]
    seed_links = links({"x": [1], "y": [5]})
    out = select_path_seeds(paths, seed_links, min_seeds=2, max_seed_reuse=1)
    assert out["seed_ids"].to_list() == [["x"], ["x", "y"]] or out["seed_ids"].to_list() == [["x"], ["y", "x"]]
    assert out["reason"].to_list()[1] is None


def test_deterministic_for_a_seed() -> None:
    paths = [np.array([1, 2, 3, 4])] * 3
    seed_links = links({f"s{i}": [1 + i % 4] for i in range(12)})
    a = select_path_seeds(paths, seed_links, seed=1)
    assert a.equals(select_path_seeds(paths, seed_links, seed=1))
    others = [select_path_seeds(paths, seed_links, seed=s)["seed_ids"].to_list() for s in range(2, 8)]
    assert any(o != a["seed_ids"].to_list() for o in others)  # ties are broken by the seed


def test_bad_seed_links_are_named() -> None:
    with pytest.raises(ValueError, match=r"missing columns \['node'\]"):
        select_path_seeds([np.array([1, 2])], pl.DataFrame({"seed_id": ["a"]}))
    bad = pl.DataFrame({"seed_id": ["a", "b", "c"], "node": [1, None, 2]})
    with pytest.raises(ValueError, match="seed_links row 1: node is null"):
        select_path_seeds([np.array([1, 2])], bad)
    with pytest.raises(ValueError, match="min_seeds"):
        select_path_seeds([np.array([1, 2])], links({"a": [1]}), min_seeds=3, max_seeds=2)


def test_real_paths_get_linked_pair_seeds(shared_data: Callable[..., Path]) -> None:
    g = mmlu_graph(shared_data("mmlu", "test"))
    mask = g.catalog["disciplines"].list.contains("biology").to_numpy()
    paths = sample_paths(g.arrays, WalkConfig(n_paths=200, seed=0), mask).paths()
    out = select_path_seeds(paths, g.seed_links, max_seed_reuse=3)
    assert out.height == 200
    kps_of = {k: set(v) for k, v in g.seed_links.group_by("seed_id").agg(pl.col("node")).iter_rows()}
    seeded = out.filter(pl.col("reason").is_null())
    # offline KPs are mostly single-seed, so some walks stay inside one seed's KPs: they get a reason
    assert seeded.height > 100
    assert out["reason"].drop_nulls().str.starts_with("only 1 ").all()
    most_reused = seeded["seed_ids"].explode().value_counts()["count"].max()
    assert isinstance(most_reused, int) and most_reused <= 3
    for path, row in zip(paths, out.iter_rows(named=True), strict=True):
        nodes = set(path.tolist())
        assert all(kps_of[s] & nodes for s in row["seed_ids"])  # every seed tests a KP of the path
        pairs = {frozenset(p) for p in zip(path[:-1].tolist(), path[1:].tolist(), strict=True)}
        with_pair = sum(any(frozenset(q) in pairs for q in _pairs(kps_of[s] & nodes)) for s in row["seed_ids"])
        assert with_pair == row["pair_seeds"]
        assert (len(row["seed_ids"]) >= 2) == (row["reason"] is None)
    # every step of a walk is a co-occurrence edge, so without a reuse cap each path gets a pair seed
    uncapped = select_path_seeds(paths, g.seed_links, max_seed_reuse=10**6)
    assert (uncapped["pair_seeds"] >= 1).all()


def test_next_seed_prefers_the_previous_seeds_subject() -> None:
    path = [np.array([1, 2, 3, 4])]
    seed_links = links(
        {
            "first": [1, 2, 3],  # two consecutive pairs: picked first
            "other_subject": [3, 4],  # one new pair
            "same_subject": [3, 4],  # one new pair, the first seed's subject
            "same_no_pair": [1],  # the first seed's subject but nothing new: never ahead of a new pair
        }
    )
    subjects = pl.DataFrame(
        {
            "seed_id": ["first", "other_subject", "same_subject", "same_no_pair"],
            "subject": ["college_biology", "high_school_biology", "college_biology", "college_biology"],
        }
    )
    with_subjects = seed_links.join(subjects, on="seed_id")
    picks = {tuple(select_path_seeds(path, with_subjects, max_seeds=2, seed=s)["seed_ids"][0]) for s in range(8)}
    assert picks == {("first", "same_subject")}
    # without subjects the tie is the random key's: both seeds of the pair come up
    blind = {tuple(select_path_seeds(path, seed_links, max_seeds=2, seed=s)["seed_ids"][0]) for s in range(8)}
    assert blind == {("first", "same_subject"), ("first", "other_subject")}
    two = with_subjects.with_columns(subject=pl.when(pl.col("node") == 1).then(pl.lit("x")).otherwise("subject"))
    with pytest.raises(ValueError, match=r"two subjects: \['first'\]"):
        select_path_seeds(path, two)


def test_real_paths_keep_consecutive_seeds_in_one_subject(shared_data: Callable[..., Path]) -> None:
    """Biology of MMLU test has two subjects (high school, college): with subjects, more of a path's
    consecutive seeds share one, and the seeds still cover the path as well."""
    g = mmlu_graph(shared_data("mmlu", "test"))
    mask = g.catalog["disciplines"].list.contains("biology").to_numpy()
    paths = sample_paths(g.arrays, WalkConfig(n_paths=200, seed=0), mask).paths()
    subjects = g.seed_disciplines.select("seed_id", "subject")
    subject_of = dict(subjects.iter_rows())

    def same_subject_share(out: pl.DataFrame) -> float:
        pairs = [(subject_of[a], subject_of[b]) for ids in out["seed_ids"] for a, b in itertools.pairwise(ids)]
        return sum(a == b for a, b in pairs) / len(pairs)

    blind = select_path_seeds(paths, g.seed_links)
    by_subject = select_path_seeds(paths, g.seed_links.join(subjects, on="seed_id"))
    assert same_subject_share(by_subject) > same_subject_share(blind) + 0.05
    covered = {name: int(out["covered_kps"].sum()) for name, out in (("blind", blind), ("by_subject", by_subject))}
    assert covered["by_subject"] >= 0.95 * covered["blind"]
    assert by_subject["reason"].null_count() >= 0.95 * blind["reason"].null_count()


def _pairs(nodes: set[int]) -> list[tuple[int, int]]:
    items = sorted(nodes)
    return [(a, b) for i, a in enumerate(items) for b in items[i + 1 :]]


def test_no_paths_give_an_empty_typed_frame() -> None:
    out = select_path_seeds([], links({"a": [1]}))
    assert out.height == 0 and out.schema == pl.Schema(PATH_SEEDS_SCHEMA)
