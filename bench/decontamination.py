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
- baseline: the same two calls from `--baseline-ref` (default: the commit before short formula
  questions were caught, 1b5d9a3), exported with `git archive` and put first on `sys.path`;
- no-boilerplate: today's code with the boilerplate rules off (any shared gram counts, whole
  items of any length, 10-character grams for Chinese), close to what the release did before;
- python-sets: the textbook check, a Python set of the benchmark's 13-word / 13-character
  strings and a scan of every item's grams, on the first `--baseline-n` items.
"s" is wall time, "CPU s" the subprocess's user + system time (all its threads): other work on
the machine inflates wall time much more than CPU time, so both are shown.
Goals (issue 13): recall >= 0.99, precision >= 0.95, 1M items in <= 60 s on 2 cores.

Short questions of the real benchmarks (`--shared-data`, default ../shared/data: MMLU test, MATH
test, CMMLU dev), run by linkqa and baseline on the same index: every question shorter than the
gram (13 words / characters, today's tokenisation) is quoted inside new text ("quoted": flagged
with its own item id = caught), and every such question holding a number is rewritten with each
number + 1 ("numbers changed": the template without the item's content, flagged with its own id
should be 0; "flagged" also counts another item that the rewrite happens to quote whole).
Questions under `min_words` words / `min_chars` characters are too short to match alone by the
spec and are counted apart. The issue that added this check: a released item quoted MATH's
"What is the value of $513^2 - 487^2$?" and "... $255^2 - 245^2$?". Run of 2026-12-02
(`--methods linkqa,baseline`, 2 shared cores; baseline 1b5d9a3):

    method      items    index s    s     CPU s   recall  precision  boiler
    linkqa      1,000,000    3.3  22.8    25.0    1.000      1.000       0
    baseline    1,000,000    3.3  23.9    24.7    1.000      1.000       0

    benchmark  short  too short  caught  caught baseline  numbers changed  own id  flagged (both)
    cmmlu        113          5     108              108                1       0       0
    math         439         29     409              335              425       0       0
    mmlu       4,064        259   3,347            3,325              286       0       0

MATH's one short question left is words only ("What is the sum of the first five positive odd
integers?"); MMLU's 458 are template plus at most as many content words ("Which of the following
is a renewable energy source?"), boilerplate by the spec; quoted with their options "(A) ...", 449
of the 458 are caught.
"""

from __future__ import annotations

import argparse
import json
import os
import re
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

from linkqa_pipelines.core.language import detect_language  # noqa: E402
from linkqa_pipelines.core.release import (  # noqa: E402
    BenchmarkIndex,
    DecontaminationSettings,
    find_contaminated,
    load_benchmark_questions,
)
from linkqa_pipelines.core.release.decontamination import contamination_text_expr  # noqa: E402
from linkqa_pipelines.core.text import qa_text_expr  # noqa: E402

DEFAULT_BASELINE_REF = "1b5d9a3"
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


_NUMBER = re.compile(r"[0-9]+")
SHORT_BELOW = DecontaminationSettings().n_words  # = n_chars: a question under it is matched whole


def make_real(shared: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(benchmark items, QA) of the real-benchmark short-question check (module docstring):
    QA columns qa_id, question, choices, plus kind (quoted | changed), source (the quoted item),
    benchmark, size (the quoted question's tokens: words, or characters for Chinese) and zh."""
    bench = load_benchmark_questions(
        [shared / "mmlu" / "test", shared / "math" / "test.jsonl", shared / "cmmlu" / "dev"]
    )
    zh = (detect_language(bench["question"]) == "zh").to_numpy()
    norm = {
        mode: bench.select(contamination_text_expr(pl.col("question"), mode))["question"] for mode in ("word", "char")
    }
    size = np.where(zh, norm["char"].str.len_chars().to_numpy(), norm["word"].str.count_matches(r"\S+").to_numpy())
    short = bench.with_columns(size=pl.Series(size), zh=pl.Series(zh)).filter(pl.col("size") < SHORT_BELOW)
    rows: list[tuple[str, str, str, str, int, bool]] = []
    for r in short.iter_rows(named=True):
        q, source, zh_item = r["question"], r["benchmark_id"], r["zh"]
        quoted = (
            f"请先阅读下面的题目，再回答。{q}请说明理由。"
            if zh_item
            else f"Two facts. Part 1: {q} Part 2: Explain each step."
        )
        rows.append(("quoted", quoted, source, r["benchmark"], r["size"], zh_item))
        if _NUMBER.search(q):
            changed = _NUMBER.sub(lambda m: str(int(m.group()) + 1), q)
            rows.append(("changed", changed, source, r["benchmark"], r["size"], zh_item))
    qa = pl.DataFrame(rows, schema=["kind", "question", "source", "benchmark", "size", "zh"], orient="row")
    return bench, qa.with_columns(
        qa_id=pl.format("r{}", pl.int_range(pl.len())), choices=pl.lit(None, dtype=pl.List(pl.String))
    )


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
    total, cpu_total = time.perf_counter() - started, _cpu_seconds() - cpu
    real: list[tuple[str, str]] = []
    if method != "python-sets" and (data / "real_bench.parquet").exists():
        real_index = BenchmarkIndex.from_frame(pl.read_parquet(data / "real_bench.parquet"), SETTINGS[method])
        real_qa = pl.read_parquet(data / "real_qa.parquet").select("qa_id", "question", "choices")
        real = find_contaminated(real_qa, real_index).select("qa_id", "benchmark_id").rows()
    return {
        "method": method,
        "items": qa.height,
        "index_s": built,
        "total_s": total,
        "cpu_s": cpu_total,
        "peak_mb": _peak_rss_mb(),
        "flagged": sorted(flagged),
        "real": real,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--bench-items", type=int, default=30_000)
    parser.add_argument("--baseline-n", type=int, default=0, help="items the python-sets method scans (default: --n)")
    parser.add_argument("--baseline-ref", default=DEFAULT_BASELINE_REF)
    parser.add_argument("--methods", default="linkqa,baseline,no-boilerplate,python-sets")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--shared-data", type=Path, default=REPO.parent / "shared" / "data")
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
        real_qa = None
        if (args.shared_data / "math" / "test.jsonl").exists():
            real_bench, real_qa = make_real(args.shared_data)
            real_bench.write_parquet(data / "real_bench.parquet")
            real_qa.write_parquet(data / "real_qa.parquet")
        else:
            print(f"{args.shared_data}: no MMLU/MATH/CMMLU data, the short-question check is skipped")
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

    if real_qa is not None:
        report_real(real_qa, {r["method"]: r["real"] for r in results if r["method"] in ("linkqa", "baseline")})


def report_real(qa: pl.DataFrame, found: dict[str, list[list[str]]]) -> None:
    """The short-question table (module docstring): per benchmark, today's counts beside the baseline's."""
    settings = DecontaminationSettings()
    too_short = pl.when(pl.col("zh")).then(settings.min_chars).otherwise(settings.min_words)
    frame = qa.with_columns(too_short=pl.col("size") < too_short)
    for method, pairs in found.items():
        hits = pl.DataFrame(pairs, schema=["qa_id", "benchmark_id"], orient="row")
        own = hits.join(frame.select("qa_id", benchmark_id="source"), on=["qa_id", "benchmark_id"], how="semi")
        frame = frame.with_columns(
            pl.col("qa_id").is_in(own["qa_id"].implode()).alias(f"{method}_own"),
            pl.col("qa_id").is_in(hits["qa_id"].implode()).alias(f"{method}_any"),
        )
    methods = list(found)
    quoted, changed = pl.col("kind") == "quoted", pl.col("kind") == "changed"
    table = (
        frame.group_by("benchmark")
        .agg(
            short=quoted.sum(),
            too_short=(quoted & pl.col("too_short")).sum(),
            **{f"caught {m}": (quoted & pl.col(f"{m}_own")).sum() for m in methods},
            changed=changed.sum(),
            **{f"own id {m}": (changed & pl.col(f"{m}_own")).sum() for m in methods},
            **{f"flagged {m}": (changed & pl.col(f"{m}_any")).sum() for m in methods},
        )
        .sort("benchmark")
    )
    print(f"\nshort questions (< {SHORT_BELOW} tokens) quoted in new text, and with their numbers changed")
    with pl.Config(
        tbl_cols=-1,
        tbl_width_chars=200,
        tbl_hide_dataframe_shape=True,
        tbl_hide_column_data_types=True,
        tbl_formatting="ASCII_MARKDOWN",
    ):
        print(table)


if __name__ == "__main__":
    main()
