"""KP co-occurrence graph: exact edges on a hand-made example, CSR consistency, igraph, storage."""

from __future__ import annotations

import io
import itertools
import math
from collections import Counter, defaultdict

import numpy as np
import polars as pl
import pytest

from linkqa_pipelines.core.graph import (
    KP_EDGE_SCHEMA,
    STRENGTH_FLOOR,
    KPGraph,
    build_graph,
    degree_plot_png,
    graph_summary,
    load_arrays,
    save_arrays,
)
from linkqa_pipelines.core.graph.build import SEED_LINK_SCHEMA
from linkqa_pipelines.core.knowledge_points import build_catalog

# s1: A B C   s2: A B   s3: A D (two surface forms of D)   s4: D   s5: E (alone)
HAND_MADE = pl.DataFrame(
    {
        "seed_id": ["s1", "s1", "s1", "s2", "s2", "s3", "s3", "s3", "s4", "s5"],
        "discipline": ["physics"] * 5 + ["chemistry"] * 5,
        "kp_name": ["alpha", "beta", "gamma", "alpha", "beta", "alpha", "delta", "Deltas", "delta", "epsilon"],
        "kp_description": "d",
    }
)


@pytest.fixture(scope="module")
def hand_made() -> KPGraph:
    catalog = build_catalog(HAND_MADE)
    return build_graph(catalog.links, catalog.catalog)


def named_edges(graph: KPGraph) -> dict[tuple[str, str], dict]:
    names = dict(zip(graph.nodes["kp_id"], graph.nodes["name"], strict=True))
    return {tuple(sorted((names[r["src_kp_id"]], names[r["dst_kp_id"]]))): r for r in graph.edges.to_dicts()}


def test_hand_made_edges_exact(hand_made: KPGraph) -> None:
    edges = named_edges(hand_made)
    assert set(edges) == {("alpha", "beta"), ("alpha", "gamma"), ("beta", "gamma"), ("alpha", "delta")}
    assert {k: e["weight"] for k, e in edges.items()} == {
        ("alpha", "beta"): 2,
        ("alpha", "gamma"): 1,
        ("beta", "gamma"): 1,
        ("alpha", "delta"): 1,
    }
    assert edges[("alpha", "beta")]["seed_ids"] == ["s1", "s2"]
    assert edges[("alpha", "delta")]["seed_ids"] == ["s3"]  # "delta" + "Deltas" in s3 is one link

    # NPMI over the 5 seeds: alpha in 3, beta 2, gamma 1, delta 2.
    def npmi(n_ab: int, n_a: int, n_b: int, n: int = 5) -> float:
        p_ab = n_ab / n
        return math.log(p_ab / ((n_a / n) * (n_b / n))) / -math.log(p_ab)

    assert edges[("alpha", "beta")]["npmi"] == pytest.approx(npmi(2, 3, 2))
    assert edges[("beta", "gamma")]["npmi"] == pytest.approx(npmi(1, 2, 1)) and edges[("beta", "gamma")]["npmi"] > 0
    assert edges[("alpha", "delta")]["npmi"] < 0  # co-occur less than chance
    # strength = weight x max(npmi, floor): related pairs keep their count, chance pairs keep almost nothing
    for e in edges.values():
        assert e["strength"] == pytest.approx(e["weight"] * max(e["npmi"], STRENGTH_FLOOR))
    assert edges[("alpha", "delta")]["strength"] == pytest.approx(STRENGTH_FLOOR)
    assert hand_made.edges.schema == pl.Schema(KP_EDGE_SCHEMA)
    assert (hand_made.edges["src"] < hand_made.edges["dst"]).all()
    assert hand_made.edges.select(pl.struct("src", "dst").is_unique().all()).item()
    assert hand_made.n_seeds == 5


def test_seed_links_deduplicated_with_nodes(hand_made: KPGraph) -> None:
    links = hand_made.seed_links
    assert links.columns == ["seed_id", "kp_id", "node", "discipline", "subject"]
    assert links.height == 9  # 10 input rows; s3 names delta twice ("delta", "Deltas"), one link
    assert links.filter(pl.col("seed_id") == "s5")["discipline"].to_list() == ["chemistry"]
    node_of = dict(zip(hand_made.nodes["kp_id"], hand_made.nodes["node"], strict=True))
    assert all(node_of[k] == n for k, n in zip(links["kp_id"], links["node"], strict=True))


def test_csr_arrays_match_edges(hand_made: KPGraph) -> None:
    a = hand_made.arrays
    n = a.n_nodes
    assert n == hand_made.nodes.height == 5
    assert a.indptr.dtype == np.int64 and a.indices.dtype == np.int32 and a.strength.dtype == np.float64
    assert a.indptr[-1] == 2 * hand_made.edges.height
    expected: dict[int, dict[int, float]] = defaultdict(dict)
    for e in hand_made.edges.iter_rows(named=True):
        expected[e["src"]][e["dst"]] = expected[e["dst"]][e["src"]] = float(e["strength"])
    for u in range(n):
        nbrs = a.indices[a.indptr[u] : a.indptr[u + 1]]
        assert list(nbrs) == sorted(expected[u])
        assert list(a.strength[a.indptr[u] : a.indptr[u + 1]]) == [expected[u][v] for v in nbrs]
    popularity = dict(zip(hand_made.nodes["name"], a.popularity, strict=True))
    assert popularity == {"alpha": 3.0, "beta": 2.0, "delta": 2.0, "gamma": 1.0, "epsilon": 1.0}


def test_matches_naive_pair_count_and_caps_seed_lists() -> None:
    rng = np.random.default_rng(5)
    n_seeds, names = 400, [f"topic {chr(97 + i)}{chr(97 + j)}" for i in range(6) for j in range(6)]
    seed_of = np.repeat(np.arange(n_seeds), 4)
    picks = rng.zipf(1.6, size=seed_of.size) % len(names)
    links = pl.DataFrame(
        {"seed_id": [f"q{s:04d}" for s in seed_of], "discipline": "biology", "kp_name": [names[p] for p in picks]}
    )
    catalog = build_catalog(links)
    graph = build_graph(catalog.links, catalog.catalog, seed_id_cap=5)
    by_seed: dict[str, set[str]] = defaultdict(set)
    for s, k in catalog.links.select("seed_id", "kp_id").iter_rows():
        by_seed[s].add(k)
    counter: Counter[tuple[str, str]] = Counter()
    seeds: dict[tuple[str, str], list[str]] = defaultdict(list)
    for s in sorted(by_seed):
        for pair in itertools.combinations(sorted(by_seed[s]), 2):
            counter[pair] += 1
            seeds[pair].append(s)
    got = {tuple(sorted((r["src_kp_id"], r["dst_kp_id"]))): r for r in graph.edges.to_dicts()}
    assert {k: r["weight"] for k, r in got.items()} == dict(counter)
    assert all(r["seed_ids"] == seeds[k][:5] for k, r in got.items())
    assert max(len(r["seed_ids"]) for r in got.values()) == 5 < max(counter.values())


def test_igraph_summary_and_plot(hand_made: KPGraph) -> None:
    g = hand_made.to_igraph()
    assert (g.vcount(), g.ecount()) == (5, 4) and not g.is_directed()
    assert sorted(g.es["weight"]) == [1, 1, 1, 2]
    assert g.vs["kp_id"] == hand_made.nodes["kp_id"].to_list()
    summary = graph_summary(hand_made)
    assert summary["nodes"] == 5 and summary["edges"] == 4 and summary["seeds"] == 5
    assert summary["components"] == 2 and summary["isolated_nodes"] == 1  # epsilon is alone
    assert summary["largest_component_share"] == pytest.approx(4 / 5)
    assert summary["degree_histogram"] == {"degree": [0, 1, 2, 3], "count": [1, 1, 2, 1]}
    png = degree_plot_png(hand_made)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000


def test_save_load_arrays_roundtrip_and_validation(hand_made: KPGraph, tmp_path) -> None:
    path = tmp_path / "csr.npz"
    save_arrays(hand_made.arrays, path)
    loaded = load_arrays(path)
    for field in ("indptr", "indices", "strength", "popularity"):
        assert np.array_equal(getattr(loaded, field), getattr(hand_made.arrays, field))
    buf = io.BytesIO()
    save_arrays(hand_made.arrays, buf)
    buf.seek(0)
    assert np.array_equal(load_arrays(buf).indices, hand_made.arrays.indices)
    broken = tmp_path / "broken.npz"
    a = hand_made.arrays
    np.savez(broken, indptr=a.indptr, indices=a.indices[:-1], strength=a.strength, popularity=a.popularity)
    with pytest.raises(ValueError, match="inconsistent CSR"):
        load_arrays(broken)


def test_bad_inputs_fail_loudly() -> None:
    catalog = build_catalog(HAND_MADE)
    with pytest.raises(ValueError, match=r"not in the catalog, e.g. \['kp_unknown'\]"):
        build_graph(catalog.links.with_columns(kp_id=pl.lit("kp_unknown")), catalog.catalog)
    with pytest.raises(ValueError, match=r"null 'kp_id' \(0-based rows \[0\]\)"):
        build_graph(
            catalog.links.with_columns(kp_id=pl.when(pl.int_range(pl.len()) == 0).then(None).otherwise("kp_id")),
            catalog.catalog,
        )
    with pytest.raises(ValueError, match=r"dense 0\.\.n-1"):
        build_graph(catalog.links, catalog.catalog.with_columns(node=pl.col("node") + 1))
    with pytest.raises(ValueError, match="missing columns"):
        build_graph(HAND_MADE, catalog.catalog)


def test_hub_is_discounted_and_walks_stay_in_their_discipline() -> None:
    """A hand-made graph: "patient" is in every seed of two disciplines (a hub); "sepsis" and "shock"
    meet in three seeds. The hub's edges keep almost no strength, the specific pair keeps its count,
    and a partition walks only its own discipline's seeds and KPs."""
    from linkqa_pipelines.core.walks import WalkConfig, partition_graph, sample_paths, select_path_seeds

    rows = [
        *[(f"m{i}", k, "clinical_medicine") for i in range(3) for k in ("patient", "sepsis", "shock")],
        *[(f"m{i}", k, "clinical_medicine") for i in range(3, 30) for k in ("patient", f"drug{i}")],
        *[(f"l{i}", k, "law") for i in range(25) for k in ("patient", "consent", f"case{i}")],
    ]
    links = pl.DataFrame(rows, schema=["seed_id", "kp_name", "discipline"], orient="row")
    catalog = build_catalog(links)
    reasons = dict(catalog.catalog.select("name", "hub_reason").iter_rows())
    assert (
        reasons["patient"] == "hub: in 100.0% of the 30 seeds of clinical_medicine (30 seeds); edges discounted by NPMI"
    )
    assert reasons["consent"] is not None and reasons["sepsis"] is None and reasons["drug3"] is None
    assert catalog.aliases.filter(pl.col("alias") == "patient")["hub_reason"].item() == reasons["patient"]
    graph = build_graph(catalog.links, catalog.catalog)
    edges = named_edges(graph)
    assert edges[("sepsis", "shock")]["strength"] > 2.0
    hub_edges = [e for (a, b), e in edges.items() if "patient" in (a, b)]
    assert max(e["strength"] for e in hub_edges) < 0.5 < min(e["weight"] for e in hub_edges)
    part = partition_graph(graph.seed_links, catalog.catalog, "clinical_medicine")
    names = catalog.catalog.sort("node")["name"]
    assert set(names.filter(pl.Series(part.start_mask)).to_list()) == {"patient", "sepsis", "shock"} | {
        f"drug{i}" for i in range(3, 30)
    }
    result = sample_paths(part.arrays, WalkConfig(n_paths=20, min_len=2, max_len=3), part.start_mask)
    seeds = select_path_seeds(result.paths(), part.seed_links, min_seeds=1)
    assert set(seeds["seed_ids"].explode().drop_nulls()) <= {f"m{i}" for i in range(30)}
    assert not any(names[int(n)] in {"consent", "case0"} for n in result.nodes)
    assert part.path_budget(200, min_seeds=2, max_seed_reuse=3) == 30 * 3 // 2


def test_small_discipline_walks_only_where_seeds_link_or_says_why() -> None:
    """CMMLU dev has 5 seeds per subject: a discipline whose seeds share no KP can get no usable
    path (no_path_reason, budget 0); one where two of four seeds share a KP walks only the
    component those two make, and its budget is what the two linked seeds can serve."""
    from linkqa_pipelines.core.walks import partition_graph

    rows = [
        *[(f"t{i}", k, "traditional_chinese_medicine") for i in range(5) for k in (f"药{i}", f"方{i}")],
        ("a0", "土壤肥力", "agriculture_food_science"),
        ("a0", "氮肥", "agriculture_food_science"),
        ("a1", "土壤肥力", "agriculture_food_science"),
        ("a1", "轮作", "agriculture_food_science"),
        ("a2", "育种", "agriculture_food_science"),
        ("a3", "灌溉", "agriculture_food_science"),
    ]
    catalog = build_catalog(pl.DataFrame(rows, schema=["seed_id", "kp_name", "discipline"], orient="row"))
    graph = build_graph(catalog.links, catalog.catalog)
    names = catalog.catalog.sort("node")["name"]

    tcm = partition_graph(graph.seed_links, catalog.catalog, "traditional_chinese_medicine")
    assert (tcm.n_seeds, tcm.linked_seeds) == (5, 0)
    assert tcm.path_budget(200, min_seeds=2, max_seed_reuse=3) == 0 and not tcm.walk_mask.any()
    assert tcm.no_path_reason(2) == (
        "0 of the discipline's 5 seeds share a KP with another of its seeds; a usable path needs 2 linked seeds"
    )

    agri = partition_graph(graph.seed_links, catalog.catalog, "agriculture_food_science")
    assert (agri.n_seeds, agri.linked_seeds) == (4, 2) and agri.no_path_reason(2) is None
    assert set(names.filter(pl.Series(agri.walk_mask)).to_list()) == {"土壤肥力", "氮肥", "轮作"}
    assert int(agri.start_mask.sum()) == 5  # coverage still counts every KP of the discipline
    assert agri.path_budget(200, min_seeds=2, max_seed_reuse=3) == 3


def test_backfilled_labels_keep_their_rows_but_are_no_topic_and_not_in_the_graph() -> None:
    """A subject label back-filled for a seed without KPs of its own would join every such seed of
    the subject through one hub: it is not counted in popularity and not put in the graph."""
    subject, discipline = "algebra (subject of the seed)", "mathematics (discipline of the seed)"
    links = pl.DataFrame(
        {
            "seed_id": ["s1", "s1", "s2", "s2", "s3", "s3", "s4", "s4"],
            "discipline": "mathematics",
            "kp_name": [
                "quadratic",
                "algebra",
                "quadratic",
                "algebra",
                "algebra",
                "mathematics",
                "algebra",
                "mathematics",
            ],
            "kp_description": ["x", "algebra: the x", "x", subject, subject, discipline, subject, discipline],
        }
    )
    built = build_catalog(links)
    catalog = built.catalog.select("name", "popularity", "hub_reason")
    rows = {r["name"]: r for r in catalog.to_dicts()}
    assert rows["algebra"]["popularity"] == 1 and rows["algebra"]["hub_reason"] is None  # a topic of s1 only
    assert rows["mathematics"]["popularity"] == 0
    assert rows["mathematics"]["hub_reason"].startswith("back-filled label of 2 seed(s)")
    assert built.links.height == links.height  # every seed keeps its rows

    graph = build_graph(built.links, built.catalog)
    assert graph.backfilled_links == 5
    assert set(graph.seed_links["seed_id"]) == {"s1", "s2"}
    # s2's algebra is a label: the only edge is s1's (quadratic, algebra)
    assert {frozenset(pair): r["weight"] for pair, r in named_edges(graph).items()} == {
        frozenset({"quadratic", "algebra"}): 1
    }


def test_seed_links_carry_the_seeds_subject(hand_made: KPGraph) -> None:
    catalog = build_catalog(HAND_MADE)
    subjects = pl.DataFrame({"seed_id": ["s1", "s2", "s3", "s4"], "subject": ["optics", "optics", "acids", "acids"]})
    graph = build_graph(catalog.links, catalog.catalog, subjects=subjects)
    assert graph.seed_links.schema == pl.Schema(SEED_LINK_SCHEMA)
    per_seed = dict(graph.seed_links.select("seed_id", "subject").unique().iter_rows())
    assert per_seed == {"s1": "optics", "s2": "optics", "s3": "acids", "s4": "acids", "s5": None}  # s5: not given
    assert hand_made.seed_links["subject"].is_null().all()  # no subjects given: null, same schema
    with pytest.raises(ValueError, match=r"seed_ids with two subjects: \['s1'\]"):
        build_graph(
            catalog.links,
            catalog.catalog,
            subjects=pl.concat([subjects, subjects.head(1).with_columns(subject=pl.lit("x"))]),
        )
    with pytest.raises(ValueError, match=r"missing columns \['subject'\]"):
        build_graph(catalog.links, catalog.catalog, subjects=subjects.drop("subject"))
