"""Verification through the loopback server: the steered items and stand-in model the verification
tests share, and the subprocess side of the SIGKILL-and-resume test.

Usage: python verify_kill_worker.py BASE_URL HOME N
Verifies `items(N)` against BASE_URL (answered by `play_verifier`) with the cache under HOME; the
test kills it part-way, so what it leaves is the response cache.

Each item's question carries a marker that steers the stand-in model:
- `[ok]`     every solver names the key -> verified, agreement 1;
- `[refine]` round 0: two of three name C instead of the key A -> refine; the verifier re-derives C,
             and in round 1 two of three name C -> refined, agreement 2/3;
- `[regen]`  round 0: the solvers scatter (B, C, D) -> regenerate; the new item (`[new]`, key B)
             gets three B -> refined, agreement 1, `regenerated_from` the disputed item;
- `[fail]`   free form, key 42: every solver says 41 in every round; the verifier stands by 42 ->
             failed after the last round, agreement 0.
Difficulty: the judge says 3, 5 for a harder variant; enhancement keeps the key of an `[ok]` item
(its variant is `[ok]`) and makes a `[fail]` variant of a `[new]` one.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import SecretStr

from linkqa_pipelines.core.contracts import SYNTH_QA_SCHEMA
from linkqa_pipelines.core.llm import ChatRequest, LLMClient, LLMSettings, ModelTask, TaskOutcome
from linkqa_pipelines.core.verification import VerificationRun, verify_items

K = 3
ROUNDS = 1
KP_NAMES = {"k1": "place value", "k2": "counting"}
SEEDS = {"s1": {"question": "Name the digit in the hundreds place of 352.", "choices": None}}
MARKERS = ("ok", "refine", "regen", "fail")
# marker -> answers by sampling seed (round * K + sample)
_VOTES = {
    "ok": ["B"] * 6,
    "refine": ["C", "C", "A", "C", "A", "C"],
    "regen": ["B", "C", "D"],
    "new": ["B"] * 6,
    "fail": ["41"] * 6,
}
_REFINED = {"refine": "C", "fail": "42"}
_MARKER = re.compile(r"\[(ok|refine|regen|new|fail)\]")


def items(n: int = len(MARKERS), discipline: str = "mathematics") -> pl.DataFrame:
    """n SYNTH_QA_SCHEMA rows cycling through the markers (multiple choice, `[fail]` free form)."""
    rows: list[dict[str, Any]] = []
    for i in range(n):
        marker = MARKERS[i % len(MARKERS)]
        free = marker == "fail"
        rows.append(
            {
                "qa_id": f"qa_{marker}_{i}",
                "path_id": f"p{i}",
                "discipline": discipline,
                "language": "en",
                "qa_type": "free_form" if free else "multiple_choice",
                "question": f"[{marker}] Item {i}: how many units make {i + 4} tens?",
                "choices": None if free else ["10", "20", "30", "40"],
                "answer": "42" if free else ("B" if marker == "ok" else "A"),
                "rationale": "Count the tens.",
                "kp_ids": ["k1", "k2"],
                "seed_ids": ["s1"],
                "difficulty": None,
                "backend": "openai",
                "model": "fake-r1",
                "prompt_tokens": 10,
                "completion_tokens": 10,
                "verification": "unverified",
                "agreement": None,
            }
        )
    return pl.DataFrame(rows, schema=SYNTH_QA_SCHEMA)


def play_verifier(request: dict[str, Any], attempt: int) -> dict[str, Any]:
    """The stand-in model of the module docstring, chosen by the response schema name."""
    task = request["response_format"]["json_schema"]["name"]
    prompt = request["messages"][-1]["content"]
    found = _MARKER.search(prompt)
    marker = found.group(1) if found else "ok"
    if task == "linkqa_verify":
        return {"answer": _VOTES[marker][int(request["seed"])], "rationale": f"solved ({marker})"}
    if task == "linkqa_refine":
        return {"answer": _REFINED[marker], "rationale": "Re-derived step by step."}
    if task == "linkqa_synthesis":  # regeneration from the path
        number = re.search(r"Item (\d+)", prompt)
        return {
            "question": f"[new] Item {number.group(1) if number else 0}: how many tens make 200 units?",
            "qa_type": "multiple_choice",
            "choices": ["10", "20", "30", "40"],
            "answer": "B",
            "rationale": "200 units are 20 tens.",
            "kp_names_used": list(KP_NAMES.values()),
        }
    if task == "linkqa_enhance":  # the variant of an `[ok]` item keeps its key, that of a `[new]` one is `[fail]`
        return {
            "question": f"[{'fail' if marker == 'new' else 'ok'}] Harder: {prompt.split('Original question:')[1][:60]}",
            "qa_type": "multiple_choice",
            "choices": ["10", "20", "30", "40"],
            "answer": "B",
            "rationale": "Convert, then count the tens.",
            "kp_names_used": list(KP_NAMES.values()),
            "harder_because": "adds a conversion step",
        }
    if task == "linkqa_difficulty":  # level 3, harder variants 5
        level = 5 if "Harder" in prompt else 3
        dims = {"score": level, "justification": "Steps counted."}
        return {
            "dimensions": dict.fromkeys(
                ("conceptual_depth", "prior_knowledge", "reasoning_steps", "computation", "ambiguity"), dims
            ),
            "level": level,
            "grade_level": "middle_school",
            "justification": "Steps counted.",
        }
    raise ValueError(f"unexpected task {task}")


def settings(base_url: str, home: Path) -> LLMSettings:
    return LLMSettings(
        backend="openai",
        base_url=base_url,
        model="fake-r1",
        api_key=SecretStr("sk-test-verify-key"),
        home=home,
        concurrency=4,
        timeout=5.0,
        backoff_base=0.01,
        backoff_max=0.05,
    )


def run(client: LLMClient, qa: pl.DataFrame) -> VerificationRun:
    """Verify `qa` with one client as verifier and generator."""

    def ask(task: ModelTask, requests: Sequence[ChatRequest]) -> TaskOutcome:
        return task.run(client, "mathematics", requests)

    return verify_items(qa, k=K, rounds=ROUNDS, ask_verifier=ask, ask_generator=ask, kp_names=KP_NAMES, seeds=SEEDS)


def main(argv: list[str]) -> int:
    base_url, home, n = argv
    run(LLMClient(settings(base_url, Path(home))), items(int(n)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
