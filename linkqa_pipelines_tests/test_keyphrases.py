"""Offline keyphrase extractor on real MMLU / CMMLU / GSM8K seeds, checked by content."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from linkqa_pipelines.core.contracts import KP_LINK_SCHEMA, SEED_SCHEMA
from linkqa_pipelines.core.difficulty import seed_levels
from linkqa_pipelines.core.knowledge_points import (
    EXTRACTION_STOP_WORDS,
    GRADE_LEVELS,
    OFFLINE_MODEL,
    canonical_keys,
    extract_keyphrases,
    seed_grade_and_difficulty,
)
from linkqa_pipelines.core.knowledge_points.documents import documents
from linkqa_pipelines.core.knowledge_points.keyphrases import _UNSHARED_FACTOR  # pyright: ignore[reportPrivateUsage]
from linkqa_pipelines.core.knowledge_points.lexicon import MATHS_ACRONYMS, WORD_PROBLEM_CONCEPTS, backfilled
from linkqa_pipelines.core.seeds import normalise_seeds, read_source
from linkqa_pipelines.taxonomy import load_taxonomy

CJK = re.compile(r"[\u4e00-\u9fff]")


def seeds_from(shared_data: Callable[..., Path], *relative: str) -> pl.DataFrame:
    rows = pl.concat([read_source(shared_data(r)).rows for r in relative])
    return normalise_seeds(rows, load_taxonomy().map_subjects).seeds


def keys_of(links: pl.DataFrame, seeds: pl.DataFrame, question_start: str) -> set[str]:
    """Canonical keys of the KPs extracted for the seed whose question starts with `question_start`."""
    seed = seeds.filter(pl.col("question").str.starts_with(question_start))
    assert seed.height == 1, question_start
    names = links.filter(pl.col("seed_id") == seed["seed_id"][0])["kp_name"]
    return set(canonical_keys(names).to_list())


def crafted_seeds(language: str, discipline: str | list[str], **questions: str) -> pl.DataFrame:
    """Crafted seeds of one language: seed_id -> question, in one discipline or one each."""
    disciplines = [discipline] * len(questions) if isinstance(discipline, str) else discipline
    return pl.DataFrame(
        {
            "seed_id": list(questions),
            "question": list(questions.values()),
            "discipline": disciplines,
            "language": [language] * len(questions),
        }
    )


@pytest.fixture(scope="module")
def mmlu(shared_data: Callable[..., Path]) -> tuple[pl.DataFrame, pl.DataFrame]:
    seeds = seeds_from(
        shared_data,
        "mmlu/test/astronomy_test.csv",
        "mmlu/test/high_school_psychology_test.csv",
        "mmlu/test/high_school_macroeconomics_test.csv",
        "mmlu/test/formal_logic_test.csv",
        "mmlu/test/college_biology_test.csv",
    )
    return seeds, extract_keyphrases(seeds)


def test_mmlu_kps_are_the_topics_of_the_question(mmlu: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    seeds, links = mmlu
    supernova = keys_of(links, seeds, 'What is true for a type-Ia ("type one-a") supernova?')
    assert "supernova" in supernova
    assert "true" not in supernova and "type" not in supernova
    assert keys_of(links, seeds, "The relaying of sensory information to the cerebral cortex") == {
        "sensory information",
        "cerebral cortex",
        "thalamus",
    }
    growth = keys_of(links, seeds, "Which of the following would reduce economic growth?")
    assert {"economic growth", "technological advance", "labor force"} <= growth
    assert not growth & {"following", "which", "reduce", "decline in investment"}


def test_no_function_words_latex_or_number_fragments_on_real_maths(shared_data: Callable[..., Path]) -> None:
    seeds = seeds_from(shared_data, "math/test.jsonl").head(400)
    links = extract_keyphrases(seeds)
    keys = set(canonical_keys(links["kp_name"]).to_list())
    assert not keys & {"frac", "sqrt", "cdot", "mathrm", "leqslant", "asy", "pmatrix", "express", "compute", "value"}
    assert not any(k[0].isdigit() for k in keys)
    # A formula becomes the concept it expresses: "\\sqrt" -> square root, "\\log" -> logarithm.
    assert {"square root", "logarithm"} <= keys


def test_mmlu_every_seed_gets_two_to_eight_clean_kps(mmlu: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    seeds, links = mmlu
    assert links.schema.to_python() == {**pl.Schema(KP_LINK_SCHEMA).to_python(), "kp_score": float}
    per_seed = links.group_by("seed_id").agg(n=pl.len(), ranks=pl.col("kp_rank").sort())
    assert per_seed.height == seeds.height  # no seed dropped
    assert per_seed["n"].is_between(2, 8).all() and per_seed["n"].mean() >= 3  # type: ignore[operator]
    assert all(r == list(range(len(r))) for r in per_seed["ranks"].to_list())
    names = links["kp_name"]
    assert not names.str.to_lowercase().is_in(list(EXTRACTION_STOP_WORDS)).any()
    assert (names.str.len_chars() >= 2).all()
    assert links.select(pl.struct("seed_id", pl.col("kp_name").str.to_lowercase()).is_unique().all()).item()
    assert set(links["backend"].unique()) == {"offline"} and set(links["model"].unique()) == {OFFLINE_MODEL}
    assert set(links["grade_level"].unique()) <= set(GRADE_LEVELS)
    assert links["difficulty"].is_between(1, 5).all()
    # Descriptions carry context: the subject and the text around the phrase.
    row = links.filter(pl.col("kp_name") == "supernova").row(0, named=True)
    assert row["kp_description"].startswith("astronomy: ") and "supernova" in row["kp_description"]


def test_corpus_feeds_idf_and_question_outweighs_distractors(shared_data: Callable[..., Path]) -> None:
    seeds = seeds_from(shared_data, "mmlu/test/astronomy_test.csv")
    target = seeds.filter(pl.col("question").str.starts_with("What is true for a type-Ia"))
    alone = extract_keyphrases(target)
    with_corpus = extract_keyphrases(target, corpus=seeds)
    assert set(with_corpus["seed_id"]) == set(target["seed_id"])

    def score(links: pl.DataFrame, name: str) -> float:
        return links.filter(pl.col("kp_name") == name)["kp_score"].item()

    # Alone, every candidate has idf 1 and no other seed shares it (score x _UNSHARED_FACTOR); over
    # the corpus the score scales by exactly ln((N+1)/(df+1)) + 1, df = seeds mentioning a supernova,
    # and the unshared discount is gone.
    text = pl.concat_str([pl.col("question"), pl.col("choices").list.join(" ")], separator=" ")
    df = seeds.filter(text.str.contains(r"(?i)\bsupernova(?:e|s|'s)?\b")).height
    assert df >= 2
    expected = math.log((seeds.height + 1) / (df + 1)) + 1
    assert score(with_corpus, "supernova") / score(alone, "supernova") == pytest.approx(expected / _UNSHARED_FACTOR)
    # The question (weight 3) outweighs a distractor choice (weight 1) for equal-length phrases.
    assert score(alone, "supernova") > score(alone, "X-rays")


def test_cmmlu_chinese_seeds_give_chinese_kps(shared_data: Callable[..., Path]) -> None:
    seeds = seeds_from(
        shared_data, "cmmlu/dev/high_school_biology.csv", "cmmlu/dev/clinical_knowledge.csv", "cmmlu/dev/astronomy.csv"
    )
    links = extract_keyphrases(seeds)
    assert links["seed_id"].n_unique() == seeds.height
    topical = links.filter(pl.col("kp_score") > 0)  # without the back-filled labels
    assert topical["kp_name"].str.contains(CJK.pattern).sum() > 0.9 * topical.height
    assert "细胞凋亡" in keys_of(links, seeds, "下列关于细胞凋亡的叙述")
    assert "急性肾损伤" in keys_of(links, seeds, "急性肾损伤进展期的主要死亡原因是")
    assert "梅西叶天体" in keys_of(links, seeds, "以下星座天区内梅西叶天体最多的是")
    assert {"革兰阴性菌", "脓毒症"} <= keys_of(links, seeds, "革兰阴性菌所致脓毒症的临床特点是")
    junk = ["的", "是", "下列", "正确", "以下", "叙述", "已知", "一组", "作者", "生物膜无关", "蛋白质不能", "变化合理"]
    assert not topical["kp_name"].is_in(junk).any()
    assert not topical["kp_name"].str.contains(r"^[一二三四五六七八九十]|[的了]$").any()


def test_gsm8k_explanations_feed_free_form_seeds(shared_data: Callable[..., Path]) -> None:
    seeds = seeds_from(shared_data, "gsm8k/test.jsonl").head(200)
    links = extract_keyphrases(seeds)
    assert links["seed_id"].n_unique() == 200
    # Kylar's question says "60% of the price"; only its worked solution names the discount.
    kylar = seeds.filter(pl.col("question").str.starts_with("Kylar went to the store"))
    assert "discount" not in kylar["question"][0] and "discount" in kylar["explanation"][0]
    assert "discount" in keys_of(links, seeds, "Kylar went to the store")
    assert set(links["grade_level"].unique()) == {"primary"}


def test_word_problems_name_their_concepts_not_their_story(shared_data: Callable[..., Path]) -> None:
    """A GSM8K seed's KPs are the concepts its text signals (`lexicon.WORD_PROBLEM_CONCEPTS`),
    shared across seeds; its characters (a one-word name capitalised wherever it occurs) are
    never KPs, and its story props are dropped once a concept is found — unless formal mathematics
    seeds name them too, at least as often as word problems do (a term of the field)."""
    gsm8k = seeds_from(shared_data, "gsm8k/test.jsonl").head(200)
    links = extract_keyphrases(gsm8k)
    assert keys_of(links, gsm8k, "Josh decides to try flipping") == {"profit", "percentage", "money"}
    assert keys_of(links, gsm8k, "Janet’s ducks lay 16 eggs per day") == {"unit rate", "money"}
    names = {"janet", "josh", "kylar", "carla", "james", "john"}
    assert names.isdisjoint(canonical_keys(links["kp_name"]).to_list())
    concepts = canonical_keys(pl.Series([c.en_name for c in WORD_PROBLEM_CONCEPTS]))
    topical = links.filter(pl.col("kp_score") > 0)  # without the back-filled labels
    topical = topical.with_columns(key=canonical_keys(topical["kp_name"]))
    is_concept = topical["key"].is_in(concepts.implode())
    about = topical.filter(is_concept)["seed_id"].unique()
    assert about.len() > 150  # of 200
    # Nothing here is attested outside word problems: a seed with a concept has nothing else.
    assert topical.filter(~is_concept & pl.col("seed_id").is_in(about.implode())).height == 0
    shared = topical.group_by("key").len().sort("len", descending=True)
    assert set(shared.head(6)["key"]) <= set(concepts), shared.head(6)
    problems = documents(gsm8k.select("seed_id", "question", "discipline"))
    assert problems["word_problem"].sum() > 0.97 * problems.height  # prose with numbers, in digits or words

    # MATH: LaTeX, inline maths included ("$r$", "$13.7$"), is no prose word problem; a prose one
    # keeps the field's terms that LaTeX problems name too.
    math = seeds_from(shared_data, "math/test.jsonl")
    maths = documents(math.select("seed_id", "question", "discipline"))
    latex = maths.filter(pl.col("question").str.contains(r"\\[A-Za-z]|\$[^\s$]+\$"))
    assert latex.height > 3000 and not latex["word_problem"].any()
    both = extract_keyphrases(pl.concat([gsm8k, math], how="diagonal_relaxed"))
    hexagon = keys_of(both, math, "A regular hexagon can be divided into six equilateral triangles")
    assert {"regular hexagon", "perimeter", "equilateral triangle"} <= hexagon, hexagon


@pytest.fixture(scope="module")
def math_seeds(shared_data: Callable[..., Path]) -> tuple[pl.DataFrame, pl.DataFrame]:
    seeds = seeds_from(shared_data, "math/test.jsonl")
    return seeds, extract_keyphrases(seeds)


def test_formal_maths_problems_name_what_their_notation_signals(math_seeds: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    """A MATH problem written in formulas gets the concepts its notation and wording signal
    (`lexicon.FORMAL_MATHS_CONCEPTS`), each name whole, where it used to get labels only; card
    suits, round tables and assignments ("when $x = 25$ and $z = 24$") signal nothing."""
    seeds, links = math_seeds
    assert "function composition" in keys_of(links, seeds, "Let $f(x)=2x-4$ and $g(x)=x^2+3$. What is $f(g(2))$?")
    assert "exponent" in keys_of(links, seeds, "If $2^{x+1}=4^{x-7}$ and $8^{3y}=16^{-y+13}$")
    assert {"absolute value", "complex number"} <= keys_of(links, seeds, "Evaluate $|\\sqrt5+2i|$.")
    assert "binary operation" in keys_of(links, seeds, "If $A\\ \\spadesuit\\ B$ is defined as")
    assert "repeating decimal" in keys_of(links, seeds, "Express $1.\\overline{234}$ as an improper fraction.")
    assert "system of equation" in keys_of(links, seeds, "Given that $x + y = 3$ and $x - y = 4$")
    assert "inverse function" in keys_of(links, seeds, "If $f(x)=\\dfrac{2}{x+1}$, then what is the value of $f^{-1}")
    assert "system of equation" not in keys_of(links, seeds, "If $\\frac{1}{x} + \\frac{1}{y} = \\frac{1}{z}$")
    assert "binary operation" not in keys_of(links, seeds, "A card is chosen at random from a standard deck of 52")
    assert "rounding" not in keys_of(links, seeds, "In how many ways can $7$ people sit around a round table")
    keys = set(canonical_keys(links["kp_name"]).to_list())
    assert not keys & {"composition", "rational", "of operation", "order of", "solving"}  # parts of names
    # A figure's points are no KPs ("triangle ABC", "side AE"); acronyms of the field are.
    capitals = set(links.filter(pl.col("kp_name").str.contains(r"^[A-Z]{2,4}$"))["kp_name"])
    assert capitals <= MATHS_ACRONYMS, capitals
    labels_only = (
        links.with_columns(label=backfilled(pl.col("kp_description"))).group_by("seed_id").agg(pl.col("label").all())
    )
    assert labels_only["label"].sum() < 100, labels_only["label"].sum()  # of 5,000 (62; 246 at offline-keyphrase-v4)


def test_prose_maths_of_either_language_names_its_operations() -> None:
    """MMLU's and CMMLU's elementary arithmetic in prose: the operation taught, not the numbers;
    plain-text function names ("sin x") as their concept."""
    en = extract_keyphrases(
        crafted_seeds(
            "en",
            "mathematics",
            order="Find the value of 4 ÷ 2 • 2 + 8 − 4.",
            estimate="Estimate 711 + 497. The sum is between which numbers?",
            percent="If $20\\%$ of a number is $12$, what is $30\\%$ of the same number?",
        )
    )
    zh = extract_keyphrases(
        crafted_seeds(
            "zh",
            "mathematics",
            order="计算：$36÷4+5×2$ 的结果是",
            solve="解方程 $3x+5=20$，方程的解是",
            sine="求函数 f(x) = sin x 在 x = 0 处的导数值。",
        )
    )
    kps = {(lang, seed): set(canonical_keys(frame.filter(pl.col("seed_id") == seed)["kp_name"]).to_list())
           for lang, frame in (("en", en), ("zh", zh)) for seed in frame["seed_id"].unique()}  # fmt: skip
    assert "order of operation" in kps["en", "order"]
    assert "estimation" in kps["en", "estimate"]
    assert "percentage" in kps["en", "percent"]
    assert "四则混合运算" in kps["zh", "order"]
    assert "解方程" in kps["zh", "solve"]
    # A function name written without its backslash is the concept, not a Latin word KP; the
    # word "sin" of a text that is no formula stays a word.
    assert "三角函数" in kps["zh", "sine"] and "sin" not in kps["zh", "sine"]
    assert (
        "函数" in kps["zh", "sine"] and "求函数" not in kps["zh", "sine"]
    )  # a verb and its object in jieba's dictionary
    sin = extract_keyphrases(
        crafted_seeds("en", "philosophy_religion", sin="What does Augustine teach about original sin?")
    )
    assert "original sin" in set(canonical_keys(sin["kp_name"]).to_list())


def test_question_frames_and_story_props_are_not_kps(
    shared_data: Callable[..., Path], math_seeds: tuple[pl.DataFrame, pl.DataFrame]
) -> None:
    """Instructions of a benchmark's frame ("Express your answer as a common fraction.", moral
    scenarios' "in the US as of 2020") and the people, places and things of a case vignette
    ("wife", "infant") are not what a seed tests; its doctrine and diagnosis are."""
    math, math_links = math_seeds
    probability = keys_of(math_links, math, "What is the probability that a randomly selected integer in the set")
    assert any("probability" in k for k in probability) and "common fraction" not in probability
    math_keys = set(canonical_keys(math_links["kp_name"]).to_list())
    assert not math_keys & {"comma", "first", "first equation", "second equation", "left-hand side"}
    # "a circle of radius $r$": the quantity's value was a formula; the circle is the KP.
    assert not math_keys & {"circle of radius", "side of length"}
    assert "circle" in math_keys
    # "number" is no stop word: kinds of number are KPs, counts are not.
    assert {"real number", "complex number", "prime number"} <= math_keys
    assert not math_keys & {"total number", "number of student", "number of way"}
    assert not math_keys & {"square unit", "square inch", "cubic foot", "centimeter"}  # units of measure
    assert "square number" in math_keys or "perfect square" in math_keys
    # A formula's concept is what a subject teaches, never its template ("\\pmod" in Number Theory).
    assert "binomial coefficient" in keys_of(math_links, math, "Compute $\\dbinom{15}{2}$")
    modular = math_links.filter(pl.col("kp_name") == "modular arithmetic")["seed_id"].n_unique()
    assert modular > 40, modular

    mmlu = seeds_from(
        shared_data,
        "mmlu/test/professional_law_test.csv",
        "mmlu/test/professional_medicine_test.csv",
        "mmlu/test/moral_scenarios_test.csv",
    )
    links = extract_keyphrases(mmlu)
    assert links["seed_id"].n_unique() == mmlu.height  # no seed dropped
    murder = keys_of(links, mmlu, "The defendant has been charged with murder in the killing of his wife")
    assert "voluntary manslaughter" in murder and "wife" not in murder
    infant = keys_of(links, mmlu, "A 7-month-old infant, who was recently discharged from the hospital")
    assert "infant" not in infant and any("enteritis" in k for k in infant), infant
    keys = set(canonical_keys(links["kp_name"]).to_list())
    assert not keys & {"wife", "husband", "son", "mother", "neighbor", "car", "dog", "mom"}
    assert not keys & {"father and son", "husband and wife", "man and woman"}  # generic nouns joined
    assert "emergency department" not in keys_of(
        links, mmlu, "A 15-year-old boy is brought to the emergency department"
    )
    scenarios = links.join(mmlu.filter(pl.col("subject") == "moral_scenarios").select("seed_id"), on="seed_id")
    assert not set(canonical_keys(scenarios["kp_name"]).to_list()) & {"united states", "us", "standard"}


def test_chinese_word_problems_name_their_concepts() -> None:
    """CMMLU-style primary maths: 比 ... 少 is an additive comparison, 1/6 a fraction (the Chinese
    patterns have no word boundary: a Han character is a word character), 倍 a multiplicative one."""
    seeds = crafted_seeds(
        "zh",
        "mathematics",
        road="修路队修一段路，第一周修了全长的1/6，第二周修了全长的1/4，第一周比第二周少修20千米，这段路全长有",
        frogs="甲数是乙数的3倍，甲数比乙数多24，乙数是多少",
        book="一本故事书共有240页，如果第一天看了全部的1/8，第二天应该从第几页开始看",
    )
    links = extract_keyphrases(seeds)
    concepts = {seed: set(links.filter(pl.col("seed_id") == seed)["kp_name"]) for seed in ("road", "frogs", "book")}
    assert {"分数", "比多少问题"} <= concepts["road"]
    assert {"倍数问题", "比多少问题"} <= concepts["frogs"]
    assert "分数" in concepts["book"]


def test_fallback_fills_seeds_without_candidates_and_never_drops_them() -> None:
    seeds = pl.DataFrame(
        {
            "seed_id": ["s1"],
            "question": ["What is 2 + 2?"],
            "choices": [["3", "4", "5", "6"]],
            "answer": ["B"],
            "subject": ["elementary_mathematics"],
            "discipline": ["mathematics"],
            "language": ["en"],
        }
    )
    # No word in the text qualifies: the subject's topic ("elementary_" stripped) stands in;
    # the discipline adds nothing new, so the full subject name comes next (min_kps=1: the topic only).
    assert extract_keyphrases(seeds, min_kps=1)["kp_name"].to_list() == ["mathematics"]
    links = extract_keyphrases(seeds)
    assert links["kp_name"].to_list() == ["mathematics", "elementary mathematics"]
    assert links["kp_description"].to_list() == [
        "mathematics (subject of the seed)",
        "elementary mathematics (subject of the seed)",
    ]
    two = extract_keyphrases(seeds.with_columns(subject=pl.lit("number_sense")), min_kps=2)
    assert two["kp_name"].to_list() == ["number sense", "mathematics"]
    assert two["kp_description"].to_list() == [
        "number sense (subject of the seed)",
        "mathematics (discipline of the seed)",
    ]
    alone = extract_keyphrases(seeds.drop("subject").with_columns(discipline=pl.lit("mathematics")), min_kps=2)
    assert alone["kp_name"].to_list() == ["mathematics"]  # nothing else to say: one KP, not zero
    # A Chinese seed gets its discipline's Chinese label, never an English subject name.
    zh = extract_keyphrases(seeds.with_columns(question=pl.lit("1 + 1 = ?"), language=pl.lit("zh")))
    assert zh.select("kp_name", "kp_description").rows() == [("数学", "数学 (discipline of the seed)")]
    unknown = extract_keyphrases(seeds.with_columns(language=pl.lit("zh"), discipline=pl.lit("no_such_field")))
    assert unknown["kp_name"].to_list() == ["no such field"]  # no Chinese label known: the id, not nothing
    assert extract_keyphrases(seeds).select(backfilled(pl.col("kp_description"))).to_series().all()


def test_cmmlu_generic_nouns_bound_characters_and_labels(shared_data: Callable[..., Path]) -> None:
    seeds = seeds_from(
        shared_data,
        "cmmlu/dev/high_school_physics.csv",
        "cmmlu/dev/machine_learning.csv",
        "cmmlu/dev/agronomy.csv",
        "cmmlu/dev/chinese_history.csv",
    )
    links = extract_keyphrases(seeds)
    assert links["seed_id"].n_unique() == seeds.height
    # "一条拖地的铁链": 条 is the measure word of 一条, not the start of a term.
    chain = keys_of(links, seeds, "油罐")
    assert "条拖地" not in chain and "拖地" in chain
    # "从给定的句子、段落中识别人名": 句子 and 段落 frame the task; 人名 is what it is about.
    assert "句子" not in keys_of(links, seeds, "从给定的句子")
    assert not links["kp_name"].str.contains(r"^[性化者式型率度条款项章节]").any()
    labels = links.filter(backfilled(pl.col("kp_description")))
    assert labels.height and labels["kp_name"].str.contains(CJK.pattern).all()  # 农学与食品科学, not "agronomy"


def test_of_phrases_neither_start_inside_a_name_nor_end_on_a_measured_quantity() -> None:
    seeds = crafted_seeds(
        "en",
        ["history", "history", "chemistry", "chemistry"],
        war="In December 1941 the United States of America entered the war after Pearl Harbor.",
        treaty="Why did the United States of America not ratify the Treaty of Versailles?",
        law="State the law of conservation of mass for a closed system.",
        reaction="Which reaction shows conservation of mass when it is balanced?",
    )
    keys = set(canonical_keys(extract_keyphrases(seeds)["kp_name"]).to_list())
    assert "state of america" not in keys and "united state" in keys, keys
    assert "conservation of mass" in keys, keys


def test_terms_and_names_that_hold_a_stop_word() -> None:
    """A stop word inside a known term ("price level", "small intestine") or a capitalised name
    ("New York", "New Deal") is part of it; capitalised verbs of a title stay breaks."""
    seeds = crafted_seeds(
        "en",
        ["economics", "mathematics", "history", "biology", "history", "physics"],
        macro="An increase in the price level reduces real wealth in the long run.",
        algebra="Combine like terms and write the answer in standard form.",
        history="The New Deal programs in New York were funded by Congress.",
        biology="Most nutrients are absorbed in the small intestine.",
        title="The poem Remember Sharpeville was written after the massacre.",
        box="A 5 kg box is pushed across the floor with a horizontal force of 30 N.",
    )
    links = extract_keyphrases(seeds)
    kps = {seed: set(links.filter(pl.col("seed_id") == seed)["kp_name"]) for seed in seeds["seed_id"]}
    assert {"price level", "long run"} <= kps["macro"], kps
    assert {"like terms", "standard form"} <= kps["algebra"], kps
    assert {"New York"} <= kps["history"] and "York" not in kps["history"], kps
    assert "small intestine" in kps["biology"], kps
    assert "Remember Sharpeville" not in kps["title"], kps
    assert "horizontal force" in kps["box"] and "kg box" not in kps["box"], kps  # a unit symbol starts no KP


def test_chinese_case_parties_and_definition_frame_are_not_kps() -> None:
    """王某 / 李某某 name the parties of a legal case, "根据上述定义" frames a definition question."""
    seeds = crafted_seeds(
        "zh",
        ["law", "economics"],
        contract="王某与李某某签订房屋买卖合同，约定王某先付定金，李某某逾期交房，王某可以主张何种违约责任",
        definition="公共物品是指具有非竞争性和非排他性的物品。根据上述定义，下列哪项属于公共物品",
    )
    links = extract_keyphrases(seeds)
    names = set(links["kp_name"])
    assert not names & {"王某", "李某某", "李某", "根据上述", "根据上述定义", "定义"}
    assert {"违约责任", "定金"} & set(links.filter(pl.col("seed_id") == "contract")["kp_name"])
    assert "公共物品" in set(links.filter(pl.col("seed_id") == "definition")["kp_name"])


def test_a_chinese_seed_keeps_a_chinese_kp_when_latin_terms_are_shared_more() -> None:
    """The sample's Calvin-cycle seed: CO2, ATP and NADPH are shared with other seeds, its Chinese
    terms are not, yet the answer check refuses a Chinese seed without a Chinese KP."""
    seeds = crafted_seeds(
        "zh",
        "biology",
        calvin="光合作用暗反应（卡尔文循环）中，CO₂ 首先与哪种物质结合被固定？",
        respiration="有氧呼吸第三阶段产生大量 ATP，同时消耗 NADPH 吗？CO₂ 在哪一阶段产生？",
        chloroplast="叶绿体中 ATP 和 NADPH 在光反应中生成，CO₂ 浓度升高时会怎样？",
    ).with_columns(
        explanation=pl.Series(["CO₂ 与 C₅ 结合生成两个 C₃，C₃ 再在 ATP 和 NADPH 的作用下被还原为糖类。", None, None])
    )
    links = extract_keyphrases(seeds.head(1), corpus=seeds)
    names = links["kp_name"].to_list()
    assert {"CO2", "ATP"} <= set(names), names
    assert any(CJK.search(n) for n in names), names
    assert len(names) <= 8


def test_chinese_one_character_verbs_end_no_term_unless_a_suffix() -> None:
    """观测|到 and 孔子|说 are a noun and the clause's verb; 高气压|带 is a term whose suffix
    jieba tags as a verb."""
    seeds = crafted_seeds(
        "zh",
        ["earth_space_science", "philosophy_religion", "geography", "psychology"],
        star="天文学家在夜空中观测到的恒星视星等与哪项有关",
        confucius="孔子说“己所不欲，勿施于人”，这体现了儒家的什么思想",
        belt="副热带高气压带控制下的地区气候特点是",
        study="研究发现，长期睡眠不足会造成记忆力下降",
    )
    names = set(extract_keyphrases(seeds)["kp_name"])
    assert not names & {"观测到", "孔子说", "研究发现"}, names
    assert {"孔子", "儒家", "副热带高气压带"} <= names, names


def test_bad_seeds_fail_naming_the_row() -> None:
    seeds = pl.DataFrame(
        {
            "seed_id": ["a", "b"],
            "question": ["Fine question about photosynthesis", "  "],
            "discipline": ["biology", "biology"],
        }
    )
    with pytest.raises(ValueError, match=r"rows \[1\].*seed_ids \['b'\]"):
        extract_keyphrases(seeds)
    with pytest.raises(ValueError, match=r"duplicate 'seed_id' \(0-based rows \[0, 1\]"):
        extract_keyphrases(seeds.with_columns(seed_id=pl.lit("a"), question=pl.lit("photosynthesis")))
    with pytest.raises(ValueError, match="discipline"):
        extract_keyphrases(seeds.drop("discipline").head(1))
    with pytest.raises(ValueError, match="min_kps"):
        extract_keyphrases(seeds.head(1), min_kps=5, max_kps=3)
    assert extract_keyphrases(pl.DataFrame(schema=SEED_SCHEMA)).height == 0


def test_seed_difficulty_is_the_calibrated_seed_level() -> None:
    """The KP links carry the difficulty stage's calibrated level (one estimator, not a twin)
    and the grade a subject or source names."""
    seeds = pl.DataFrame(
        {
            "seed_id": ["elem", "hs", "college", "gsm", "math_ref", "plain"],
            "subject": [
                "elementary_mathematics",
                "high_school_biology",
                "college_physics",
                "grade school",
                "Algebra",
                "astronomy",
            ],
            "adapter": ["mmlu_csv", "mmlu_csv", "mmlu_csv", "gsm8k_jsonl", "math_jsonl", "mmlu_csv"],
            "question": [
                "Which is bigger?",
                "What do cells do?",
                "A particle of mass m moves in a potential V(x) = kx^4. Find the period.",
                "Tom has 3 apples.",
                "Solve x^2 = 4.",
                "What is a star?",
            ],
            "explanation": [None, None, None, "<<1>> <<2>> <<3>>", None, None],
            "ref_difficulty": [None, None, None, None, 5, None],
        },
        schema_overrides={"ref_difficulty": pl.Int8},
    )
    out = seed_grade_and_difficulty(seeds)
    calibrated = seed_levels(seeds)["seed_level"]
    assert out["difficulty"].to_list() == [min(5, max(1, int(v + 0.5))) for v in calibrated.to_list()]
    grades = dict(zip(out["seed_id"], out["grade_level"], strict=True))
    assert {k: v for k, v in grades.items() if k != "plain"} == {
        "elem": "primary",
        "hs": "high_school",
        "college": "undergraduate",
        "gsm": "primary",
        "math_ref": "competition",
    }
    assert grades["plain"] in GRADE_LEVELS  # no hint: read off the calibrated level
    assert out.filter(pl.col("seed_id") == "math_ref")["difficulty"].item() == 5  # human MATH level kept
