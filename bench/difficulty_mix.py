"""Benchmark: does a real-seed run reach its difficulty targets in every discipline?

Run by hand:  .venv/bin/python bench/difficulty_mix.py [--home DIR | --paths 600]
              [--baseline-home DIR | --baseline-ref REV] [--model]
              [--seeds ../shared/data/mmlu/test ../shared/data/math/test.jsonl] [--targets YAML]

Without --home it runs the whole offline pipeline (`linkqa run --seeds ... --paths N`) into a
temporary home (about 4 minutes on 2 cores for MMLU test + MATH test, 600 paths per discipline);
with --home it reads a finished run's lake. `--baseline-ref` runs the same pipeline with the
package as of that revision (git archive) and `--baseline-home` reads such a run: the summary
then shows baseline -> today per discipline. Issue 12's goal: achieved level shares within +-5
points of target in every discipline with at least 50 items.

Per discipline it shows the scored supply (difficulty_scored_qa after the verification keep rule:
the mix with no selection) and the selection the dataset stage makes from it (`select_to_target`,
the same call as `linkqa_dataset`) against the target, the largest gap, and every short level with
its cause. The selection is measured on the screened-in supply *before* dedup and
decontamination, because seeds taken from benchmark test splits (the only human-labelled ones
here) make decontamination remove every composition that quotes them; the run's own screening
counts and released mix (`mix_report`) are printed after it.

`--model` runs with the model configured by LINKQA_LLM_BACKEND, LINKQA_LLM_BASE_URL,
LINKQA_LLM_MODEL and LINKQA_LLM_API_KEY instead of offline (use fewer --paths: every path costs
a synthesis call, k verification calls and a judge call per item). A model is asked for each item's
level (`requested_levels`: the discipline's target split over its items) and the judge and solver
score what it wrote; the bench then also prints, per level asked for, how the items scored
(`requests_vs_scores`). Tried here against the loopback fake server only (no network): it
exercises the path, it says nothing about a real model.

Offline, why a level is short is bounded by the seeds: an item composed of two seeds is level 1 only when
both seeds are at most `pair_ceiling(1)` and level 2 only when both are at most `pair_ceiling(2)`
(`composition.conjunction_level`). The "easy seeds" column counts the discipline's seeds under
those ceilings (`seed_levels`), and "narrowed" the paths level-aware synthesis composed from other
seeds than the walk's (its easiest ones, or easier seeds linked to its KPs: `core/difficulty/supply.py`).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("POLARS_MAX_THREADS", "2")

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _baseline import export_revision

from linkqa_pipelines.core.difficulty import (
    DifficultyTargets,
    mix_report,
    requests_vs_scores,
    seed_levels,
    select_to_target,
)
from linkqa_pipelines.core.difficulty.composition import conjunction_level, level_expr
from linkqa_pipelines.core.lake import Lake
from linkqa_pipelines.core.release import verification_screen
from linkqa_pipelines.defs.seeds.config import PipelineInputs

MIN_ITEMS = 50
TOLERANCE = 5.0  # percentage points
MAX_SEEDS = 5  # SynthesisConfig.max_seeds: the walk seeds a composition takes
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def run_pipeline(
    home: Path, seeds: list[Path], paths: int, targets: str, package: Path | None = None, model: bool = False
) -> None:
    """`linkqa run` into `home` (offline, or with the LINKQA_LLM_* model when `model`), aiming at
    `targets` (a YAML, or empty: the packaged one); `package`: a folder holding another
    `linkqa_pipelines` (a baseline revision) to run instead."""
    cmd = [sys.executable, "-c", "import sys; from linkqa_pipelines.cli import main; sys.exit(main())", "run"]
    cmd += ["--home", str(home), "--paths", str(paths), "--seeds", *map(str, seeds)]
    env = {k: v for k, v in os.environ.items() if model or not k.startswith("LINKQA_LLM_")}
    if targets:
        env["LINKQA_DIFFICULTY_TARGETS"] = str(Path(targets).resolve())
    if package is not None:
        env["PYTHONPATH"] = str(package)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, cwd=home.parent)
    if done.returncode not in (0, 4):  # 4: the release is empty (decontamination), still measurable
        raise SystemExit(f"linkqa run failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def pair_ceiling(level: int) -> float:
    """The highest seed level two equal parts can have for their composition to score `level` or
    lower (bisection on `conjunction_level`)."""
    lo, hi = 1.0, 5.0
    for _ in range(30):
        mid = (lo + hi) / 2
        got = pl.select(level_expr(conjunction_level(pl.lit([mid, mid], pl.List(pl.Float64))))).item()
        lo, hi = (mid, hi) if got <= level else (lo, mid)
    return lo


def seed_bounds(lake: Lake) -> pl.DataFrame:
    """Per discipline: its seeds and how many are easy enough for a two-part composition at level
    1 and at level 2; and the paths level-aware synthesis narrowed to their easiest seeds."""
    seeds = lake.read("seed_sources")
    levels = seed_levels(seeds).join(seeds.select("seed_id", "discipline"), on="seed_id")
    one, two = pair_ceiling(1), pair_ceiling(2)
    easy = levels.group_by("discipline").agg(
        seeds=pl.len(),
        **{
            f"easy seeds L1 (<= {one:.2f})": (pl.col("seed_level") <= one).sum(),
            f"L2 (<= {two:.2f})": (pl.col("seed_level") <= two).sum(),
        },
    )
    composed = lake.read("synthesized_qa").select("path_id", "seed_ids").unique("path_id")
    walked = lake.read("walk_paths").select("path_id", "discipline", walked="seed_ids")
    narrowed = (
        walked.join(composed, on="path_id")
        .group_by("discipline")
        .agg(narrowed=(pl.col("seed_ids") != pl.col("walked").list.head(MAX_SEEDS)).sum())
    )
    return easy.join(narrowed, on="discipline", how="left")


def discipline_rows(scored: pl.DataFrame, targets: DifficultyTargets) -> pl.DataFrame:
    """One row per discipline: supply and selection shares by level against the target."""
    rows: list[dict[str, object]] = []
    for discipline in sorted(set(scored["discipline"].to_list())):
        pool = scored.filter(pl.col("discipline") == discipline)
        target = targets.for_discipline(discipline)
        selected, report = select_to_target(pool, target)
        supply = {lv: pool.filter(pl.col("difficulty") == lv).height / max(pool.height, 1) for lv in range(1, 6)}
        gaps = [100 * (s - t) for s, t in zip(report["selected_share"], report["target_share"], strict=True)]
        rows.append(
            {
                "discipline": discipline,
                "supply": pool.height,
                "selected": selected.height,
                "target %": "/".join(f"{100 * target[lv]:.0f}" for lv in range(1, 6)),
                "supply %": "/".join(f"{100 * supply[lv]:.0f}" for lv in range(1, 6)),
                "selected %": "/".join(f"{100 * s:.0f}" for s in report["selected_share"]),
                "max gap": max(abs(g) for g in gaps) if selected.height else None,
                "goal met": (max(abs(g) for g in gaps) <= TOLERANCE) if selected.height >= MIN_ITEMS else None,
                "short levels (cause)": "; ".join(
                    f"L{lv} {d} short: {c}"
                    for lv, d, c in report.select("difficulty", "deficit", "cause").iter_rows()
                    if d > 0
                ),
            }
        )
    return pl.DataFrame(rows)


def measure(home: Path, targets: DifficultyTargets) -> pl.DataFrame:
    """Print one run's tables (see module); returns its per-discipline rows."""
    lake = Lake(home)
    scored, _ = verification_screen(lake.read("difficulty_scored_qa"))
    table = discipline_rows(scored, targets).join(seed_bounds(lake), on="discipline", how="left")
    print(
        f"\n### achieved vs target per discipline (levels 1/2/3/4/5, %); goal: every discipline with >= "
        f"{MIN_ITEMS} selected items within +-{TOLERANCE:.0f} points"
    )
    print(table.drop("short levels (cause)"))
    counted = table.filter(pl.col("goal met").is_not_null())
    print(
        f"disciplines with >= {MIN_ITEMS} selected: {counted.height} of {table.height}; goal met in "
        f"{counted['goal met'].cast(pl.Int64).sum()}; items selected {int(table['selected'].sum())} of "
        f"{int(table['supply'].sum())} scored"
    )
    print("\n### deficits and their causes")
    for d, causes in table.select("discipline", "short levels (cause)").iter_rows():
        if causes:
            print(f"- {d}: {causes}")
    asked = requests_vs_scores(scored)
    if asked.height:
        print("\n### levels asked of the model -> how its items scored (all disciplines)")
        print(asked)
    supply = scored.group_by("difficulty").len().sort("difficulty")
    print(f"\nsupply by level, all disciplines: {dict(supply.iter_rows())}")
    rejected = lake.read("difficulty_rejected_variants")
    why = rejected.group_by(reason=pl.col("reject_reason").str.extract(r"^(\w+ \w+)")).len()
    variants = scored.filter(pl.col("enhanced_from").is_not_null()).height
    print(f"harder variants kept: {variants}; rejected: {rejected.height} {dict(why.iter_rows())}")
    screened = lake.read("screened_qa_rejects").group_by("reason").len().sort("reason")
    print(f"\n### the run's screening (all disciplines): rejects by reason {dict(screened.iter_rows())}")
    released = lake.read("linkqa_dataset")
    print(f"released items: {released.height}")
    if released.height:
        print(mix_report(released, targets))
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, default=None, help="a finished run's LINKQA_HOME (default: run one)")
    parser.add_argument("--baseline-home", type=Path, default=None, help="a finished baseline run's LINKQA_HOME")
    parser.add_argument("--baseline-ref", default="", help="git revision to run as the baseline (git archive)")
    parser.add_argument("--seeds", type=Path, nargs="+", default=[DATA / "mmlu" / "test", DATA / "math" / "test.jsonl"])
    parser.add_argument("--paths", type=int, default=600, help="walk paths per discipline when running")
    parser.add_argument("--targets", default="", help="difficulty targets YAML (default: packaged)")
    parser.add_argument("--model", action="store_true", help="run with the LINKQA_LLM_* model, not offline")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="difficulty_mix_") as tmp:
        home, base = args.home, args.baseline_home
        if base is None and args.baseline_ref:
            base = Path(tmp) / "baseline_home"
            print(f"running the baseline ({args.baseline_ref}, git archive) on {[str(s) for s in args.seeds]} ...")
            package = export_revision(args.baseline_ref, Path(tmp) / "baseline", "linkqa_pipelines")
            run_pipeline(base, args.seeds, args.paths, args.targets, package, args.model)
        if home is None:
            home = Path(tmp) / "home"
            how = "with the configured model" if args.model else "offline"
            print(f"running the pipeline {how} on {[str(s) for s in args.seeds]}, {args.paths} paths ...")
            run_pipeline(home, args.seeds, args.paths, args.targets, model=args.model)
        targets = PipelineInputs(difficulty_targets=args.targets).targets()
        with pl.Config(tbl_rows=-1, tbl_cols=-1, fmt_str_lengths=400, tbl_width_chars=400):
            print("\n## today")
            today = measure(home, targets)
            if base is None:
                return
            print("\n## baseline")
            before = measure(base, targets)
            keep = ["discipline", "selected", "max gap", "goal met", "selected %"]
            side = before.select(keep).join(today.select(keep), on="discipline", suffix=" today")
            print("\n## baseline -> today")
            print(side)
            for name, t in (("baseline", before), ("today", today)):
                met = t.filter(pl.col("goal met").is_not_null())
                n_met = met["goal met"].cast(pl.Int64).sum()
                print(f"{name}: goal met in {n_met} of {met.height} disciplines with >= {MIN_ITEMS}")


if __name__ == "__main__":
    main()
