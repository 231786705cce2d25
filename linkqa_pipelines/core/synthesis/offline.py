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
from linkqa_pipelines.core.text import shingle_set

OFFLINE_SYNTH_MODEL = "offline-template-v2"


def offline_synthesis(payloads: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Template composition (model label `OFFLINE_SYNTH_MODEL`): deterministic, no model; one
    item per path (`{"items": [item]}`, the reply shape of a model), as there is one way to
    compose a path's seeds: the offline backend asks for one QA per path.

    It composes, it does not invent: the question quotes the path's seed questions as
    numbered parts under a heading naming the KP path; the answer is the seeds' answers in
    order ("Part 1: (B) <choice>; Part 2: 42"); the rationale is the path plus each seed's
    explanation (or its answer, when it has none). Chinese wording for zh paths.

    When multiple choice is requested it builds a balanced composite item (v2): each option
    is an answer combination, and in every multiple-choice part the n options carry n
    distinct choices of that part (the key's value once, each other value once), so no
    value is more common than another and "the most common value per part" says nothing.
    Distractors differ from the key in every such part. Among the ways of pairing the wrong
    values into distractors it takes one where the key's length rank is a hash-chosen rank,
    so "the longest option" is right no more often than chance; the key's position is
    hash-chosen too. Parts whose seed has fewer than n choices, or is free form, show the
    seed's answer in every option. With no part that can vary there are no honest
    distractors: the free-form composition is returned and validation rejects it as the
    wrong type. v1 swapped one part per distractor, which the per-part majority solved 93%
    of the time. Every row made this way is a recombination of existing questions; its
    value is in linking them, not in new knowledge, and the dataset card says so.
    """
    return [{"items": [_compose(p)]} for p in payloads]


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
    common = {
        "rationale": rationale,
        "kp_names_used": list(payload["kp_names"]),
        "seeds_used": list(range(1, len(seeds) + 1)),
    }
    columns = _part_columns(payload) if payload["qa_type"] == "multiple_choice" else None
    if columns is None:
        question = f"{t.links.format(path=path)}\n{parts}\n{t.ask_all}"
        return {"question": question, "qa_type": "free_form", "choices": None, "answer": _joined(t, answers), **common}
    options, correct = _balanced_options(payload["path_id"], columns, t)
    return {
        "question": f"{t.links.format(path=path)}\n{parts}\n{t.ask_mc}",
        "qa_type": "multiple_choice",
        "choices": options,
        "answer": LETTERS[correct],
        **common,
    }


def _joined(t: Template, part_answers: Sequence[str]) -> str:
    return t.sep.join(f"{t.part.format(i=i)}{t.colon}{a}" for i, a in enumerate(part_answers, start=1))


def _part_columns(payload: Mapping[str, Any]) -> list[list[str]] | None:
    """Per part, the n values its options show: the key's first, then n-1 distinct wrong
    choices (hash-picked) for a part with at least n choices, the key's n times otherwise.
    None when no part varies."""
    n = payload["n_choices"]
    columns: list[list[str]] = []
    for i, seed in enumerate(payload["seeds"]):
        choices: Sequence[str] = seed["choices"] or ()
        correct = resolve_choice(seed["answer"], choices) if len(choices) >= n else None
        if correct is None:  # too few choices, free form (or an unresolvable key, which answer_text reports)
            columns.append([answer_text(seed)] * n)
            continue
        wrong = sorted((j for j in range(len(choices)) if j != correct), key=lambda j: _rank(payload["path_id"], i, j))
        columns.append([answer_text({**seed, "answer": LETTERS[j]}) for j in [correct, *wrong[: n - 1]]])
    return columns if any(len(set(c)) > 1 for c in columns) else None


def _balanced_options(path_id: str, columns: list[list[str]], t: Template) -> tuple[list[str], int]:
    """The options (key at a hash-chosen position) and the key's index.

    Distractor j takes, in each varying part, the wrong value a per-part permutation gives it
    (the first varying part's in order). The assignment taken puts the key at a hash-chosen
    length rank, uniform over the ranks, so that neither the longest nor the shortest option
    is the key more often than chance (seeds' keys are often their longest choice), and at a
    hash-chosen rank of similarity to the other options, likewise; when no
    permutation does, a part may show its key in every option instead of varying (given, as
    a free-form part is), as few as needed; then the fewest length ties, then hash order.
    """
    n = len(columns[0])
    target, similar_target = _rank(path_id, "length") % n, _rank(path_id, "similar") % n
    varying = [i for i, c in enumerate(columns) if len(set(c)) > 1]
    identity = tuple(range(1, n))
    # The search meets the same distractors and option pairs many times over (3^k distinct
    # distractors among 3 * 6^(k-1) built per subset): each option string (by its value indices,
    # the key's all 0), its shingles and each pair's similarity are made once, and the hash
    # tie-break is computed only when the other criteria tie.
    made = _OptionTexts(t, columns)
    key = made.text(made.id_of((0,) * len(columns)))
    best: tuple[int, int, int, int, list[str]] | None = None
    subsets = (keep for size in range(len(varying), 0, -1) for keep in itertools.combinations(varying, size))
    for keep in subsets:
        for perms in itertools.product(itertools.permutations(identity), repeat=len(keep) - 1):
            pick = dict(zip(keep, (identity, *perms), strict=True))
            ids = [0] + [
                made.id_of(tuple(pick[i][j] if i in pick else 0 for i in range(len(columns)))) for j in range(n - 1)
            ]
            distractors = [made.text(d) for d in ids[1:]]
            lengths = [len(o) for o in (key, *distractors)]
            miss = _rank_miss(lengths, target) + _rank_miss(made.similarities(ids), similar_target)
            tied = lengths.count(lengths[0]) - 1
            head = (miss, len(varying) - len(keep), tied)
            if best is None or head < best[:3] or (head == best[:3] and _rank(path_id, keep, perms) < best[3]):
                best = (*head, _rank(path_id, keep, perms), distractors)
        if best is not None and best[0] == 0:
            break
    assert best is not None  # there is at least one varying part
    position = _rank(path_id, "position") % n
    options = best[4]
    options.insert(position, key)
    return options, position


def _rank_miss(scores: Sequence[float], target: int) -> int:
    """How far the key's rank by `scores` (index 0; 0 = highest, ties spanning ranks) is from `target`."""
    higher = sum(v > scores[0] for v in scores[1:])
    tied = sum(v == scores[0] for v in scores[1:])
    return max(higher - target, target - higher - tied, 0)


class _OptionTexts:
    """One item's candidate options by their value indices (one per part): the joined text, its
    char 5-gram shingles (case-folded, not normalised: cheap) and each pair's Jaccard, each made
    once."""

    def __init__(self, t: Template, columns: list[list[str]]) -> None:
        self._t, self._columns = t, columns
        self._ids: dict[tuple[int, ...], int] = {}
        self._texts: list[str] = []
        self._grams: list[set[str] | None] = []
        self._pairs: dict[tuple[int, int], float | None] = {}

    def id_of(self, values: tuple[int, ...]) -> int:
        found = self._ids.get(values)
        if found is None:
            found = self._ids[values] = len(self._texts)
            self._texts.append(_joined(self._t, [c[v] for c, v in zip(self._columns, values, strict=True)]))
            self._grams.append(None)
        return found

    def text(self, option: int) -> str:
        return self._texts[option]

    def _shingles(self, option: int) -> set[str]:
        grams = self._grams[option]
        if grams is None:
            grams = self._grams[option] = shingle_set(self._texts[option].casefold(), 5)
        return grams

    def _jaccard(self, a: int, b: int) -> float | None:
        """None when neither has a shingle (the pair does not count)."""
        pair = (a, b) if a <= b else (b, a)
        if pair not in self._pairs:
            ga, gb = self._shingles(a), self._shingles(b)
            common = len(ga & gb)  # |a | b| from the sizes: no union set is built
            self._pairs[pair] = common / (len(ga) + len(gb) - common) if ga or gb else None
        return self._pairs[pair]

    def similarities(self, options: Sequence[int]) -> list[float]:
        """Each option's summed Jaccard with the other options (by position: a repeat counts)."""
        return [
            sum(v for j, b in enumerate(options) if j != i and (v := self._jaccard(a, b)) is not None)
            for i, a in enumerate(options)
        ]


def _rank(path_id: str, *salt: object) -> int:
    """A deterministic pseudo-random number from the path id and a salt."""
    return int(hashlib.sha256(f"{path_id}|{salt}".encode()).hexdigest()[:16], 16)
