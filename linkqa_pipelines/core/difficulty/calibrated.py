"""The calibrated offline difficulty estimator: a linear model over text features of an item,
fit to human difficulty labels, no LLM.

It reads only the item's text — question, choices and worked solution — never its subject,
source file or `ref_difficulty` (the bench measures it with those hidden; a pipeline that has a
human label may prefer it, see `seed_levels`). The features (`FEATURES`, computed columnar by
`text_features`) are: length of the question, the choices and the solution; reasoning steps and
equations in the solution; sentence count and length, clauses; numbers, operations, formulas and
advanced notation; option structure (numeric options, length spread), negation and statement
lists; vocabulary rarity from a general word-frequency list (wordfreq, shipped with the package:
share of rare words or Han characters and mean Zipf frequency) rather than any subject's words.
Without a solution (MMLU-style items) the number/formula features are left out: there they name
the subject more than its difficulty. The weights live in `data/difficulty_weights.yaml`, fit by
ridge regression (`fit_weights`, intercept fixed at the scale midpoint) to MATH levels 1-5 and to
the MMLU/CMMLU grade a subject name states (elementary 2, high school 3, college and professional
4), each source weighted by its size and balanced over its labels;
`bench/difficulty_calibration.py --refit` refits and rewrites the file (the file records how). A
raw prediction is stretched to the label spread the fit saw (`scale`) and rounded to a 1-5 level.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import polars as pl
import wordfreq  # pyright: ignore[reportMissingTypeStubs]
import yaml

CALIBRATED_MODEL = "offline-calibrated-v2"
MIDPOINT = 3.0
"""Every model's intercept and centre: the middle of the 1-5 scale, not the mean label of the
fit. A fitted intercept moves against whichever subjects the fit did not see (hold out a
college subject and the mean label drops), which is what made v1 fail on unseen subjects."""
WEIGHTS_FILE = "difficulty_weights.yaml"

_CJK = r"\p{Han}"
_LATIN_WORD = r"[A-Za-z]{2,}"
_LATEX_CMD = r"\\[A-Za-z]+"
_ADVANCED = (
    r"\\(?:int|iint|oint|sum|prod|lim|binom|log|ln|sin|cos|tan|sec|csc|cot|arcsin|arccos|arctan|infty|"
    r"matrix|pmatrix|bmatrix|det|vec|partial|nabla|omega|theta|phi|alpha|beta|lfloor|lceil|equiv|pmod|mod)\b"
    r"|\^\{|[∫∑∏√∞∂]|\b(?:log|sin|cos|tan|mod|gcd|lcm)\b"
)
_NUMBER = r"\d+(?:[.,]\d+)*"
_STEP = r"\n|[.;。；](?:\s|$)|<<|\\\\"
_SENTENCE = r"[.?!。？！](?:\s|$)"
_OPERATION = r"[+\-*/^×÷=<>≤≥]|\\(?:frac|cdot|times|div|sqrt|le|ge|leq|geq)\b"
_NEGATION = r"\b(?:NOT|EXCEPT|LEAST|false|incorrect)\b|不正确|错误|不是|不属于"
_STATEMENTS = r"(?m)^\s*(?:I{1,3}V?|IV|Statement \d)[.:)]|Statement \d\s*\|"
_RARE_ZIPF = 2.0
"""A Latin word below Zipf 2 (under 1 in 10 million words of general text) counts as rare."""
_RARE_HAN_ZIPF = 3.0
"""A Han character below Zipf 3 in the general Chinese list counts as rare."""

FEATURES: tuple[str, ...] = (
    "q_len",
    "choice_len",
    "sol_len",
    "has_sol",
    "sol_steps",
    "sol_equations",
    "sentences",
    "sentence_len",
    "clauses",
    "numbers",
    "operations",
    "latex",
    "advanced",
    "numeric_options",
    "option_spread",
    "negation",
    "statements",
    "word_len",
    "rare_words",
    "vocab_zipf",
)

_SUBJECT_PROXIES = ("numbers", "operations", "latex", "advanced", "numeric_options")
"""Features that, without a worked solution, mostly say *which subject* an item is from (MMLU's
only elementary subject is mathematics, so numbers there mean "easy"); left out of the
without-solution model so that it transfers to subjects it never saw."""

REGIME_FEATURES: dict[str, tuple[str, ...]] = {
    "with_solution": FEATURES,
    "without_solution": tuple(f for f in FEATURES if f not in _SUBJECT_PROXIES and not f.startswith("sol")),
}


def _units(text: pl.Expr) -> pl.Expr:
    """Word-sized units: Latin/digit runs plus Han characters at 2/3 of a word each."""
    return text.str.count_matches(r"[A-Za-z0-9]+") + text.str.count_matches(_CJK) * (2.0 / 3.0)


@lru_cache(maxsize=1)
def _zipf_table() -> pl.DataFrame:
    """(token, zipf) from wordfreq's general-purpose frequency lists, shipped with the package
    (no download): lower-case Latin words of English and single Han characters of Chinese.
    Zipf = log10 of frequency per billion words; a common word is ~5-7, a rare one < 2."""
    frames = [
        pl.DataFrame(
            {"token": list(freqs), "zipf": np.log10(np.fromiter(freqs.values(), dtype=np.float64) * 1e9)},
            schema={"token": pl.String, "zipf": pl.Float64},
        ).filter(pl.col("token").str.contains(pattern))
        for freqs, pattern in (
            (wordfreq.get_frequency_dict("en"), r"^[a-z]{2,}$"),
            (wordfreq.get_frequency_dict("zh"), rf"^{_CJK}$"),
        )
    ]
    return pl.concat(frames).unique("token", keep="first")


@lru_cache(maxsize=1)
def _zipf_lookup() -> dict[str, float]:
    """`_zipf_table` as a dict, for looking up a batch's few distinct tokens."""
    table = _zipf_table()
    return dict(zip(table["token"].to_list(), table["zipf"].to_list(), strict=True))


def _vocabulary(text: pl.Expr, frame: pl.DataFrame) -> pl.DataFrame:
    """(rare_words, vocab_zipf) per row: the share of rare tokens and the mean Zipf frequency of
    the text's Latin words and Han characters (a token missing from the list counts as Zipf 0).
    Rarity is read from general text, not from any subject's vocabulary."""
    tokens = (
        frame.select(row=pl.int_range(pl.len()), token=text.str.to_lowercase().str.extract_all(rf"[a-z]{{2,}}|{_CJK}"))
        .explode("token")
        .drop_nulls("token")
    )
    # Look the batch's distinct tokens up in a dict, then join that small table: a join against
    # the whole frequency list rebuilt its hash table on every call (~25 ms, even for a few rows).
    lookup = _zipf_lookup()
    distinct = tokens["token"].unique()
    known = pl.DataFrame(
        {"token": distinct, "zipf": [lookup.get(t, 0.0) for t in distinct.to_list()]},
        schema={"token": pl.String, "zipf": pl.Float64},
    )
    tokens = tokens.join(known, on="token", how="left")
    han = pl.col("token").str.contains(rf"^{_CJK}$")
    rare = pl.when(han).then(pl.col("zipf") < _RARE_HAN_ZIPF).otherwise(pl.col("zipf") < _RARE_ZIPF)
    per_row = tokens.group_by("row").agg(rare_words=rare.mean(), vocab_zipf=pl.col("zipf").mean())
    return (
        pl.DataFrame({"row": np.arange(frame.height, dtype=np.int64)})
        .join(per_row, on="row", how="left")
        .sort("row")
        .select(pl.col("rare_words", "vocab_zipf").fill_null(0.0))
    )


def text_features(frame: pl.DataFrame, *, solution: str = "explanation") -> pl.DataFrame:
    """The `FEATURES` columns (Float64) of a frame with question, optional choices (list) and an
    optional worked-solution column named `solution` (seeds: explanation; QA: rationale)."""
    cols = frame.columns
    has_choices = "choices" in cols
    choices = pl.col("choices").list.join(" ").fill_null("") if has_choices else pl.lit("", dtype=pl.String)
    n_choices = pl.col("choices").list.len().fill_null(0) if has_choices else pl.lit(0)
    sol = pl.col(solution).fill_null("") if solution in cols else pl.lit("", dtype=pl.String)
    question = pl.col("question").fill_null("")
    text = pl.concat_str([question, choices], separator=" ")
    everything = pl.concat_str([text, sol], separator=" ")
    words = text.str.extract_all(_LATIN_WORD)
    n_words = words.list.len()
    sentences = question.str.count_matches(_SENTENCE)
    log1p = pl.Expr.log1p
    options = (
        (
            pl.col("choices").list.eval(pl.element().str.contains(r"^[\s$\\(\-]*[\d.]")).list.mean().fill_null(0.0),
            pl.col("choices").list.eval(pl.element().str.len_chars().log1p()).list.std().fill_null(0.0),
        )
        if has_choices
        else (pl.lit(0.0), pl.lit(0.0))
    )
    surface = frame.select(
        q_len=log1p(_units(question)),
        choice_len=log1p(_units(choices) / pl.max_horizontal(n_choices, pl.lit(1))),
        sol_len=log1p(_units(sol)),
        has_sol=(sol.str.len_chars() > 0).cast(pl.Float64),
        sol_steps=log1p(sol.str.count_matches(_STEP)),
        sol_equations=log1p(sol.str.count_matches("=")),
        sentences=log1p(sentences),
        sentence_len=log1p(_units(question) / (sentences + 1)),
        clauses=log1p(question.str.count_matches(r"[,;，；、]")),
        numbers=log1p(text.str.count_matches(_NUMBER)),
        operations=log1p(everything.str.count_matches(_OPERATION)),
        latex=log1p(everything.str.count_matches(_LATEX_CMD)),
        advanced=log1p(everything.str.count_matches(_ADVANCED)),
        numeric_options=options[0],
        option_spread=options[1],
        negation=log1p(text.str.count_matches(_NEGATION)),
        statements=log1p(text.str.count_matches(_STATEMENTS)),
        word_len=pl.when(n_words > 0).then(words.list.eval(pl.element().str.len_chars()).list.mean()).otherwise(0.0),
    )
    return pl.concat([surface, _vocabulary(text, frame)], how="horizontal").select(FEATURES).cast(pl.Float64)


RIDGE = 1.0
"""Ridge penalty per unit of total sample weight: strong enough that no single feature carries a
subject (checked by the bench's folds by subject)."""

REGIMES: tuple[str, ...] = ("with_solution", "without_solution")
"""Items that carry a worked solution (MATH, GSM8K, synthesized QA) and items that do not
(MMLU, CMMLU) are read by separate linear models: solution length is the strongest signal where
it exists, and where it does not the question's length and vocabulary have to carry it."""


@dataclass(frozen=True)
class LinearModel:
    """raw = intercept + sum(coef * (feature - mean) / std); the stretched value is
    clip(centre + scale * (raw - centre), 1, 5) — ridge shrinks predictions toward the mean,
    `scale` restores the spread of the labels it was fit to."""

    intercept: float
    coef: dict[str, float]
    mean: dict[str, float]
    std: dict[str, float]
    centre: float
    scale: float

    def predict(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        mean = np.array([self.mean[f] for f in FEATURES])
        std = np.array([self.std[f] for f in FEATURES])
        coef = np.array([self.coef[f] for f in FEATURES])
        raw = self.intercept + ((x - mean) / std) @ coef
        return np.clip(self.centre + self.scale * (raw - self.centre), 1.0, 5.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "intercept": round(self.intercept, 6),
            "centre": round(self.centre, 6),
            "scale": round(self.scale, 6),
            "features": {
                f: {"coef": round(self.coef[f], 6), "mean": round(self.mean[f], 6), "std": round(self.std[f], 6)}
                for f in FEATURES
            },
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], where: str) -> LinearModel:
        feats = cast(Mapping[str, Mapping[str, float]], doc.get("features") or {})
        missing = [f for f in FEATURES if f not in feats]
        if missing:
            raise ValueError(f"{where}: lacks features {missing}; refit with bench/difficulty_calibration.py --refit")
        return cls(
            intercept=float(doc["intercept"]),
            coef={f: float(feats[f]["coef"]) for f in FEATURES},
            mean={f: float(feats[f]["mean"]) for f in FEATURES},
            std={f: float(feats[f]["std"]) for f in FEATURES},
            centre=float(doc["centre"]),
            scale=float(doc["scale"]),
        )


@dataclass(frozen=True)
class CalibratedWeights:
    """One `LinearModel` per regime (`REGIMES`) and a note of how they were fit."""

    models: dict[str, LinearModel]
    fitted_on: str = ""

    def predict(self, features: pl.DataFrame) -> npt.NDArray[np.float64]:
        """Difficulty on the continuous 1-5 scale, each row by its regime's model."""
        x = features.select(FEATURES).to_numpy().astype(np.float64)
        with_sol = features["has_sol"].to_numpy() > 0
        out = np.empty(features.height, dtype=np.float64)
        for regime, rows in (("with_solution", with_sol), ("without_solution", ~with_sol)):
            if rows.any():
                out[rows] = self.models[regime].predict(x[rows])
        return out

    def to_yaml(self) -> str:
        doc = {
            "model": CALIBRATED_MODEL,
            "fitted_on": self.fitted_on,
            "regimes": {r: self.models[r].to_dict() for r in REGIMES},
        }
        return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=110)


def packaged_weights_path() -> Path:
    return Path(str(resources.files("linkqa_pipelines") / "data" / WEIGHTS_FILE))


def load_weights(path: Path | str | None = None) -> CalibratedWeights:
    """The weights YAML at `path` (None: the packaged one); both regimes, every feature.

    Parsed once per file version (path, mtime, size) and shared: every `estimate` without
    weights calls this, ~130 times a sample run, and the YAML parse took ~30 ms each time. The
    result is frozen; callers must not mutate its dicts."""
    path = (Path(path) if path is not None else packaged_weights_path()).resolve()
    stat = path.stat()
    return _parse_weights(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _parse_weights(path: Path, mtime_ns: int, size: int) -> CalibratedWeights:
    """`load_weights` of one version of a file (`mtime_ns` and `size` key the cache only)."""
    del mtime_ns, size
    loaded: object = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(loaded, Mapping):
        raise ValueError(f"{path}: expected a mapping")
    doc = cast(Mapping[str, Any], loaded)
    regimes = cast(Mapping[str, Mapping[str, Any]], doc.get("regimes") or {})
    missing = [r for r in REGIMES if r not in regimes]
    if missing:
        raise ValueError(f"{path}: lacks regimes {missing}")
    return CalibratedWeights(
        models={r: LinearModel.from_dict(regimes[r], f"{path}: regimes.{r}") for r in REGIMES},
        fitted_on=str(doc.get("fitted_on", "")),
    )


def _fit_linear(
    x: npt.NDArray[np.float64],
    labels: npt.NDArray[np.float64],
    sample_weight: npt.NDArray[np.float64],
    ridge: float,
    used: Sequence[str],
) -> LinearModel:
    """Weighted ridge on the standardised `used` features (the others get coefficient 0); the
    penalty `ridge` is per unit of total weight, so it does not weaken as the data grows."""
    cols = [FEATURES.index(f) for f in used]
    w = sample_weight / sample_weight.sum()
    xs = x[:, cols]
    mean = w @ xs
    std = np.sqrt(w @ (xs - mean) ** 2)
    std[std < 1e-9] = 1.0
    z = (xs - mean) / std
    zw = z * w[:, None]
    gram: npt.NDArray[np.float64] = z.T @ zw + ridge * np.eye(len(cols))
    rhs: npt.NDArray[np.float64] = zw.T @ (labels - float(w @ labels))
    coef = cast(npt.NDArray[np.float64], np.linalg.solve(gram, rhs))
    spread = float(np.sqrt(w @ (z @ coef) ** 2))
    label_spread = float(np.sqrt(w @ (labels - float(w @ labels)) ** 2))
    fitted = dict(zip(used, zip(coef.tolist(), mean.tolist(), std.tolist(), strict=True), strict=True))
    return LinearModel(
        intercept=MIDPOINT,
        coef={f: fitted[f][0] if f in fitted else 0.0 for f in FEATURES},
        mean={f: fitted[f][1] if f in fitted else 0.0 for f in FEATURES},
        std={f: fitted[f][2] if f in fitted else 1.0 for f in FEATURES},
        centre=MIDPOINT,
        scale=label_spread / spread if spread > 0 else 1.0,
    )


def fit_weights(
    features: pl.DataFrame,
    labels: npt.NDArray[np.float64],
    sample_weight: npt.NDArray[np.float64],
    *,
    ridge: float = RIDGE,
    fitted_on: str = "",
) -> CalibratedWeights:
    """Weighted ridge regression of `labels` (1-5 scale) on standardised features, per regime
    (`REGIME_FEATURES` names the features each regime may use)."""
    x = features.select(FEATURES).to_numpy().astype(np.float64)
    with_sol = features["has_sol"].to_numpy() > 0
    models: dict[str, LinearModel] = {}
    for regime, rows in (("with_solution", with_sol), ("without_solution", ~with_sol)):
        if not rows.any():
            raise ValueError(f"fit_weights: no labelled item in regime {regime}")
        models[regime] = _fit_linear(x[rows], labels[rows], sample_weight[rows], ridge, REGIME_FEATURES[regime])
    return CalibratedWeights(models=models, fitted_on=fitted_on)


def estimate(
    frame: pl.DataFrame,
    weights: CalibratedWeights | None = None,
    *,
    solution: str = "explanation",
    features: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """(difficulty_raw Float64 on the 1-5 scale, difficulty Int8 1-5) per row of `frame`;
    `features` are its `text_features` when the caller has them already."""
    w = weights or load_weights()
    value = w.predict(text_features(frame, solution=solution) if features is None else features)
    return pl.DataFrame(
        {"difficulty_raw": value, "difficulty": np.floor(value + 0.5).astype(np.int8)},
        schema={"difficulty_raw": pl.Float64, "difficulty": pl.Int8},
    )


def seed_levels(seeds: pl.DataFrame, weights: CalibratedWeights | None = None) -> pl.DataFrame:
    """(seed_id, seed_level Float64 1-5, seed_level_method) for seeds (SEED_SCHEMA columns).

    A seed with a human `ref_difficulty` keeps it (method "human"); the others get the
    calibrated estimate from their text (method `CALIBRATED_MODEL`). This is the call the KP
    stage should make for its per-seed difficulty.
    """
    est = estimate(seeds, weights)["difficulty_raw"]
    ref = seeds["ref_difficulty"].cast(pl.Float64) if "ref_difficulty" in seeds.columns else None
    human = ref.is_not_null() if ref is not None else pl.Series([False] * seeds.height)
    level = ref.fill_null(est) if ref is not None else est
    return pl.DataFrame(
        {
            "seed_id": seeds["seed_id"],
            "seed_level": level,
            "seed_level_method": pl.Series(
                np.where(human.to_numpy(), "human", CALIBRATED_MODEL).tolist(), dtype=pl.String
            ),
        }
    )


def levels_of(values: Sequence[float] | npt.NDArray[np.float64]) -> npt.NDArray[np.int8]:
    """Round-half-up to an integer 1-5 level."""
    return np.clip(np.floor(np.asarray(values, dtype=np.float64) + 0.5), 1, 5).astype(np.int8)


def reference_labels(seeds: pl.DataFrame) -> pl.DataFrame:
    """Human difficulty labels for fitting and measuring the estimator (never its input):
    (seed_id, label_set, label Float64 on the 1-5 scale), only for seeds that have one.

    label_set "math_level": MATH levels 1-5 (`ref_difficulty` of math_jsonl seeds);
    "mmlu_grade" / "cmmlu_grade": the grade a subject name states — elementary 2, high school 3,
    college or professional 4 (subjects naming no grade are left out).
    """
    subject = pl.col("subject").fill_null("")
    grade = (
        pl.when(subject.str.starts_with("elementary_"))
        .then(2.0)
        .when(subject.str.starts_with("high_school_"))
        .then(3.0)
        .when(subject.str.contains(r"^(?:college|professional)_"))
        .then(4.0)
    )
    adapter = pl.col("adapter")
    return seeds.select(
        "seed_id",
        label_set=pl.when(adapter == "math_jsonl")
        .then(pl.lit("math_level"))
        .when(adapter == "mmlu_csv")
        .then(pl.lit("mmlu_grade"))
        .when(adapter == "cmmlu_csv")
        .then(pl.lit("cmmlu_grade")),
        label=pl.when(adapter == "math_jsonl").then(pl.col("ref_difficulty").cast(pl.Float64)).otherwise(grade),
    ).filter(pl.col("label_set").is_not_null() & pl.col("label").is_not_null())


def balanced_weights(label_set: pl.Series, label: pl.Series) -> npt.NDArray[np.float64]:
    """Sample weights giving every label set a total weight of its size, split equally over its
    labels (MMLU has ~20x more college/high-school items than elementary ones). Sets share a
    regime's fit only when they lack solutions (MMLU, CMMLU): weighing them equally gave CMMLU's 105
    items as much say as MMLU's 7,135, and the fit followed their noise (held out by subject, MMLU
    rho 0.34 against 0.40 by size)."""
    cells = pl.DataFrame({"s": label_set, "y": label}).select(
        w=pl.len().over("s") / (pl.len().over("s", "y") * pl.col("y").n_unique().over("s"))
    )
    return cells["w"].to_numpy().astype(np.float64)
