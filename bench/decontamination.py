"""Benchmark: decontamination (`core.release.decontamination`) of 1M items against a 30k-item
benchmark index with planted overlaps and planted boilerplate, beside two baselines.

Run by hand:  .venv/bin/python bench/decontamination.py [--n 1000000] [--bench-items 30000] [--baseline-n N]

Data (`bench/_synthetic.py`, 30% Chinese): a benchmark of `--bench-items` items, a third of
which open with one of 20 stock phrasings (15 pseudo-words / 15 Han characters, each shared by
~500 items: templates like MMLU's moral-scenarios preamble or 下列说法中正确的是); and `--n`
QA items, of which 1% are planted overlaps (a benchmark item's question, whole, inside new
text: half of them with its options inline as "(A) ...") and 2% planted boilerplate (a stock
phrasing followed by new content). Recall = planted overlaps flagged / planted; precision =
flagged items that are planted overlaps / flagged; "boilerplate flagged" counts planted
boilerplate items flagged (should be 0).
Methods, in one run:
- linkqa: `BenchmarkIndex` + `find_contaminated` (rare n-grams, boilerplate ignored, short
  items by containment, option labels removed);
- no-boilerplate: the same code with the boilerplate rules off (any shared gram counts, whole
  items of any length, 10-character grams for Chinese), close to what the release did before;
- python-sets: the textbook check, a Python set of the benchmark's 13-word / 13-character
  strings and a scan of every item's grams, on the first `--baseline-n` items (time also
  shown scaled to n).
Goals (issue 13): recall >= 0.99, precision >= 0.95, 1M items in <= 60 s on 2 cores.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _synthetic import chinese, english, qa_frame, vocabulary

from linkqa_pipelines.core.release import BenchmarkIndex, DecontaminationSettings, find_contaminated
from linkqa_pipelines.core.release.decontamination import contamination_text_expr
from linkqa_pipelines.core.text import qa_text_expr


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


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--bench-items", type=int, default=30_000)
    parser.add_argument("--baseline-n", type=int, default=0, help="items the python-sets baseline scans (default: --n)")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    bench, qa, over, boiler = make_data(args.n, args.bench_items, args.seed)
    rows: list[tuple[str, int, float, float, set[str]]] = []
    for name, settings in (
        ("linkqa", DecontaminationSettings()),
        ("no-boilerplate", DecontaminationSettings(boilerplate_items=10**9, n_chars=10, min_words=1, min_chars=1)),
    ):
        started = time.perf_counter()
        index = BenchmarkIndex.from_frame(bench, settings)
        built = time.perf_counter() - started
        flagged = set(find_contaminated(qa, index)["qa_id"].to_list())
        rows.append((name, qa.height, built, time.perf_counter() - started, flagged))
    limit = args.baseline_n or args.n
    sub = qa.head(limit)
    started = time.perf_counter()
    flagged = python_sets(bench, sub)
    rows.append(("python-sets", sub.height, 0.0, time.perf_counter() - started, flagged))

    print(
        f"\ndecontamination of {args.n:,} items against {args.bench_items:,} benchmark items "
        f"({len(over):,} planted overlaps, {len(boiler):,} planted boilerplate)"
    )
    header = ("items", "index s", "total s", "s per n", "recall", "precision", "boiler flagged")
    print(f"{'method':<16}" + "".join(f"{h:>15}" for h in header))
    for name, items, built, total, flagged in rows:
        present = set(qa["qa_id"].head(items).to_list())
        planted = over & present
        hit = len(flagged & planted)
        print(
            f"{name:<16}{items:>15,}{built:>15.1f}{total:>15.1f}{total * args.n / items:>15.1f}"
            f"{hit / max(len(planted), 1):>15.3f}{hit / max(len(flagged), 1):>15.3f}{len(flagged & boiler):>15,}"
        )
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
