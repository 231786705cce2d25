"""The graph one discipline partition walks: its own seeds' KPs and co-occurrences.

Walking the whole KP graph from a discipline's KPs lets paths drift: a generic KP shared by
two disciplines ("防治", "生产者", "patient") is a bridge, and the seeds chosen for the path then
come from both (on the shared data, 43% of the paths' seeds were from another discipline than
the partition's). Here the partition's graph is built from the seed <-> KP links of the
discipline's seeds only, with the graph stage's own co-occurrence count and edge strength
(`core.graph.cooccurrence`, `edge_strength`: NPMI-weighted counts over the discipline's seeds),
so every path step is a pair tested together by a seed of the discipline, every seed a path can
get is one of the discipline's, and hubs are discounted against the discipline's own base rates.
KPs are still the catalog's nodes (merged across disciplines), so node ids mean the same thing
in every partition.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from linkqa_pipelines.core.contracts import GraphArrays
from linkqa_pipelines.core.graph import cooccurrence, edge_strength


@dataclass(frozen=True)
class PartitionGraph:
    """CSR arrays over all catalog nodes (KPs outside the discipline are isolated), the start mask
    (KPs linked to a seed of the discipline: also the coverage universe) and those seed links."""

    arrays: GraphArrays
    start_mask: np.ndarray
    seed_links: pl.DataFrame  # seed_id, node

    def path_budget(self, n_paths: int, min_seeds: int, max_seed_reuse: int) -> int:
        """Paths worth sampling: at most n_paths, and no more than the discipline's seeds can serve
        (each path needs min_seeds seeds, a seed serves at most max_seed_reuse paths). Without the
        cap a discipline of 10 seeds would sample 200 paths of which at most 15 could be used."""
        return min(n_paths, self.seed_links["seed_id"].n_unique() * max_seed_reuse // max(min_seeds, 1))


def partition_graph(seed_links: pl.DataFrame, catalog: pl.DataFrame, discipline: str) -> PartitionGraph:
    """The discipline's graph from `kp_seed_links` rows (seed_id, node, discipline) and the catalog."""
    missing = [c for c in ("seed_id", "node", "discipline") if c not in seed_links.columns]
    if missing:
        raise ValueError(f"seed_links is missing columns {missing} (has {seed_links.columns})")
    n_nodes = catalog.height
    links = (
        seed_links.filter(pl.col("discipline") == discipline)
        .select("seed_id", node=pl.col("node").cast(pl.Int32))
        .unique()
        .with_columns(s=(pl.col("seed_id").rank("dense") - 1).cast(pl.UInt32))
        .sort("s", "node")
    )
    pairs = cooccurrence(links, n_nodes)
    src, dst, weight = pairs["src"].to_numpy(), pairs["dst"].to_numpy(), pairs["weight"].to_numpy()
    popularity = np.bincount(links["node"].to_numpy(), minlength=n_nodes).astype(np.float64)
    n_seeds = links["seed_id"].n_unique()
    _, strength = edge_strength(weight, popularity[src], popularity[dst], n_seeds)
    return PartitionGraph(
        arrays=GraphArrays.from_edges(n_nodes, src, dst, strength, popularity),
        start_mask=popularity > 0,
        seed_links=links.select("seed_id", "node"),
    )
