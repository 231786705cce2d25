"""How well a reader without knowledge answers composite multiple-choice items from the options
alone: the strategies a balanced composition must defeat, each as an expected accuracy (ties
split evenly, as a reader who guesses among them would score).

- `majority_per_part`: the option whose part values are the most common across the options;
- `longest`: the longest option;
- `most_similar`: the option with the highest char 5-gram Jaccard to the other options;
- `position`: the best fixed letter (the share of keys at the most common key position).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from linkqa_pipelines.core.synthesis.answers import LETTERS
from linkqa_pipelines.core.synthesis.templates import Template, template_for
from linkqa_pipelines.core.text import normalize_texts, shingle_set

STRATEGIES = ("majority_per_part", "longest", "most_similar", "position")


def option_only_accuracy(items: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """`chance` and each strategy's accuracy over multiple-choice composite items (dicts with
    `language`, `choices` and the key letter `answer`); empty when there is none."""
    mc = [i for i in items if i.get("choices")]
    if not mc:
        return {}
    totals: dict[str, float] = dict.fromkeys(("chance", *STRATEGIES[:-1]), 0.0)
    for item in mc:
        options: list[str] = list(item["choices"])
        key = LETTERS.index(item["answer"])
        parts = [_parts(o, template_for(item["language"])) for o in options]
        per_part = [Counter(column) for column in zip(*parts, strict=True)]
        norms = [shingle_set(n, 5) for n in normalize_texts(options)]
        scores: dict[str, list[float]] = {
            "majority_per_part": [float(sum(c[v] for c, v in zip(per_part, p, strict=True))) for p in parts],
            "longest": [float(len(o)) for o in options],
            "most_similar": [sum(_jaccard(a, b) for b in norms if b is not a) for a in norms],
        }
        totals["chance"] += 1 / len(options)
        for name, values in scores.items():
            top = max(values)
            winners = [i for i, v in enumerate(values) if v == top]
            totals[name] += (key in winners) / len(winners)
    out = {name: total / len(mc) for name, total in totals.items()}
    out["position"] = max(Counter(i["answer"] for i in mc).values()) / len(mc)
    return out


def _parts(option: str, t: Template) -> list[str]:
    """An option's part values ("Part 1: (B) x; Part 2: 42" -> ["(B) x", "42"])."""
    label = re.escape(t.part).replace(re.escape("{i}"), r"\d+") + re.escape(t.colon)
    return re.split(f"(?:{re.escape(t.sep)})?{label}", option)[1:]


def _jaccard(a: set[str], b: set[str]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 1.0
