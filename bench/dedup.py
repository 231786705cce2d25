"""Benchmark: global dedup (`core.release.dedup`) vs datasketch MinHashLSH and rensa RMinHashLSH.

Run by hand:  .venv/bin/python bench/dedup.py [--n 1000000] [--baseline-n N] [--zh-share 0.3]
              [--baseline-ref REF] [--methods linkqa,baseline,datasketch,rensa]

Data (`bench/_synthetic.py`): n synthetic QA items (English pseudo-word questions and Chinese
character questions, four options each), of which 5% are planted near duplicates: a copy of
another item with one word (English) or one character (Chinese) of the question replaced
(shingle Jaccard ~0.85-0.9 with the original). Every method sees the same items in the same
order, with the same shingles (word 3-grams for English, character 5-grams for Chinese, of the
normalised question + options), 128 permutations and Jaccard threshold 0.8:
- linkqa: `dedup` (exact pass, MinHash + LSH banding in numpy with band keys spilled by hash
  bucket, candidate pairs verified exactly);
- baseline: the same `dedup` call from `--baseline-ref` (default: the commit before the
  bucketed banding, which held every signature in memory), exported with `git archive`;
- datasketch: `MinHash.update_batch` per item, `MinHashLSH.query` then `insert` (keep first);
- rensa: `RMinHash.from_token_sets` (Rust, all items at once), then per item
  `RMinHashLSH.query` then `insert` (keep first). Baselines report LSH candidates as
  duplicates, as their usual dedup recipes do (no exact verification).
A predicted pair is (dropped item, the item it is reported to duplicate); recall = planted pairs
found / planted, precision = predicted pairs that are planted / predicted. The data is made once and
written to Parquet; each method runs in its own subprocess that reads it: time excludes reading,
peak RSS is the subprocess's ("data MB": its RSS once the items are read); "CPU s" is its user + system
time (all threads), which other work on the machine inflates much less than wall time. Baselines can be
run on the first `--baseline-n` items only (they are Python loops over items); their time is
then also shown scaled to n, linearly.
Goals (issue 13): recall and precision >= 0.95, faster than datasketch, within 1.5x of rensa.
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

import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, os.environ.get("DEDUP_PACKAGE_ROOT", str(REPO)))  # the baseline's package when set
sys.path.insert(1, str(Path(__file__).resolve().parent))

from _baseline import export_revision  # noqa: E402
from _synthetic import qa_frame, vocabulary  # noqa: E402

from linkqa_pipelines.core.release import dedup, dedup_text_expr  # noqa: E402

DEFAULT_BASELINE_REF = "86020ef"
THRESHOLD = 0.8
NUM_PERM = 128


def make_data(n: int, zh_share: float, seed: int) -> tuple[pl.DataFrame, set[tuple[str, str]]]:
    """n items, 5% of them planted near copies; returns (frame, planted pairs as sorted id pairs)."""
    rng = np.random.default_rng(seed)
    vocab = vocabulary(rng)
    n_planted = n // 20
    base = qa_frame(rng, n - n_planted, zh_share, vocab)
    src = rng.choice(base.height, size=n_planted, replace=False)
    copies = []
    for k, i in enumerate(src.tolist()):
        row = base.row(i, named=True)
        q = row["question"]
        if row["language"] == "zh":
            at = int(rng.integers(0, len(q) - 1))
            q = q[:at] + chr(0x4E00 + 3000 + int(rng.integers(0, 500))) + q[at + 1 :]
        else:
            words = q.split()
            words[int(rng.integers(0, len(words)))] = f"zq{k}x"
            q = " ".join(words)
        copies.append({**row, "qa_id": f"c{k:07d}", "question": q})
    frame = pl.concat([base, pl.DataFrame(copies, schema=base.schema)])
    frame = frame[rng.permutation(frame.height)]
    truth = {
        tuple(sorted(p)) for p in zip(base["qa_id"].gather(src).to_list(), [c["qa_id"] for c in copies], strict=True)
    }
    return frame, truth  # type: ignore[return-value]


def shingle_sets(frame: pl.DataFrame) -> list[list[str]]:
    """Word 3-grams (English) / character 5-grams (Chinese) of the normalised text, as strings."""
    texts = frame.select(dedup_text_expr("question", include_choices=True))["question"].to_list()
    out: list[list[str]] = []
    for text, lang in zip(texts, frame["language"].to_list(), strict=True):
        if lang == "zh":
            s = text.replace(" ", "")
            out.append([s[i : i + 5] for i in range(max(len(s) - 4, 1))])
        else:
            w = text.split()
            out.append([" ".join(w[i : i + 3]) for i in range(max(len(w) - 2, 1))])
    return out


def run_linkqa(frame: pl.DataFrame) -> list[tuple[str, str]]:
    _, dropped = dedup(frame, threshold=THRESHOLD)
    return list(zip(dropped["qa_id"].to_list(), dropped["duplicate_of"].to_list(), strict=True))


def run_datasketch(frame: pl.DataFrame) -> list[tuple[str, str]]:
    from datasketch import MinHash, MinHashLSH  # pyright: ignore[reportMissingImports]  # the bench extra

    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    found: list[tuple[str, str]] = []
    for key, shingles in zip(frame["qa_id"].to_list(), shingle_sets(frame), strict=True):
        m = MinHash(num_perm=NUM_PERM, seed=1)
        m.update_batch([s.encode() for s in shingles])
        hits = lsh.query(m)
        if hits:
            found.append((key, min(str(h) for h in hits)))
        else:
            lsh.insert(key, m)
    return found


def run_rensa(frame: pl.DataFrame) -> list[tuple[str, str]]:
    from rensa import RMinHash, RMinHashLSH  # pyright: ignore[reportMissingImports, reportAttributeAccessIssue]  # bench extra

    keys = frame["qa_id"].to_list()
    rows = RMinHash.from_token_sets(shingle_sets(frame), num_perm=NUM_PERM, seed=1)
    lsh = RMinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM, num_bands=16)
    found: list[tuple[str, str]] = []
    for i, m in enumerate(rows):
        hits = lsh.query(m)
        if hits:
            found.append((keys[i], keys[min(hits)]))
        else:
            lsh.insert(i, m)
    return found


METHODS = {"linkqa": run_linkqa, "baseline": run_linkqa, "datasketch": run_datasketch, "rensa": run_rensa}


def _peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM: unlike ru_maxrss it is not inherited from the forking parent)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(method: str, data: Path, limit: int) -> dict[str, Any]:
    frame = pl.read_parquet(data / "items.parquet", n_rows=limit)
    present = set(frame["qa_id"].to_list())
    pairs_frame = pl.read_parquet(data / "planted.parquet")
    truth = {
        p
        for p in zip(pairs_frame["a"].to_list(), pairs_frame["b"].to_list(), strict=True)
        if p[0] in present and p[1] in present
    }
    data_rss = _peak_rss_mb()
    cpu, started = _cpu_seconds(), time.perf_counter()
    pairs = METHODS[method](frame)
    seconds = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu
    predicted = {tuple(sorted(p)) for p in pairs}
    hit = len(predicted & truth)
    return {
        "method": method,
        "items": frame.height,
        "seconds": seconds,
        "cpu_s": cpu,
        "peak_rss_mb": _peak_rss_mb(),
        "data_rss_mb": data_rss,
        "recall": hit / max(len(truth), 1),
        "precision": hit / max(len(predicted), 1),
        "planted": len(truth),
        "predicted": len(predicted),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--baseline-n", type=int, default=0, help="items the baselines see (default: --n)")
    parser.add_argument("--zh-share", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--methods", default="linkqa,baseline,datasketch,rensa")
    parser.add_argument("--baseline-ref", default=DEFAULT_BASELINE_REF)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.data, args.limit)))
        return
    results = []
    tmp = tempfile.TemporaryDirectory(prefix="bench-dedup-")
    data = Path(tmp.name)
    frame, truth = make_data(args.n, args.zh_share, args.seed)
    frame.write_parquet(data / "items.parquet")
    pl.DataFrame(sorted(truth), schema=["a", "b"], orient="row").write_parquet(data / "planted.parquet")
    del frame
    baseline_root = export_revision(args.baseline_ref, data / "baseline", "linkqa_pipelines")
    for method in args.methods.split(","):
        limit = args.n if method in ("linkqa", "baseline") else (args.baseline_n or args.n)
        root = baseline_root if method == "baseline" else REPO
        cmd = [sys.executable, __file__, "--child", method, "--data", str(data), "--limit", str(limit)]
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "DEDUP_PACKAGE_ROOT": str(root)})
        if proc.returncode:
            print(f"{method}: failed\n{proc.stderr[-2000:]}")
            continue
        results.append(json.loads(str(proc.stdout).strip().splitlines()[-1]))
    print(f"\ndedup of {args.n:,} synthetic QA ({args.zh_share:.0%} Chinese), 5% planted near duplicates, ", end="")
    print(f"threshold {THRESHOLD}; baseline = {args.baseline_ref}")
    header = ("method", "items", "seconds", "CPU s", "s per n", "recall", "precision", "peak MB", "data MB")
    print("".join(f"{h:<11}" if i == 0 else f"{h:>10}" for i, h in enumerate(header)))
    for r in results:
        scaled = r["seconds"] * args.n / r["items"]
        print(
            f"{r['method']:<11}{r['items']:>10,}{r['seconds']:>10.1f}{r['cpu_s']:>10.1f}{scaled:>10.1f}{r['recall']:>10.3f}"
            f"{r['precision']:>10.3f}{r['peak_rss_mb']:>10.0f}{r['data_rss_mb']:>10.0f}"
        )


if __name__ == "__main__":
    main()
