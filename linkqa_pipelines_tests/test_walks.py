"""Walk sampler: valid paths, determinism, dead ends, exactness of the fast path, and coverage
against the uniform and MathScale-style baselines (hand-made graphs and a graph built from
real MMLU seeds with the project's offline KP extractor). Every property is checked for both
engines, the numba kernel and the numpy fallback (the numba cases skip without numba)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
import polars as pl
import pytest

from linkqa_pipelines.core.contracts import GraphArrays
from linkqa_pipelines.core.walks import (
    HAS_NUMBA,
    ValueFunction,
    ValueFunctionConfig,
    WalkConfig,
    WalkResult,
    gini,
    graph_arrays_from_edges,
    kp_coverage,
    mathscale_walk,
    popularity_share,
    popularity_walk,
    sample_paths,
    uniform_walk,
    use_counts,
)
from linkqa_pipelines.core.walks import types as walks
from linkqa_pipelines.core.walks.sampler import _Sampler

BASELINES = (uniform_walk, mathscale_walk, popularity_walk)
Engine = Literal["numba", "numpy"]
ENGINES = pytest.mark.parametrize(
    "engine", [pytest.param("numba", marks=pytest.mark.skipif(not HAS_NUMBA, reason="numba not installed")), "numpy"]
)


def hub_ring(n_tail: int = 60, n_hub: int = 3, hub_weight: float = 3.0, hub_popularity: float = 5.0) -> GraphArrays:
    """Hubs linked to each other and to every tail KP (strong, popular); tail KPs in a weak ring."""
    src, dst, weight = [], [], []
    tail = range(n_hub, n_hub + n_tail)
    for h in range(n_hub):
        for other in range(h + 1, n_hub):
            src.append(h)
            dst.append(other)
            weight.append(hub_weight)
        for t in tail:
            src.append(h)
            dst.append(t)
            weight.append(hub_weight)
    for k in range(n_tail):
        src.append(n_hub + k)
        dst.append(n_hub + (k + 1) % n_tail)
        weight.append(1.0)
    popularity = np.r_[np.full(n_hub, hub_popularity), np.ones(n_tail)]
    return graph_arrays_from_edges(n_hub + n_tail, np.array(src), np.array(dst), np.array(weight), popularity)


def random_graph(n: int = 80, m: int = 160, seed: int = 0) -> GraphArrays:
    """Sparse random graph with isolated pairs and leaves, so dead ends happen."""
    rng = np.random.default_rng(seed)
    pairs = {tuple(sorted(p)) for p in rng.integers(0, n - 4, size=(m, 2)) if p[0] != p[1]}
    pairs |= {(n - 4, n - 3), (n - 2, n - 1)}  # two isolated edges: any path there dies at 2 KPs
    src, dst = np.array(sorted(pairs)).T
    weight = rng.integers(1, 6, size=src.size).astype(float)
    return graph_arrays_from_edges(n, src, dst, weight, rng.zipf(2.0, size=n).astype(float))


def edge_set(g: GraphArrays) -> set[tuple[int, int]]:
    rows = np.repeat(np.arange(g.n_nodes), np.diff(g.indptr))
    return set(zip(rows.tolist(), g.indices.tolist(), strict=True))


def assert_valid(result: WalkResult, g: GraphArrays, cfg: WalkConfig, start_mask: np.ndarray | None = None) -> None:
    edges = edge_set(g)
    for path in result.paths():
        assert cfg.min_len <= path.size <= cfg.max_len
        assert np.unique(path).size == path.size, f"repeated KP in {path}"
        for u, v in zip(path[:-1].tolist(), path[1:].tolist(), strict=True):
            assert (u, v) in edges, f"{u} -> {v} is not an edge"
        if start_mask is not None:
            assert start_mask[path[0]]
    assert result.nodes.dtype == np.int32 and result.offsets[-1] == result.nodes.size
    assert np.all(result.values > 0)
    np.testing.assert_allclose(result.scores, [np.log(t).mean() for t in result.traces()])
    assert np.all(result.coverage >= np.bincount(result.nodes, minlength=g.n_nodes))  # + discarded attempts


@pytest.mark.parametrize(
    "options",
    [{}, {"rejection_rounds": 0}, {"coverage_update": "step"}, {"batch_size": 7, "gamma": 2.0, "alpha": 0.5}],
    ids=["default", "exact", "step", "batch7"],
)
@ENGINES
def test_paths_follow_edges_never_repeat_and_respect_lengths(options: dict, engine: Engine) -> None:
    g = random_graph()
    start_mask = np.zeros(g.n_nodes, dtype=bool)
    start_mask[::3] = True
    cfg = WalkConfig(n_paths=300, min_len=3, max_len=6, seed=5, engine=engine, **options)
    for sampler in (sample_paths, *BASELINES):
        result = sampler(g, cfg, start_mask)
        assert len(result) == cfg.n_paths
        assert_valid(result, g, cfg, start_mask)
        padded = result.padded()
        assert padded.shape == (300, result.lengths.max())
        assert all(np.array_equal(row[row >= 0], p) for row, p in zip(padded, result.paths(), strict=True))


@ENGINES
def test_same_seed_same_paths_other_seed_other_paths(engine: Engine) -> None:
    g = random_graph()
    cfg = WalkConfig(n_paths=200, seed=11, batch_size=16, engine=engine)
    a, b = sample_paths(g, cfg), sample_paths(g, cfg)
    np.testing.assert_array_equal(a.nodes, b.nodes)
    np.testing.assert_array_equal(a.offsets, b.offsets)
    np.testing.assert_array_equal(a.values, b.values)
    c = sample_paths(g, WalkConfig(n_paths=200, seed=12, batch_size=16, engine=engine))
    assert not np.array_equal(a.nodes[: c.nodes.size], c.nodes[: a.nodes.size])


@pytest.mark.skipif(not HAS_NUMBA, reason="numba not installed")
def test_kernel_paths_do_not_depend_on_the_thread_count() -> None:
    g = random_graph()
    cfg = WalkConfig(n_paths=20_000, batch_size=20_000, max_len=4, seed=4, engine="numba", threads=1)
    one = sample_paths(g, cfg)
    three = sample_paths(g, WalkConfig(**{**cfg.__dict__, "threads": 3}))  # 3 row blocks on 3 threads
    np.testing.assert_array_equal(one.nodes, three.nodes)
    np.testing.assert_array_equal(one.values, three.values)
    assert (one.steps, one.proposals) == (three.steps, three.proposals)


@pytest.mark.skipif(not HAS_NUMBA, reason="numba not installed")
@pytest.mark.parametrize("beta", [0.0, 1.0, 0.7])
def test_kernel_bookkeeping_matches_the_numpy_code(beta: float) -> None:
    """The numba engine's use counts (split over KP-chunk owners) and V updates give the numpy
    engine's numbers: bit for bit, except that V for a fractional beta may differ in the last bit
    (libm's pow against numpy's). (Its start draw differs by design: see the distribution test.)"""
    g = random_graph(n=5000, m=20_000)
    rng = np.random.default_rng(1)
    used = rng.integers(0, 5000, size=30_000)  # >= _ROWS_PER_THREAD: the count runs in 2 shares
    engines = {}
    for engine in ("numba", "numpy"):
        sampler = _Sampler(g, WalkConfig(n_paths=1, beta=beta, engine=engine, threads=2), None)
        sampler.maybe_rebuild()
        sampler.count_use(used.astype(np.int32) if engine == "numba" else used)
        engines[engine] = (sampler.use, sampler.value_now, sampler.accept)
    np.testing.assert_array_equal(engines["numba"][0], engines["numpy"][0])
    for fast, slow in zip(engines["numba"][1:], engines["numpy"][1:], strict=True):
        if beta in (0.0, 1.0):
            np.testing.assert_array_equal(fast, slow)
        else:
            np.testing.assert_allclose(fast, slow, rtol=4e-16, atol=0)
    assert np.any(engines["numba"][2] < 1.0) == (beta > 0)  # the counts really changed V where beta > 0


def test_engine_auto_falls_back_to_numpy_without_numba(monkeypatch: pytest.MonkeyPatch) -> None:
    assert WalkConfig(n_paths=1).compiled == HAS_NUMBA
    monkeypatch.setattr(walks, "HAS_NUMBA", False)
    assert not WalkConfig(n_paths=1).compiled
    with pytest.raises(ValueError, match="needs the numba package"):
        WalkConfig(n_paths=1, engine="numba")
    g = random_graph()
    cfg = WalkConfig(n_paths=50, seed=3)
    np.testing.assert_array_equal(  # auto without numba is exactly the numpy engine
        sample_paths(g, cfg).nodes, sample_paths(g, WalkConfig(n_paths=50, seed=3, engine="numpy")).nodes
    )


@ENGINES
def test_dead_ends_are_discarded_and_counted(engine: Engine) -> None:
    # a triangle 0-1-2 plus a pendant pair 3-4: from 3 or 4 a path dies at 2 KPs
    g = graph_arrays_from_edges(5, np.array([0, 1, 0, 3]), np.array([1, 2, 2, 4]), np.ones(4), np.ones(5))
    only_pair = np.array([False, False, False, True, True])
    dead = sample_paths(g, WalkConfig(n_paths=10, min_len=3, max_len=3, engine=engine), only_pair)
    assert len(dead) == 0 and dead.discarded == 100  # max_draws = 10 * n_paths, all dead
    assert dead.steps == 100  # each made its one step before the dead end

    for update in ("batch", "step"):
        cfg = WalkConfig(n_paths=50, min_len=3, max_len=3, seed=1, coverage_update=update, engine=engine)
        mixed = sample_paths(g, cfg)
        assert len(mixed) == 50 and 0 < mixed.discarded < 50  # starts at 3/4 drawn, discarded, topped up
        assert {frozenset(p.tolist()) for p in mixed.paths()} == {frozenset({0, 1, 2})}
        # attempts count as coverage, so the dead-end pair loses its pull instead of hogging the starts
        assert mixed.coverage[3:].sum() == 2 * mixed.discarded
        assert mixed.coverage[:3].sum() == 150


@ENGINES
def test_dead_end_after_min_len_keeps_the_shorter_path(engine: Engine) -> None:
    g = graph_arrays_from_edges(4, np.array([0, 1, 2]), np.array([1, 2, 3]), np.ones(3), np.ones(4))  # a line
    starts = np.array([True, False, False, False])
    cfg = WalkConfig(n_paths=5, min_len=4, max_len=6, engine=engine)  # targets 4-6, the line ends at 4
    result = sample_paths(g, cfg, starts)
    assert [p.tolist() for p in result.paths()] == [[0, 1, 2, 3]] * 5 and result.discarded == 0


@ENGINES
def test_coverage_beats_uniform_and_mathscale_on_hand_made_graph(engine: Engine) -> None:
    g = hub_ring()
    coverage = {s.__name__: [] for s in (sample_paths, uniform_walk, mathscale_walk)}
    for seed in range(5):
        cfg = WalkConfig(n_paths=40, seed=seed, engine=engine)  # ~180 KP uses on 63 KPs
        for sampler in (sample_paths, uniform_walk, mathscale_walk):
            coverage[sampler.__name__].append(kp_coverage(sampler(g, cfg), g.n_nodes))
    ours = np.mean(coverage["sample_paths"])
    assert ours > np.mean(coverage["uniform_walk"]) + 0.05
    assert ours > np.mean(coverage["mathscale_walk"]) + 0.05


@ENGINES
def test_without_coverage_term_popular_kps_dominate(engine: Engine) -> None:
    g = hub_ring(hub_popularity=50.0)  # 3 popular hubs among 63 KPs (5% of the KPs)

    def hub_share(result: WalkResult) -> float:
        counts = use_counts(result, g.n_nodes)
        return counts[:3].sum() / counts.sum()

    cfg = WalkConfig(n_paths=200, seed=2, engine=engine)
    no_coverage = hub_share(sample_paths(g, replace(cfg, beta=0.0)))
    assert no_coverage > 0.4  # 5% of the KPs take over 40% of the uses (at most 3 per path)
    assert no_coverage > hub_share(sample_paths(g, cfg)) + 0.08
    assert no_coverage > hub_share(uniform_walk(g, cfg)) + 0.1
    assert hub_share(popularity_walk(g, cfg)) > hub_share(uniform_walk(g, cfg)) + 0.1


@ENGINES
def test_fast_path_draws_exactly_the_target_distribution(engine: Engine) -> None:
    """The epoch proposal + rejection step must give P(v | u) ~ strength^gamma * V_now(v) with path
    KPs excluded, also after use counts changed since the proposal was built."""
    rng = np.random.default_rng(0)
    n = 12
    src, dst = np.triu_indices(n, 1)
    weight = rng.integers(1, 9, size=src.size).astype(float)
    popularity = rng.integers(1, 30, size=n).astype(float)
    g = graph_arrays_from_edges(n, src, dst, weight, popularity)
    cfg = WalkConfig(n_paths=1, max_len=4, gamma=1.5, alpha=1.0, beta=1.0, engine=engine)
    sampler = _Sampler(g, cfg, None)
    sampler.maybe_rebuild()
    sampler.count_use(np.array([1, 1, 1, 2, 5, 5, 7, 3, 3, 3, 3, 3, 3]))  # V_now < V_epoch for these
    k = 60_000
    walkers = sampler.start_walkers(k)
    walkers.paths[:, 0], walkers.paths[:, 1] = 0, 4  # walkers at 4 came from 0: 0 and 4 are excluded
    walkers.lengths[:] = 2
    sampler.advance(walkers, 3)
    chosen = walkers.paths[:, 2]
    assert np.all(walkers.lengths == 3)
    value_fn = ValueFunction(popularity, cfg.value_config)
    target = np.zeros(n)
    row = slice(g.indptr[4], g.indptr[5])
    target[g.indices[row]] = g.strength[row] ** 1.5 * value_fn(sampler.use)[g.indices[row]]
    target[[0, 4]] = 0.0
    target /= target.sum()
    observed = np.bincount(chosen, minlength=n) / k
    sigma = np.sqrt(target * (1 - target) / k)
    assert np.all(np.abs(observed - target) <= 5 * sigma + 1e-12), (observed, target)
    assert sampler.proposals > k  # some were rejected: the correction really ran

    starts, _ = sampler.draw_starts(k)  # starts: P(k) ~ V_now(k), after V fell below V_epoch
    start_target = value_fn(sampler.use) / value_fn(sampler.use).sum()
    observed = np.bincount(starts, minlength=n) / k
    assert np.all(np.abs(observed - start_target) <= 5 * np.sqrt(start_target * (1 - start_target) / k) + 1e-12)


def test_exact_fallback_is_chunked_and_chunking_does_not_change_paths() -> None:  # numpy engine: it chunks
    # a star with a 3000-degree hub plus a ring around it: every walker passes the hub
    n = 3001
    leaves = np.arange(1, n)
    src = np.r_[np.zeros(n - 1, dtype=int), leaves]
    dst = np.r_[leaves, np.r_[leaves[1:], 1]]
    g = graph_arrays_from_edges(n, src, dst, np.ones(src.size), np.ones(n))
    base = WalkConfig(n_paths=200, min_len=3, max_len=4, seed=3, rejection_rounds=0, engine="numpy")
    whole = sample_paths(g, base)
    chunked = sample_paths(g, WalkConfig(**{**base.__dict__, "max_gather": 500}))
    np.testing.assert_array_equal(whole.nodes, chunked.nodes)
    assert_valid(chunked, g, base)


def test_empty_inputs_give_empty_results() -> None:
    g = random_graph()
    none = np.zeros(g.n_nodes, dtype=bool)
    result = sample_paths(g, WalkConfig(n_paths=10), none)
    assert len(result) == 0 and result.paths() == [] and result.padded().shape == (0, 0)
    assert len(sample_paths(g, WalkConfig(n_paths=0))) == 0


@pytest.mark.parametrize(
    ("src", "dst", "weight", "message"),
    [
        ([0, 1], [1, 7], [1.0, 1.0], "edge row 1 .*outside 0..3"),
        ([0, 2], [1, 2], [1.0, 1.0], "edge row 1 .*self-loop"),
        ([0, 1], [1, 2], [1.0, 0.0], "edge row 1 .*weight"),
        ([0, 1, 1], [1, 2, 0], [1.0, 1.0, 2.0], "edge row 2 .*duplicate"),
    ],
)
def test_bad_edges_are_rejected_by_row(src: list, dst: list, weight: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        graph_arrays_from_edges(4, np.array(src), np.array(dst), np.array(weight), np.ones(4))


def test_bad_config_and_inputs_fail_loudly() -> None:
    with pytest.raises(ValueError, match="min_len"):
        WalkConfig(n_paths=5, min_len=1)
    with pytest.raises(ValueError, match="max_len"):
        WalkConfig(n_paths=5, min_len=4, max_len=3)
    with pytest.raises(ValueError, match="beta"):
        WalkConfig(n_paths=5, beta=-1.0)
    with pytest.raises(ValueError, match="coverage_update"):
        WalkConfig(n_paths=5, coverage_update="path")  # pyright: ignore[reportArgumentType]
    with pytest.raises(ValueError, match="engine"):
        WalkConfig(n_paths=5, engine="cuda")  # pyright: ignore[reportArgumentType]
    with pytest.raises(ValueError, match="threads"):
        WalkConfig(n_paths=5, threads=0)
    g = random_graph()
    with pytest.raises(ValueError, match="start_mask"):
        sample_paths(g, WalkConfig(n_paths=5), np.ones(3, dtype=bool))
    broken = GraphArrays(g.indptr, g.indices, -g.strength, g.popularity)
    with pytest.raises(ValueError, match=r"strength\[0\]"):
        sample_paths(broken, WalkConfig(n_paths=5))
    with pytest.raises(ValueError, match=r"popularity\[2\]"):
        popularity_share(np.array([1.0, 2.0, -1.0]))
    with pytest.raises(ValueError, match="overflows"):
        ValueFunction(np.ones(2), ValueFunctionConfig(gamma=400.0)).edge_factor(np.array([1e3]))


# ---- real seeds --------------------------------------------------------------------------

MMLU_SUBJECTS = (
    "high_school_biology",
    "college_biology",
    "high_school_chemistry",
    "college_chemistry",
    "high_school_physics",
)


class RealGraph(NamedTuple):
    arrays: GraphArrays
    catalog: pl.DataFrame  # kp_catalog rows sorted by node
    seed_links: pl.DataFrame  # seed_id, node
    seed_disciplines: pl.DataFrame  # seed_id, discipline, subject


@functools.cache
def mmlu_graph(mmlu_test: Path) -> RealGraph:
    """KP graph of five MMLU test subjects (CSVs in `mmlu_test`, i.e. `shared_data("mmlu", "test")`)
    through the project's own offline pipeline:
    reader -> normalisation -> offline keyphrases -> catalog -> co-occurrence graph."""
    from linkqa_pipelines.core.graph import build_graph
    from linkqa_pipelines.core.knowledge_points import build_catalog, extract_keyphrases
    from linkqa_pipelines.core.seeds import mmlu_csv, normalise_seeds
    from linkqa_pipelines.taxonomy import load_taxonomy

    files = [mmlu_test / f"{s}_test.csv" for s in MMLU_SUBJECTS]
    raw = pl.concat([mmlu_csv(f).rows for f in files], how="vertical_relaxed")
    seeds = normalise_seeds(raw, load_taxonomy().map_subjects).seeds
    catalog = build_catalog(extract_keyphrases(seeds))
    graph = build_graph(catalog.links, catalog.catalog)
    return RealGraph(
        graph.arrays,
        catalog.catalog.sort("node"),
        graph.seed_links.select("seed_id", "node"),
        seeds.select("seed_id", "discipline", "subject"),
    )


@pytest.mark.parametrize(("discipline", "n_paths"), [("biology", 600), ("chemistry", 300)])
@ENGINES
def test_real_seeds_coverage_and_gini_beat_uniform_and_mathscale(
    discipline: str, n_paths: int, engine: Engine, shared_data: Callable[..., Path]
) -> None:
    g = mmlu_graph(shared_data("mmlu", "test"))
    mask = g.catalog["disciplines"].list.contains(discipline).to_numpy()
    assert mask.sum() > 500  # a real discipline, not a toy
    from linkqa_pipelines.defs.walks.config import WalkPathsConfig

    defaults = WalkPathsConfig()  # the value function's exponents the pipeline runs with
    cfg = WalkConfig(
        n_paths=n_paths, seed=0, engine=engine, alpha=defaults.alpha, beta=defaults.beta, gamma=defaults.gamma
    )
    stats = {}
    for sampler in (sample_paths, uniform_walk, mathscale_walk):
        result = sampler(g.arrays, cfg, mask)
        assert len(result) == n_paths
        assert_valid(result, g.arrays, cfg, mask)
        stats[sampler.__name__] = (kp_coverage(result, mask), gini(use_counts(result, g.arrays.n_nodes)[mask]))
    cov, gin = stats.pop("sample_paths")
    for name, (base_cov, base_gini) in stats.items():
        assert cov > base_cov + 0.02, (name, cov, base_cov)
        assert gin < base_gini - 0.02, (name, gin, base_gini)


@pytest.mark.parametrize("discipline", ["biology", "chemistry", "physics"])
def test_pipeline_walk_beats_baselines_on_a_real_discipline_graph(
    discipline: str, shared_data: Callable[..., Path]
) -> None:
    """What `walk_paths` runs (the discipline's own graph, `WalkPathsConfig` defaults) against the
    uniform and MathScale-style walks at equal path count, on KPs extracted from real MMLU seeds."""
    from linkqa_pipelines.core.walks import partition_graph
    from linkqa_pipelines.defs.walks.config import WalkPathsConfig

    g = mmlu_graph(shared_data("mmlu", "test"))
    links = g.seed_links.join(g.seed_disciplines, on="seed_id")
    part = partition_graph(links, g.catalog, discipline)
    config = WalkPathsConfig()
    cfg = WalkConfig(n_paths=config.n_paths, alpha=config.alpha, beta=config.beta, gamma=config.gamma)
    mask = part.start_mask
    assert mask.sum() >= 100
    stats = {}
    for sampler in (sample_paths, uniform_walk, mathscale_walk):
        result = sampler(part.arrays, cfg, mask)
        assert_valid(result, part.arrays, cfg, mask)
        stats[sampler.__name__] = (kp_coverage(result, mask), gini(use_counts(result, part.arrays.n_nodes)[mask]))
    cov, gin = stats.pop("sample_paths")
    for name, (base_cov, base_gini) in stats.items():
        assert cov > base_cov + 0.05, (name, cov, base_cov)
        assert gin < base_gini - 0.05, (name, gin, base_gini)
