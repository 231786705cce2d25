"""Dedup: exact and MinHash/LSH near duplicates, checked against a brute-force reference."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from linkqa_pipelines.core.language import language_of
from linkqa_pipelines.core.release import (
    dedup,
    dedup_text_expr,
    keep_priority_expr,
    load_benchmark_questions,
    lsh_params,
    ngram_hashes,
    token_arrays,
)
from linkqa_pipelines.core.text import char_shingles

# the module, not the package's `dedup` function of the same name
dedup_module = importlib.import_module("linkqa_pipelines.core.release.dedup")


def _frame(questions: list[str], choices: list[list[str] | None] | None = None) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "qa_id": [f"q{i:04d}" for i in range(len(questions))],
            "question": questions,
            "choices": choices or [None] * len(questions),
        },
        schema={"qa_id": pl.String, "question": pl.String, "choices": pl.List(pl.String)},
    )


@pytest.fixture(scope="module")
def mmlu(shared_data: Callable[..., Path]) -> pl.DataFrame:
    test = shared_data("mmlu", "test")
    files = [
        test / f"{s}_test.csv" for s in ("abstract_algebra", "high_school_biology", "world_religions", "econometrics")
    ]
    return load_benchmark_questions(files)


def test_exact_duplicates_up_to_case_spacing_and_punctuation() -> None:
    qa = _frame(
        [
            "What is the powerhouse of the cell?",
            "what is   the POWERHOUSE of the cell",
            "Which organelle makes ribosomes in eukaryotic cells?",
            "What is the powerhouse of the cell ?!",
        ]
    )
    kept, dropped = dedup(qa)
    assert kept["qa_id"].to_list() == ["q0000", "q0002"]
    assert dropped.select("qa_id", "dedup_reason", "duplicate_of", "similarity").rows() == [
        ("q0001", "exact", "q0000", 1.0),
        ("q0003", "exact", "q0000", 1.0),
    ]
    assert kept.columns == qa.columns and dropped.columns == [*qa.columns, "dedup_reason", "duplicate_of", "similarity"]


def test_same_stem_with_different_choices_is_not_a_duplicate() -> None:
    stem = "Which of the following statements about enzymes is true?"
    qa = _frame(
        [stem, stem], [["They are lipids", "They lower activation energy"], ["They are consumed", "They are sugars"]]
    )
    assert dedup(qa)[0].height == 2
    assert dedup(qa, include_choices=False)[1]["dedup_reason"].to_list() == ["exact"]


def _word_shingles(text: str, k: int = 3) -> set[tuple[str, ...]]:
    words = text.split()
    return {tuple(words[i : i + k]) for i in range(len(words) - k + 1)} if len(words) >= k else {tuple(words)}


def _reference(texts: list[str], threshold: float) -> dict[int, tuple[str, int]]:
    """Brute-force greedy dedup of normalised texts on Python shingle sets (word 3-grams for English,
    character 5-grams for Chinese, as `dedup` chooses per item): row -> (reason, row it duplicates)."""
    shingles = [_word_shingles(t) if language_of(t) != "zh" else char_shingles(t) for t in texts]
    first: dict[str, int] = {}
    out: dict[int, tuple[str, int]] = {}
    kept: list[int] = []
    for j, text in enumerate(texts):
        if text in first:
            rep = first[text]
            out[j] = out.get(rep, ("exact", rep))  # copies of a dropped row follow it
            continue
        first[text] = j
        best = max(
            (
                (len(shingles[i] & shingles[j]) / len(shingles[i] | shingles[j]), -i)
                for i in kept  # Jaccard <= size ratio: skip pairs that cannot reach the threshold
                if min(len(shingles[i]), len(shingles[j])) >= threshold * max(len(shingles[i]), len(shingles[j]))
            ),
            default=(0.0, 0),
        )
        if best[0] >= threshold:
            out[j] = ("near", -best[1])
        else:
            kept.append(j)
    return out


def test_matches_brute_force_on_real_questions_with_injected_near_copies(mmlu: pl.DataFrame) -> None:
    base = mmlu.head(360)
    normalised = base.select(dedup_text_expr("question", include_choices=True))["question"].to_list()
    long_rows = [i for i, t in enumerate(normalised) if len(t) > 250][:30]
    assert len(long_rows) == 30
    copies = []
    for i in long_rows:  # one word replaced in the middle: a near copy, not an exact one
        words = base["question"][i].split()
        words[len(words) // 2] = "zebra"
        copies.append((" ".join(words), base["choices"][i]))
    qa = _frame(base["question"].to_list() + [c[0] for c in copies], base["choices"].to_list() + [c[1] for c in copies])
    kept, dropped = dedup(qa, threshold=0.8)
    assert kept.height + dropped.height == qa.height
    texts = qa.select(dedup_text_expr("question", include_choices=True))["question"].to_list()
    expected = _reference(texts, 0.8)
    got = {int(r["qa_id"][1:]): (r["dedup_reason"], int(r["duplicate_of"][1:])) for r in dropped.iter_rows(named=True)}
    assert got == expected
    injected = {base.height + k for k in range(len(copies))}
    assert injected <= set(got)  # every near copy caught
    for j in injected:
        a, b = _word_shingles(texts[j]), _word_shingles(texts[got[j][1]])
        assert got[j][0] == "near" and 0.8 <= len(a & b) / len(a | b) < 1.0
    lowest_near = dropped.filter(pl.col("dedup_reason") == "near")["similarity"].min()
    assert isinstance(lowest_near, float) and lowest_near >= 0.8
    assert set(dropped["duplicate_of"]) <= set(kept["qa_id"])  # always a row that survives
    # abstract_algebra rows 36 and 72 repeat row 9, which asks about Q(sqrt 2, sqrt 3) where row 1 asks about
    # Q(sqrt 2, sqrt 3, sqrt 18): a different question, which word shingles keep (character 5-grams called it a copy)
    assert got[35] == got[71] == ("exact", 8) and 8 not in got
    again_kept, again_dropped = dedup(qa, threshold=0.8)
    assert again_kept.equals(kept) and again_dropped.equals(dropped)


def test_chinese_near_duplicates(shared_data: Callable[..., Path]) -> None:
    cmmlu = load_benchmark_questions([shared_data("cmmlu", "dev")])
    texts = [
        "".join(cmmlu["text"][i : i + 5].to_list()) for i in range(0, 100, 5)
    ]  # 20 distinct passages of five real questions
    edited = texts[3][:40] + "某" + texts[3][41:]
    qa = _frame([*texts, edited])
    assert language_of(edited) == "zh"
    kept, dropped = dedup(qa)
    assert kept.height == 20
    assert dropped.select("qa_id", "dedup_reason", "duplicate_of").rows() == [("q0020", "near", "q0003")]


def test_bad_input_raises_with_ids() -> None:
    with pytest.raises(ValueError, match="null 'question'"):
        dedup(_frame(["a question", None]))  # type: ignore[list-item]
    dup_ids = _frame(["one question", "another question"]).with_columns(qa_id=pl.lit("same"))
    with pytest.raises(ValueError, match="not unique"):
        dedup(dup_ids)
    with pytest.raises(ValueError, match="missing"):
        dedup(_frame(["q"]).drop("choices"))


def test_lsh_banding_keeps_recall_at_threshold() -> None:
    for threshold in (0.5, 0.7, 0.8, 0.9):
        bands, rows = lsh_params(threshold, 128)
        assert bands * rows <= 128
        assert 1 - (1 - threshold**rows) ** bands >= 0.99
        wider = rows + 1  # the next more selective banding would miss too many
        assert 1 - (1 - threshold**wider) ** (128 // wider) < 0.99


def test_ngram_hashes_never_mix_texts() -> None:
    texts = pl.Series(["abcdef", "xy", "abcdef"])
    tokens, lengths = token_arrays(texts, "char")
    hashes, owner, position = ngram_hashes(tokens, lengths, 3)
    assert owner.tolist() == [0, 0, 0, 0, 1, 2, 2, 2, 2] and position.tolist() == [0, 1, 2, 3, 0, 0, 1, 2, 3]
    assert hashes[:4].tolist() == hashes[5:].tolist()  # same text, same grams
    assert len(set(hashes[:4].tolist())) == 4
    skipped, skipped_owner, _ = ngram_hashes(tokens, lengths, 3, short="skip")
    assert 1 not in skipped_owner.tolist() and skipped.shape[0] == 8


def test_bucketed_banding_finds_the_pairs_of_the_in_memory_banding() -> None:
    """Band keys spilled by bucket, a few rows at a time: the same candidate pairs as banding all
    signatures at once, whatever the bucket count (a power of two or not)."""
    words = [f"w{i}" for i in range(40)]
    texts = [" ".join(words[i : i + 12]) for i in range(25)]
    texts += [t.replace(t.split()[3], "changed") for t in texts[:8]]  # near copies across batches
    series = pl.Series(texts)
    bands, rows = lsh_params(0.8, 64)
    signatures = dedup_module.minhash_signatures(series, mode="word", k=3, num_perm=64)
    keys = dedup_module.band_keys(signatures, bands, rows)
    members = np.arange(series.len(), dtype=np.int64)
    expected = np.unique(
        np.concatenate([dedup_module.equal_key_pairs(keys[:, b], members) for b in range(bands)]), axis=0
    )
    assert expected.shape[0] >= 8  # each near copy pairs with its original at least
    for buckets in (1, 3, 16):
        with dedup_module.BandSpill(bands, rows, buckets) as spill:
            for lo in range(0, series.len(), 7):
                spill.add(signatures[lo : lo + 7], members[lo : lo + 7])
            assert spill.pairs().tolist() == expected.tolist()


def test_keep_rule_prefers_verified_then_difficulty_fit_and_keeps_input_order() -> None:
    question = "Which gas do green plants release into the air during photosynthesis on a sunny day?"
    frame = _frame([question, question, question, "An unrelated question about tides?"]).with_columns(
        discipline=pl.lit("biology"),
        difficulty=pl.Series([2, 4, 4, 3], dtype=pl.Int64),
        verification=pl.Series(["unverified", "verified", "verified", "unverified"]),
    )
    share = pl.DataFrame({"discipline": ["biology"] * 2, "difficulty": [2, 4], "share": [0.7, 0.3]})
    kept, dropped = dedup(frame, priority=keep_priority_expr(frame.columns, share))
    assert kept["qa_id"].to_list() == ["q0001", "q0003"]  # verified beats the better difficulty fit
    assert dropped.select("qa_id", "dedup_reason", "duplicate_of").rows() == [
        ("q0000", "exact", "q0001"),
        ("q0002", "exact", "q0001"),
    ]
    assert kept.columns == frame.columns and dropped.columns == [
        *frame.columns,
        "dedup_reason",
        "duplicate_of",
        "similarity",
    ]
