"""Benchmark: where a whole offline `linkqa run` spends its time, today against a baseline commit.

Run by hand:  .venv/bin/python bench/pipeline_overhead.py [--data sample|cmmlu-mmlu] [--baseline REV|none]
                                                          [--today REV] [--sizes 0.25,0.5,1]

Each side is a real `linkqa run` in a child process (offline backend, fresh LINKQA_HOME): the
code of today's working tree (or of `--today REV`), and the code of `--baseline`, each revision
exported with `git archive` into a temporary folder (baseline default: the parent of the commit
that made stages one run over all their disciplines, i.e. per-partition runs). Both use the
same virtualenv, and each side's numba cache is warmed first by a one-discipline run, so neither
pays for JIT compilation a user pays once.

Times come from the Dagster instance each run records: per stage (job), its runs, their wall
time and their steps' time (STEP_START to STEP_SUCCESS: the assets' bodies, their IO and their
events). Overhead is everything else: process start and imports, run set-up and tear-down,
resources, the CLI's own reads and the summary. Data: `sample` is the bundled 134 seeds;
`cmmlu-mmlu` is ../shared/data cmmlu/dev + mmlu/test (about 14k seeds, 67 + 57 subject files);
`--sizes` runs fractions of the subject files (cmmlu-mmlu, today's code only) to show that the
time grows linearly with seeds.

Goals (issue 15, must-have 7): the sample <= 20 s; cmmlu-mmlu offline <= 120 s on 2 cores;
linear growth. Other processes on the machine share the CPU: the table prints the load average and
each run's CPU time (user + system of the child), which a busy machine does not inflate as it does
the wall time.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from _baseline import export_revision

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
PYTHON = Path(sys.executable)


@dataclass
class Measured:
    label: str
    seconds: float  # the child process, start to exit
    cpu_seconds: float  # its user + system CPU time: what a loaded machine does not inflate
    seeds: int
    runs: dict[str, int] = field(default_factory=dict[str, int])
    run_seconds: dict[str, float] = field(default_factory=dict[str, float])
    step_seconds: dict[str, float] = field(default_factory=dict[str, float])
    by_step: dict[str, float] = field(default_factory=dict[str, float])  # per step key, over all runs

    @property
    def steps_total(self) -> float:
        return sum(self.step_seconds.values())

    @property
    def overhead_share(self) -> float:
        return 1 - self.steps_total / self.seconds if self.seconds else 0.0


def baseline_commit() -> str:
    """The parent of the commit that introduced `per_discipline` (stages as one run per key range)."""
    found = subprocess.run(
        [
            "git",
            "log",
            "--reverse",
            "--format=%H",
            "-S",
            "def per_discipline",
            "--",
            "linkqa_pipelines/lib/partitions.py",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if not found:
        raise SystemExit("no commit introduces per_discipline: pass --baseline REV")
    return f"{found[0]}~1"


def seed_files(data: str, fraction: float = 1.0) -> list[str]:
    if data == "sample":
        return []  # linkqa run's default: the bundled sample
    files: list[Path] = []
    for folder in (SHARED / "cmmlu" / "dev", SHARED / "mmlu" / "test"):
        if not folder.is_dir():
            raise SystemExit(f"{folder} absent: the cmmlu-mmlu data set lives in ../shared/data")
        subjects = sorted(folder.glob("*.csv"))
        files += subjects[: max(1, round(len(subjects) * fraction))]
    return [str(f) for f in files]


def linkqa_run(code: Path, home: Path, numba_cache: Path, seeds: list[str], extra: list[str]) -> tuple[float, float]:
    """One `linkqa run` of the code under `code` in a child process; its wall and CPU time."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("LINKQA_", "DAGSTER_"))},
        "PYTHONPATH": str(code),
        "LINKQA_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        "LINKQA_LLM_BACKEND": "offline",
        "NUMBA_CACHE_DIR": str(numba_cache),
        "POLARS_MAX_THREADS": "2",
    }
    args = [str(PYTHON), "-m", "linkqa_pipelines.cli", "run", *(["--seeds", *seeds] if seeds else []), *extra]
    started, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(args, env=env, cwd=code, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_seconds = after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime
    if proc.returncode not in (0, 4):  # 4: an empty release (decontamination) is still a full run
        last = proc.stderr.strip().splitlines()[-2:]
        print(f"WARNING: linkqa run ({code}) exited {proc.returncode}, its times cover the stages before: {last}")
    return seconds, cpu_seconds


def read_instance(label: str, home: Path, seconds: float, cpu_seconds: float) -> Measured:
    """Runs, run time and step time per job from the Dagster instance under `home`."""
    from dagster import DagsterInstance

    os.environ["DAGSTER_HOME"] = str(home / "dagster")
    import polars as pl

    seeds = pl.scan_parquet(str(home / "lake" / "seed_sources" / "**" / "*.parquet")).select(pl.len()).collect().item()
    out = Measured(label, seconds, cpu_seconds, int(seeds))
    runs: dict[str, int] = defaultdict(int)
    with DagsterInstance.get() as instance:
        for run in instance.get_runs():
            stats = instance.get_run_stats(run.run_id)
            runs[run.job_name] += 1
            out.run_seconds[run.job_name] = out.run_seconds.get(run.job_name, 0.0) + (
                (stats.end_time or 0) - (stats.start_time or 0)
            )
            for step in instance.get_run_step_stats(run.run_id):
                if step.end_time and step.start_time:
                    took = step.end_time - step.start_time
                    out.step_seconds[run.job_name] = out.step_seconds.get(run.job_name, 0.0) + took
                    out.by_step[step.step_key] = out.by_step.get(step.step_key, 0.0) + took
    out.runs = dict(runs)
    return out


def measure(label: str, code: Path, work: Path, seeds: list[str]) -> Measured:
    cache = work / f"numba-{label}"
    linkqa_run(code, work / f"warm-{label}", cache, [], ["--disciplines", "physics"])  # JIT once, as a user would
    home = work / f"home-{label}"
    return read_instance(label, home, *linkqa_run(code, home, cache, seeds, []))


def print_table(results: list[Measured]) -> None:
    jobs = list(dict.fromkeys(j for r in results for j in r.run_seconds))
    head = f"{'stage (job)':<28}" + "".join(f"{r.label + ' runs':>18}{'run s':>9}{'steps s':>9}" for r in results)
    print(head)
    print("-" * len(head))
    for job in jobs:
        cells = "".join(
            f"{r.runs.get(job, 0):>18}{r.run_seconds.get(job, 0):>9.1f}{r.step_seconds.get(job, 0):>9.1f}"
            for r in results
        )
        print(f"{job:<28}{cells}")
    print("-" * len(head))
    for r in results:
        slowest = sorted(r.by_step.items(), key=lambda kv: -kv[1])[:6]
        print(f"{r.label:<10} slowest steps: " + ", ".join(f"{k} {v:.1f} s" for k, v in slowest))
    for r in results:
        print(
            f"{r.label:<10} seeds {r.seeds:>7,}  wall {r.seconds:7.1f} s (CPU {r.cpu_seconds:7.1f} s)  "
            f"in steps {r.steps_total:7.1f} s  "
            f"overhead {r.seconds - r.steps_total:6.1f} s ({r.overhead_share:.0%})  runs {sum(r.runs.values())}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", choices=["sample", "cmmlu-mmlu"], default="sample")
    parser.add_argument("--baseline", default=None, help="git revision to compare with ('none': today only)")
    parser.add_argument("--today", default=None, help="measure this git revision instead of the working tree")
    parser.add_argument("--sizes", default="", help="fractions of the subject files for the linearity table")
    args = parser.parse_args()

    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="linkqa-overhead-") as tmp:
        work = Path(tmp)
        today = ROOT if args.today is None else export_revision(args.today, work / "today-code")
        results = [measure("today", today, work, seed_files(args.data))]
        if args.baseline != "none":
            rev = args.baseline or baseline_commit()
            short = subprocess.check_output(["git", "rev-parse", "--short", rev], cwd=ROOT, text=True).strip()
            print(f"baseline: {rev} = {short}")
            results.append(
                measure("baseline", export_revision(rev, work / "baseline-code"), work, seed_files(args.data))
            )
        print_table(results)
        if args.sizes:
            print("\nlinear growth (today's code, cmmlu-mmlu subject-file fractions):")
            print(f"{'fraction':>9}{'seeds':>9}{'wall s':>9}{'CPU s':>9}{'steps s':>9}{'CPU s per 1k seeds':>20}")
            for fraction in (float(x) for x in args.sizes.split(",")):
                home = work / f"home-size-{fraction}"
                timing = linkqa_run(today, home, work / "numba-today", seed_files("cmmlu-mmlu", fraction), [])
                m = read_instance(f"{fraction:g}", home, *timing)
                per_k = 1000 * m.cpu_seconds / m.seeds
                cells = f"{m.seconds:>9.1f}{m.cpu_seconds:>9.1f}{m.steps_total:>9.1f}{per_k:>20.2f}"
                print(f"{fraction:>9g}{m.seeds:>9,}{cells}")
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
