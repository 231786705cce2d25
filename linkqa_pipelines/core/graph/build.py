"""KP co-occurrence graph: undirected weighted edges between KPs that share a seed.

Built columnarly so that 1M seeds x 4 KPs takes seconds: the seed<->KP links are deduplicated
and given dense integer ids, KP pairs come from a Polars self-join on the seed id (keeping
src < dst), and a group_by counts them. Nothing loops over rows in Python.

Back-filled labels (`core.knowledge_points.lexicon.backfilled`: the subject or discipline name a
seed without KPs of its own was given) are left out of the graph: such a link says only which
subject the seed is in, so it would join every seed of the subject through one hub ("Algebra" on
268 MATH seeds, "mathematics" on 527 MMLU and MATH seeds of the shared data). The seed keeps its
rows in `kp_links`; `KPGraph.backfilled_links` counts what was left out.

Per edge: `weight` = number of seeds in which both KPs occur; `npmi` = normalised pointwise
mutual information over seeds, ln(p_ab / (p_a p_b)) / -ln(p_ab) with p = seed counts / all
seeds (1 when the pair occurs in every seed); `strength` = weight x max(npmi, STRENGTH_FLOOR),
the relatedness the samplers follow; `seed_ids` = the first `SEED_ID_CAP` seeds linking them in
seed_id order (all of them when weight <= cap). Downstream samplers use the CSR arrays
(`GraphArrays`, strength as edge strength), saved with `save_arrays` as .npz.

Why strength = weight x NPMI+ (not the raw count): a raw count makes hub KPs (generic ones that
co-occur with everything: "patient", "integer", "defendant") the strongest neighbours of every
KP, so walks pass through them and join unrelated seeds. NPMI discounts exactly that: a pair
with a hub co-occurs about as often as chance predicts (NPMI near 0), while two specific KPs
that meet in several seeds score near 1. NPMI alone is not enough either: a pair of two KPs
that each occur in one seed, together, has NPMI 1 on a single observation; multiplying by the
count makes a link seen in k seeds k times as strong as one seen once. The floor keeps
strengths > 0 (the samplers' contract) for pairs that co-occur less than chance.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import igraph as ig
import numpy as np
import polars as pl

from linkqa_pipelines.core.contracts import GraphArrays, list_column
from linkqa_pipelines.core.knowledge_points.lexicon import backfilled

SEED_ID_CAP = 50
STRENGTH_FLOOR = 0.01  # strength of a pair co-occurring no more than chance, per shared seed

KP_EDGE_SCHEMA: dict[str, pl.DataType] = {
    "src_kp_id": pl.String(),
    "dst_kp_id": pl.String(),
    "src": pl.Int32(),  # catalog node, src < dst
    "dst": pl.Int32(),
    "weight": pl.Int64(),  # seeds in which both KPs occur
    "npmi": pl.Float64(),
    "strength": pl.Float64(),  # weight x max(npmi, STRENGTH_FLOOR): relatedness, what walks follow
    "seed_ids": pl.List(pl.String()),  # first SEED_ID_CAP seeds linking them, sorted
}

SEED_LINK_SCHEMA: dict[str, pl.DataType] = {
    "seed_id": pl.String(),
    "kp_id": pl.String(),
    "node": pl.Int32(),
    "discipline": pl.String(),
    "subject": pl.String(),  # the seed's subject (null when not given): path seeds keep to one subject
}


@dataclass(frozen=True)
class KPGraph:
    """Edges (KP_EDGE_SCHEMA), deduplicated seed<->KP links (SEED_LINK_SCHEMA), CSR arrays,
    and the node -> kp_id table (`nodes`: node, kp_id, name) that gives arrays their meaning."""

    edges: pl.DataFrame
    seed_links: pl.DataFrame
    arrays: GraphArrays
    nodes: pl.DataFrame
    n_seeds: int
    backfilled_links: int  # back-filled label links left out of the graph (kept in kp_links)

    def to_igraph(self, *, attributes: bool = True) -> ig.Graph:
        """igraph view built in one call from the edge arrays; with `attributes`, `weight`/`npmi`
        edge attributes and `kp_id`/`name` vertex attributes (skip them for pure topology: the
        attribute lists are most of the build time)."""
        # python-igraph reads a list of int tuples faster than a 2-D numpy buffer.
        edges = list(zip(self.edges["src"].to_list(), self.edges["dst"].to_list(), strict=True))
        if not attributes:
            return ig.Graph(n=self.arrays.n_nodes, edges=edges, directed=False)
        return ig.Graph(
            n=self.arrays.n_nodes,
            edges=edges,
            directed=False,
            edge_attrs={"weight": self.edges["weight"].to_list(), "npmi": self.edges["npmi"].to_list()},
            vertex_attrs={"kp_id": self.nodes["kp_id"].to_list(), "name": self.nodes["name"].to_list()},
        )


def _check_inputs(links: pl.DataFrame, catalog: pl.DataFrame) -> None:
    """Fail loudly, naming rows and fields, instead of dropping links (unknown kp_ids are
    caught where links meet the catalog, in `build_graph`)."""
    missing = [c for c in ("seed_id", "kp_id", "discipline") if c not in links.columns]
    if missing:
        raise ValueError(f"KP links are missing columns {missing} (build them with kp_catalog.build_catalog)")
    for column in ("seed_id", "kp_id", "discipline"):
        if links[column].null_count():
            rows = links.with_row_index("row").filter(pl.col(column).is_null())["row"].head(10).to_list()
            raise ValueError(
                f"KP links: {links[column].null_count()} row(s) with null '{column}' (0-based rows {rows})"
            )
    missing = [c for c in ("kp_id", "node", "name") if c not in catalog.columns]
    if missing:
        raise ValueError(f"KP catalog is missing columns {missing}")
    nodes = catalog["node"].cast(pl.Int64).sort()
    if nodes.n_unique() != catalog.height or (catalog.height and (nodes[0] != 0 or nodes[-1] != catalog.height - 1)):
        raise ValueError("KP catalog: 'node' must be a dense 0..n-1 index with one row per KP")


def _with_subjects(seed_links: pl.DataFrame, subjects: pl.DataFrame | None) -> pl.DataFrame:
    """`seed_links` with each seed's subject (null without `subjects` or for a seed not in it)."""
    if subjects is None:
        return seed_links.with_columns(subject=pl.lit(None, dtype=pl.String))
    missing = [c for c in ("seed_id", "subject") if c not in subjects.columns]
    if missing:
        raise ValueError(f"subjects is missing columns {missing} (has {subjects.columns})")
    per_seed = subjects.select(pl.col("seed_id").cast(pl.String), pl.col("subject").cast(pl.String)).unique()
    twice = per_seed.filter(pl.col("seed_id").is_duplicated())["seed_id"].unique().sort()
    if twice.len():
        raise ValueError(f"subjects: seed_ids with two subjects: {twice.head(5).to_list()}")
    return seed_links.join(per_seed, on="seed_id", how="left", maintain_order="left")


def _seed_links(links: pl.DataFrame, catalog: pl.DataFrame) -> pl.DataFrame:
    """Distinct (seed, KP) links with dense seed codes `s` in seed_id order, sorted by (s, node).

    Strings are hashed/sorted once (seed rank, kp_id -> node join); deduplication and
    ordering then run on integers.
    """
    frame = links.select(
        "seed_id",
        "kp_id",
        "discipline",
        s=(pl.col("seed_id").rank("dense") - 1).cast(pl.UInt32),
    ).join(catalog.select("kp_id", node=pl.col("node").cast(pl.Int32)), on="kp_id", how="left", maintain_order="left")
    unknown = frame.filter(pl.col("node").is_null())
    if unknown.height:
        raise ValueError(
            f"KP links: {unknown.height} row(s) with a kp_id not in the catalog, "
            f"e.g. {unknown['kp_id'].unique().sort().head(5).to_list()}"
        )
    # A seed naming one KP twice (two merged surface forms) is one link; if its rows disagree on
    # the discipline, the smallest wins.
    frame = frame.sort("s", "node", "discipline")
    first = (pl.col("s") != pl.col("s").shift(1)) | (pl.col("node") != pl.col("node").shift(1))
    return frame.filter(first.fill_null(True)).select("seed_id", "kp_id", "node", "discipline", "s")


def build_graph(
    links: pl.DataFrame,
    catalog: pl.DataFrame,
    *,
    seed_id_cap: int = SEED_ID_CAP,
    subjects: pl.DataFrame | None = None,
) -> KPGraph:
    """Co-occurrence graph from KP links carrying `kp_id` (`build_catalog(...).links`) and the catalog;
    `subjects` (seed_id, subject: the seeds) gives the seed links their `subject`, which
    `core.walks.select_path_seeds` reads."""
    _check_inputs(links, catalog)
    label = backfilled(pl.col("kp_description")) if "kp_description" in links.columns else pl.lit(False)
    topical = links.filter(~label)
    seed_links = _seed_links(topical, catalog)
    n_nodes = catalog.height
    seed_ids = seed_links.filter((pl.col("s") != pl.col("s").shift(1)).fill_null(True))["seed_id"]  # by code
    n_seeds = seed_ids.len()

    pairs = cooccurrence(seed_links, n_nodes, seed_id_cap)
    src, dst, weight = pairs["src"].to_numpy(), pairs["dst"].to_numpy(), pairs["weight"].to_numpy()
    popularity = np.bincount(seed_links["node"].to_numpy(), minlength=n_nodes).astype(np.float64)
    npmi, strength = edge_strength(weight, popularity[src], popularity[dst], n_seeds)
    kp_of = catalog.sort("node")["kp_id"]
    seeds = pairs["seeds"]
    edges = pl.DataFrame(
        {
            "src_kp_id": kp_of.gather(src),
            "dst_kp_id": kp_of.gather(dst),
            "src": src,
            "dst": dst,
            "weight": weight,
            "npmi": npmi,
            "strength": strength,
            "seed_ids": list_column(seed_ids.gather(seeds.explode()), np.r_[0, np.cumsum(seeds.list.len().to_numpy())]),
        },
        schema=KP_EDGE_SCHEMA,
    )
    return KPGraph(
        edges=edges,
        seed_links=_with_subjects(seed_links.drop("s"), subjects),
        arrays=GraphArrays.from_edges(n_nodes, src, dst, strength, popularity),
        nodes=catalog.sort("node").select(pl.col("node").cast(pl.Int32), "kp_id", "name"),
        n_seeds=n_seeds,
        backfilled_links=links.height - topical.height,
    )


def cooccurrence(seed_links: pl.DataFrame, n_nodes: int, seed_id_cap: int = 0) -> pl.DataFrame:
    """KP pairs sharing a seed: src < dst (Int32), weight (Int64), and `seeds`, the first
    `seed_id_cap` seed codes of each pair (empty lists for cap 0).

    `seed_links` has distinct (s, node) rows sorted by s (a dense seed code): a self-join on s
    keeps src < dst, a group_by over a packed (src, dst) key counts. The join keeps left order
    (seed code ascending) and group_by keeps row order within a group, so `head` takes the
    smallest seed codes.
    """
    side = seed_links.select("s", "node")
    pairs = (
        side.join(side, on="s", suffix="_b", maintain_order="left_right")
        .filter(pl.col("node") < pl.col("node_b"))
        .select("s", key=pl.col("node").cast(pl.Int64) * n_nodes + pl.col("node_b"))
        .group_by("key")
        .agg(weight=pl.len().cast(pl.Int64), seeds=pl.col("s").head(seed_id_cap))
        .sort("key")
    )
    n = max(n_nodes, 1)
    return pairs.select(
        src=(pl.col("key") // n).cast(pl.Int32), dst=(pl.col("key") % n).cast(pl.Int32), weight="weight", seeds="seeds"
    )


def edge_strength(
    weight: np.ndarray, popularity_src: np.ndarray, popularity_dst: np.ndarray, n_seeds: int
) -> tuple[np.ndarray, np.ndarray]:
    """(npmi, strength) of pairs co-occurring in `weight` of `n_seeds` seeds (module docstring)."""
    p_ab = weight / max(n_seeds, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        pmi = np.log(p_ab / ((popularity_src / n_seeds) * (popularity_dst / n_seeds)))
        npmi = np.where(p_ab >= 1.0, 1.0, pmi / -np.log(p_ab))
    return npmi, weight * np.maximum(npmi, STRENGTH_FLOOR)


def graph_summary(graph: KPGraph) -> dict[str, Any]:
    """What a user checks first: size, connectivity and the degree distribution."""
    degree = np.diff(graph.arrays.indptr)
    n = graph.arrays.n_nodes
    sizes = (
        np.asarray(graph.to_igraph(attributes=False).connected_components().sizes(), dtype=np.int64)
        if n
        else np.zeros(0, np.int64)
    )
    values, counts = np.unique(degree, return_counts=True)
    return {
        "nodes": n,
        "edges": graph.edges.height,
        "seeds": graph.n_seeds,
        "seed_links": graph.seed_links.height,
        "isolated_nodes": int((degree == 0).sum()),
        "components": int(sizes.size),
        "largest_component_nodes": int(sizes.max()) if sizes.size else 0,
        "largest_component_share": float(sizes.max() / n) if n else 0.0,
        "mean_degree": float(degree.mean()) if n else 0.0,
        "max_degree": int(degree.max()) if n else 0,
        "degree_histogram": {"degree": values.tolist(), "count": counts.tolist()},
    }


def degree_plot_png(graph: KPGraph) -> bytes:
    """Log-log degree distribution (nodes with degree >= 1) as PNG bytes; Agg canvas, no pyplot
    state, so it is safe in worker threads."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    degree = np.diff(graph.arrays.indptr)
    values, counts = np.unique(degree[degree > 0], return_counts=True)
    fig = Figure(figsize=(5.5, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if values.size:
        ax.loglog(values, counts, marker="o", linestyle="none", markersize=3)
    ax.set_xlabel("degree (co-occurring KPs)")
    ax.set_ylabel("number of KPs")
    ax.set_title(f"KP degree distribution: {graph.arrays.n_nodes:,} nodes, {graph.edges.height:,} edges")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def save_arrays(arrays: GraphArrays, target: str | Path | IO[bytes]) -> None:
    """Write CSR arrays as an uncompressed .npz (fast to load, memory-mappable members)."""
    np.savez(
        target, indptr=arrays.indptr, indices=arrays.indices, strength=arrays.strength, popularity=arrays.popularity
    )


def load_arrays(source: str | Path | IO[bytes]) -> GraphArrays:
    """Read arrays written by `save_arrays`, checking they form a consistent CSR graph."""
    with np.load(source) as z:
        data: Mapping[str, np.ndarray] = {k: z[k] for k in ("indptr", "indices", "strength", "popularity")}
    indptr = data["indptr"]
    n = indptr.shape[0] - 1
    if (
        n < 0
        or indptr[0] != 0
        or indptr[-1] != data["indices"].shape[0]
        or data["strength"].shape != data["indices"].shape
        or data["popularity"].shape != (n,)
    ):
        raise ValueError(f"{source}: inconsistent CSR arrays")
    return GraphArrays(indptr=indptr, indices=data["indices"], strength=data["strength"], popularity=data["popularity"])
