"""Benchmark: value-function walk sampler vs igraph's random_walk and a plain Python loop.

Run by hand:  .venv/bin/python bench/walks.py [--nodes 1000000] [--paths N] [--quick]

Graph: igraph.Graph.Barabasi(nodes, m=10) (power-law degrees, ~10 edges per node), edge
weights Zipf(2) co-occurrence counts capped at 1000, popularity (seed count) ~ degree x
lognormal noise. Work: `--paths` paths of exactly `--length` KPs (default: one per node).
Rates are transitions per second (a path of 5 KPs is 4 steps; starts are not counted).

Measured:
- this sampler, value function on (alpha = beta = gamma = 1), use counts updated per batch,
  run in a fresh subprocess so its peak RSS is its own (graph arrays included);
- igraph weighted `random_walk` as one long walk of `--long-steps` steps (one C call);
- igraph weighted `random_walk` once per short path (it rebuilds its weight tables on every
  call), `--short-calls` calls timed and extrapolated;
- a plain Python loop over walkers doing the same value-function steps with numpy on each
  neighbour slice, `--loop-walkers` walkers timed and extrapolated.
Goals: >= 2x the long walk, >= 100x the Python loop, <= 4 GB peak RSS.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import igraph as ig
import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from linkqa_pipelines.core.contracts import GraphArrays  # noqa: E402
from linkqa_pipelines.core.value_function import ValueFunction  # noqa: E402
from linkqa_pipelines.core.walks import WalkConfig, graph_arrays_from_edges, sample_paths  # noqa: E402


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM: unlike ru_maxrss it is not inherited from the parent)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def build_graph(nodes: int, m: int, seed: int, workdir: Path) -> tuple[ig.Graph, GraphArrays]:
    """The igraph graph (with a `weight` attribute) and the same graph as CSR arrays."""
    t = time.perf_counter()
    ig.set_random_number_generator(random.Random(seed))
    g = ig.Graph.Barabasi(nodes, m=m)
    edge_file = workdir / "edges.txt"
    g.write_edgelist(str(edge_file))  # far lighter than get_edgelist()'s 10M Python tuples
    edges = pl.read_csv(edge_file, separator=" ", has_header=False, new_columns=["src", "dst"])
    src, dst = edges["src"].to_numpy(), edges["dst"].to_numpy()
    rng = np.random.default_rng(seed)
    weight = np.minimum(rng.zipf(2.0, size=src.size), 1000).astype(np.float64)
    g.es["weight"] = weight
    degree = np.bincount(np.r_[src, dst], minlength=nodes)
    popularity = np.maximum(1.0, np.round(degree * rng.lognormal(0.0, 0.5, size=nodes) / 2))
    arrays = graph_arrays_from_edges(nodes, src, dst, weight, popularity)
    print(f"graph: {nodes:,} nodes, {src.size:,} edges, max degree {degree.max():,} ({time.perf_counter() - t:.1f} s)")
    return g, arrays


def run_sampler_child(csr: Path, cfg: WalkConfig) -> dict[str, float]:
    """Entry point of the subprocess: load the arrays, sample, report time, counters and peak RSS."""
    with np.load(csr) as z:
        arrays = GraphArrays(z["indptr"], z["indices"], z["strength"], z["popularity"])
    loaded_mb = peak_rss_mb()
    t = time.perf_counter()
    result = sample_paths(arrays, cfg)
    seconds = time.perf_counter() - t
    return {
        "seconds": seconds,
        "steps": result.steps,
        "paths": len(result),
        "discarded": result.discarded,
        "proposals": result.proposals,
        "rebuilds": result.rebuilds,
        "loaded_rss_mb": loaded_mb,
        "peak_rss_mb": peak_rss_mb(),
    }


def python_loop(arrays: GraphArrays, cfg: WalkConfig, walkers: int) -> tuple[int, float]:
    """The straightforward implementation: per walker, per step, weights over the neighbour slice."""
    rng = np.random.default_rng(cfg.seed)
    value_fn = ValueFunction(arrays.popularity, cfg.value_config)
    edge = value_fn.edge_factor(arrays.strength)
    use = np.zeros(arrays.n_nodes)
    t = time.perf_counter()
    value = value_fn(use)
    start_cdf = np.cumsum(value)
    steps = 0
    for _ in range(walkers):
        path = [int(np.searchsorted(start_cdf, rng.random() * start_cdf[-1], side="right"))]
        while len(path) < cfg.max_len:
            lo, hi = arrays.indptr[path[-1]], arrays.indptr[path[-1] + 1]
            neighbours = arrays.indices[lo:hi]
            weights = edge[lo:hi] * value[neighbours]
            weights[(neighbours[:, None] == np.array(path)).any(axis=1)] = 0.0  # 4x faster than np.isin
            cdf = np.cumsum(weights)
            if cdf.size == 0 or cdf[-1] <= 0:
                break
            path.append(int(neighbours[np.searchsorted(cdf, rng.random() * cdf[-1], side="right")]))
            steps += 1
        use[path] += 1
    return steps, time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=1_000_000)
    parser.add_argument("--m", type=int, default=10, help="edges per new node (Barabasi)")
    parser.add_argument("--paths", type=int, default=None, help="paths to sample (default: --nodes)")
    parser.add_argument("--length", type=int, default=5, help="KPs per path")
    parser.add_argument("--batch-size", type=int, default=None, help="walkers per batch (default: the sampler's auto)")
    parser.add_argument("--long-steps", type=int, default=1_000_000)
    parser.add_argument("--short-calls", type=int, default=30)
    parser.add_argument("--loop-walkers", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="100k nodes: a check in under a minute")
    parser.add_argument("--child", type=str, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.nodes = 100_000
    n_paths = args.paths or args.nodes
    cfg = WalkConfig(
        n_paths=n_paths, min_len=args.length, max_len=args.length, seed=args.seed, batch_size=args.batch_size
    )
    if args.child:
        print(json.dumps(run_sampler_child(Path(args.child), cfg)))
        return

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        g, arrays = build_graph(args.nodes, args.m, args.seed, workdir)
        csr = workdir / "csr.npz"
        np.savez(
            csr, indptr=arrays.indptr, indices=arrays.indices, strength=arrays.strength, popularity=arrays.popularity
        )
        child = [sys.executable, __file__, "--child", str(csr), "--nodes", str(args.nodes), "--paths", str(n_paths),
                 "--length", str(args.length), "--seed", str(args.seed)]
        if args.batch_size:
            child += ["--batch-size", str(args.batch_size)]
        ours = json.loads(subprocess.run(child, check=True, capture_output=True, text=True).stdout)

        rng = np.random.default_rng(args.seed)
        t = time.perf_counter()
        long_walk = g.random_walk(int(rng.integers(args.nodes)), args.long_steps, weights="weight")
        long_s = time.perf_counter() - t
        t = time.perf_counter()
        short_steps = 0
        for start in rng.integers(args.nodes, size=args.short_calls):
            short_steps += len(g.random_walk(int(start), args.length - 1, weights="weight")) - 1
        short_s = time.perf_counter() - t
        loop_steps, loop_s = python_loop(arrays, cfg, args.loop_walkers)
        parent_mb = peak_rss_mb()

    ours_rate = ours["steps"] / ours["seconds"]
    rows = [
        ("this sampler (value function, coverage per batch)", ours["steps"], ours["seconds"], ours_rate),
        ("igraph random_walk, one long walk", len(long_walk) - 1, long_s, (len(long_walk) - 1) / long_s),
        (f"igraph random_walk per path ({args.short_calls} calls, extrapolated)", short_steps, short_s,
         short_steps / short_s),
        (f"Python loop over walkers ({args.loop_walkers:,} walkers, extrapolated)", loop_steps, loop_s,
         loop_steps / loop_s),
    ]
    print(f"\n{n_paths:,} paths of {args.length} KPs on {args.nodes:,} nodes; steps = transitions\n")
    print(f"| {'method':<62} | {'steps':>11} | {'seconds':>8} | {'steps/s':>11} | {'sampler is':>10} |")
    print(f"|{'-' * 64}|{'-' * 13}|{'-' * 10}|{'-' * 13}|{'-' * 12}|")
    for name, steps, seconds, rate in rows:
        ratio = "-" if rate == ours_rate else f"{ours_rate / rate:,.1f}x"
        print(f"| {name:<62} | {steps:>11,} | {seconds:>8.2f} | {rate:>11,.0f} | {ratio:>10} |")
    full_short = n_paths * (args.length - 1) / (short_steps / short_s)
    full_loop = n_paths * (args.length - 1) / (loop_steps / loop_s)
    print(
        f"\nextrapolated to {n_paths:,} paths: igraph per path {full_short / 3600:,.1f} h, "
        f"Python loop {full_loop / 60:,.1f} min"
    )
    print(
        f"sampler: {ours['paths']:,} paths kept, {ours['discarded']:,} discarded, {ours['proposals']:,} proposals, "
        f"{ours['rebuilds']} proposal builds; peak RSS {ours['peak_rss_mb']:,.0f} MB "
        f"({ours['loaded_rss_mb']:,.0f} MB after loading the arrays); benchmark parent {parent_mb:,.0f} MB"
    )
    goals = [
        (">= 2x igraph long walk", ours_rate >= 2 * rows[1][3]),
        (">= 100x Python loop", ours_rate >= 100 * rows[3][3]),
        ("<= 4 GB peak RSS", ours["peak_rss_mb"] <= 4096),
    ]
    print("goals: " + ", ".join(f"{name}: {'met' if ok else 'MISSED'}" for name, ok in goals))


if __name__ == "__main__":
    main()
