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

Walks start only where a usable path can exist. A seed is *linked* when it shares a KP with
another seed of the discipline; a path of two or more seeds needs linked seeds, so a seed whose
KPs no other seed has is a closed pocket (its KPs co-occur only with each other). `walk_mask`
is the KPs of connected components that hold two or more seeds, the path budget is what the
linked seeds can serve, and a discipline with fewer than two linked seeds gets no paths and a
reason (`no_path_reason`) instead of paths that cannot be used. On CMMLU dev (5 seeds per
subject) arts_culture, language_literature, sports_science and traditional_chinese_medicine
have no two seeds sharing a KP. Coverage is still measured over every KP of the discipline
(`start_mask`).
"""

from __future__ import annotations

from dataclasses import dataclass

import igraph as ig
import numpy as np
import polars as pl

from linkqa_pipelines.core.contracts import GraphArrays
from linkqa_pipelines.core.graph import cooccurrence, edge_strength


@dataclass(frozen=True)
class PartitionGraph:
    """CSR arrays over all catalog nodes (KPs outside the discipline are isolated), `start_mask`
    (KPs linked to a seed of the discipline: the coverage universe), `walk_mask` (those in a
    component holding two or more seeds: where walks start), those seed links, and the counts of
    the discipline's seeds and of its linked seeds (sharing a KP with another of its seeds)."""

    arrays: GraphArrays
    start_mask: np.ndarray
    walk_mask: np.ndarray
    seed_links: pl.DataFrame  # seed_id, node, and subject when kp_seed_links has it
    n_seeds: int
    linked_seeds: int

    def path_budget(self, n_paths: int, min_seeds: int, max_seed_reuse: int) -> int:
        """Paths worth sampling: at most n_paths, and no more than the linked seeds can serve (each
        path needs min_seeds seeds, a seed serves at most max_seed_reuse paths). Without the cap a
        discipline of 10 seeds would sample 200 paths of which at most 15 could be used; 0 when
        fewer than two seeds are linked (`no_path_reason`)."""
        if self.linked_seeds < max(min_seeds, 2):
            return 0
        return min(n_paths, self.linked_seeds * max_seed_reuse // max(min_seeds, 1))

    def no_path_reason(self, min_seeds: int) -> str | None:
        """Why the discipline gets no path, or None when it can get some."""
        if self.linked_seeds >= max(min_seeds, 2):
            return None
        return (
            f"{self.linked_seeds} of the discipline's {self.n_seeds} seeds share a KP with another of its seeds; "
            f"a usable path needs {max(min_seeds, 2)} linked seeds"
        )


def partition_graph(seed_links: pl.DataFrame, catalog: pl.DataFrame, discipline: str) -> PartitionGraph:
    """The discipline's graph from `kp_seed_links` rows (seed_id, node, discipline) and the catalog."""
    missing = [c for c in ("seed_id", "node", "discipline") if c not in seed_links.columns]
    if missing:
        raise ValueError(f"seed_links is missing columns {missing} (has {seed_links.columns})")
    n_nodes = catalog.height
    subject = ["subject"] if "subject" in seed_links.columns else []
    links = (
        seed_links.filter(pl.col("discipline") == discipline)
        .select("seed_id", *subject, node=pl.col("node").cast(pl.Int32))
        .unique()
        .with_columns(s=(pl.col("seed_id").rank("dense") - 1).cast(pl.UInt32))
        .sort("s", "node")
    )
    pairs = cooccurrence(links, n_nodes)
    src, dst, weight = pairs["src"].to_numpy(), pairs["dst"].to_numpy(), pairs["weight"].to_numpy()
    popularity = np.bincount(links["node"].to_numpy(), minlength=n_nodes).astype(np.float64)
    n_seeds = links["seed_id"].n_unique()
    _, strength = edge_strength(weight, popularity[src], popularity[dst], n_seeds)
    # Components holding two or more seeds are exactly those with a KP shared by two seeds.
    component = np.asarray(
        ig.Graph(n=n_nodes, edges=np.column_stack([src, dst])).connected_components().membership, dtype=np.int64
    )
    shared_components = np.unique(component[popularity >= 2])
    walk_mask = (popularity > 0) & np.isin(component, shared_components)
    linked = links.filter(pl.col("node").is_in(np.flatnonzero(popularity >= 2).tolist()))["seed_id"].n_unique()
    return PartitionGraph(
        arrays=GraphArrays.from_edges(n_nodes, src, dst, strength, popularity),
        start_mask=popularity > 0,
        walk_mask=walk_mask,
        seed_links=links.select("seed_id", "node", *subject),
        n_seeds=n_seeds,
        linked_seeds=linked,
    )
