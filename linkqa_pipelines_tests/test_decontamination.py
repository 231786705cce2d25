"""Decontamination against the real MMLU test split and CMMLU dev split, and screening end to end at
asset level from a test-split seed file."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from dagster import DagsterInstance, TableMetadataValue

from linkqa_pipelines.core.contracts import SYNTH_QA_SCHEMA
from linkqa_pipelines.core.lake import Lake
from linkqa_pipelines.core.release import (
    BENCHMARK_SCHEMA,
    CONTAMINATION_SCHEMA,
    BenchmarkIndex,
    DecontaminationSettings,
    benchmark_items,
    evaluation_split_expr,
    find_contaminated,
    load_benchmark_questions,
)
from linkqa_pipelines.core.release.audit import contamination_audit
from linkqa_pipelines.core.release.decontamination import contamination_text_expr
from linkqa_pipelines.core.text import normalize_texts
from linkqa_pipelines_tests.pipeline import materialize_assets


@pytest.fixture(scope="module")
def mmlu(shared_data: Callable[..., Path]) -> pl.DataFrame:
    return load_benchmark_questions([shared_data("mmlu", "test")])


@pytest.fixture(scope="module")
def mmlu_index(mmlu: pl.DataFrame) -> BenchmarkIndex:
    return BenchmarkIndex.from_frame(mmlu)


def _qa(questions: list[str], choices: list[list[str] | None] | None = None) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "qa_id": [f"qa{i}" for i in range(len(questions))],
            "question": questions,
            "choices": choices or [None] * len(questions),
        },
        schema={"qa_id": pl.String, "question": pl.String, "choices": pl.List(pl.String)},
    )


def test_loads_every_mmlu_test_row(mmlu: pl.DataFrame) -> None:
    assert mmlu.schema == pl.Schema(BENCHMARK_SCHEMA)
    assert mmlu.height == 14080  # rows in the 57 CSV files (csv and polars readers agree)
    assert mmlu["subject"].n_unique() == 57 and mmlu["benchmark_id"].n_unique() == mmlu.height
    assert set(mmlu["choices"].list.len()) == {4}


def test_copies_and_light_edits_of_mmlu_questions_are_flagged(
    mmlu: pl.DataFrame, mmlu_index: BenchmarkIndex, shared_data: Callable[..., Path]
) -> None:
    target = mmlu.filter(pl.col("benchmark_id") == "mmlu/high_school_biology/10").row(0, named=True)
    question = target["question"]
    assert len(question.split()) >= 25
    words = question.split()
    words[len(words) // 2] = "quite"  # one word changed, punctuation and case edited
    edited = "Consider this: " + " ".join(words).upper().replace(",", ";")
    gsm8k = [json.loads(line)["question"] for line in shared_data("gsm8k", "test.jsonl").open()][:50]
    unrelated = "Which enzyme unwinds the DNA double helix ahead of the replication fork during S phase?"
    composed = (
        "This question links A -> B.\nPart 1: What is 2 + 2?\nPart 2: " + question + "\nGive the answers to all parts."
    )
    qa = _qa([question, edited, unrelated, composed, *gsm8k])
    found = find_contaminated(qa, mmlu_index)
    assert found.schema == pl.Schema(CONTAMINATION_SCHEMA)
    flagged = set(found["qa_id"])
    assert {"qa0", "qa1", "qa3"} <= flagged and "qa2" not in flagged
    assert not flagged & {f"qa{i}" for i in range(4, 4 + len(gsm8k))}  # real, unrelated questions
    best = {
        r["qa_id"]: r
        for r in found.sort("overlap", descending=True).unique("qa_id", keep="first").iter_rows(named=True)
    }
    assert (
        best["qa0"]["benchmark_id"]
        == best["qa1"]["benchmark_id"]
        == best["qa3"]["benchmark_id"]
        == target["benchmark_id"]
    )
    assert best["qa1"]["overlap"] < best["qa0"]["overlap"]
    for r in best.values():
        assert r["ngram_n"] == 13 and r["mode"] == "word" and len(r["matched_ngram"].split()) == 13
        assert r["matched_ngram"] in normalize_texts([question])[0]


def test_whole_item_copy_with_choices_covers_the_benchmark_item(mmlu: pl.DataFrame, mmlu_index: BenchmarkIndex) -> None:
    item = mmlu.row(500, named=True)
    found = find_contaminated(_qa([item["question"]], [item["choices"]]), mmlu_index)
    top = found.sort("overlap", descending=True).row(0, named=True)
    assert top["benchmark_id"] == item["benchmark_id"] and top["benchmark_coverage"] == pytest.approx(1.0)


def test_templates_do_not_tie_a_copy_to_every_item(mmlu: pl.DataFrame, mmlu_index: BenchmarkIndex) -> None:
    moral = mmlu.filter(pl.col("subject") == "moral_scenarios")
    assert moral.height == 895 and mmlu_index.boilerplate > 0
    item = moral.row(17, named=True)
    found = find_contaminated(_qa([item["question"]], [item["choices"]]), mmlu_index)
    assert found["benchmark_id"].to_list()[0] == item["benchmark_id"] and found.height <= 3


def test_short_question_quoted_with_relettered_options_is_caught(
    mmlu: pl.DataFrame, mmlu_index: BenchmarkIndex
) -> None:
    words = mmlu["question"].str.count_matches(r"\S+")
    item = mmlu.filter((words >= 8) & (words < 12) & ~pl.col("question").str.contains("_")).row(0, named=True)
    options = "  ".join(f"({letter}) {c}" for letter, c in zip("ABCD", item["choices"], strict=True))
    composed = f"This question links A -> B.\nPart 1: {item['question']}\n{options}\nPart 2: What is 2 + 2?"
    found = find_contaminated(_qa([composed]), mmlu_index)
    assert item["benchmark_id"] in found["benchmark_id"].to_list()


def test_chinese_items_use_character_grams(shared_data: Callable[..., Path]) -> None:
    cmmlu = load_benchmark_questions([shared_data("cmmlu", "dev")])
    index = BenchmarkIndex.from_frame(cmmlu)
    assert index.lengths["char"] and index.skipped < 10
    long_item = cmmlu.filter(pl.col("question").str.len_chars() >= 30).row(0, named=True)
    short_item = cmmlu.filter(pl.col("question").str.len_chars() < 10).row(0, named=True)
    embedded = "请先阅读下面的题目，再回答。" + short_item["question"]
    qa = _qa(
        [long_item["question"].replace("，", "。"), embedded, "地球围绕太阳公转一周大约需要多少天？请说明理由。"],
        [None, short_item["choices"], None],
    )
    found = find_contaminated(qa, index)
    got = dict(
        found.sort("overlap", descending=True).unique("qa_id", keep="first").select("qa_id", "benchmark_id").iter_rows()
    )
    assert got == {"qa0": long_item["benchmark_id"], "qa1": short_item["benchmark_id"]}
    assert set(found.filter(pl.col("qa_id") == "qa0")["mode"]) == {"char"}


def test_short_items_are_matched_whole_and_generic_ones_skipped() -> None:
    nine_words = "Which gas do green plants release during photosynthesis today?"
    index = BenchmarkIndex.from_texts(["Which is true?", nine_words], ids=["generic", "nine"])
    assert index.skipped == 1 and index.gram_counts.tolist() == [0, 1] and index.lengths["word"] == (9,)
    qa = _qa(
        [
            "Which is true? Explain photosynthesis.",
            f"Answer briefly. {nine_words.upper()} Explain.",
            "Which gas do plants release?",
        ]
    )
    found = find_contaminated(qa, index)
    assert found.select("qa_id", "benchmark_id", "ngram_n").rows() == [("qa1", "nine", 9)]


def test_texts_without_han_skip_the_character_pass_only_when_no_character_gram_lacks_han() -> None:
    """The character pass reads only texts with a Han character when every character-mode entry
    holds one; a Chinese item with a long Latin run makes it read every text again."""
    zh = "下列关于光合作用的说法中正确的是植物在光照下释放氧气并合成有机物质"
    latin = "以下代码输出什么 printhelloworldagainandagain 请选择"
    qa = _qa([f"Translate: {zh}", "Output of printhelloworldagainandagain please", "print hello"])
    han_only = BenchmarkIndex.from_texts([zh], ids=["zh"])
    assert han_only.han_only
    assert find_contaminated(qa, han_only)["qa_id"].to_list() == ["qa0"]
    mixed = BenchmarkIndex.from_texts([zh, latin], ids=["zh", "latin"])
    assert not mixed.han_only
    assert sorted(find_contaminated(qa, mixed).select("qa_id", "benchmark_id").rows()) == [
        ("qa0", "zh"),
        ("qa1", "latin"),
    ]


def test_unreadable_benchmark_rows_raise_with_file_row_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "anatomy_test.csv"
    bad.write_text('What is the largest organ?,skin,liver,heart,lung,A\n"Second, question",a,b,A\n')
    with pytest.raises(ValueError, match=r"anatomy_test.csv: data row 2: field '<csv>': expected 6 fields"):
        load_benchmark_questions([bad])
    zh = tmp_path / "anatomy.csv"
    zh.write_text(",Question,A,B,C,D,Answer\n0,这是第一题吗,a,b,c,d,A\n1, ,a,b,c,d,A\n")
    with pytest.raises(ValueError, match=r"anatomy.csv: data row 2: field 'question' is empty"):
        load_benchmark_questions([zh])
    with pytest.raises(ValueError, match="no such file or folder"):
        load_benchmark_questions([tmp_path / "absent"])


def test_other_benchmark_layouts_load_through_the_seed_adapters(shared_data: Callable[..., Path]) -> None:
    gsm8k = load_benchmark_questions([shared_data("gsm8k", "test.jsonl")])
    assert (
        gsm8k.height == 1319 and gsm8k["benchmark_id"][0] == "gsm8k/gsm8k/1" and gsm8k["choices"].null_count() == 1319
    )
    index = BenchmarkIndex.from_frame(gsm8k)
    found = find_contaminated(_qa([gsm8k["question"][41]]), index)
    assert found.sort("overlap", descending=True)["benchmark_id"][0] == "gsm8k/gsm8k/42"


def _planted(bench: pl.DataFrame, rows: list[int], prefix: str) -> pl.DataFrame:
    """Composed items quoting benchmark items the way synthesis does: a preamble, then the item
    with its options inline and lettered "(A) ..."."""
    picked = bench[rows]
    questions = [
        f"{prefix} {q}\n" + "  ".join(f"({chr(65 + i)}) {c}" for i, c in enumerate(choices or []))
        for q, choices in zip(picked["question"].to_list(), picked["choices"].to_list(), strict=True)
    ]
    return pl.DataFrame(
        {"qa_id": [f"p{r}" for r in rows], "question": questions, "choices": [None] * len(rows)},
        schema={"qa_id": pl.String, "question": pl.String, "choices": pl.List(pl.String)},
    )


def test_planted_mmlu_test_and_cmmlu_dev_copies_are_all_caught_and_boilerplate_is_not(
    shared_data: Callable[..., Path], mmlu: pl.DataFrame
) -> None:
    cmmlu = load_benchmark_questions([shared_data("cmmlu", "dev")])
    bench = pl.concat([mmlu, cmmlu])
    index = BenchmarkIndex.from_frame(bench)
    rows = list(range(0, bench.height, 97))
    planted = _planted(bench, rows, "Part 1:")
    # Boilerplate alone: stock phrasings shared by many items of both benchmarks, wrapped in new content.
    boiler = _qa(
        [
            "Which of the following is true? A kestrel hovers over the meadow while the farmer counts sheep.",
            "下列说法中正确的是（ ） 小明周末去公园放风筝，看到湖面上有几只天鹅在游泳。",
            "Which of the following statements is correct about the new bicycle lane on Elm Street?",
            "下列选项中，不属于我们今天在课堂上讨论的内容的是哪一项？",
        ]
    )
    found = find_contaminated(pl.concat([planted, boiler]), index)
    expected = dict(zip(planted["qa_id"], bench["benchmark_id"].gather(rows), strict=True))
    caught = found.filter(pl.col("qa_id").is_in(list(expected)))
    assert set(caught["qa_id"]) == set(expected)  # recall 1.0 on planted copies
    assert all(expected[q] in set(g["benchmark_id"]) for (q,), g in caught.group_by("qa_id"))
    assert found.filter(pl.col("qa_id").is_in(boiler["qa_id"].to_list())).is_empty()


def test_short_questions_are_matched_whole_by_containment(mmlu: pl.DataFrame, mmlu_index: BenchmarkIndex) -> None:
    found = find_contaminated(_qa(["Part 2: where should a STOMA be sited? Explain your reasoning."]), mmlu_index)
    stoma = mmlu.filter(pl.col("question") == "Where should a stoma be sited?")["benchmark_id"].to_list()
    assert stoma and set(found["benchmark_id"]) == set(stoma) and found["ngram_n"][0] == 6


@pytest.fixture(scope="module")
def math_test(shared_data: Callable[..., Path]) -> pl.DataFrame:
    return load_benchmark_questions([shared_data("math", "test.jsonl")])


@pytest.fixture(scope="module")
def mmlu_math_index(mmlu: pl.DataFrame, math_test: pl.DataFrame) -> BenchmarkIndex:
    """The index of the offline run that released the item: MMLU test + MATH test seeds."""
    return BenchmarkIndex.from_frame(pl.concat([mmlu, math_test]))


def _numbers_changed(text: str) -> str:
    """The same template with other numbers: every digit run + 1."""
    return re.sub(r"[0-9]+", lambda m: str(int(m.group()) + 1), text)


def _short_numeric(bench: pl.DataFrame, opening: str) -> pl.DataFrame:
    """Questions opening with `opening` ("" for any), holding a digit, short (min_words to 12 tokens)."""
    size = contamination_text_expr(pl.col("question"), "word").str.count_matches(r"\S+")
    short = size.is_between(DecontaminationSettings().min_words, 12)
    return bench.filter(pl.col("question").str.starts_with(opening) & pl.col("question").str.contains("[0-9]") & short)


def test_short_math_formula_questions_are_caught_and_their_template_with_other_numbers_is_not(
    math_test: pl.DataFrame, mmlu_math_index: BenchmarkIndex
) -> None:
    """A released item quoted MATH's "What is the value of $513^2 - 487^2$?" and "... $255^2 - 245^2$?"
    (issue: decontamination misses short verbatim questions). Read as "what is the value of 513 2 487 2",
    5 of its 9 tokens were the template "what is the value of", so the whole question counted as
    boilerplate. Of MATH test's 5,000 questions 439 are under 13 tokens (29 under min_words); quoted
    in new text 409 are caught now, 335 before (bench/decontamination.py prints both)."""
    what_is = _short_numeric(math_test, "What is")
    ids = dict(zip(math_test["question"], math_test["benchmark_id"], strict=True))
    released = (
        "This question links A -> B. Part 1: What is the value of $513^2 - 487^2$? "
        "Part 2: What is the value of $255^2 - 245^2$? Give both answers."
    )
    quoted = [f"Part 1: {q}\nPart 2: Explain each step." for q in what_is["question"]]
    other_numbers = [_numbers_changed(q) for q in what_is["question"]]
    other_operators = ["What is the value of $513^2 + 487^2$?", "What is the value of 513*2 - 487*2?"]
    words_only = ["What is the value of a good education to a young person?"]
    qa = _qa([released, *quoted, *other_numbers, *other_operators, *words_only])
    found = find_contaminated(qa, mmlu_math_index)
    flagged = {q: set(g["benchmark_id"]) for (q,), g in found.group_by("qa_id")}
    assert what_is.height >= 50
    assert flagged.pop("qa0") == {
        ids["What is the value of $513^2 - 487^2$?"],
        ids["What is the value of $255^2 - 245^2$?"],
    }
    for i, item in enumerate(what_is["benchmark_id"], start=1):
        assert item in flagged.pop(f"qa{i}", set()), item
    assert flagged == {}  # other numbers, other operators, the template's words: none is an item


def test_short_mmlu_and_cmmlu_questions_with_numbers_are_caught_both_ways(
    mmlu: pl.DataFrame, mmlu_math_index: BenchmarkIndex, shared_data: Callable[..., Path]
) -> None:
    """MMLU's "If x − 3 = 6, what is the value of x?" and "What is the greatest common factor of 36
    and 90?" were template words plus numbers too in the MMLU + MATH index (bench: 22 more of MMLU
    test's short questions are caught now); CMMLU's one short question with numbers,
    "当X=[ ]时，5X-9=51", was caught by characters before and still is."""
    gcf = _short_numeric(mmlu, "What is the greatest common factor of")
    solve = mmlu.filter(pl.col("question") == "If x − 3 = 6, what is the value of x?")
    items = pl.concat([gcf, solve])
    quoted = [f"Part 1: {q} Part 2: Explain each step." for q in items["question"]]
    changed = [_numbers_changed(q) for q in items["question"]]
    template = ["What is the greatest common factor of the two numbers on the board?"]
    found = find_contaminated(_qa([*quoted, *changed, *template]), mmlu_math_index)
    expected = {(f"qa{i}", item) for i, item in enumerate(items["benchmark_id"])}
    assert gcf.height >= 2 and solve.height == 1
    assert set(found.select("qa_id", "benchmark_id").iter_rows()) == expected

    cmmlu = load_benchmark_questions([shared_data("cmmlu", "dev")])
    item = cmmlu.filter(pl.col("question") == "当X=[ ]时，5X-9=51").row(0, named=True)
    qa = _qa([f"请先阅读下面的题目。{item['question']}请写出过程。", _numbers_changed(item["question"])])
    found = find_contaminated(qa, BenchmarkIndex.from_frame(cmmlu))
    assert found.select("qa_id", "benchmark_id").rows() == [("qa0", item["benchmark_id"])]


def test_audit_agrees_with_the_filter_on_short_formula_questions(math_test: pl.DataFrame) -> None:
    """The audit follows the same spec (formula operators as tokens, numbers as content): without
    the number rule it would miss 13 of these copies."""
    questions = _short_numeric(math_test, "")["question"].to_list()
    qa = _qa([f"Part 1: {q} Part 2: Explain." for q in questions] + [_numbers_changed(q) for q in questions])
    by_filter = find_contaminated(qa, BenchmarkIndex.from_frame(math_test)).select("qa_id", "benchmark_id").unique()
    by_audit = contamination_audit(qa, math_test).select("qa_id", "benchmark_id")
    assert by_filter.height >= len(questions) >= 300
    assert sorted(by_filter.rows()) == sorted(by_audit.rows())


def test_audit_agrees_with_the_filter_on_planted_and_clean_items(
    shared_data: Callable[..., Path], mmlu: pl.DataFrame
) -> None:
    bench = pl.concat([mmlu.head(3000), load_benchmark_questions([shared_data("cmmlu", "dev")])])
    index = BenchmarkIndex.from_frame(bench)
    planted = _planted(bench, list(range(0, bench.height, 41)), "问题：")
    clean = _planted(mmlu.tail(200), list(range(200)), "Part 1:").with_columns(qa_id="c" + pl.col("qa_id"))
    qa = pl.concat([planted, clean])
    by_filter = find_contaminated(qa, index).select("qa_id", "benchmark_id").unique()
    by_audit = contamination_audit(qa, bench).select("qa_id", "benchmark_id")
    assert by_filter.height > planted.height // 2
    assert sorted(by_filter.rows()) == sorted(by_audit.rows())


def test_only_evaluation_splits_of_seeds_are_indexed(shared_data: Callable[..., Path]) -> None:
    seeds = pl.DataFrame(
        {
            "adapter": ["mmlu_csv", "mmlu_csv", "cmmlu_csv", "gsm8k_jsonl", "generic"],
            "source": [
                str(shared_data("mmlu", "test") / "anatomy_test.csv"),
                "/data/mmlu/dev/anatomy_dev.csv",
                str(shared_data("cmmlu", "dev") / "anatomy.csv"),
                str(shared_data("gsm8k", "test.jsonl")),
                "/data/own/test.jsonl",
            ],
            "subject": ["anatomy", "anatomy", "anatomy", "gsm8k", "own"],
            "source_row": [1, 1, 1, 1, 1],
            "question": ["q1", "q2", "q3", "q4", "q5"],
            "choices": [None] * 5,
        },
        schema_overrides={"choices": pl.List(pl.String)},
    )
    assert seeds.select(evaluation_split_expr())["adapter"].to_list() == [True, False, False, True, False]
    items = benchmark_items(seeds.lazy(), [str(shared_data("mmlu", "test") / "anatomy_test.csv")])
    assert set(items["question"]) - set(
        load_benchmark_questions([shared_data("mmlu", "test") / "anatomy_test.csv"])["question"]
    ) == {"q4"}
    assert items["benchmark_id"].is_unique().all()


TEST_SPLIT_QUESTIONS = [
    "Which of the following structures passes through the foramen ovale of the sphenoid bone in adult humans?",
    "Damage to which cranial nerve most likely explains a loss of taste sensation on the anterior two thirds "
    "of the tongue?",
    "Which muscle of the rotator cuff is innervated by the suprascapular nerve and abducts the arm at first?",
]


def _scored(rows: list[dict[str, object]]) -> pl.DataFrame:
    """difficulty_scored_qa rows (offline, unverified: the verification keep rule lets them through)."""
    base = {
        "path_id": "p",
        "language": "en",
        "qa_type": "free_form",
        "choices": None,
        "answer": "x",
        "rationale": "r",
        "kp_ids": ["kp_a", "kp_b"],
        "seed_ids": ["s1"],
        "difficulty": 3,
        "requested_level": None,  # offline: no level is asked for
        "backend": "offline",
        "model": "offline-template-v2",
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "verification": "unverified",
        "agreement": None,
    }
    frame = pl.DataFrame([base | r for r in rows], infer_schema_length=None)
    return frame.select(list(SYNTH_QA_SCHEMA)).cast(pl.Schema(SYNTH_QA_SCHEMA))


def test_seeding_from_a_test_split_warns_and_screening_explains_overlaps_and_cross_discipline_duplicates(
    tmp_path: Path,
) -> None:
    """End to end at asset level: ingestion of an MMLU-layout test split warns with the count; the
    split is indexed; screened_qa removes an item that quotes a test question (benchmark_overlap,
    naming the test item and the span) and one copy of a question synthesized in two disciplines
    (exact_duplicate, naming the copy kept in the other discipline); the release card lists the
    seed source with its licence and the removals."""
    split = tmp_path / "mmlu" / "test"
    split.mkdir(parents=True)
    (split / "anatomy_test.csv").write_text(
        "".join(f'"{q}",first,second,third,fourth,A\n' for q in TEST_SPLIT_QUESTIONS), encoding="utf-8"
    )
    dev = tmp_path / "physics_dev.jsonl"
    dev.write_text(
        "".join(
            json.dumps({"question": f"What is the unit of {u}?", "choices": ["a", "b"], "answer": "A", "subject": s})
            + "\n"
            for u, s in (("force", "physics"), ("work", "physics"))
        ),
        encoding="utf-8",
    )
    instance = DagsterInstance.ephemeral()
    config = {"ops": {"ingest_seeds": {"config": {"sources": [str(split.parent), str(dev)]}}}}
    ingest = materialize_assets(
        tmp_path, ["seed_sources", "seed_quarantine", "seed_accounting"], run_config=config, instance=instance
    )
    warnings = [
        e.user_message
        for e in instance.all_logs(ingest.run_id)
        if e.level == logging.WARNING and "SEEDING FROM EVALUATION SPLITS" in e.user_message
    ]
    assert len(warnings) == 1 and "3 of 5 seeds come from benchmark test splits (1 files)" in warnings[0]
    seeds = Lake(tmp_path).read("seed_sources")
    (anatomy,) = set(seeds.filter(pl.col("adapter") == "mmlu_csv")["discipline"])
    (physics,) = set(seeds.filter(pl.col("adapter") == "generic")["discipline"])
    assert anatomy != physics
    metadata = ingest.asset_materializations_for_node("ingest_seeds")[0].metadata
    assert metadata["evaluation_split_seeds"].value == 3

    shared = "A cart of mass two kilograms accelerates uniformly; which net force acts on it during the motion?"
    lake = Lake(tmp_path)
    lake.write(
        "difficulty_scored_qa",
        _scored(
            [
                {"qa_id": "leak", "discipline": anatomy, "question": f"Recall: {TEST_SPLIT_QUESTIONS[0]} Explain."},
                {"qa_id": "clean_a", "discipline": anatomy, "question": "Name the bones that form the orbit."},
                {"qa_id": "copy_a", "discipline": anatomy, "question": shared},
            ]
        ),
        {"discipline": anatomy},
    )
    lake.write(
        "difficulty_scored_qa",
        _scored(
            [
                {"qa_id": "copy_p", "discipline": physics, "question": shared},
                {"qa_id": "clean_p", "discipline": physics, "question": "State the unit of power and its symbol."},
            ]
        ),
        {"discipline": physics},
    )
    lake.write("kp_catalog", pl.DataFrame({"kp_id": ["kp_a", "kp_b", "kp_c"], "disciplines": [[anatomy]] * 3}))
    screened = materialize_assets(
        tmp_path, ["benchmark_items", "screened_qa", "screened_qa_rejects"], instance=instance
    )
    assert all(c.passed for c in screened.get_asset_check_evaluations())  # incl. the blocking audit
    rejects = lake.read("screened_qa_rejects").sort("qa_id")
    by_id = {r["qa_id"]: r for r in rejects.iter_rows(named=True)}
    assert set(by_id) == {"leak", "copy_a"} or set(by_id) == {"leak", "copy_p"}
    leak = by_id["leak"]
    assert (leak["reason"], leak["related_id"]) == ("benchmark_overlap", "mmlu/anatomy/1")
    assert "foramen ovale" in leak["matched_text"]
    (copy,) = [r for q, r in by_id.items() if q != "leak"]
    kept_copy = {"copy_a": "copy_p", "copy_p": "copy_a"}[copy["qa_id"]]
    assert (copy["reason"], copy["related_id"], copy["similarity"]) == ("exact_duplicate", kept_copy, 1.0)
    screen_meta = screened.asset_materializations_for_node("screened_qa")[0].metadata
    assert screen_meta["dedup_across_disciplines"].value == 1 and screen_meta["decontaminated"].value == 1

    for discipline in (anatomy, physics):
        materialize_assets(
            tmp_path, ["linkqa_dataset", "linkqa_dataset_rejects"], partition=discipline, instance=instance
        )
    release = materialize_assets(tmp_path, ["linkqa_release"], instance=instance)
    checks = {c.check_name: c.passed for c in release.get_asset_check_evaluations()}
    assert checks == {"linkqa_release_rows_equal_dataset": True, "linkqa_release_card_matches_shards": True}
    card = (tmp_path / "release" / "README.md").read_text(encoding="utf-8")
    mix = release.asset_materializations_for_node("linkqa_release")[0].metadata["mix_vs_target"]
    assert isinstance(mix, TableMetadataValue)
    released = lake.read("linkqa_dataset")  # the UI's achieved-vs-target table counts what was released
    shown = {(r.data["scope"], r.data["difficulty"]): r.data["items"] for r in mix.records}
    counts = {(d, lv): n for d, lv, n in released.group_by("discipline", "difficulty").len().iter_rows()}
    counts |= {(d, None): n for d, n in released.group_by("discipline").len().iter_rows()}
    counts |= {("(all)", lv): n for lv, n in released.group_by("difficulty").len().iter_rows()}
    assert {k: v for k, v in shown.items() if v} == counts and sum(v for k, v in counts.items() if k[0] == "(all)") == 3
    assert "Achieved against target" in card
    assert "| MMLU | MIT | 1 | 3 |" in card and "Decontamination: removed = 1." in card
    assert "\nlicense:\n- mit\n- other\n" in card  # the JSONL dev file has no known licence
