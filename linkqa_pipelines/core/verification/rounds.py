"""The verification rounds: vote, repair what lost, vote again, up to N repair rounds.

Round r votes on every open item (k keyless answers, `vote.py`). Then, per item:
- more than half of the answers given name the key -> `verified`, or `refined` if the stage
  changed the item in an earlier round (its key re-derived, or regenerated);
- no answer given at all (the offline backend abstains; every request failed) -> `unverified`;
- the key lost and r = N -> `failed`;
- the key lost and more than half of the answers given name one other answer (a confident
  majority) -> **refine**: the verifier re-derives answer and rationale, seeing the key and the
  dissent; the refined key is voted on in round r + 1 with fresh samples and must win there
  itself (a verifier that merely echoes the solvers is still checked);
- the key lost without any majority (answers scattered, or naming no option) -> **regenerate**:
  the question itself is the problem, so the generation model writes a new item from the path,
  voted on in round r + 1.
A repair whose request fails (after the LLM layer's retries) leaves the item `failed`; the
failure is in the ledger and the next materialization asks again (successful calls replay from
the response cache, so a resumed run repeats none of them).

`agreement` is the share of answers given in the item's last vote that name its final key.
Every vote is kept in the votes table (VOTES_SCHEMA), against the item version it was cast on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import polars as pl

from linkqa_pipelines.core.contracts import SYNTH_QA_SCHEMA, conform
from linkqa_pipelines.core.llm.accounting import BatchStats
from linkqa_pipelines.core.llm.task import ModelTask, TaskOutcome
from linkqa_pipelines.core.llm.types import BatchOutcome, ChatRequest, ChatResult
from linkqa_pipelines.core.synthesis.answers import LETTERS, answer_columns, resolve_choice
from linkqa_pipelines.core.synthesis.results import meta_columns, qa_id
from linkqa_pipelines.core.verification.repair import (
    REFINE_TASK,
    REGENERATE_TASK,
    build_refine_requests,
    build_regenerate_requests,
)
from linkqa_pipelines.core.verification.vote import (
    VERIFY_TASK,
    Verification,
    build_verification_requests,
    canonical,
    consensus,
    tally,
)

QA_VERIFICATION_SCHEMA: dict[str, pl.DataType] = {
    **SYNTH_QA_SCHEMA,
    "verify_rounds": pl.Int64(),  # repair rounds the item went through (0: judged on the first vote)
    "regenerated_from": pl.String(),  # qa_id of the disputed item this one was regenerated from
}
VOTES_SCHEMA: dict[str, pl.DataType] = {
    "qa_id": pl.String(),  # the item version voted on
    "discipline": pl.String(),
    "round": pl.Int64(),
    "sample": pl.Int64(),
    "answer": pl.String(),  # null: the solver abstained (offline)
    "agrees": pl.Boolean(),  # with the key of that round; null when no answer
    "model": pl.String(),
    "rationale": pl.String(),
    "key": pl.String(),  # the key the answer was compared with (a refined key differs from the first)
}

Ask = Callable[[ModelTask, Sequence[ChatRequest]], TaskOutcome]


@dataclass
class _Slot:
    item: dict[str, Any]
    changed: bool = False
    repairs: int = 0
    regenerated_from: str | None = None
    status: Verification = "unverified"
    agreement: float | None = None


@dataclass(frozen=True)
class VerificationRun:
    """The items after verification, every vote, and the outcomes of every task call."""

    items: pl.DataFrame
    votes: pl.DataFrame
    outcomes: list[TaskOutcome]


def verify_items(
    qa: pl.DataFrame,
    *,
    k: int,
    rounds: int,
    ask_verifier: Ask,
    ask_generator: Ask,
    kp_names: Mapping[str, str],
    seeds: Mapping[str, Mapping[str, Any]],
) -> VerificationRun:
    """Run the rounds (module docstring) on `qa` (SYNTH_QA_SCHEMA rows; further columns are kept
    after the QA_VERIFICATION_SCHEMA ones). `ask_verifier` answers votes and refinements,
    `ask_generator` regenerations; `kp_names` (kp_id -> name) and `seeds` (seed_id -> seed)
    describe the items' paths for regeneration."""
    if rounds < 0:
        raise ValueError(f"rounds (repair rounds) must be >= 0, got {rounds}")
    slots = [_Slot(dict(row)) for row in qa.iter_rows(named=True)]
    outcomes: list[TaskOutcome] = []
    votes: list[dict[str, Any]] = []
    open_ = slots
    for r in range(rounds + 1):
        if not open_:
            break
        outcome = ask_verifier(VERIFY_TASK, build_verification_requests([s.item for s in open_], k, r))
        outcomes.append(outcome)
        refine: list[tuple[_Slot, str]] = []
        regenerate: list[tuple[_Slot, list[str]]] = []
        for j, slot in enumerate(open_):
            given = _record_votes(slot.item, r, outcome.results[j * k : (j + 1) * k], votes)
            status, slot.agreement = tally(slot.item, given)
            if status == "verified":
                slot.status = "refined" if slot.changed else "verified"
            elif status == "unverified" or r == rounds:
                slot.status = status
            else:
                dissent = consensus(slot.item, given)
                if dissent is not None:
                    refine.append((slot, dissent))
                else:
                    regenerate.append((slot, [v for v in given if v is not None and v.strip()]))
        open_ = _refine(refine, r, ask_verifier, outcomes) + _regenerate(
            regenerate, r, ask_generator, kp_names, seeds, outcomes
        )
    rows = [
        {
            **s.item,
            "verification": s.status,
            "agreement": s.agreement,
            "verify_rounds": s.repairs,
            "regenerated_from": s.regenerated_from,
        }
        for s in slots
    ]
    extra = {c: t for c, t in qa.schema.items() if c not in QA_VERIFICATION_SCHEMA}  # e.g. enhanced_from
    items = conform(pl.DataFrame(rows, schema={**QA_VERIFICATION_SCHEMA, **extra}), QA_VERIFICATION_SCHEMA)
    return VerificationRun(items, pl.DataFrame(votes, schema=VOTES_SCHEMA), outcomes)


def _record_votes(
    item: Mapping[str, Any], round_: int, results: Sequence[ChatResult], into: list[dict[str, Any]]
) -> list[str | None]:
    """Append the vote rows of one item's answered samples; return the answers (None: abstained
    or failed). A failed request leaves no vote row: it is in the failure ledger."""
    key = canonical(item, item["answer"])
    given: list[str | None] = []
    for i, result in enumerate(results):
        parsed = result.parsed if result.ok else None
        answer = parsed.get("answer") if parsed is not None else None
        given.append(answer)
        if parsed is None:
            continue
        said = canonical(item, answer) if answer is not None and answer.strip() else None
        into.append(
            {
                "qa_id": item["qa_id"],
                "discipline": item["discipline"],
                "round": round_,
                "sample": i,
                "answer": answer,
                "agrees": None if answer is None or not answer.strip() else said == key,
                "model": result.model,
                "rationale": parsed.get("rationale"),
                "key": item["answer"],
            }
        )
    return given


def _refine(pending: list[tuple[_Slot, str]], round_: int, ask: Ask, outcomes: list[TaskOutcome]) -> list[_Slot]:
    """Re-derive each item's key and rationale; the refined items go to the next vote."""
    if not pending:
        return []
    outcome = ask(REFINE_TASK, build_refine_requests([(s.item, dissent) for s, dissent in pending], round_))
    outcomes.append(outcome)
    again: list[_Slot] = []
    for (slot, _), answer in zip(pending, outcome.answers(), strict=True):
        if answer is None:
            slot.status = "failed"
            continue
        choices = slot.item["choices"]
        text = answer["answer"].strip()
        pick = resolve_choice(text, choices) if choices else None
        slot.item |= {"answer": LETTERS[pick] if pick is not None else text, "rationale": answer["rationale"].strip()}
        slot.changed, slot.repairs = True, slot.repairs + 1
        again.append(slot)
    return again


def _regenerate(
    pending: list[tuple[_Slot, list[str]]],
    round_: int,
    ask: Ask,
    kp_names: Mapping[str, str],
    seeds: Mapping[str, Mapping[str, Any]],
    outcomes: list[TaskOutcome],
) -> list[_Slot]:
    """A new item from each disputed item's path; the new items go to the next vote."""
    if not pending:
        return []
    requests = build_regenerate_requests([(s.item, answers) for s, answers in pending], kp_names, seeds, round_)
    outcome = ask(REGENERATE_TASK, requests)
    outcomes.append(outcome)
    again: list[_Slot] = []
    for (slot, _), answer, result in zip(pending, outcome.answers(), outcome.results, strict=True):
        if answer is None:
            slot.status = "failed"
            continue
        old = slot.item
        question = answer["question"].strip()
        slot.item = old | answer_columns(answer) | meta_columns(result) | {"qa_id": qa_id(old["path_id"], question)}
        slot.regenerated_from = old["qa_id"]
        slot.changed, slot.repairs = True, slot.repairs + 1
        again.append(slot)
    return again


def combine_outcomes(outcomes: Sequence[TaskOutcome]) -> dict[str, TaskOutcome]:
    """The outcomes of several calls per task stage (one vote per round) as one outcome each:
    requests and results concatenated, counters summed, for the stage's accounting."""
    by_stage: dict[str, list[TaskOutcome]] = {}
    for o in outcomes:
        by_stage.setdefault(o.batch.stats.stage, []).append(o)
    combined: dict[str, TaskOutcome] = {}
    for stage, group in by_stage.items():
        first = group[0].batch.stats
        stats = BatchStats(first.stage, first.partition, first.backend, first.model)
        for o in group:
            for f in fields(BatchStats):
                value = getattr(o.batch.stats, f.name)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    setattr(stats, f.name, getattr(stats, f.name) + value)
        combined[stage] = TaskOutcome(
            [r for o in group for r in o.requests], BatchOutcome([r for o in group for r in o.results], stats)
        )
    return combined


def verification_summary(items: pl.DataFrame) -> dict[str, Any]:
    """The stage's rates for one discipline: items per status, mean agreement, and how many items
    needed a repair (refine rate: refined / items voted on)."""
    counts = dict.fromkeys(("verified", "refined", "failed", "unverified"), 0)
    counts |= {str(s): int(n) for s, n in items.group_by("verification").len().iter_rows()}
    voted = items.height - counts["unverified"]
    agreement = items["agreement"].drop_nulls()
    return {
        "verification": counts,
        "agreement_mean": round(float(agreement.cast(pl.Float64).sum()) / agreement.len(), 4)
        if agreement.len()
        else None,
        "refine_rate": round(counts["refined"] / voted, 4) if voted else None,
        "fail_rate": round(counts["failed"] / voted, 4) if voted else None,
        "regenerated": int(items["regenerated_from"].is_not_null().sum()),
        "repairs": int(items["verify_rounds"].sum()),
    }
