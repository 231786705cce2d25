"""Benchmark: KP catalog + co-occurrence graph from N seeds x 4 KPs (default 1M x 4).

Run by hand:  .venv/bin/python bench/graph_build.py [--seeds 1000000] [--kps 200000]

Synthetic links: KP popularity follows a Zipf law over `--kps` names made of 1-3 pseudo-words,
and about 12% of links use a surface variant of the name (Title Case, plural, leading "the",
hyphen for space, a doubled letter typo) so that canonicalisation and fuzzy merging have
real work. Each phase is timed with its peak RSS (a /proc sampler thread, 5 ms period); the
baseline in the same run is the obvious pure-Python approach (per-link str normalisation and
dict grouping for the catalog, per-seed itertools.combinations + Counter + capped seed lists
for the pairs), by default on the full input (`--baseline-seeds` runs it on a prefix and
extrapolates linearly). Goal: <= 60 s and <= 4 GB peak on 2 cores (POLARS_MAX_THREADS=2).
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import sys
import threading
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

os.environ.setdefault("POLARS_MAX_THREADS", "2")  # the target machine: 2 cores

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from linkqa_pipelines.core.graph import build_graph, degree_plot_png, graph_summary, save_arrays
from linkqa_pipelines.core.knowledge_points import build_catalog

_PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss_bytes() -> int:
    with Path("/proc/self/statm").open() as f:
        return int(f.read().split()[1]) * _PAGE


@dataclass
class _Sampler:
    """Peak RSS over a window, sampled from /proc on a background thread."""

    period: float = 0.005
    peak: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_bytes())
            time.sleep(self.period)

    @contextmanager
    def window(self) -> Iterator[None]:
        self.peak = _rss_bytes()
        self._stop.clear()
        thread = threading.Thread(target=self._run, daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._stop.set()
            thread.join()
            self.peak = max(self.peak, _rss_bytes())


@dataclass
class Phase:
    name: str
    seconds: float
    peak_rss: int
    rows: str = ""


T = TypeVar("T")


def measure(name: str, fn: Callable[[], T], phases: list[Phase], rows: Callable[[T], str] = lambda _: "") -> T:
    sampler = _Sampler()
    with sampler.window():
        start = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - start
    phases.append(Phase(name, seconds, sampler.peak, rows(result)))
    print(f"  {name}: {seconds:.2f} s, peak RSS {sampler.peak / 2**30:.2f} GiB", flush=True)
    return result


def synthetic_links(n_seeds: int, n_kps: int, kps_per_seed: int, seed: int = 7) -> pl.DataFrame:
    """KP links with Zipf popularity (s = 1.05) and surface variants (see module docstring)."""
    rng = np.random.default_rng(seed)
    syllables = np.array(
        "ka ro mi ten sol vex lu dar phi gen tor bel cam pri sta nu or ex al ver mon tri "
        "cy lo ra zen fo ly qui den mar hel ion ter sub pol ath".split()
    )
    vocab = np.unique(["".join(rng.choice(syllables, size=rng.integers(2, 5))) for _ in range(30_000)])
    n_words = rng.choice([1, 2, 3], size=int(n_kps * 1.3), p=[0.3, 0.5, 0.2])
    names = (
        pl.Series([" ".join(rng.choice(vocab, size=k)) for k in n_words], dtype=pl.String)
        .unique(maintain_order=True)
        .head(n_kps)
    )
    ranks = np.arange(1, names.len() + 1, dtype=np.float64)
    p = ranks**-1.05
    draws = rng.choice(names.len(), size=n_seeds * kps_per_seed, p=p / p.sum())
    variant = rng.choice(6, size=draws.size, p=[0.88, 0.03, 0.03, 0.02, 0.02, 0.02])
    base = pl.Series(names).gather(draws)
    first = base.str.extract(r"^(\w+)")
    kp_name = (
        pl.DataFrame({"b": base, "v": variant, "f": first})
        .select(
            pl.when(pl.col("v") == 1)
            .then(pl.col("b").str.to_titlecase())
            .when(pl.col("v") == 2)
            .then(pl.col("b") + "s")
            .when(pl.col("v") == 3)
            .then("the " + pl.col("b"))
            .when(pl.col("v") == 4)
            .then(pl.col("b").str.replace(" ", "-"))
            # A doubled letter inside the first word: a typo the fuzzy stage should merge back.
            .when((pl.col("v") == 5) & (pl.col("f").str.len_chars() >= 6))
            .then(pl.col("b").str.replace(r"^(\w{3})(\w)", "${1}${2}${2}"))
            .otherwise(pl.col("b"))
        )
        .to_series()
    )
    seed_index = np.repeat(np.arange(n_seeds), kps_per_seed)
    disciplines = pl.Series([f"discipline_{i:02d}" for i in range(24)])
    return pl.DataFrame(
        {
            "seed_id": pl.Series(seed_index).cast(pl.String).str.zfill(8).str.replace(r"^", "seed_"),
            "discipline": disciplines.gather(seed_index % 24),
            "kp_rank": np.tile(np.arange(kps_per_seed, dtype=np.int16), n_seeds),
            "kp_name": kp_name,
        }
    ).with_columns(kp_description=pl.lit("synthetic knowledge point ") + pl.col("kp_name"))


_PUNCT = re.compile(r"[^\w\s]")
_WS = re.compile(r"\s+")


def naive_catalog(names: list[str], seeds: list[str]) -> dict[str, set[str]]:
    """Baseline: per-link Python normalisation and dict grouping (no fuzzy merging)."""
    groups: dict[str, set[str]] = defaultdict(set)
    for name, seed in zip(names, seeds, strict=True):
        key = _WS.sub(" ", _PUNCT.sub(" ", unicodedata.normalize("NFKC", name).casefold())).strip()
        key = " ".join(w[:-1] if w.endswith("s") and len(w) > 3 else w for w in key.split())
        groups[key].add(seed)
    return groups


def naive_pairs(seed_ids: list[str], kp_ids: list[str], cap: int = 50) -> tuple[Counter[tuple[str, str]], dict]:
    """Baseline: per-seed itertools.combinations + Counter, plus the capped seed list per pair
    (the same outputs as build_graph's edges, without NPMI and CSR)."""
    by_seed: dict[str, set[str]] = defaultdict(set)
    for s, k in zip(seed_ids, kp_ids, strict=True):
        by_seed[s].add(k)
    counter: Counter[tuple[str, str]] = Counter()
    seeds: dict[tuple[str, str], list[str]] = defaultdict(list)
    for s in sorted(by_seed):
        for pair in itertools.combinations(sorted(by_seed[s]), 2):
            counter[pair] += 1
            if len(seeds[pair]) < cap:
                seeds[pair].append(s)
    return counter, seeds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seeds", type=int, default=1_000_000)
    parser.add_argument("--kps", type=int, default=200_000, help="distinct KP names before variants")
    parser.add_argument("--per-seed", type=int, default=4)
    parser.add_argument(
        "--baseline-seeds",
        type=int,
        default=1_000_000,
        help="seeds for the pure-Python baseline (extrapolated linearly when smaller)",
    )
    args = parser.parse_args()

    print(f"generating {args.seeds:,} seeds x {args.per_seed} KPs over {args.kps:,} names ...", flush=True)
    t0 = time.perf_counter()
    links = synthetic_links(args.seeds, args.kps, args.per_seed)
    print(
        f"  {links.height:,} links, {links['kp_name'].n_unique():,} surface names in {time.perf_counter() - t0:.1f} s"
    )
    print(f"  polars threads: {pl.thread_pool_size()}, RSS after generation {_rss_bytes() / 2**30:.2f} GiB", flush=True)

    phases: list[Phase] = []
    catalog = measure(
        "catalog (build_catalog)",
        lambda: build_catalog(links),
        phases,
        lambda c: (
            f"{c.catalog.height:,} KPs; surface names by rule: "
            + ", ".join(
                f"{r} {n:,}"
                for r, n in c.aliases.group_by(pl.col("rule").str.replace(r":\d+$", "")).len().sort("rule").iter_rows()
            )
        ),
    )
    graph = measure(
        "graph (build_graph)",
        lambda: build_graph(catalog.links, catalog.catalog),
        phases,
        lambda g: f"{g.edges.height:,} edges",
    )
    summary = measure(
        "summary (igraph components)",
        lambda: graph_summary(graph),
        phases,
        lambda s: f"{s['components']:,} components, largest {s['largest_component_share']:.1%}",
    )
    measure("to_igraph (with attributes)", lambda: graph.to_igraph(), phases, lambda g: f"{g.vcount():,} vertices")
    measure("degree plot (PNG)", lambda: degree_plot_png(graph), phases, lambda b: f"{len(b) / 1024:.0f} KiB")
    out = Path("/tmp/linkqa_bench_csr.npz")
    measure(
        "save CSR (.npz)",
        lambda: save_arrays(graph.arrays, out),
        phases,
        lambda _: f"{out.stat().st_size / 2**20:.0f} MiB",
    )
    out.unlink(missing_ok=True)

    n = min(args.baseline_seeds, args.seeds)
    sample = links.head(n * args.per_seed)
    scale = args.seeds / n
    names, seeds = sample["kp_name"].to_list(), sample["seed_id"].to_list()
    base: list[Phase] = []
    measure(f"baseline catalog, {n:,} seeds", lambda: naive_catalog(names, seeds), base)
    kp_ids = catalog.links.head(n * args.per_seed)["kp_id"].to_list()
    measure(f"baseline pairs, {n:,} seeds", lambda: naive_pairs(seeds, kp_ids), base)

    total = sum(p.seconds for p in phases)
    goal = phases[0].seconds + phases[1].seconds  # catalog + graph, what the goal is about
    goal_rss = max(phases[0].peak_rss, phases[1].peak_rss)
    print(
        f"\nKP catalog + graph, {args.seeds:,} seeds x {args.per_seed} KPs ({links.height:,} links), "
        f"{pl.thread_pool_size()} threads"
    )
    print(f"{'phase':<34}{'wall s':>9}{'peak RSS GiB':>14}  result")
    for p in phases:
        print(f"{p.name:<34}{p.seconds:>9.2f}{p.peak_rss / 2**30:>14.2f}  {p.rows}")
    print(f"{'catalog + graph':<34}{goal:>9.2f}{goal_rss / 2**30:>14.2f}")
    print(f"{'all phases':<34}{total:>9.2f}{max(p.peak_rss for p in phases) / 2**30:>14.2f}")
    print(f"\nbaseline (pure Python, {n:,} seeds" + (f", x {scale:g} extrapolated)" if scale != 1 else ")"))
    for p, ours in zip(base, phases[:2], strict=True):
        est = p.seconds * scale
        print(
            f"{p.name:<34}{p.seconds:>9.2f}{p.peak_rss / 2**30:>14.2f}  full size {est:.1f} s vs ours "
            f"{ours.seconds:.2f} s: x{est / ours.seconds:.1f}"
        )
    print(
        f"\ngoal (catalog + graph): <= 60 s -> {'OK' if goal <= 60 else 'MISSED'}; "
        f"peak RSS <= 4 GiB -> {'OK' if goal_rss <= 4 * 2**30 else 'MISSED'}; "
        f"graph: {summary['nodes']:,} nodes, {summary['edges']:,} edges"
    )


if __name__ == "__main__":
    main()
