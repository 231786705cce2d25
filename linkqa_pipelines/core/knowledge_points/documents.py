"""Seed rows as the offline extractor's documents: required columns checked loudly, optional ones
read as null, fields weighted by how much they speak for the seed's topic, formulas and markup
turned into the concepts they express (or nothing), text tokenised and part-of-speech tagged
(English: TextBlob's PatternTagger, the Brill lexicon + contextual rules it ships; Chinese:
jieba.posseg, the dictionary + HMM it ships; both offline), and per-token features (steps 1-2 of
`keyphrases`).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from types import ModuleType
from typing import cast

import polars as pl

from linkqa_pipelines.core.knowledge_points.lexicon import (
    CJK_CLASS,
    EXTRACTION_STOP_WORDS,
    FORMAL_MATHS_CONCEPTS,
    FORMULA_CONCEPTS,
    GENERIC_NOUNS,
    LY_NOUNS,
    MATHS_ACRONYMS,
    NAME_STOP_WORDS,
    QUESTION_FRAMES,
    STOP_WORD_TERMS,
    WORD_PROBLEM_CONCEPTS,
    ZH_DICTIONARY_NON_WORDS,
    ZH_STOP_WORDS,
    SignalledConcept,
    singular_word,
)

FIELD_WEIGHTS: dict[str, float] = {
    "question": 3.0,
    "answer": 2.0,
    "explanation": 1.5,
    "choice": 1.0,
    "formula": 1.0,
    "question_formula": 3.0,  # what the question's own formulas express weighs as much as its words
    "word_problem": 3.0,  # the concept a word problem tests weighs as much as the question's own words
}
FORMULA_FIELD = 102  # concepts of the formulas of the answer, choices and explanation
QUESTION_FORMULA_FIELD = 104  # concepts of the question's formulas and notation
FORMULA_FIELDS = (FORMULA_FIELD, QUESTION_FORMULA_FIELD)
WORD_PROBLEM_FIELD = 103
CONCEPT_FIELDS = (*FORMULA_FIELDS, WORD_PROBLEM_FIELD)  # fields that hold concept names, not text

# Coarse part of speech of a token: N noun (a KP's head), A modifier (may precede a head), V verb
# (Chinese only: may end a KP right after a noun, "细胞凋亡", "肾损伤"), O anything else.
_EN_TAGS = {"NN": "N", "NNS": "N", "NNP": "N", "NNPS": "N", "JJ": "A", "VBN": "A", "VBG": "A"}
# jieba.posseg flags: nouns, place/person/organisation names, verbal and adjectival nouns,
# abbreviations, noun morphemes, fixed expressions (many terms: "三角函数", "脊神经"), Latin words.
_ZH_TAGS = {
    **dict.fromkeys(["n", "nr", "nrt", "nrfg", "ns", "nt", "nz", "nw", "vn", "an", "j", "ng", "zg", "l", "eng"], "N"),
    **dict.fromkeys(["a", "b"], "A"),
    "v": "V",
}

# Markup that is never a KP: Asymptote drawings, GSM8K calculator annotations, maths spans and
# stray LaTeX commands (their concepts are kept through `formula_concepts`).
_DRAWING = r"(?s)\[asy\].*?\[/asy\]"
_CALCULATOR = r"<<[^<>]*>>"
# A maths span holds a LaTeX sign or is short ("$x$", "$f(x)$"); "$5 and $7" in a GSM8K text is money.
_MATH = r"(?s)\$\$.*?\$\$|\$(?:[^$\n]*[\\^_{}=<>][^$\n]*|[A-Za-z0-9+\-*/(). ]{1,8})\$|\\\(.*?\\\)|\\\[.*?\\\]"
_COMMAND = r"\\(?:begin|end)\{[A-Za-z]+\*?\}|\\[A-Za-z]+"
# A function name written without its backslash, as plain-text maths does ("sin x", "sqrt(2)",
# "log_2 8", CMMLU's "f(x) = sin x"): before a bracket, index, digit or one-letter variable, so
# "original sin" and "log cabin" stay words.
_BARE_FUNCTION = (
    r"(^|[^A-Za-z\\])(arcsin|arccos|arctan|sin|cos|tan|cot|sec|csc|log|ln|lg|sqrt|lim|deg)"
    r"(\s*(?:[(_{^\d]|[A-Za-z](?:[^A-Za-z]|$)))"
)
_NUMBER = (
    r"\d|(?i)\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|hundred)\b"
)
# LaTeX: a command, display maths, or an inline maths span ("$r$", "$13.7$", "$x^2 = 4$"); a
# dollar amount ("$5 and $10") is prose. Any of them: not a prose word problem.
_LATEX = r"\\[A-Za-z]|\$\$|\\\(|\\\[|\$[^\s$]+\$|\$[^$]*[=^_{}<>+][^$]*\$"
_SUBJECT_PREFIXES = r"^(?:high_school|college|elementary|middle_school|professional|junior_high|senior_high)_"


def check_seeds(seeds: pl.DataFrame, what: str) -> None:
    """Fail loudly, naming rows and seed_ids, rather than skipping seeds."""
    missing = [c for c in ("seed_id", "question") if c not in seeds.columns]
    if missing:
        raise ValueError(f"{what}: missing columns {missing}")
    numbered = seeds.with_row_index("row")
    for problem, bad in (
        ("empty 'seed_id' or 'question'", pl.col("seed_id").is_null() | (pl.col("question").str.strip_chars() == "")),
        ("duplicate 'seed_id'", pl.col("seed_id").is_duplicated()),
    ):
        rows = numbered.filter(bad.fill_null(True))
        if rows.height:
            raise ValueError(
                f"{what}: {rows.height} row(s) with {problem} "
                f"(0-based rows {rows['row'].head(10).to_list()}, seed_ids {rows['seed_id'].head(10).to_list()})"
            )


def optional_column(seeds: pl.DataFrame, column: str, dtype: pl.DataType) -> pl.Expr:
    return pl.col(column) if column in seeds.columns else pl.lit(None, dtype=dtype).alias(column)


def subject_label(subject: pl.Expr) -> pl.Expr:
    """ "high_school_biology" -> "biology": the topic a subject name stands for."""
    return subject.str.replace(_SUBJECT_PREFIXES, "").str.replace_all("_", " ").str.strip_chars()


def documents(seeds: pl.DataFrame) -> pl.DataFrame:
    """The columns extraction reads, with a dense `doc` index, the Chinese flag, the mathematics
    flag and the word-problem flag (a mathematics seed in prose: a number and no LaTeX). The
    question and worked solution are read without their frame's instructions (`QUESTION_FRAMES`).

    Chinese texts are NFKC-normalised first: some benchmark files write characters as Kangxi
    radicals ("⾯积" for 面积: 537 rows of CMMLU test), which jieba's dictionary does not know."""
    language = optional_column(seeds, "language", pl.String())
    cjk_share = pl.col("question").str.count_matches(f"[{CJK_CLASS}]") / pl.col("question").str.len_chars()
    zh = pl.when(language.is_not_null()).then(language == "zh").otherwise(cjk_share >= 0.3).fill_null(False)
    mathematics = (optional_column(seeds, "discipline", pl.String()) == "mathematics").fill_null(False)

    def nfkc(text: pl.Expr) -> pl.Expr:
        return pl.when(zh).then(text.str.normalize("NFKC")).otherwise(text)

    def unframed(text: pl.Expr) -> pl.Expr:
        for frame in QUESTION_FRAMES:
            text = text.str.replace_all(frame, " ")
        return nfkc(text)

    choices = optional_column(seeds, "choices", pl.List(pl.String()))
    texts = seeds.select(
        "seed_id",
        unframed(pl.col("question")),
        choices=pl.when(zh).then(choices.list.eval(pl.element().str.normalize("NFKC"))).otherwise(choices),
        answer=nfkc(optional_column(seeds, "answer", pl.String())),
        explanation=unframed(optional_column(seeds, "explanation", pl.String())),
        subject=optional_column(seeds, "subject", pl.String()),
        zh=zh,
        mathematics=mathematics,
    )
    prose = ~pl.col("question").str.contains(_LATEX) & pl.col("question").str.contains(_NUMBER)
    return texts.select(
        "seed_id",
        "question",
        "choices",
        "answer",
        "explanation",
        "subject",
        subject_label=subject_label(pl.col("subject")),
        zh="zh",
        mathematics="mathematics",
        word_problem=(pl.col("mathematics") & prose).fill_null(False),
    ).with_row_index("doc")


def weighted_fields(docs: pl.DataFrame) -> pl.DataFrame:
    """One row per (doc, field): field 0 = question, 1.. = choices, 100 = free-form answer,
    101 = explanation; the weight says how much the field speaks for the seed's topic."""
    answer_index = (
        pl.col("answer")
        .str.strip_chars()
        .str.to_uppercase()
        .replace_strict({chr(65 + i): i for i in range(26)}, default=None, return_dtype=pl.Int64)
    )
    question = docs.select("doc", field=pl.lit(0), weight=pl.lit(FIELD_WEIGHTS["question"]), text="question")
    choices = (
        docs.filter(pl.col("choices").list.len() > 0)
        .select("doc", "choices", ci=pl.int_ranges(pl.col("choices").list.len()), ai=answer_index)
        .explode(["choices", "ci"])
        .select(
            "doc",
            field=pl.col("ci") + 1,
            weight=pl.when(pl.col("ci") == pl.col("ai"))
            .then(pl.lit(FIELD_WEIGHTS["answer"]))
            .otherwise(pl.lit(FIELD_WEIGHTS["choice"])),
            text="choices",
        )
    )
    free_answer = docs.filter(pl.col("choices").is_null() & pl.col("answer").is_not_null()).select(
        "doc", field=pl.lit(100), weight=pl.lit(FIELD_WEIGHTS["answer"]), text="answer"
    )
    explanation = docs.filter(pl.col("explanation").is_not_null()).select(
        "doc", field=pl.lit(101), weight=pl.lit(FIELD_WEIGHTS["explanation"]), text="explanation"
    )
    fields = pl.concat([question, choices, free_answer, explanation], how="vertical_relaxed").filter(
        pl.col("text").is_not_null()
    )
    fields = pl.concat(
        [
            fields.with_columns(text=strip_markup(pl.col("text"))),
            formula_concepts(fields, docs),
            word_problem_concepts(docs),
        ],
        how="vertical_relaxed",
    )
    return fields.with_columns(pl.col("field").cast(pl.Int32), pl.col("weight").cast(pl.Float64))


def strip_markup(text: pl.Expr) -> pl.Expr:
    """Drawings, calculator annotations, maths spans, LaTeX commands and plain-text function names
    ("sin x") become phrase breaks (" ; ")."""
    for pattern in (_DRAWING, _CALCULATOR, _MATH, _COMMAND):
        text = text.str.replace_all(pattern, " ; ")
    text = text.str.replace_all(_BARE_FUNCTION, "${1} ; ${3}")
    return text.str.replace_all(r"[{}^_\\]", " ")


def formula_concepts(fields: pl.DataFrame, docs: pl.DataFrame) -> pl.DataFrame:
    """Up to two fields per doc naming the concepts its formulas express, in the doc's language:
    LaTeX commands and function names (`lexicon.FORMULA_CONCEPTS`, "\\sqrt" and "sqrt(2)" ->
    "square root" / "平方根"; "\\frac" and "\\cdot" name none) and, in a mathematics question,
    its notation and wording (`lexicon.FORMAL_MATHS_CONCEPTS`: "$g(g(2))$" -> "function
    composition"). Those of the question weigh as much as its words; the others as a choice."""
    en = {command: names[0] for command, names in FORMULA_CONCEPTS.items()}
    zh = {command: names[1] for command, names in FORMULA_CONCEPTS.items()}
    command = pl.col("command").str.replace(r"^\\(?:begin\{)?", "").str.replace(r"\*?\}$", "")
    commands = (
        fields.select(
            "doc",
            in_question=pl.col("field") == 0,
            command=pl.concat_list(
                pl.col("text").str.extract_all(_COMMAND),
                pl.col("text").str.extract_all(_BARE_FUNCTION).list.eval(pl.element().str.extract(r"([a-z]+)")),
            ),
        )
        .explode("command")
        .drop_nulls()
        .with_columns(command=command)
        .filter(pl.col("command").is_in(list(FORMULA_CONCEPTS)))
        .join(docs.select("doc", "zh"), on="doc")
        .select(
            "doc",
            "in_question",
            concept=pl.when("zh")
            .then(pl.col("command").replace_strict(zh, default=None))
            .otherwise(pl.col("command").replace_strict(en, default=None)),
        )
    )
    notation = (
        docs.filter("mathematics")
        .select("doc", "zh", question=pl.col("question").str.replace_all(_DRAWING, " "))
        .select(
            "doc",
            in_question=pl.lit(True),
            concept=_signalled(FORMAL_MATHS_CONCEPTS, pl.col("question"), pl.col("question")),
        )
        .explode("concept")
    )
    return (
        pl.concat([commands, notation])
        .drop_nulls()
        .unique(maintain_order=True)
        .group_by("doc", "in_question", maintain_order=True)
        .agg(text=pl.col("concept").str.join(" ; "))
        .select(
            "doc",
            field=pl.when("in_question").then(QUESTION_FORMULA_FIELD).otherwise(FORMULA_FIELD),
            weight=pl.when("in_question").then(FIELD_WEIGHTS["question_formula"]).otherwise(FIELD_WEIGHTS["formula"]),
            text="text",
        )
    )


def _signalled(concepts: tuple[SignalledConcept, ...], question: pl.Expr, text: pl.Expr) -> pl.Expr:
    """The names (in the doc's language: column `zh`) of the concepts whose pattern matches
    `question` (`question_only`) or `text`, as a list."""

    def name(c: SignalledConcept) -> pl.Expr:
        where = question if c.question_only else text
        return (
            pl.when("zh")
            .then(pl.when(where.str.contains(c.zh)).then(pl.lit(c.zh_name)))
            .otherwise(pl.when(where.str.contains(c.en)).then(pl.lit(c.en_name)))
        )

    return pl.concat_list([name(c) for c in concepts]).list.drop_nulls().list.unique(maintain_order=True)


def word_problem_concepts(docs: pl.DataFrame) -> pl.DataFrame:
    """One field per word problem naming the concepts its question and worked solution signal
    (`lexicon.WORD_PROBLEM_CONCEPTS`: "20% off" -> "percentages"), in the doc's language."""
    text = pl.concat_str("question", pl.col("explanation").fill_null(""), separator="\n")
    return (
        docs.filter("word_problem")
        .select("doc", text=_signalled(WORD_PROBLEM_CONCEPTS, pl.col("question"), text).list.join(" ; "))
        .filter(pl.col("text") != "")
        .select("doc", field=pl.lit(WORD_PROBLEM_FIELD), weight=pl.lit(FIELD_WEIGHTS["word_problem"]), text="text")
    )


def _tag_chinese(texts: pl.Series) -> tuple[pl.Series, pl.Series]:
    """jieba.posseg words and coarse tags, one call per text (jieba is a Python library)."""
    import jieba
    import jieba.posseg

    jieba.setLogLevel(logging.WARNING)
    for word in ZH_DICTIONARY_NON_WORDS:
        jieba.del_word(word)
    cut = cast(Callable[[str], list[tuple[str, str]]], jieba.posseg.lcut)  # jieba is untyped
    return _pieces_and_tags(texts, lambda text: [(w, _ZH_TAGS.get(f, "O")) for w, f in cut(text) if w.strip()])


def _pattern_tagger() -> Callable[[str], list[tuple[str, str]]]:
    """TextBlob's PatternTagger.tag, imported without scipy.stats.

    Importing textblob imports all of NLTK, whose `nltk.metrics` imports scipy.stats (~0.8 s, the
    larger part of loading the tagger) for statistics it replaces by a fallback when the import
    fails; the tagger uses none of them, and nothing else in a run needs scipy.stats. So, unless it
    is loaded already, the import is made to fail while textblob loads: a None entry in
    `sys.modules` makes `import scipy.stats` raise ImportError. The entry is removed right after,
    so a later `import scipy.stats` works as usual. Same tags either way."""
    hide = "scipy.stats" not in sys.modules
    if hide:
        sys.modules["scipy.stats"] = cast(ModuleType, None)
    try:
        from textblob.en.taggers import PatternTagger
    finally:
        if hide:
            del sys.modules["scipy.stats"]
    return cast(Callable[[str], list[tuple[str, str]]], PatternTagger().tag)  # textblob is untyped


def _tag_english(texts: pl.Series) -> tuple[pl.Series, pl.Series]:
    """PatternTagger words and coarse tags, one call per text (a Python library). Curly apostrophes
    are made straight first, so "Janet’s" splits like "Janet's"."""
    tag = _pattern_tagger()
    return _pieces_and_tags(texts, lambda text: [(w, _EN_TAGS.get(t, "O")) for w, t in tag(text.replace("’", "'"))])


def _pieces_and_tags(texts: pl.Series, tag: Callable[[str], list[tuple[str, str]]]) -> tuple[pl.Series, pl.Series]:
    """`tag` run once per distinct text (choices such as "True, False" repeat across seeds)."""
    distinct = texts.unique()
    tagged = [tag(text) for text in distinct.to_list()]
    table = pl.DataFrame(
        {
            "text": distinct,
            "pieces": pl.Series([[w for w, _ in row] for row in tagged], dtype=pl.List(pl.String)),
            "tags": pl.Series([[t for _, t in row] for row in tagged], dtype=pl.List(pl.String)),
        }
    )
    joined = texts.to_frame("text").join(table, on="text", how="left", maintain_order="left")
    return joined["pieces"], joined["tags"]


def tokenize(fields: pl.DataFrame, zh_docs: pl.Series) -> pl.DataFrame:
    """Field texts -> token lists (`pieces`) with coarse tags (`tags`). The concept fields (formula,
    word problem) are already lists of concept names: each of their words is a noun, names separated by ";"."""
    fields = fields.with_columns(zh=pl.col("doc").is_in(zh_docs.implode()))
    named = pl.col("field").is_in(CONCEPT_FIELDS)
    parts = [
        fields.filter(named)
        .with_columns(pieces=pl.col("text").str.replace_all(";", " ; ").str.split(" "))
        .with_columns(pieces=pl.col("pieces").list.filter(pl.element() != ""))
        .with_columns(
            tags=pl.col("pieces").list.eval(pl.when(pl.element() == ";").then(pl.lit("O")).otherwise(pl.lit("N")))
        )
    ]
    for zh, tagger in ((False, _tag_english), (True, _tag_chinese)):
        part = fields.filter(~named & (pl.col("zh") == zh))
        if part.height == 0:  # a one-language corpus never loads the other tagger (jieba: ~1.6 s)
            continue
        pieces, tags = tagger(part["text"])
        parts.append(part.with_columns(pieces=pieces, tags=tags))
    return pl.concat(parts).select("doc", "field", "weight", "zh", "pieces", "tags")


def _vocabulary(cores: pl.Series) -> pl.DataFrame:
    """Word-level features, computed once per distinct token rather than per occurrence."""
    lower = pl.col("core").str.to_lowercase()
    contraction_base = lower.str.replace(r"['’](?:s|t|re|ve|ll|d|m)$", "")
    adverb = lower.str.ends_with("ly") & (lower.str.len_chars() >= 5) & ~lower.is_in(list(LY_NOUNS))
    vocab = pl.DataFrame({"core": cores}).unique()
    return vocab.with_columns(
        latin=pl.col("core").str.contains(r"^\p{L}[\p{L}\p{N}'’\-]*$")
        & (pl.col("core").str.len_chars() >= 2)
        & ~pl.col("core").str.contains(r"^(?:I{1,3}|IV|VI{0,3}|IX|XI{0,3})$"),  # Roman numerals are numbers
        cjk=pl.col("core").str.contains(f"[{CJK_CLASS}]"),
        stop=lower.is_in(list(EXTRACTION_STOP_WORDS))
        | contraction_base.is_in(list(EXTRACTION_STOP_WORDS))
        | lower.str.ends_with("n't")
        | adverb
        | pl.col("core").is_in(list(ZH_STOP_WORDS)),
        lemma=singular_word(lower.str.replace_all(r"['’]", "")).str.replace_all("-", " "),
        lower=lower,
        capitalised=pl.col("core").str.contains(r"^\p{Lu}"),
        # Acronyms and mixed-case terms ("DNA", "type-Ia", "mRNA") are written as in the text.
        acronym=(pl.col("core").str.count_matches(r"\p{Lu}") >= 2) | pl.col("core").str.contains(r"^.+\p{Lu}"),
        chars=pl.col("core").str.len_chars(),
        generic=lower.is_in(list(GENERIC_NOUNS))
        | singular_word(lower).is_in(list(GENERIC_NOUNS))
        | pl.col("core").str.contains(f"^[{CJK_CLASS}]某+$"),  # a party of a legal case: 王某, 李某某
    )


def token_features(tokens: pl.DataFrame, maths_docs: pl.Series | None = None) -> pl.DataFrame:
    """One row per token occurrence (ordered by doc, field, pos) with what candidates need. In the
    `maths_docs`, 2-4 capital letters are a figure's points ("ABC", "AE"), no word of a KP, unless
    one of `lexicon.MATHS_ACRONYMS` ("GCD")."""
    t = (
        tokens.select(
            "doc", "field", "weight", "zh", piece="pieces", tag="tags", pos=pl.int_ranges(pl.col("pieces").list.len())
        )
        .explode(["piece", "tag", "pos"])
        .filter(pl.col("piece").is_not_null())
        .with_columns(
            core=pl.col("piece").str.replace(r"^[^\p{L}\p{N}]+", "").str.replace(r"[^\p{L}\p{N}]+$", ""),
            lead=~pl.col("piece").str.contains(r"^[\p{L}\p{N}]"),
            trail=~pl.col("piece").str.contains(r"[\p{L}\p{N}]$"),
            # Rows are ordered by (doc, field, pos), so the previous row is the previous token
            # whenever pos > 0.
            sentence_start=(pl.col("pos") == 0) | pl.col("piece").str.contains(r"[.?!。？！]$").shift(1),
        )
    )
    t = t.join(_vocabulary(t["core"]), on="core", how="left", maintain_order="left")
    if maths_docs is not None:
        points = pl.col("core").str.contains(r"^[A-Z]{2,4}$") & ~pl.col("core").is_in(list(MATHS_ACRONYMS))
        t = t.with_columns(latin=pl.col("latin") & ~(points & pl.col("doc").is_in(maths_docs.implode())))
    # Proper noun or term: capitalised where no sentence starts, or an acronym; shown as written.
    proper = (pl.col("capitalised") & ~pl.col("sentence_start") & ~pl.col("zh")) | pl.col("acronym")
    t = t.with_columns(proper=proper).with_columns(**_term_words())
    return t.select(
        "doc",
        "field",
        "weight",
        "zh",
        "pos",
        "lead",
        "trail",
        "lemma",
        "chars",
        "acronym",
        "stop",
        "lower",
        "cjk",
        "tag",
        "generic",
        "proper",
        word=pl.col("latin") | (pl.col("zh") & pl.col("cjk")),
        original="core",
    )


def _term_words() -> dict[str, pl.Expr]:
    """`stop` and `tag` for stop words that belong to a term: a concept field's name, a known term (`STOP_WORD_TERMS`:
    "price level", "small intestine", "order of operations", whose last word is its head) or a
    capitalised name ("New York", "Old Testament", "High Contracting Parties": `NAME_STOP_WORDS`
    capitalised before another capitalised word)."""

    def ahead(column: str, k: int) -> pl.Expr:
        same = (pl.col("doc").shift(-k) == pl.col("doc")) & (pl.col("field").shift(-k) == pl.col("field"))
        return pl.when(same).then(pl.col(column).shift(-k))

    lemmas = [ahead("lemma", k) for k in range(3)]
    two = pl.concat_str(lemmas[:2], separator=" ").is_in(list(STOP_WORD_TERMS)).fill_null(False)
    three = pl.concat_str(lemmas, separator=" ").is_in(list(STOP_WORD_TERMS)).fill_null(False)
    # position of the token in a term starting here or up to two tokens back: first / inside / last
    first = two | three
    last = two.shift(1).fill_null(False) | three.shift(2).fill_null(False)
    inside = first | last | three.shift(1).fill_null(False)
    name = pl.col("proper") & pl.col("lower").is_in(list(NAME_STOP_WORDS)) & ahead("proper", 1).fill_null(False)
    # A concept field holds curated names, whole: "greatest common divisor", "solving equations".
    named = pl.col("field").is_in(CONCEPT_FIELDS)
    return {
        "stop": pl.col("stop") & ~inside & ~name & ~named,
        "tag": pl.when(last).then(pl.lit("N")).when(first | name).then(pl.lit("A")).otherwise("tag"),
    }


def join_cjk(text: pl.Expr) -> pl.Expr:
    """Drop the token-joining spaces next to Chinese characters ("梅西叶 天体" -> "梅西叶天体"),
    keeping those between Latin words."""
    return text.str.replace_all(f"([{CJK_CLASS}]) ", "$1").str.replace_all(f" ([{CJK_CLASS}])", "$1")
