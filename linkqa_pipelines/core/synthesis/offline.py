"""Offline synthesis: a deterministic template composition of a path's seed questions, in the
answer shape a model returns, for runs without a model.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from linkqa_pipelines.core.synthesis.answers import LETTERS, resolve_choice
from linkqa_pipelines.core.synthesis.templates import Template, answer_text, render_item, template_for

OFFLINE_SYNTH_MODEL = "offline-template-v1"


def offline_synthesis(payloads: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Template composition (model label `OFFLINE_SYNTH_MODEL`): deterministic, no model.

    It composes, it does not invent: the question strings the path's seed questions together
    as numbered parts under a heading naming the KP path; the answer is the seeds' answers in
    order ("Part 1: (B) <choice>; Part 2: 42"); the rationale is the path plus each seed's
    explanation (or its answer, when it has none). Chinese wording for zh paths. When
    multiple choice is requested it builds a composite item: the options are answer
    combinations, the correct one plus distractors that swap one multiple-choice part's
    answer for a wrong option of that part (two parts, if one-part swaps run out), placed
    by a hash of the path id. With no multiple-choice seed there are no honest distractors:
    the free-form composition is returned and validation rejects it as the wrong type.
    Every row made this way is a recombination of existing questions; its value is in
    linking them, not in new knowledge, and the dataset card says so.
    """
    return [_compose(p) for p in payloads]


def _compose(payload: Mapping[str, Any]) -> dict[str, Any]:
    t = template_for(payload["language"])
    seeds = payload["seeds"]
    path = t.arrow.join(payload["kp_names"])
    parts = "\n".join(f"{t.part.format(i=i)}{t.colon}{render_item(s)}" for i, s in enumerate(seeds, start=1))
    answers = [answer_text(s) for s in seeds]
    rationale = "\n".join(
        [t.path_line.format(path=path)]
        + [
            f"{t.part.format(i=i)}{t.colon}{(s['explanation'] or '').strip() or t.stated(a)}"
            for i, (s, a) in enumerate(zip(seeds, answers, strict=True), start=1)
        ]
    )
    combined = t.sep.join(f"{t.part.format(i=i)}{t.colon}{a}" for i, a in enumerate(answers, start=1))
    common = {"rationale": rationale, "kp_names_used": list(payload["kp_names"])}
    mc_parts = [i for i, s in enumerate(seeds) if s["choices"]]
    if payload["qa_type"] != "multiple_choice" or not mc_parts:
        question = f"{t.links.format(path=path)}\n{parts}\n{t.ask_all}"
        return {"question": question, "qa_type": "free_form", "choices": None, "answer": combined, **common}
    options = _composite_options(payload, mc_parts, t)
    correct = int(hashlib.sha256(payload["path_id"].encode()).hexdigest(), 16) % (len(options) + 1)
    options.insert(correct, combined)
    return {
        "question": f"{t.links.format(path=path)}\n{parts}\n{t.ask_mc}",
        "qa_type": "multiple_choice",
        "choices": options,
        "answer": LETTERS[correct],
        **common,
    }


def _composite_options(payload: Mapping[str, Any], mc_parts: list[int], t: Template) -> list[str]:
    """n_choices - 1 wrong answer combinations, fewest changed parts first, hash-ordered."""
    seeds = payload["seeds"]
    correct = [resolve_choice(s["answer"], s["choices"]) if s["choices"] else None for s in seeds]
    wrong_options = {i: [j for j in range(len(seeds[i]["choices"])) if j != correct[i]] for i in mc_parts}
    candidates: list[tuple[int, str, tuple[tuple[int, int], ...]]] = []
    for n_changed in (1, 2):
        for changed in itertools.combinations(mc_parts, n_changed):
            for picks in itertools.product(*(wrong_options[i] for i in changed)):
                swap = tuple(zip(changed, picks, strict=True))
                rank = hashlib.sha256(f"{payload['path_id']}|{swap}".encode()).hexdigest()
                candidates.append((n_changed, rank, swap))
    candidates.sort()
    options: list[str] = []
    for _, _, swap in candidates[: payload["n_choices"] - 1]:
        chosen = dict(swap)
        texts = [
            answer_text({**s, "answer": LETTERS[chosen[i]]}) if i in chosen else answer_text(s)
            for i, s in enumerate(seeds)
        ]
        options.append(t.sep.join(f"{t.part.format(i=i)}{t.colon}{a}" for i, a in enumerate(texts, start=1)))
    return options
