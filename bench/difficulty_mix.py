"""Benchmark: does a real-seed run reach its difficulty targets in every discipline?

Run by hand:  .venv/bin/python bench/difficulty_mix.py [--home DIR | --paths 600]
              [--seeds ../shared/data/mmlu/test ../shared/data/math/test.jsonl] [--targets YAML]

Without --home it runs the whole offline pipeline (`linkqa run --seeds ... --paths N`) into a
temporary home (about 7 minutes on 2 cores for MMLU test + MATH test, 600 paths per discipline);
with --home it reads a finished run's lake. Issue 12's goal: achieved level shares within +-5
points of target in every discipline with at least 50 items.

Per discipline it shows the scored supply (difficulty_scored_qa after the verification keep rule:
the mix with no selection) and the selection the dataset stage makes from it (`select_to_target`,
the same call as `linkqa_dataset`) against the target, the largest gap, and every short level with
its cause. The selection is measured on the screened-in supply *before* dedup and
decontamination, because seeds taken from benchmark test splits (the only human-labelled ones
here) make decontamination remove every composition that quotes them; the run's own screening
counts and released mix (`mix_report`) are printed after it.
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
from linkqa_pipelines.core.difficulty import DifficultyTargets, mix_report, select_to_target
from linkqa_pipelines.core.lake import Lake
from linkqa_pipelines.core.release import verification_screen
from linkqa_pipelines.defs.difficulty.config import difficulty_targets

MIN_ITEMS = 50
TOLERANCE = 5.0  # percentage points
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def run_pipeline(home: Path, seeds: list[Path], paths: int) -> None:
    cmd = [str(Path(sys.executable).with_name("linkqa")), "run", "--home", str(home), "--paths", str(paths)]
    cmd += ["--seeds", *map(str, seeds)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINKQA_LLM_")}  # offline: no model
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode not in (0, 4):  # 4: the release is empty (decontamination), still measurable
        raise SystemExit(f"linkqa run failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, default=None, help="a finished run's LINKQA_HOME (default: run one)")
    parser.add_argument("--seeds", type=Path, nargs="+", default=[DATA / "mmlu" / "test", DATA / "math" / "test.jsonl"])
    parser.add_argument("--paths", type=int, default=600, help="walk paths per discipline when running")
    parser.add_argument("--targets", default="", help="difficulty targets YAML (default: packaged)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="difficulty_mix_") as tmp:
        home = args.home
        if home is None:
            home = Path(tmp)
            print(f"running the offline pipeline on {[str(s) for s in args.seeds]}, {args.paths} paths ...")
            run_pipeline(home, args.seeds, args.paths)
        lake = Lake(home)
        targets = difficulty_targets(args.targets)
        scored, _ = verification_screen(lake.read("difficulty_scored_qa"))
        table = discipline_rows(scored, targets)
        with pl.Config(tbl_rows=-1, tbl_cols=-1, fmt_str_lengths=400, tbl_width_chars=400):
            print(
                f"\n### achieved vs target per discipline (levels 1/2/3/4/5, %); goal: every discipline with >= "
                f"{MIN_ITEMS} selected items within +-{TOLERANCE:.0f} points"
            )
            print(table.drop("short levels (cause)"))
            counted = table.filter(pl.col("goal met").is_not_null())
            print(
                f"disciplines with >= {MIN_ITEMS} selected: {counted.height} of {table.height}; goal met in "
                f"{int(counted['goal met'].sum())}; items selected {int(table['selected'].sum())} of "
                f"{int(table['supply'].sum())} scored"
            )
            print("\n### deficits and their causes")
            for d, causes in table.select("discipline", "short levels (cause)").iter_rows():
                if causes:
                    print(f"- {d}: {causes}")
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


if __name__ == "__main__":
    main()
