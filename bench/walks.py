"""Benchmark: value-function walk sampler vs igraph's random_walk and Python loops.

Run by hand:  .venv/bin/python bench/walks.py [--nodes 1000000] [--paths N] [--repeat 3] [--quick]

Graph: igraph.Graph.Barabasi(nodes, m=10) (power-law degrees, ~10 edges per node), edge
weights Zipf(2) co-occurrence counts capped at 1000, popularity (seed count) ~ degree x
lognormal noise. Work: `--paths` paths of exactly `--length` KPs (default: one per node).
Rates are transitions per second (a path of 5 KPs is 4 steps; starts are not counted).

Measured:
- this sampler, value function on (alpha = beta = gamma = 1), use counts updated per batch,
  run in a fresh subprocess so its peak RSS is its own (graph arrays included), with its
  default engine (the numba kernel when numba is installed; `--engine numpy` for the fallback);
  the compiled kernels are loaded from numba's cache first (`load_kernels`, once per process, like
  importing igraph's C core: nearly all of it is numba loading its typing and target registries
  on the process's first compiled call) and that time is reported apart, with the rate it gives if counted
  (a warm-up run fills the cache, so nothing is compiled in the timed runs);
- igraph weighted `random_walk` as one long walk of `--long-steps` steps (one C call);
- igraph weighted `random_walk` once per short path (it rebuilds its weight tables on every
  call), `--short-calls` calls timed and extrapolated;
- a Python loop over walkers doing the same value-function steps with numpy on each
  neighbour slice, `--loop-walkers` walkers timed and extrapolated;
- a plain Python loop (no numpy inside): Python lists of neighbours and weights,
  `random.choices` per step, V of a path's KPs refreshed after each path.
Every timed measurement runs `--repeat` times on the same graph; the table shows medians
(the machine may be shared) and the ratios of the medians.
Goals (issue 5): >= 2x the long walk, >= 100x the plain Python loop over walkers, <= 4 GB peak RSS.
The numpy-per-step loop is a stronger baseline than the issue asks for, reported for information.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import igraph as ig
import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from linkqa_pipelines.core.contracts import GraphArrays
from linkqa_pipelines.core.walks import (
    ValueFunction,
    WalkConfig,
    graph_arrays_from_edges,
    load_kernels,
    sample_paths,
)


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
    t = time.perf_counter()
    load_kernels()  # once per process, like importing igraph's C core: timed apart
    kernel_load = time.perf_counter() - t
    loaded_mb = peak_rss_mb()
    t = time.perf_counter()
    result = sample_paths(arrays, cfg)
    seconds = time.perf_counter() - t
    return {
        "seconds": seconds,
        "kernel_load": kernel_load,
        "steps": result.steps,
        "paths": len(result),
        "discarded": result.discarded,
        "proposals": result.proposals,
        "rebuilds": result.rebuilds,
        "loaded_rss_mb": loaded_mb,
        "peak_rss_mb": peak_rss_mb(),
    }


def python_loop(arrays: GraphArrays, cfg: WalkConfig, walkers: int) -> tuple[int, float]:
    """The straightforward numpy implementation: per walker, per step, weights over the neighbour slice."""
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


class PlainGraph:
    """The CSR arrays as Python lists, built once outside the timing (as a pure-Python program would hold them)."""

    def __init__(self, arrays: GraphArrays, cfg: WalkConfig) -> None:
        value_fn = ValueFunction(arrays.popularity, cfg.value_config)
        self.indptr: list[int] = arrays.indptr.tolist()
        self.indices: list[int] = arrays.indices.tolist()
        self.edge: list[float] = value_fn.edge_factor(arrays.strength).tolist()
        self.popularity_term: list[float] = value_fn.popularity_term.tolist()
        self.beta = cfg.beta


def plain_python_loop(g: PlainGraph, cfg: WalkConfig, walkers: int) -> tuple[int, float]:
    """No numpy: per step, Python lists of neighbours and weights and `random.choices`."""
    rng = random.Random(cfg.seed)
    use = [0] * len(g.popularity_term)
    t = time.perf_counter()
    value = [p / (1.0 + c) ** g.beta for p, c in zip(g.popularity_term, use, strict=True)]
    start_cum = list(itertools.accumulate(value))
    steps = 0
    for _ in range(walkers):
        path = [bisect.bisect_right(start_cum, rng.random() * start_cum[-1])]
        while len(path) < cfg.max_len:
            lo, hi = g.indptr[path[-1]], g.indptr[path[-1] + 1]
            neighbours = g.indices[lo:hi]
            weights = [e * value[v] if v not in path else 0.0 for v, e in zip(neighbours, g.edge[lo:hi], strict=True)]
            if not sum(weights) > 0:
                break
            path.append(rng.choices(neighbours, weights)[0])
            steps += 1
        for k in path:  # coverage: V of the path's KPs falls before the next walker
            use[k] += 1
            value[k] = g.popularity_term[k] / (1.0 + use[k]) ** g.beta
    return steps, time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=1_000_000)
    parser.add_argument("--m", type=int, default=10, help="edges per new node (Barabasi)")
    parser.add_argument("--paths", type=int, default=None, help="paths to sample (default: --nodes)")
    parser.add_argument("--length", type=int, default=5, help="KPs per path")
    parser.add_argument("--batch-size", type=int, default=None, help="walkers per batch (default: the sampler's auto)")
    parser.add_argument("--engine", choices=["auto", "numba", "numpy"], default="auto")
    parser.add_argument("--repeat", type=int, default=3, help="runs of every timed measurement; medians reported")
    parser.add_argument("--long-steps", type=int, default=1_000_000)
    parser.add_argument("--short-calls", type=int, default=30)
    parser.add_argument("--loop-walkers", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="100k nodes: a check in about a minute")
    parser.add_argument("--child", type=str, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.nodes = 100_000
    n_paths = args.paths or args.nodes
    cfg = WalkConfig(
        n_paths=n_paths,
        min_len=args.length,
        max_len=args.length,
        seed=args.seed,
        batch_size=args.batch_size,
        engine=args.engine,
    )
    if args.child:
        print(json.dumps(run_sampler_child(Path(args.child), cfg)))
        return

    timings: dict[str, list[tuple[int, float]]] = {key: [] for key in ("ours", "long", "loop", "plain")}
    children = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        g, arrays = build_graph(args.nodes, args.m, args.seed, workdir)
        csr = workdir / "csr.npz"
        np.savez(
            csr, indptr=arrays.indptr, indices=arrays.indices, strength=arrays.strength, popularity=arrays.popularity
        )

        def sampler_child(paths: int) -> dict[str, float]:
            command = [
                sys.executable,
                __file__,
                "--child",
                str(csr),
                "--nodes",
                str(args.nodes),
                "--paths",
                str(paths),
                "--length",
                str(args.length),
                "--seed",
                str(args.seed),
                "--engine",
                args.engine,
            ]
            if args.batch_size:
                command += ["--batch-size", str(args.batch_size)]
            return json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)

        warm = sampler_child(1_000) if cfg.compiled else None  # compiles the kernel into numba's cache once
        plain = PlainGraph(arrays, cfg)
        rng = np.random.default_rng(args.seed)
        t = time.perf_counter()
        short_steps = 0
        for start in rng.integers(args.nodes, size=args.short_calls):
            short_steps += len(g.random_walk(int(start), args.length - 1, weights="weight")) - 1
        short = (short_steps, time.perf_counter() - t)
        for _ in range(args.repeat):
            children.append(sampler_child(n_paths))
            timings["ours"].append((int(children[-1]["steps"]), children[-1]["seconds"]))
            t = time.perf_counter()
            long_walk = g.random_walk(int(rng.integers(args.nodes)), args.long_steps, weights="weight")
            timings["long"].append((len(long_walk) - 1, time.perf_counter() - t))
            timings["loop"].append(python_loop(arrays, cfg, args.loop_walkers))
            timings["plain"].append(plain_python_loop(plain, cfg, args.loop_walkers))
        parent_mb = peak_rss_mb()

    def median_rate(runs: list[tuple[int, float]]) -> float:
        return statistics.median(steps / seconds for steps, seconds in runs)

    def median_run(runs: list[tuple[int, float]]) -> tuple[int, float]:
        return runs[int(np.argsort([steps / seconds for steps, seconds in runs])[len(runs) // 2])]

    ours_rate = median_rate(timings["ours"])
    rows = [
        ("this sampler (value function, coverage per batch)", timings["ours"]),
        ("igraph random_walk, one long walk", timings["long"]),
        (f"igraph random_walk per path ({args.short_calls} calls, extrapolated)", [short]),
        (f"Python loop, numpy per step ({args.loop_walkers:,} walkers, extrap.)", timings["loop"]),
        (f"plain Python loop, random.choices ({args.loop_walkers:,} walkers, extrap.)", timings["plain"]),
    ]
    engine = "numba" if cfg.compiled else "numpy"
    print(
        f"\n{n_paths:,} paths of {args.length} KPs on {args.nodes:,} nodes; steps = transitions; engine {engine}; "
        f"median of {args.repeat} runs (igraph per path: 1 run)\n"
    )

    def each_run(runs: list[tuple[int, float]]) -> str:
        return ", ".join(f"{s / sec / 1000:,.0f}" if s / sec >= 10_000 else f"{s / sec / 1000:.2g}" for s, sec in runs)

    wide = max(16, *(len(each_run(runs)) for _, runs in rows))
    print(
        f"| {'method':<66} | {'steps':>10} | {'seconds':>8} | {'steps/s':>10} | {'runs (k steps/s)':>{wide}} | "
        f"{'sampler is':>10} |"
    )
    print(f"|{'-' * 68}|{'-' * 12}|{'-' * 10}|{'-' * 12}|{'-' * (wide + 2)}|{'-' * 12}|")
    for name, runs in rows:
        rate = median_rate(runs)
        steps, seconds = median_run(runs)
        ratio = "-" if runs is timings["ours"] else f"{ours_rate / rate:,.1f}x"
        each = each_run(runs)
        print(f"| {name:<66} | {steps:>10,} | {seconds:>8.2f} | {rate:>10,.0f} | {each:>{wide}} | {ratio:>10} |")
    per_path = n_paths * (args.length - 1)
    print(
        f"\nextrapolated to {n_paths:,} paths: igraph per path {per_path / median_rate([short]) / 3600:,.1f} h, "
        f"numpy loop {per_path / median_rate(timings['loop']) / 60:,.1f} min, "
        f"plain Python loop {per_path / median_rate(timings['plain']) / 60:,.1f} min"
    )
    ours = children[0]
    print(
        f"sampler: {ours['paths']:,} paths kept, {ours['discarded']:,} discarded, {ours['proposals']:,} proposals, "
        f"{ours['rebuilds']} proposal builds; peak RSS {max(c['peak_rss_mb'] for c in children):,.0f} MB "
        f"({ours['loaded_rss_mb']:,.0f} MB after loading the arrays); benchmark parent {parent_mb:,.0f} MB"
        + (f"; kernel warm-up run (1,000 paths, cache load or compile) {warm['seconds']:.2f} s" if warm else "")
    )
    if cfg.compiled:
        load = statistics.median(c["kernel_load"] for c in children)
        counted = statistics.median(c["steps"] / (c["seconds"] + c["kernel_load"]) for c in children)
        print(
            f"numba start and kernel load, once per process (not in the table): median {load:.2f} s; "
            f"counting it, the sampler runs {counted:,.0f} steps/s = {counted / median_rate(timings['long']):.1f}x the "
            f"long walk, {counted / median_rate(timings['plain']):.0f}x the plain Python loop"
        )
    goals = [
        (">= 2x igraph long walk", ours_rate >= 2 * median_rate(timings["long"])),
        (">= 100x plain Python loop", ours_rate >= 100 * median_rate(timings["plain"])),
        ("<= 4 GB peak RSS", max(c["peak_rss_mb"] for c in children) <= 4096),
    ]
    at_goal_size = (args.nodes, n_paths, args.length) == (1_000_000, 1_000_000, 5)
    print(
        ("goals: " if at_goal_size else "goals (set for 1M nodes and 1M paths of 5 KPs; this run is smaller): ")
        + ", ".join(f"{name}: {'met' if ok else 'MISSED'}" for name, ok in goals)
        + f" (for information, not a goal: {ours_rate / median_rate(timings['loop']):.0f}x the numpy-per-step loop)"
    )


if __name__ == "__main__":
    main()
