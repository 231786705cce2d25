"""Throughput of the LLM layer against a loopback OpenAI-compatible server with 200 ms latency.

Run by hand (not a test):  .venv/bin/python bench/llm_throughput.py [--rounds 8] [--modes plain,layer,layer-sdk]

For 1, 16, 64 and 256 requests in flight it measures requests/s and client CPU ms per
request (process time of this process; the server runs in its own process) for:
  plain        a plain `AsyncOpenAI` loop with a semaphore (default transport, pydantic responses)
  layer        `LLMClient.generate` (openai backend): cache writes, parsing, schema check included
  layer-sdk    the same with http_transport=openai (the SDK's request pipeline, aiohttp transport)
next to the ideal (in flight / latency). Each level sends `rounds * in_flight` requests
(at least 25) through a fresh client, so connection set-up is part of the cost, as in a stage.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import SecretStr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from linkqa_pipelines.core.llm import ChatRequest, LLMClient, LLMSettings  # noqa: E402
from linkqa_pipelines_tests.fake_openai_server import ANSWER_SCHEMA  # noqa: E402

LATENCY = 0.2
LEVELS = (1, 16, 64, 256)
SYSTEM = "You extract the knowledge points a question tests. Answer in JSON."


def question(i: int, run: str) -> str:
    return f"[{run}] Which knowledge points does question {i} about Newton's second law and friction test?"


def start_server() -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "linkqa_pipelines_tests" / "fake_openai_server.py"), "--latency", str(LATENCY)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    port = int(server.stdout.readline().split()[1])
    return server, f"http://127.0.0.1:{port}/v1"


def plain(base_url: str, in_flight: int, n: int, run: str) -> int:
    """The baseline: what a stage would write with the SDK alone."""
    import openai

    async def main() -> int:
        client = openai.AsyncOpenAI(base_url=base_url, api_key="sk-bench", max_retries=0)
        gate = asyncio.Semaphore(in_flight)
        ok = 0

        async def one(i: int) -> None:
            nonlocal ok
            async with gate:
                response = await client.chat.completions.create(
                    model="bench",
                    messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": question(i, run)}],
                    response_format={"type": "json_object"},
                    temperature=0.7,
                    max_tokens=512,
                )
                ok += isinstance(json.loads(response.choices[0].message.content or ""), dict)

        await asyncio.gather(*(one(i) for i in range(n)))
        await client.close()
        return ok

    return asyncio.run(main())


def layer(transport: Literal["auto", "aiohttp", "openai"]) -> Callable[[str, int, int, str], int]:
    def run_layer(base_url: str, in_flight: int, n: int, run: str) -> int:
        with tempfile.TemporaryDirectory() as home:
            settings = LLMSettings(
                backend="openai",
                base_url=base_url,
                model="bench",
                api_key=SecretStr("sk-bench"),
                home=Path(home),
                concurrency=in_flight,
                http_transport=transport,
            )
            requests = [
                ChatRequest(
                    key=str(i),
                    schema=ANSWER_SCHEMA,
                    messages=({"role": "system", "content": SYSTEM}, {"role": "user", "content": question(i, run)}),
                )
                for i in range(n)
            ]
            outcome = LLMClient(settings).generate("bench", None, requests)
            return outcome.stats.succeeded

    return run_layer


MODES: dict[str, Callable[[str, int, int, str], int]] = {
    "plain": plain,
    "layer": layer("auto"),
    "layer-sdk": layer("openai"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=8, help="requests per level = rounds x in flight")
    parser.add_argument("--modes", default="plain,layer,layer-sdk")
    args = parser.parse_args()
    modes = args.modes.split(",")
    server, base_url = start_server()
    for mode in modes:  # imports, SDK platform probe, first connections: not part of the measurement
        MODES[mode](base_url, 4, 8, f"warm-{mode}")
    rows: dict[tuple[str, int], tuple[float, float]] = {}
    try:
        for mode in modes:
            for in_flight in LEVELS:
                n = max(25, args.rounds * in_flight)
                cpu, wall = time.process_time(), time.perf_counter()
                ok = MODES[mode](base_url, in_flight, n, f"{mode}-{in_flight}")
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                if ok != n:
                    raise SystemExit(f"{mode} at {in_flight}: only {ok} of {n} answers")
                rows[mode, in_flight] = (n / wall, 1000 * cpu / n)
                print(
                    f"  {mode:12} {in_flight:4} in flight: {n / wall:8.1f} req/s  {1000 * cpu / n:6.2f} ms CPU/req",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        server.kill()
    load = os.getloadavg()[0]
    print(f"\nloopback server latency {LATENCY * 1000:.0f} ms, {os.cpu_count()} cores, load average {load:.2f}\n")
    head = f"{'in flight':>9} {'ideal/s':>8}" + "".join(
        f" | {m + ' req/s (x ideal)':>28} {'CPU ms/req':>10}" for m in modes
    )
    print(head)
    print("-" * len(head))
    for in_flight in LEVELS:
        ideal = in_flight / LATENCY
        line = f"{in_flight:>9} {ideal:>8.0f}"
        for m in modes:
            rps, cpu = rows[m, in_flight]
            line += f" | {rps:>19.1f} ({rps / ideal:4.2f}) {cpu:>10.2f}"
        print(line)
    if "plain" in modes:
        for m in (m for m in modes if m != "plain"):
            ratios = ", ".join(f"{lvl}: {rows[m, lvl][0] / rows['plain', lvl][0]:.2f}x" for lvl in LEVELS)
            print(f"\n{m} throughput / plain: {ratios}")


if __name__ == "__main__":
    main()
