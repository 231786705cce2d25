"""`linkqa show`: one item's whole story, or a sample of items, read from the home's tables.

Everything comes from the lake the warehouse views expose (`Lake(home).scan`), with paths taken
relative to the home rather than the views' stored globs, so a home copied from another machine
shows the same thing; nothing is recomputed and no model is called. Every stage's output is
looked up (the latest stage holding the item wins), so rejected items are found too.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from linkqa_pipelines.cli.errors import CLIError
from linkqa_pipelines.cli.parser import EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:  # the CLI imports its heavy dependencies only when a command needs them
    import polars as pl

    from linkqa_pipelines.core.lake import Lake

ITEM_TABLES = ("linkqa_dataset", "screened_qa", "difficulty_scored_qa", "qa_verification", "synthesized_qa")
REJECT_TABLES = ("screened_qa_rejects", "linkqa_dataset_rejects")
DIFFICULTY_COLUMNS = (
    "difficulty",
    "difficulty_method",
    "difficulty_raw",
    "difficulty_judge",
    "grade_level",
    "difficulty_dimensions",
    "solver_k",
    "solver_error_rate",
    "difficulty_justification",
    "enhanced_from",
)
SAMPLE_HINT = "`linkqa show --sample 3` shows some items and their ids"


def _rows(lake: Lake, table: str, where: pl.Expr) -> list[dict[str, Any]]:
    """Rows of `table` matching `where`; none when the table was never materialized."""
    if not lake.files(table):
        return []
    return lake.scan(table).filter(where).collect().to_dicts()


def _verification_text(item: dict[str, Any]) -> str:
    """The item's verification status; the offline backend has no solver, so it never verifies."""
    status = item.get("verification")
    if item.get("backend") == "offline" and status in (None, "unverified"):
        return "unverified (offline backend: no solver)"
    if not status:
        return "not verified"
    agreement = item.get("agreement")
    return status if agreement is None else f"{status} (agreement {agreement:.0%})"


def item_report(lake: Lake, qa_id: str) -> dict[str, Any] | None:
    """Everything the tables know about one item, JSON-ready; None when no table holds it."""
    import polars as pl

    this = pl.col("qa_id") == qa_id
    item = next((rows[0] for t in ITEM_TABLES if (rows := _rows(lake, t, this))), None)
    if item is None:
        return None
    decisions: list[dict[str, Any]] = []  # the screening's rejects reappear in the dataset's: once each
    for table in REJECT_TABLES:
        for row in _rows(lake, table, this | (pl.col("related_id") == qa_id)):
            key = {k: v for k, v in row.items() if k != "question"}
            if all({k: v for k, v in d.items() if k not in ("table", "outcome")} != key for d in decisions):
                outcome = "this item removed" if row["qa_id"] == qa_id else "this item kept, the other removed"
                decisions.append({"table": table, "outcome": outcome, **key})
    path = _rows(lake, "walk_paths", pl.col("path_id") == item.get("path_id"))
    kp_order: list[str] = path[0]["kp_ids"] if path else list(item.get("kp_ids") or [])
    catalog = {r["kp_id"]: r for r in _rows(lake, "kp_catalog", pl.col("kp_id").is_in(kp_order))}
    seed_ids: list[str] = list(item.get("seed_ids") or [])
    seeds = {r["seed_id"]: r for r in _rows(lake, "seed_sources", pl.col("seed_id").is_in(seed_ids))}
    regenerated_from = item.get("regenerated_from")  # the disputed version's votes belong to its story too
    votes = _rows(lake, "qa_verification_votes", pl.col("qa_id").is_in([qa_id, regenerated_from or qa_id]))
    return {
        "item": {k: v for k, v in item.items() if k not in DIFFICULTY_COLUMNS},
        "released": bool(_rows(lake, "linkqa_dataset", this)),
        "path": [
            {
                "kp_id": kp,
                "name": catalog.get(kp, {}).get("name"),
                "popularity": catalog.get(kp, {}).get("popularity"),
                "used_by_item": kp in (item.get("kp_ids") or []),
            }
            for kp in kp_order
        ],
        "seeds": [
            {
                "seed_id": s,
                **{k: seeds.get(s, {}).get(k) for k in ("source", "source_row", "answer", "choices", "question")},
            }
            for s in seed_ids
        ],
        "verification": {
            "status": _verification_text(item),
            "rounds": item.get("verify_rounds"),
            "regenerated_from": regenerated_from,
            "votes": sorted(votes, key=lambda v: (v["round"], v["sample"])),
        },
        "difficulty": {c: item[c] for c in DIFFICULTY_COLUMNS if item.get(c) is not None},
        "decisions": decisions,
    }


def sample_ids(lake: Lake, n: int, discipline: str | None, seed: int | None) -> list[str]:
    """`n` random qa_ids of the released dataset (of the latest stage with items when nothing was released)."""
    import polars as pl

    where = pl.lit(True) if discipline is None else pl.col("discipline") == discipline
    for table in ITEM_TABLES:
        if lake.files(table):
            ids = lake.scan(table).filter(where).select("qa_id").unique().sort("qa_id").collect()["qa_id"]
            if ids.len():
                return ids.sample(min(n, ids.len()), seed=seed).to_list()
    scope = f" of discipline {discipline!r}" if discipline else ""
    raise CLIError(f"no items{scope} under {lake.home}", "`linkqa disciplines` lists ids; `linkqa run` makes items")


def _with_key_text(answer: str | None, choices: list[str] | None) -> str:
    """A multiple-choice answer letter with the option it names (`B. velocity`)."""
    from linkqa_pipelines.core.synthesis import LETTERS

    index = LETTERS.find(answer) if answer and len(answer) == 1 else -1
    return f"{answer}. {choices[index]}" if choices and 0 <= index < len(choices) else str(answer)


def _render(console: Any, report: dict[str, Any]) -> None:
    from rich.table import Table
    from rich.text import Text

    from linkqa_pipelines.core.synthesis import LETTERS

    item = report["item"]

    def line(label: str, value: object) -> None:
        console.print(Text.assemble((f"{label}: ", "bold"), str(value)))

    def cell(value: object) -> Text:
        return Text("" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value))

    def table(title: str, rows: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
        grid = Table(title=title, title_justify="left")
        for c in columns:
            grid.add_column(c)
        for r in rows:
            grid.add_row(*(cell(r.get(c)) for c in columns))
        console.print(grid)

    console.print(Text.assemble("\n", ("item ", "bold"), (str(item["qa_id"]), "bold cyan")))
    offline = " (non-LLM algorithm, not a model)" if item.get("backend") == "offline" else ""
    line("discipline", f"{item.get('discipline')}   language: {item.get('language')}   type: {item.get('qa_type')}")
    line("backend/model", f"{item.get('backend')} / {item.get('model')}{offline}")
    line("question", item.get("question"))
    for letter, choice in zip(LETTERS, item.get("choices") or [], strict=False):
        key = letter == item.get("answer")
        console.print(Text(f"  {letter}. {choice}" + ("   <- key" if key else ""), style="green" if key else ""))
    line("answer", item.get("answer"))
    line("rationale", item.get("rationale"))
    line("released", "yes (linkqa_dataset)" if report["released"] else "no")
    table(
        f"path {item.get('path_id')}: KPs in walk order",
        report["path"],
        ("kp_id", "name", "popularity", "used_by_item"),
    )
    seeds = [{**s, "answer": _with_key_text(s["answer"], s["choices"])} for s in report["seeds"]]
    table("seeds", seeds, ("seed_id", "source", "source_row", "answer", "question"))
    verification = report["verification"]
    line("verification", verification["status"])
    for name in ("rounds", "regenerated_from"):
        if verification[name] is not None:
            line(f"verification {name}", verification[name])
    if verification["votes"]:
        columns = ("qa_id", "round", "sample", "model", "answer", "agrees", "rationale")
        table("verification votes (keyless answers)", verification["votes"], columns)
    for name, value in report["difficulty"].items() or [("difficulty", "not scored")]:
        line(name, value)
    if report["decisions"]:
        columns = ("outcome", "table", "stage", "reason", "qa_id", "related_id", "similarity", "matched_text")
        table("dedup, decontamination and mix decisions", report["decisions"], columns)
    else:
        line("decisions", "none (no dedup, decontamination or mix decision names this item)")


def cmd_show(args: argparse.Namespace) -> int:
    from linkqa_pipelines.cli.summary import table_console
    from linkqa_pipelines.core.lake import Lake
    from linkqa_pipelines.settings import linkqa_home

    lake = Lake(linkqa_home())
    if not any(lake.files(t) for t in ITEM_TABLES):
        raise CLIError(f"no items under {lake.home}", "`linkqa run` makes them (or pass the right --home)")
    if args.qa_id:
        ids: list[str] = [args.qa_id]
    elif args.sample >= 1:
        ids = sample_ids(lake, args.sample, args.discipline, args.seed)
    else:
        raise CLIError(f"--sample {args.sample}: need at least 1", SAMPLE_HINT, EXIT_USAGE)
    reports: list[dict[str, Any]] = []
    for qa_id in ids:
        report = item_report(lake, qa_id)
        if report is None:
            raise CLIError(f"no item {qa_id!r} under {lake.home}", SAMPLE_HINT)
        reports.append(report)
    if args.json:
        print(json.dumps(reports[0] if args.qa_id else reports, ensure_ascii=False, indent=2, default=str))
        return EXIT_OK
    console = table_console()
    for report in reports:
        _render(console, report)
    return EXIT_OK
