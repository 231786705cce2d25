"""The `linkqa` command line: its arguments and the exit codes `--help` documents.

Kept apart so the interface (flags, defaults, exit code numbers) reads in one place and every
other CLI module takes its constants from here.
"""

from __future__ import annotations

import argparse

LLM_FLAGS = ("backend", "base_url", "model", "response_format", "concurrency")
DEFAULT_MAX_FAILURE_RATE = 0.05

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_FAILURES, EXIT_EMPTY = 0, 1, 2, 3, 4
EXIT_CODES = f"""exit codes:
  {EXIT_OK}  success
  {EXIT_ERROR}  a stage could not run, or a command failed: its error is printed in one line (--debug: traceback)
  {EXIT_USAGE}  bad command line or settings: unknown discipline, incomplete LLM settings, endpoint unreachable
     or refusing the key (the preflight that `linkqa doctor` runs alone)
  {EXIT_FAILURES}  too many failures: a stage's failure rate (quarantined rows, failed model requests) is over
     --max-failure-rate, or any failure with --strict; the run stops after that stage
  {EXIT_EMPTY}  the release is empty
The last lines name the stage, how many failed and the most frequent reasons."""


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)  # accepted before or after the subcommand
    common.add_argument(
        "--home", default=argparse.SUPPRESS, help="LINKQA_HOME: lake, warehouse, caches, Dagster instance (./.linkqa)"
    )
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="tracebacks and Dagster's log on the console"
    )
    parser = argparse.ArgumentParser(
        prog="linkqa",
        description="LinkQA Pipelines: seed QA -> knowledge points -> KP graph -> walks -> synthesized QA.",
        parents=[common],
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run",
        parents=[common],
        help="materialize the whole asset graph",
        description="Materialize every asset, stage by stage, for all disciplines that have seeds "
        "(or --disciplines), recording runs on the local Dagster instance. With a model backend a "
        "preflight checks the settings and the endpoint first.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--seeds", nargs="+", metavar="PATH", help="seed files/folders or s3:// URIs (default: sample)")
    run.add_argument("--adapter", help="force one seed adapter: mmlu_csv, cmmlu_csv, gsm8k_jsonl, math_jsonl, generic")
    run.add_argument("--disciplines", help="comma-separated discipline ids (default: every discipline with seeds)")
    run.add_argument("--paths", type=int, metavar="N", help="walk paths to sample per discipline")
    run.add_argument(
        "--max-failure-rate",
        type=float,
        default=DEFAULT_MAX_FAILURE_RATE,
        metavar="R",
        help="stop with exit code 3 when a stage's share of failures (quarantined seed rows, failed model "
        f"requests) is over R (default {DEFAULT_MAX_FAILURE_RATE:g}: a few bad rows or flaky requests pass, "
        "a broken file layout or endpoint does not)",
    )
    run.add_argument(
        "--strict",
        action="store_true",
        help="any failure fails the run: an unreadable seed file stops ingestion, any quarantined row or "
        "failed request gives exit code 3",
    )
    run.add_argument(
        "--retry-failed",
        action="store_true",
        help="ask the model again for terminal failures: requests whose answers were rejected "
        "LINKQA_LLM_MAX_ATTEMPTS_TOTAL times over all runs (default 4) are otherwise not sent again",
    )
    _llm_arguments(run)

    doctor = sub.add_parser(
        "doctor",
        parents=[common],
        help="check the home and the model backend (settings, endpoint, structured-output mode) without running",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _llm_arguments(doctor)
    sub.add_parser("disciplines", parents=[common], help="list discipline ids (partition keys)")
    sub.add_parser("tables", parents=[common], help="list the warehouse's tables")
    query = sub.add_parser(
        "query", parents=[common], help="run SQL on the DuckDB warehouse, e.g. 'select count(*) from seed_qa'"
    )
    query.add_argument("sql")
    show = sub.add_parser(
        "show",
        parents=[common],
        help="one item's story: question and key, its path's KPs, seeds (file, row), verification, difficulty, "
        "dedup/decontamination/mix decisions",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    which = show.add_mutually_exclusive_group(required=True)
    which.add_argument("qa_id", nargs="?", help="the item's qa_id (released or rejected)")
    which.add_argument(
        "--sample", type=int, metavar="N", help="N random items of the release (of any stage if none was released)"
    )
    show.add_argument("--discipline", metavar="D", help="with --sample: only items of discipline D")
    show.add_argument("--seed", type=int, metavar="S", help="with --sample: random seed, for a repeatable sample")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def _llm_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=["offline", "openai", "vllm"], help="LLM backend (env LINKQA_LLM_BACKEND)")
    parser.add_argument("--base-url", help="OpenAI-compatible endpoint (env LINKQA_LLM_BASE_URL)")
    parser.add_argument("--model", help="model name (env LINKQA_LLM_MODEL); the key comes from LINKQA_LLM_API_KEY")
    parser.add_argument(
        "--response-format",
        choices=["json_schema", "json_object", "text"],
        help="structured output mode (default: the strongest the endpoint accepts, found by the preflight)",
    )
    parser.add_argument("--concurrency", type=int, help="requests in flight per stage (default 64)")
