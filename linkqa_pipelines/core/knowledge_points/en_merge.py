"""English KP merges beyond spelling: abbreviations the text defines, and irregular plurals.

Two rules, each named in `kp_aliases.rule`, both over distinct names or texts (no per-link work):

- `abbreviation`: "gross domestic product (GDP)", "PKU (phenylketonuria)". A text that writes a
  long form with its short form in parentheses, or the other way round, says the two are one
  concept; Schwartz & Hearst's algorithm (2003, "A simple algorithm for identifying abbreviation
  definitions in biomedical text") finds the long form: the short form's letters and digits in
  order inside it, right to left, the first one at the start of the long form's first word. The
  texts are the links' `kp_description`s (the seed fragment around the KP offline, the model's
  description otherwise). Both forms must be keys already (the rule never makes up a KP), and
  the merge is refused when it would cross meanings: a short form defined as two different keys
  (CS: conditioned stimulus in psychology, customer service in business), or used in a
  discipline where its long form never occurs (GDP may merge where both are used; an "AP" in a
  physics seed is not the economics "average product").
- `lemma`: irregular plurals the light rule in `lexicon.singular_word` gets wrong ("viruses" ->
  "viruse", "atria", "knives", "fishermen", "tetrahedra"): the name's last word, when LemmInflect
  (maintained, ships its lexicon in the wheel) knows exactly one noun lemma for it, is replaced
  by that lemma; the name merges with the key that gives, if that key exists. Not for names in
  capitals (IDS is not a plural of "id"), words the light rule keeps on purpose ("logos",
  "bias"), or lemmas that are stop words ("cans" -> "can" would leave "aluminum").

Checked on the shared data (20,269 English seeds of MMLU test, GSM8K and MATH; 26,337 English
KPs): every merge printed and read. `abbreviation` made 34, all one concept: GDP, SRS
(simple random sample), ANOVA, PKU (phenylketonuria), mtDNA, UCS (unconditioned stimulus), ATC
and AVC (average total / variable cost), IMF, EEZ, HClO (hypochlorous acid), ...; two long forms
are the extractor's cut phrases of the same concept (JND: "noticeable difference", OPEC:
"petroleum exporting country"). `lemma` made 33, all right: viruses/virus, gases/gas,
atria/atrium, tetrahedra/tetrahedron, knives/knife, salespeople/salesperson, pence/penny, ....
No wrong merge was found, and the effect on sharing is small (26,337 -> 26,280 English KPs).
Rejected on the same data:
- initials alone (no text defining the abbreviation): of 81 acronym/phrase pairs with matching
  initials in a shared discipline, a handful were one concept (UN/united nation, TAT/thematic
  apperception test); the rest were GSM8K props and chance (CB: chocolate bar, candy bar, comic
  book; IA: illegal act, insurance agent; PS: public sector, private sector, pricing strategy).
- facet phrases, the English twin of `zh_facet` ("definition of terrorism" -> "terrorism" and
  "characteristic of monopoly" -> "monopoly" are right, but "principle of utility", "principle of
  segregation" and "function of temperature" are concepts of their own or another sense, and
  "feature of McGregor" a cut name): about one in eight wrong.
- any parenthesis ("tricarboxylic acid cycle (Krebs cycle)" is right, but "heroin (opiate)",
  "flavonoid (polyphenol)", "method (procedure)" and "word (string)" name a hypernym or a
  neighbour): too many wrong merges for the right ones.
- "known as", "also called", "i.e.": of 52 phrases on the shared data with a KP on each side,
  nearly all are question stems and options ("... is known as deductive reasoning" in a question
  whose answer is another option) or a class and its member ("a channel known as ATP synthase").
- word embeddings: WordLlama (MIT, ships 256-d weights in its wheel; its loader looks for the
  tokenizer under a path the wheel lacks and then downloads it, so it would need loading by hand)
  scores sulfate/sulfite 0.83 and kinetic energy/energy 0.58, but heart attack/myocardial
  infarction 0.26 and DNA/deoxyribonucleic acid 0.15: no threshold separates synonyms from
  neighbours in terminology, so a wrong merge (worse than none) comes with every right one.
  Open English WordNet has no package that ships its data (`oewn-core` is the toolkit only,
  `wn` and NLTK download it), and WordNet synsets are loose for terms ("energy" / "free energy").
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import cast

import lemminflect
import polars as pl

from linkqa_pipelines.core.knowledge_points.lexicon import EN_STOP_WORDS, PLURAL_INVARIANT

_EDGE_SCHEMA = pl.Schema({"a": pl.String(), "b": pl.String(), "rule": pl.String(), "score": pl.Float64()})
# "long form ( SHORT )" or "SHORT ( long form )" in a description; tokens are space-separated offline.
_PAREN = re.compile(r"([^()]+?)\s*\(\s*([^()]{1,80}?)\s*\)")
_SHORT_FORM = re.compile(r"^[A-Za-z][A-Za-z0-9\-]{1,9}$")
_WORD = re.compile(r"[A-Za-z][A-Za-z\-']*")


def _long_form(short: str, text: str) -> str | None:
    """Schwartz & Hearst's best long form for `short` at the end of `text`, or None.

    Right to left, each letter or digit of the short form must be found in the text, and the
    first one at the start of a word; the long form starts at that word."""
    s, i = len(short) - 1, len(text) - 1
    while s >= 0:
        c = short[s].lower()
        if not c.isalnum():
            s -= 1
            continue
        while i >= 0 and (text[i].lower() != c or (s == 0 and i > 0 and text[i - 1].isalnum())):
            i -= 1
        if i < 0:
            return None
        i -= 1
        s -= 1
    start = text.rfind(" ", 0, i + 1) + 1
    return text[start:]


def _definition(left: str, inner: str) -> tuple[str, str] | None:
    """(short form, long form) that `left ( inner )` defines, or None. The short form is the
    single token on one side (with a capital: "(b)" is an option label, not an abbreviation);
    the long form comes from the words on the other side, at most min(|short| + 5, 2 |short|)
    of them as in the paper, and has more characters than the short form."""
    left_words = left.split()
    inner_words = inner.split()
    if len(inner_words) == 1 and _SHORT_FORM.match(inner):
        short, words = inner, left_words
    elif left_words and _SHORT_FORM.match(left_words[-1]) and len(inner_words) >= 1:
        short, words = left_words[-1], inner_words
    else:
        return None
    if not any(ch.isupper() for ch in short):
        return None
    window = min(len(short) + 5, 2 * len(short))
    text = " ".join(w for w in (words[-window:] if words is left_words else words[:window]) if _WORD.fullmatch(w))
    found = _long_form(short, text)
    if found is None or len(found) <= len(short) or found.lower() == short.lower():
        return None
    return short, found


def _definitions(texts: pl.Series) -> pl.DataFrame:
    """(short, long) for every abbreviation defined in the distinct `texts`."""
    rows: list[tuple[str, str]] = []
    # Only texts where a token with a capital touches a parenthesis can hold a definition.
    candidates = texts.filter(texts.str.contains(r"\(\s*[A-Za-z0-9\-]*[A-Z]|[A-Z][A-Za-z0-9\-]*\s*\("))
    for text in candidates.to_list():
        for match in _PAREN.finditer(text):
            found = _definition(match.group(1), match.group(2))
            if found is not None:
                rows.append(found)
    return pl.DataFrame(rows, schema=["short", "long"], orient="row").unique()


def abbreviation_edges(
    texts: pl.Series, key_disciplines: pl.DataFrame, keys_of: Callable[[pl.Series], pl.Series]
) -> pl.DataFrame:
    """`abbreviation` edges (a: short key, b: long key): definitions found in the distinct
    `texts`, both sides keys of `key_disciplines` (key, discipline: every discipline a key is
    used in), guarded as the module docstring says. `keys_of` is the catalog's key function."""
    found = _definitions(texts)
    if found.height == 0:
        return pl.DataFrame(schema=_EDGE_SCHEMA)
    found = found.with_columns(a=keys_of(found["short"]), b=keys_of(found["long"])).filter(pl.col("a") != pl.col("b"))
    known = key_disciplines.select("key").unique()
    pairs = (
        found.join(known, left_on="a", right_on="key", how="semi")
        .join(known, left_on="b", right_on="key", how="semi")
        .unique(["a", "b"], keep="first", maintain_order=True)
        .filter(pl.len().over("a") == 1)  # one meaning per short form
    )
    used_in = key_disciplines.group_by("key").agg(pl.col("discipline").unique().alias("in"))
    return (
        pairs.join(used_in.rename({"key": "a", "in": "a_in"}), on="a")
        .join(used_in.rename({"key": "b", "in": "b_in"}), on="b")
        .filter(pl.col("a_in").list.set_difference("b_in").list.len() == 0)
        .select("a", "b", rule=pl.lit("abbreviation"), score=pl.lit(100.0))
        .sort("a", "b")
    )


@functools.cache
def _noun_lemma(word: str) -> str | None:
    """LemmInflect's noun lemma of a lower-cased word, when it knows exactly one."""
    all_lemmas = cast("Callable[[str], dict[str, tuple[str, ...]]]", lemminflect.getAllLemmas)
    lemmas = all_lemmas(word).get("NOUN")
    return lemmas[0] if lemmas is not None and len(lemmas) == 1 else None


def lemma_edges(names: pl.Series, keys: pl.Series, keys_of: Callable[[pl.Series], pl.Series]) -> pl.DataFrame:
    """`lemma` edges (a: the name's key, b: the key with the last word lemmatised) among distinct
    `names` and their `keys` (the catalog's `keys_of` each), guarded as the module docstring says.
    Columnar; LemmInflect runs once per distinct last word."""
    last = pl.col("name").str.extract(r"(?:^|\s)([A-Za-z]+)\s*$", 1)
    frame = (
        pl.DataFrame({"name": names, "a": keys})
        .with_columns(last=last, head=pl.col("name").str.extract(r"^(.*\s)[A-Za-z]+\s*$", 1).fill_null(""))
        .filter(pl.col("last").is_not_null() & (pl.col("last") != pl.col("last").str.to_uppercase()))
        .with_columns(word=pl.col("last").str.to_lowercase())
    )
    words = frame.select("word").unique().filter(~pl.col("word").is_in(list(PLURAL_INVARIANT)))
    lemmas = words.with_columns(lemma=pl.Series([_noun_lemma(w) for w in words["word"].to_list()], dtype=pl.String))
    lemmas = lemmas.filter(
        pl.col("lemma").is_not_null()
        & (pl.col("lemma") != pl.col("word"))
        & ~pl.col("lemma").is_in(list(EN_STOP_WORDS))
    )
    found = frame.join(lemmas, on="word").select("a", lemmatised=pl.col("head") + pl.col("lemma"))
    if found.height == 0:
        return pl.DataFrame(schema=_EDGE_SCHEMA)
    return (
        found.with_columns(b=keys_of(found["lemmatised"]))
        .filter(pl.col("a") != pl.col("b"))
        .join(pl.DataFrame({"b": keys}).unique(), on="b", how="semi")
        .unique(["a", "b"])
        .select("a", "b", rule=pl.lit("lemma"), score=pl.lit(100.0))
        .sort("a", "b")
    )
