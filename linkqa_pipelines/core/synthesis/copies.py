"""Copy checks of a generated question against its seed questions, by containment.

A symmetric similarity (Jaccard) lets concatenation through: a question that holds a seed word
for word plus other text is far from the seed in Jaccard terms. These rules measure how much of
one text is found in the other instead, all on normalised text (`normalize_texts`):

- `contains_seed`: the question contains a seed question whole (seeds of at least
  `COPY_MIN_CHARS` characters; shorter ones are stems like "which is correct", not content);
- `common_substring`: the question shares one passage longer than `COPY_PASSAGE_SHARE` of a
  seed question with it, without containing it whole (a partial paste);
- `shingle_containment`: more than `COPY_CONTAINMENT` of the question's char 5-grams are found
  in one seed (a rewording that keeps most of one seed's text).

Offline compositions are built on the first rule (they quote their seeds whole as numbered parts)
and are exempt from it alone: the quotations are set aside and the other rules read the rest,
which must not copy a seed either. The path's knowledge-point names are set aside for every
item before those two rules (offline KP names are phrases of the seeds).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Literal

from linkqa_pipelines.core.text import normalize_texts, shingle_set

CopyRule = Literal["contains_seed", "common_substring", "shingle_containment"]

COPY_MIN_CHARS = 20  # normalised characters a seed question needs before its text counts as copyable
COPY_PASSAGE_SHARE = 0.5  # a common passage longer than this share of a seed question is a paste
COPY_CONTAINMENT = 0.5  # share of the question's char 5-grams found in one seed above which it is a copy
SHINGLE = 5
COMPOSITION_EXEMPT: frozenset[CopyRule] = frozenset({"contains_seed"})


def copy_reason(
    question: str, seeds: Sequence[str], exempt: Collection[CopyRule] = (), path_names: Sequence[str] = ()
) -> str | None:
    """Why `question` counts as a copy of one of `seeds` (first rule that applies, seed numbered
    from 1), or None. Rules in `exempt` are not applied. The passage and shingle rules read the
    question without the seeds it quotes whole (only a composition gets that far) and without
    the `path_names`: naming the path's knowledge points is asked for, not copying."""
    norm, *rest = normalize_texts([question, *seeds, *path_names])
    seed_norms, names = rest[: len(seeds)], rest[len(seeds) :]
    quoted = [i for i, t in enumerate(seed_norms, start=1) if len(t) >= COPY_MIN_CHARS and t in norm]
    if quoted and "contains_seed" not in exempt:
        return f"question contains seed {quoted[0]} whole (contains_seed)"
    for text in sorted([seed_norms[i - 1] for i in quoted] + names, key=len, reverse=True):
        if text:
            norm = norm.replace(text, "\x00")
    shingles = shingle_set(norm, SHINGLE)
    for i, seed in enumerate(seed_norms, start=1):
        if len(seed) >= COPY_MIN_CHARS and "common_substring" not in exempt:
            passage = int(len(seed) * COPY_PASSAGE_SHARE) + 1
            if shingle_set(seed, passage) & shingle_set(norm, passage):
                return (
                    f"question shares a passage of {passage}+ characters (over {COPY_PASSAGE_SHARE:.0%}) "
                    f"with seed {i} (common_substring)"
                )
        if shingles and "shingle_containment" not in exempt:
            share = len(shingles & shingle_set(seed, SHINGLE)) / len(shingles)
            if share > COPY_CONTAINMENT:
                return (
                    f"{share:.0%} of the question's char {SHINGLE}-grams are in seed {i} "
                    f"(> {COPY_CONTAINMENT:.0%}, shingle_containment)"
                )
    return None
