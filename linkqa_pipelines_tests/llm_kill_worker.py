"""Subprocess side of the SIGKILL-and-resume and shared-cache tests: run one batch, write the results.

Usage: python llm_kill_worker.py BASE_URL HOME FIRST LAST OUT_JSON
Runs requests FIRST..LAST-1 of `batch()` against BASE_URL with the cache under HOME.
"""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
from pydantic import SecretStr

from linkqa_pipelines.core.llm import ChatRequest, LLMClient, LLMSettings
from linkqa_pipelines_tests.fake_openai_server import ANSWER_SCHEMA


def batch(first: int, last: int) -> list[ChatRequest]:
    """Requests whose answers do not depend on the faults met (transport faults only), so runs compare."""
    requests = []
    for i in range(first, last):
        script = "[[faults:500]] " if i % 10 == 3 else "[[faults:429,drop]] " if i % 10 == 7 else ""
        messages = (
            {"role": "system", "content": "You extract knowledge points."},
            {"role": "user", "content": f"{script}question {i}"},
        )
        requests.append(ChatRequest(key=f"q{i:04d}", messages=messages, schema=ANSWER_SCHEMA))
    return requests


def settings(base_url: str, home: Path) -> LLMSettings:
    return LLMSettings(
        backend="openai",
        base_url=base_url,
        model="fake-model",
        api_key=SecretStr("sk-test-worker-key"),
        home=home,
        concurrency=8,
        timeout=5.0,
        backoff_base=0.01,
        backoff_max=0.05,
    )


def main(argv: list[str]) -> int:
    base_url, home, first, last, out = argv
    outcome = LLMClient(settings(base_url, Path(home))).generate("resume", "p", batch(int(first), int(last)))
    summary = {r.key: r.parsed if r.ok else {"error": r.error} for r in outcome.results}
    Path(out).write_bytes(orjson.dumps({"results": summary, "stats": outcome.stats.as_dict()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
