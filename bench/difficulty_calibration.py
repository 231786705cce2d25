"""Benchmark: how well each difficulty method follows human difficulty labels.

Run by hand:  .venv/bin/python bench/difficulty_calibration.py [--data ../shared/data] [--refit]
              [--judge-sample 100]

Labelled sets (`reference_labels`): MATH test levels 1-5; MMLU test grade by subject
(elementary 2 < high_school 3 < college/professional 4); CMMLU dev grade where the subject names
one. GSM8K (grade school, no label) is shown as a level distribution.

Methods, each with the labels hidden from it (subject, source and ref_difficulty blanked):
- today / seeds: the v1 surface heuristic on the seed as a one-part item (the v1 calibrated
  estimator's figures are in the README's difficulty section);
- new / seeds: the calibrated estimator, cross-validated — 5 folds by item, and leave one subject
  out (a subject never in its own training fold: MATH type, MMLU/CMMLU subject); held-out predictions only;
- composition: items composed (by the real offline composer) from 2-3 MATH seeds of known level;
  today's surface heuristic vs the new composition rule on held-out seed estimates, against the
  hardest and the mean seed level, plus how often an all-easy composition (parts <= 2) lands >= 4;
- judge and solver check when LINKQA_LLM_BACKEND names a model backend (LINKQA_LLM_BASE_URL,
  LINKQA_LLM_MODEL, key in LINKQA_LLM_API_KEY): on a sample of each labelled set, the judge's
  level, the solver level from k keyless answers and their combination for several judge weights
  (`model_bench`). Tested against the loopback fake server only: no real model has been run.

Spearman rho and a label x predicted-level confusion table per method and set. `--refit` fits the
weights on every labelled item and writes data/difficulty_weights.yaml (or `--weights-out`).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

os.environ.setdefault("POLARS_MAX_THREADS", "2")

import numpy as np
import numpy.typing as npt
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from linkqa_pipelines.core.difficulty import JUDGE_TASK, build_judge_requests, judge_frame, solver_answers
from linkqa_pipelines.core.difficulty.calibrated import (
    CALIBRATED_MODEL,
    RIDGE,
    CalibratedWeights,
    balanced_weights,
    fit_weights,
    packaged_weights_path,
    reference_labels,
    text_features,
)
from linkqa_pipelines.core.difficulty.composition import conjunction_level
from linkqa_pipelines.core.difficulty.heuristic import surface_difficulty
from linkqa_pipelines.core.difficulty.judge import SOLVER_PRIOR
from linkqa_pipelines.core.llm import LLMClient, LLMSettings, TaskOutcome
from linkqa_pipelines.core.seeds import iter_source_files, normalise_seeds, read_source
from linkqa_pipelines.core.synthesis import offline_synthesis
from linkqa_pipelines.core.verification import VERIFY_TASK, build_verification_requests, canonical
from linkqa_pipelines.taxonomy import load_taxonomy

SETS = ("math_level", "mmlu_grade", "cmmlu_grade")
FOLDS = 5


def load_seeds(data: Path) -> pl.DataFrame:
    files = iter_source_files([data / "math" / "test.jsonl", data / "mmlu" / "test", data / "cmmlu" / "dev"])
    files += iter_source_files([data / "gsm8k" / "test.jsonl"])
    raw = pl.concat([read_source(f).rows for f in files])
    return normalise_seeds(raw, load_taxonomy().map_subjects).seeds


def hidden(seeds: pl.DataFrame) -> pl.DataFrame:
    """The seeds with everything that names their label blanked."""
    return seeds.with_columns(
        subject=pl.lit(None, pl.String), adapter=pl.lit("generic"), source=pl.lit(""), ref_difficulty=pl.lit(None)
    )


def spearman(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    ra = pl.Series(np.asarray(a, dtype=np.float64)).rank("average").to_numpy()
    rb = pl.Series(np.asarray(b, dtype=np.float64)).rank("average").to_numpy()
    return float(np.corrcoef(ra, rb)[0, 1]) if ra.std() > 0 and rb.std() > 0 else float("nan")


def confusion(label: npt.ArrayLike, level: npt.ArrayLike) -> str:
    frame = pl.DataFrame({"label": np.asarray(label, dtype=np.float64), "level": np.asarray(level, dtype=np.int64)})
    table = (
        frame.group_by("label", "level")
        .len()
        .pivot("level", index="label", values="len", sort_columns=True)
        .sort("label")
        .fill_null(0)
    )
    cols = ["label", *[str(lv) for lv in range(1, 6) if str(lv) in table.columns]]
    lines = ["      label | " + " ".join(f"{c:>5}" for c in cols[1:])]
    lines += [f"{r[0]:>11} | " + " ".join(f"{v:>5}" for v in r[1:]) for r in table.select(cols).iter_rows()]
    return "\n".join(lines)


def folds(keys: pl.Series) -> npt.NDArray[np.int64]:
    return np.array([int(hashlib.sha1(k.encode()).hexdigest(), 16) % FOLDS for k in keys], dtype=np.int64)


def by_subject(labelled: pl.DataFrame) -> npt.NDArray[np.int64]:
    """One fold per (label set, subject): every item is predicted by weights fit without any item
    of its subject — MATH's seven types, MMLU's and CMMLU's subjects — which is what an unseen
    subject meets."""
    return labelled.select(pl.struct("label_set", "subject").rank("dense") - 1).to_series().to_numpy().astype(np.int64)


def cross_validated(
    features: pl.DataFrame, labels: pl.DataFrame, fold: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """Held-out predictions: each item predicted by weights fit without its fold."""
    y = labels["label"].to_numpy().astype(np.float64)
    w = balanced_weights(labels["label_set"], labels["label"])
    out = np.empty(len(y))
    for k in np.unique(fold).tolist():
        train = pl.Series(fold != k)
        model = fit_weights(features.filter(train), y[fold != k], w[fold != k])
        out[fold == k] = model.predict(features.filter(~train))
    return out


def report(name: str, labels: pl.DataFrame, value: npt.NDArray[np.float64], level: npt.NDArray[np.int64]) -> None:
    print(f"\n### {name}")
    for s in SETS:
        m = (labels["label_set"] == s).to_numpy()
        if m.sum() < 2:
            continue
        y = labels["label"].to_numpy()[m]
        print(f"{s}: n={m.sum()}  spearman rho={spearman(value[m], y):+.3f}")
        print(confusion(y, level[m]))


def to_level(value: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    return np.clip(np.floor(value + 0.5), 1, 5).astype(np.int64)


def compose_items(math: pl.DataFrame, n_items: int, rng: np.random.Generator) -> tuple[pl.DataFrame, list[list[int]]]:
    """Offline compositions of 2-3 random MATH seeds (indices into `math`), as SYNTH_QA-like rows."""
    picks = [rng.choice(math.height, size=int(rng.integers(2, 4)), replace=False).tolist() for _ in range(n_items)]
    payloads = [
        {
            "path_id": f"bench{i}",
            "language": "en",
            "qa_type": "free_form",
            "kp_names": [f"kp{j}" for j in range(len(p))],
            "seeds": [math.row(j, named=True) for j in p],
            "n_choices": 4,
        }
        for i, p in enumerate(picks)
    ]
    answers = [reply["items"][0] for reply in offline_synthesis(payloads)]
    qa = pl.DataFrame(
        {
            "qa_id": [f"bench{i}" for i in range(n_items)],
            "question": [a["question"] for a in answers],
            "choices": [None] * n_items,
            "rationale": [a["rationale"] for a in answers],
            "kp_ids": [[f"k{j}" for j in range(len(p))] for p in picks],
            "seed_ids": [[math["seed_id"][j] for j in p] for p in picks],
            "model": ["offline-template-v1"] * n_items,
        },
        schema_overrides={"choices": pl.List(pl.String)},
    )
    return qa, picks


def composition_bench(math: pl.DataFrame, held_out: npt.NDArray[np.float64], rng: np.random.Generator) -> None:
    """Compose MATH seeds of known level; compare today's score and the new rule against them."""
    qa, picks = compose_items(math, 1500, rng)
    human = math["ref_difficulty"].cast(pl.Float64).to_numpy()
    hardest = np.array([human[p].max() for p in picks])
    mean = np.array([human[p].mean() for p in picks])
    easy = np.array([human[p].max() <= 2 for p in picks])
    today = surface_difficulty(qa)["difficulty_raw"].to_numpy()  # labels hidden: no seed reference blend
    parts = pl.DataFrame({"levels": [held_out[p].tolist() for p in picks]}, schema={"levels": pl.List(pl.Float64)})
    new = parts.select(conjunction_level(pl.col("levels"))).to_series().to_numpy()
    print("\n### composition: offline items composed from 2-3 MATH seeds (labels hidden from both)")
    print(f"items={qa.height}  parts: {np.bincount([len(p) for p in picks])[2:].tolist()} (2, 3)")
    for name, value in (("today surface heuristic", today), (f"new {CALIBRATED_MODEL} + conjunction", new)):
        lv = to_level(value)
        print(
            f"{name:>38}: rho vs hardest part {spearman(value, hardest):+.3f}, "
            f"vs mean part {spearman(value, mean):+.3f};"
            f" level shares {np.bincount(lv, minlength=6)[1:] / len(lv)}; all-easy items at >= 4: "
            f"{(lv[easy] >= 4).mean():.0%} of {easy.sum()}"
        )
    print("confusion of the new rule against the hardest part's human level:")
    print(confusion(hardest, to_level(new)))


def model_items(seeds: pl.DataFrame, labels: pl.DataFrame, sample: int) -> pl.DataFrame:
    """`sample` labelled seeds per label of each label set as QA rows for the judge and the solver (labels hidden
    from both: subject, source and ref_difficulty blanked; label and label_set ride along)."""
    picked = labels.filter(pl.int_range(pl.len()).shuffle(seed=0).over("label_set", "label") < sample)
    return (
        hidden(seeds)
        .join(picked, on="seed_id")
        .select(
            qa_id="seed_id",
            discipline=pl.lit("general"),
            language="language",
            question="question",
            qa_type="qa_type",
            choices="choices",
            answer="answer",
            rationale="explanation",
            model=pl.lit("seed"),
            seed_ids=pl.concat_list("seed_id"),
            label_set="label_set",
            label="label",
        )
        .sort("qa_id")
    )


def solver_votes(items: pl.DataFrame, outcome: TaskOutcome, k: int) -> pl.DataFrame:
    """The verification stage's vote rows (qa_id, round, agrees) from k keyless answers per item:
    an answer agrees when it names the key (`canonical`); no answer is an abstention (null)."""
    answers = outcome.answers()
    rows: list[dict[str, Any]] = []
    for j, item in enumerate(items.iter_rows(named=True)):
        key = canonical(item, item["answer"])
        for answer in answers[j * k : (j + 1) * k]:
            given = answer.get("answer") if answer else None
            agrees = None if not given or not str(given).strip() else canonical(item, str(given)) == key
            rows.append({"qa_id": item["qa_id"], "round": 0, "agrees": agrees})
    return pl.DataFrame(rows, schema={"qa_id": pl.String, "round": pl.Int64, "agrees": pl.Boolean})


def model_bench(seeds: pl.DataFrame, labels: pl.DataFrame, sample: int, k: int, env: Mapping[str, str]) -> None:
    """The configured model (LINKQA_LLM_BACKEND, LINKQA_LLM_BASE_URL, LINKQA_LLM_MODEL, key from
    LINKQA_LLM_API_KEY) as judge and as solver (k keyless answers per item, as the verification
    stage asks) on `sample` items per label; rho of the judge's level, the solver level
    (1 + 4 x error rate) and their combination (`combine_with_solver`) for several weights of the
    judge (SOLVER_PRIOR, in answers), so the rule's weight is chosen on labels."""
    home = env.get("LINKQA_HOME", "").strip()
    settings = LLMSettings.from_env(env, home=Path(home) if home else None)  # the response cache lives there
    if settings.backend == "offline" or sample <= 0:
        print("\n### judge / solver check: not run (no model configured: LINKQA_LLM_BACKEND is offline)")
        return
    client = LLMClient(settings)
    items = model_items(seeds, labels, sample)
    judged = JUDGE_TASK.run(client, None, build_judge_requests(items))
    voted = VERIFY_TASK.run(client, None, build_verification_requests(items.to_dicts(), k))
    solver = solver_answers(solver_votes(items, voted, k))
    scored = judge_frame(items, judged.payloads(), judged.answers(), judged.results, solver)
    scored = scored.filter(pl.col("difficulty_judge").is_not_null() & pl.col("solver_k").is_not_null())
    print(
        f"\n### model {settings.model} at {settings.base_url}: {scored.height} of {items.height} items judged and "
        f"solved (k={k}; judge failures {len(judged.batch.failures)}, solver failures {len(voted.batch.failures)})"
    )
    if scored.height < 2:
        return
    judge = scored["difficulty_judge"].cast(pl.Float64).to_numpy()
    solver_level = 1 + 4 * scored["solver_error_rate"].to_numpy()
    report("judge level alone", scored, judge, to_level(judge))
    report("solver level alone (1 + 4 x error rate)", scored, solver_level, to_level(solver_level))
    n = scored["solver_k"].cast(pl.Float64).to_numpy()
    for prior in (1, 2, SOLVER_PRIOR, 8):
        combined = (prior * judge + n * solver_level) / (prior + n)
        shipped = " (shipped)" if prior == SOLVER_PRIOR else ""
        report(f"judge + solver, judge weighs {prior} answers{shipped}", scored, combined, to_level(combined))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--refit", action="store_true", help="fit on all labels and write the weights file")
    parser.add_argument("--weights-out", type=Path, default=None, help="where --refit writes (default: packaged)")
    parser.add_argument("--judge-sample", type=int, default=50, help="items per label (grade or level) for the model")
    parser.add_argument("--solver-k", type=int, default=5, help="keyless solver answers per item")
    args = parser.parse_args(argv)

    seeds = load_seeds(args.data)
    labels = reference_labels(seeds)
    labelled = seeds.join(labels, on="seed_id").sort("seed_id")
    labels = labelled.select("seed_id", "label_set", "label")
    blind = hidden(labelled)
    features = text_features(blind)
    print(f"labelled seeds: {dict(labels.group_by('label_set').len().sort('label_set').iter_rows())}")

    def show(name: str, value: npt.NDArray[np.float64], level: npt.NDArray[np.int64] | None = None) -> None:
        report(name, labels, value, to_level(value) if level is None else level)

    one_part = blind.select(
        "question", "choices", qa_id="seed_id", kp_ids=pl.concat_list(pl.lit("k")), seed_ids=pl.concat_list("seed_id")
    )
    show(
        "today: surface heuristic v1 (difficulty stage), one KP",
        surface_difficulty(one_part)["difficulty_raw"].to_numpy(),
    )

    by_item = cross_validated(features, labels, folds(labels["seed_id"]))
    show(f"new: {CALIBRATED_MODEL}, held out (5 folds by item)", by_item)
    show(
        f"new: {CALIBRATED_MODEL}, held out (leave one subject out: MATH type, MMLU/CMMLU subject)",
        cross_validated(features, labels, by_subject(labelled)),
    )

    gsm = hidden(seeds.filter(pl.col("adapter") == "gsm8k_jsonl"))
    if gsm.height:
        fit_all = fit_weights(
            features, labels["label"].to_numpy(), balanced_weights(labels["label_set"], labels["label"])
        )
        levels = to_level(fit_all.predict(text_features(gsm)))
        math_levels = to_level(by_item[(labels["label_set"] == "math_level").to_numpy()])
        print(
            f"\nGSM8K (grade school, unlabelled) level shares by the new estimator: "
            f"{np.round(np.bincount(levels, minlength=6)[1:] / len(levels), 3)}; mean {levels.mean():.2f} "
            f"vs MATH held out {math_levels.mean():.2f}"
        )

    math_mask = (labels["label_set"] == "math_level").to_numpy()
    composition_bench(labelled.filter(pl.Series(math_mask)), by_item[math_mask], np.random.default_rng(0))
    model_bench(seeds, labels, args.judge_sample, args.solver_k, os.environ)

    if args.refit:
        weights = refit(features, labels)
        out = args.weights_out or packaged_weights_path()
        out.write_text(_HEADER + weights.to_yaml(), encoding="utf-8")
        print(f"\nwrote {out}")


def refit(features: pl.DataFrame, labels: pl.DataFrame) -> CalibratedWeights:
    counts = ", ".join(f"{s} {n}" for s, n in labels.group_by("label_set").len().sort("label_set").iter_rows())
    return fit_weights(
        features,
        labels["label"].to_numpy().astype(np.float64),
        balanced_weights(labels["label_set"], labels["label"]),
        fitted_on=(
            f"ridge (lambda {RIDGE} per unit weight) per regime on {labels.height} labelled items ({counts}); "
            "each label set weighs its size, split equally over its labels; intercept fixed at the scale midpoint; "
            "without a solution: no number/formula features (subject proxies); vocabulary rarity from wordfreq's "
            "general lists; subject/source/ref_difficulty hidden; bench/difficulty_calibration.py --refit"
        ),
    )


_HEADER = (
    "# Weights of the calibrated offline difficulty estimator (core/difficulty/calibrated.py).\n"
    "# Written by `bench/difficulty_calibration.py --refit` from ../shared/data: MATH test levels 1-5, MMLU test\n"
    "# and CMMLU dev grade by subject (elementary 2, high school 3, college/professional 4). Do not edit by hand.\n"
)


if __name__ == "__main__":
    main()
