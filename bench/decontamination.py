"""Benchmark: decontamination (`core.release.decontamination`) of 1M items against a 30k-item
benchmark index with planted overlaps and planted boilerplate: today's code beside the
previous commit's (the baseline) and two reference methods, in one run.

Run by hand:  .venv/bin/python bench/decontamination.py [--n 1000000] [--bench-items 30000]
              [--baseline-n N] [--baseline-ref REF] [--methods linkqa,baseline,no-boilerplate,python-sets]

Data (`bench/_synthetic.py`, 30% Chinese): a benchmark of `--bench-items` items, a third of
which open with one of 20 stock phrasings (15 pseudo-words / 15 Han characters, each shared by
~500 items: templates like MMLU's moral-scenarios preamble or 下列说法中正确的是); and `--n`
QA items, of which 1% are planted overlaps (a benchmark item's question, whole, inside new
text: half of them with its options inline as "(A) ...") and 2% planted boilerplate (a stock
phrasing followed by new content). Recall = planted overlaps flagged / planted; precision =
flagged items that are planted overlaps / flagged; "boiler" counts planted boilerplate items
flagged (should be 0).
Methods, each in its own subprocess reading the same data from Parquet (time excludes reading):
- linkqa: today's `BenchmarkIndex` + `find_contaminated` (rare n-grams, boilerplate ignored,
  short items by containment, option labels removed);
- baseline: the same two calls from `--baseline-ref` (default: the commit before the columnar
  rewrite of the lookup), exported with `git archive` and put first on `sys.path`;
- no-boilerplate: today's code with the boilerplate rules off (any shared gram counts, whole
  items of any length, 10-character grams for Chinese), close to what the release did before;
- python-sets: the textbook check, a Python set of the benchmark's 13-word / 13-character
  strings and a scan of every item's grams, on the first `--baseline-n` items.
"s" is wall time, "CPU s" the subprocess's user + system time (all its threads): other work on
the machine inflates wall time much more than CPU time, so both are shown.
Goals (issue 13): recall >= 0.99, precision >= 0.95, 1M items in <= 60 s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, os.environ.get("DECON_PACKAGE_ROOT", str(REPO)))  # the baseline's package when set
sys.path.insert(1, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
from _baseline import export_revision  # noqa: E402
from _synthetic import chinese, english, qa_frame, vocabulary  # noqa: E402

from linkqa_pipelines.core.release import BenchmarkIndex, DecontaminationSettings, find_contaminated  # noqa: E402
from linkqa_pipelines.core.release.decontamination import contamination_text_expr  # noqa: E402
from linkqa_pipelines.core.text import qa_text_expr  # noqa: E402

DEFAULT_BASELINE_REF = "94ac303"
SETTINGS = {
    "linkqa": DecontaminationSettings(),
    "baseline": DecontaminationSettings(),
    "no-boilerplate": DecontaminationSettings(boilerplate_items=10**9, n_chars=10, min_words=1, min_chars=1),
}


def make_data(n: int, bench_items: int, seed: int) -> tuple[pl.DataFrame, pl.DataFrame, set[str], set[str]]:
    """(benchmark items, QA items, ids of planted overlaps, ids of planted boilerplate)."""
    rng = np.random.default_rng(seed)
    vocab = vocabulary(rng)
    stock_en = english(rng, 10, vocab, (15, 16))
    stock_zh = chinese(rng, 10, (15, 16))
    bench = qa_frame(rng, bench_items, 0.3, vocab)
    stocked = rng.random(bench.height) < 1 / 3
    pick = rng.integers(0, 10, size=bench.height)
    prefix = [
        (stock_zh[p] if lang == "zh" else stock_en[p] + " ") if s else ""
        for s, p, lang in zip(stocked, pick, bench["language"].to_list(), strict=True)
    ]
    bench = bench.with_columns(question=pl.Series(prefix) + pl.col("question"))
    bench = bench.select(
        benchmark_id="qa_id", question="question", choices="choices", text=qa_text_expr(), language="language"
    )
    qa = qa_frame(rng, n, 0.3, vocab).with_columns(qa_id="x" + pl.col("qa_id"))
    n_over, n_boiler = n // 100, n // 50
    slots = rng.choice(n, size=n_over + n_boiler, replace=False)
    over_slots, boiler_slots = slots[:n_over], slots[n_over:]
    questions = qa["question"].to_list()
    langs = qa["language"].to_list()
    src = rng.integers(0, bench.height, size=n_over)
    bq, bc = bench["question"].to_list(), bench["choices"].to_list()
    for k, (slot, b) in enumerate(zip(over_slots.tolist(), src.tolist(), strict=True)):
        inline = "  ".join(f"({chr(65 + i)}) {c}" for i, c in enumerate(bc[b])) if k % 2 else ""
        questions[slot] = f"{questions[slot][:40]} {bq[b]} {inline} {questions[slot][40:]}"
    for slot in boiler_slots.tolist():
        stock = stock_zh if langs[slot] == "zh" else stock_en
        questions[slot] = stock[int(rng.integers(0, 10))] + " " + questions[slot]
    qa = qa.with_columns(question=pl.Series(questions))
    ids = qa["qa_id"]
    return bench, qa, set(ids.gather(over_slots).to_list()), set(ids.gather(boiler_slots).to_list())


def python_sets(bench: pl.DataFrame, qa: pl.DataFrame, n: int = 13) -> set[str]:
    """Textbook check: set of benchmark gram strings, scan every item's grams."""

    def grams(frame: pl.DataFrame, text: pl.Expr) -> list[tuple[str, list[str]]]:
        out: list[tuple[str, list[str]]] = []
        zh = frame["language"].to_list()
        words = frame.select(contamination_text_expr(text, "word").alias("w"))["w"].to_list()
        for key, lang, w in zip(frame[frame.columns[0]].to_list(), zh, words, strict=True):
            toks = list(w.replace(" ", "")) if lang == "zh" else w.split()
            out.append((key, [" ".join(toks[i : i + n]) for i in range(len(toks) - n + 1)]))
        return out

    index: set[str] = set()
    for _, gs in grams(bench, pl.col("text")):
        index.update(gs)
    return {
        key
        for key, gs in grams(qa.select("qa_id", "language", t=qa_text_expr()), pl.col("t"))
        if any(g in index for g in gs)
    }


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM: unlike ru_maxrss it is not inherited from the forking parent)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(method: str, data: Path, limit: int) -> dict[str, Any]:
    bench = pl.read_parquet(data / "bench.parquet")
    qa = pl.read_parquet(data / "qa.parquet", n_rows=limit)
    cpu, started = _cpu_seconds(), time.perf_counter()
    built = 0.0
    if method == "python-sets":
        flagged = python_sets(bench, qa)
    else:
        index = BenchmarkIndex.from_frame(bench, SETTINGS[method])
        built = time.perf_counter() - started
        flagged = set(find_contaminated(qa, index)["qa_id"].to_list())
    return {
        "method": method,
        "items": qa.height,
        "index_s": built,
        "total_s": time.perf_counter() - started,
        "cpu_s": _cpu_seconds() - cpu,
        "peak_mb": _peak_rss_mb(),
        "flagged": sorted(flagged),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--bench-items", type=int, default=30_000)
    parser.add_argument("--baseline-n", type=int, default=0, help="items the python-sets method scans (default: --n)")
    parser.add_argument("--baseline-ref", default=DEFAULT_BASELINE_REF)
    parser.add_argument("--methods", default="linkqa,baseline,no-boilerplate,python-sets")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.data, args.limit)))
        return
    with tempfile.TemporaryDirectory(prefix="bench-decon-") as tmp:
        data = Path(tmp)
        bench, qa, over, boiler = make_data(args.n, args.bench_items, args.seed)
        bench.write_parquet(data / "bench.parquet")
        qa.write_parquet(data / "qa.parquet")
        ids = qa["qa_id"]
        del bench, qa
        baseline_root = export_revision(args.baseline_ref, data / "baseline", "linkqa_pipelines")
        results: list[dict[str, Any]] = []
        for method in args.methods.split(","):
            limit = (args.baseline_n or args.n) if method == "python-sets" else args.n
            root = baseline_root if method == "baseline" else REPO
            cmd = [sys.executable, __file__, "--child", method, "--data", str(data), "--limit", str(limit)]
            proc = subprocess.run(
                cmd, capture_output=True, text=True, env={**os.environ, "DECON_PACKAGE_ROOT": str(root)}
            )
            if proc.returncode:
                print(f"{method}: failed\n{proc.stderr[-2000:]}")
                continue
            results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    print(
        f"\ndecontamination of {args.n:,} items against {args.bench_items:,} benchmark items "
        f"({len(over):,} planted overlaps, {len(boiler):,} planted boilerplate); baseline = {args.baseline_ref}"
    )
    header = ("items", "index s", "s", "CPU s", "s per n", "CPU s per n", "recall", "precision", "boiler", "peak MB")
    print(f"{'method':<16}" + "".join(f"{h:>12}" for h in header))
    for r in results:
        present = set(ids.head(r["items"]).to_list())
        planted = over & present
        flagged = set(r["flagged"])
        hit = len(flagged & planted)
        scale = args.n / r["items"]
        print(
            f"{r['method']:<16}{r['items']:>12,}{r['index_s']:>12.1f}{r['total_s']:>12.1f}{r['cpu_s']:>12.1f}"
            f"{r['total_s'] * scale:>12.1f}{r['cpu_s'] * scale:>12.1f}{hit / max(len(planted), 1):>12.3f}"
            f"{hit / max(len(flagged), 1):>12.3f}{len(flagged & boiler):>12,}{r['peak_mb']:>12.0f}"
        )


if __name__ == "__main__":
    main()
