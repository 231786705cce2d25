"""The verification stage's pure logic: keyless requests, the vote, and offline abstention."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from linkqa_pipelines.core.llm import LLMClient, LLMSettings
from linkqa_pipelines.core.verification import VERIFY_TASK, build_verification_requests, tally

QA = pl.DataFrame(
    {
        "qa_id": ["qa_mc", "qa_ff"],
        "question": ["What is 2 + 3?", "Name the gas plants take in."],
        "choices": [["4", "5", "6", "7"], None],
        "answer": ["B", "carbon dioxide"],
    }
)


def test_requests_are_keyless_and_k_per_item() -> None:
    requests = build_verification_requests(QA, k=3)
    assert [r.key for r in requests][:3] == ["verify:qa_mc:0", "verify:qa_mc:1", "verify:qa_mc:2"]
    assert len(requests) == 6
    mc_prompt = requests[0].messages[-1]["content"]
    assert "(B) 5" in mc_prompt and "carbon dioxide" not in requests[3].messages[-1]["content"]


def test_majority_vote_against_the_key() -> None:
    mc, ff = QA.to_dicts()
    assert tally(mc, ["B", "(B)", "A"]) == ("verified", 2 / 3)
    assert tally(mc, ["5", "A", "C"]) == ("failed", 1 / 3)  # choice text counts as its letter
    assert tally(mc, ["B", "A"]) == ("failed", 0.5)  # a tie is not a majority
    assert tally(ff, ["Carbon dioxide.", "carbon  dioxide", None]) == ("verified", 1.0)
    assert tally(ff, [None, " "]) == ("unverified", None)


def test_offline_backend_never_verifies(tmp_path: Path) -> None:
    client = LLMClient(LLMSettings(backend="offline", home=tmp_path))
    outcome = VERIFY_TASK.run(client, "d", build_verification_requests(QA, k=3))
    answers = outcome.answers()
    assert len(answers) == 6 and all(a is not None and a["answer"] is None for a in answers)
    for i, item in enumerate(QA.to_dicts()):
        votes = [a["answer"] if a else None for a in answers[3 * i : 3 * i + 3]]
        assert tally(item, votes) == ("unverified", None)
