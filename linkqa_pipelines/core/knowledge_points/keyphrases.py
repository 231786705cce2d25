"""Offline knowledge-point extractor: corpus-statistics keyphrases, no model needed.

The embedded default when no LLM is configured, and the fallback for seeds an LLM keeps
failing on. For every seed it returns 2-8 phrases a reader recognises as the question's
topics ("supernova", "binary systems" for the type-Ia supernova question, not "true").

Algorithm (all columnar in Polars except the two taggers' per-text calls):

1. Fields: question (weight 3), correct choice or free-form answer (2), explanation (1.5),
   other choices (1), and the concepts of formulas: the question's (3), the others' (1). The
   question and explanation are read without their benchmark frame's instructions
   (`lexicon.QUESTION_FRAMES`: "Express your answer as a common fraction.", moral scenarios' "in
   the US as of 2020"). Markup is never a KP: Asymptote drawings, GSM8K calculator annotations,
   maths spans, LaTeX commands and plain-text function names ("sin x") become phrase breaks; a
   formula becomes the concept it expresses through `lexicon.FORMULA_CONCEPTS` ("\\sqrt" ->
   "square root" / "平方根", "\\binom" -> "binomial coefficient") or nothing ("\\frac", "\\cdot"),
   and a mathematics question also names what its notation and wording signal
   (`lexicon.FORMAL_MATHS_CONCEPTS`: "$g(g(2))$" -> "function composition", "$x + y = 3$ and
   $x - y = 4$" -> "systems of equations", "4 ÷ 2 • 2 + 8 − 4" -> "order of operations"). A
   concept field's names are kept whole, stop words and all ("greatest common divisor"), and
   their parts alone are no KPs ("composition").
   An arithmetic word problem (a mathematics seed in prose: a number in digits or words, no
   LaTeX command or inline maths; GSM8K, MATH's and MMLU's prose problems) gets a field (3)
   naming the concepts its text signals (`lexicon.WORD_PROBLEM_CONCEPTS`: "20% off" ->
   "percentages", "3 more than twice" -> "additive comparison", "multiplicative comparison").
   These rank first and are kept whole ("multiplicative" alone is no concept); its one-word names
   capitalised wherever they occur are characters ("Janet", and "ages of Alice"), never KPs; and
   once a concept is found its story props ("marbles", "gallons of milk") are dropped unless the
   field names them formally too: in two or more mathematics seeds that are no word problems, and
   in no fewer of those than of word problems ("equilateral triangle" is a term; "cost", "rest"
   and "half" are what stories say). Measured on GSM8K test (all four shared sets extracted
   together) against 66f248d: its links to a KP another seed shares 65% -> 88%, edges of weight
   >= 2 2.3% -> 17.4%; its distinct KPs 2,702 -> 526, of which the single-seed share rises 65% ->
   71% (what is left unshared are the props of the 135 problems that signal no concept). Its most
   popular KPs were john, james, Monday and cookies; now money, unit rates, fractions.
2. Tokens with part of speech, offline, from maintained libraries that ship their models:
   English by TextBlob's PatternTagger (Brill lexicon, suffix rules, contextual rules), Chinese
   by jieba.posseg (dictionary + HMM). Tags are folded to N (noun, name, verbal noun, Chinese
   fixed term), A (adjective, participle: a modifier), V (Chinese verb) and O; punctuation
   tokens end phrases. Each distinct text is tagged once.
3. Candidates are noun phrases: 1-3 tokens, none a stop word (function words, question framing
   such as "following", "下列", "正确", common verbs, relation verbs such as "无关", "增加"),
   modifiers then a noun head ("cerebral cortex", "刑罚制度"); "X of Y" / "X and Y" as a 3-gram
   ("law of demand"), never begun inside a longer name ("States of America") nor ended on a
   quantity whose value follows ("circle of radius $r$": `lexicon.MEASURED_QUANTITIES`);
   "number" heads a phrase only after a kind of number ("real numbers", "prime number":
   `lexicon.NUMBER_KINDS`), never as a count ("total number", "number of students"); a stop
   word inside a known term ("price level", "like terms": `lexicon.STOP_WORD_TERMS`) or a
   capitalised name ("New York": `lexicon.NAME_STOP_WORDS`) is part of it; a Chinese noun +
   verb pair as a nominalised term ("细胞凋亡"). A single word
   must be a noun and not a generic noun (`lexicon.GENERIC_NOUNS`: "value", "number", "作者",
   "信息" alone, and the people, places and things of case vignettes and moral scenarios:
   "wife", "neighbor", "car", a legal party 王某; fine inside a phrase, though a Chinese phrase
   of generic nouns only, 基本原则, is generic too, as is "X and/of Y" of two: "father and
   son"; "point of view" is lost with them). Numbers, Roman numerals, one-letter tokens and,
   in a mathematics seed, a figure's points ("ABC", "AE"; not `lexicon.MATHS_ACRONYMS` such as
   "GCD") are never KP words. Chinese phrases are capped at 10 characters and never start
   with a character bound to the word before it (`lexicon.ZH_BOUND_CHARACTERS`: 授权|性 规则,
   第1|条 规定).
4. Key: each word lower-cased with light plural trimming (`lexicon.singular_word`), so
   "binary systems" and "binary system" count as one candidate (the catalog agrees).
5. Subject templates: a key in >= 25% of the seeds of a subject with >= 20 seeds is that
   subject's question template ("scenario" in moral scenarios), not a topic, and is dropped;
   a concept a word problem signals or a formula expresses is not ("modular arithmetic" from
   Number Theory's "\\pmod", "matrix" in Precalculus: the rule had left 96 MATH seeds with labels
   only, and "modular arithmetic" a KP of 4 seeds; 70 now).
6. Score = (1 + ln weighted TF) x IDF x linkability x YAKE-like features. IDF is smoothed,
   ln((N+1)/(df+1)) + 1, over the seeds plus `corpus` (pass the whole seed set when extracting
   one partition). Linkability is 1 for a key some other seed also has and 0.35 for a key no
   other seed has: such a KP can link nothing, and on the shared data 77% of KPs were used by
   one seed only. Features: position (earlier in the question is better, mildly), casing
   (capitalised mid-sentence or an acronym: a proper noun or term), spread (occurs in several
   fields), and length (multi-word phrases are more specific).
7. Redundancy: a candidate whose words are a subset/superset of a better-scoring one in the
   same seed, or share two words with it, is dropped ("King George III" under "English King
   George"), except that a phrase beats the single word it contains when it scores >= 40% of
   it ("binary system" over "system": the word is shared more, the phrase is the concept).
8. Selection: the best candidates with score >= 40% of the seed's best, clamped to
   [min_kps, max_kps] (default 2-8, as the answer schema asks); a Chinese seed keeps its best
   Chinese candidate ("CO2", "ATP" and "NADPH" alone would leave 卡尔文循环 out, and the answer
   check refuses a Chinese seed without a Chinese KP); dropped candidates back-fill up to min_kps, then the
   subject's topic ("astronomy"), the discipline and the full subject name, in the seed's
   language (a Chinese seed gets its discipline's Chinese label, 数学, and no English name), so
   every seed gets rows — nothing is silently dropped. A back-filled label links a whole
   subject: it is not a topic but a hub, so its description ends with a `lexicon.BACKFILL_MARKS`
   mark, the catalog does not count it in popularity and the graph leaves it out (1,464 label
   links on 1,305 of the 20,604 shared seeds, 527 of them MATH seeds; 164 seeds, 61 of them
   MATH seeds, have labels only: 411 did before formal mathematics concepts, rule 1).
9. Grade level and difficulty per seed: the difficulty stage's calibrated seed level
   (`seed_difficulty.seed_grade_and_difficulty` over `core.difficulty.seed_levels`), so both
   stages give a seed the same level.

What bounds KP sharing on the shared data (measured by `bench/kp_graph_quality.py`): CMMLU dev
has 5 seeds in each of 67 subjects, and 86% of the content nouns of its 335 seeds occur in one
seed only. With every Chinese KP replaced by its head word 83% of them would still be used by one
seed only (1.0% of edges of weight >= 2); an oracle seed that took every noun another seed also
has gets to 56% single-seed KPs only through broad words (社会, 经济, 中国, 分析), and to 7.6%
edges of weight >= 2 even so. English pairs reach 16.5% edges of weight >= 2 only in the
head-word limit, which over-merges ("kinetic energy" into "energy"). Merging (`catalog`,
`zh_merge`, `en_merge`) cannot create sharing the seeds lack. On CMMLU test (11,554 Chinese seeds,
~170 per subject; `--zh-data` of the bench) the single-seed goal is met (52.6%) and edges of weight
>= 2 are 7.2%, 9.8% in the head-word limit.
"""

from __future__ import annotations

import polars as pl

from linkqa_pipelines.core.contracts import KP_LINK_SCHEMA, conform
from linkqa_pipelines.core.knowledge_points.documents import (
    FORMULA_FIELDS,
    WORD_PROBLEM_FIELD,
    check_seeds,
    documents,
    join_cjk,
    optional_column,
    token_features,
    tokenize,
    weighted_fields,
)
from linkqa_pipelines.core.knowledge_points.lexicon import (
    BACKFILL_MARKS,
    CJK_CLASS,
    MEASURED_QUANTITIES,
    NUMBER_KINDS,
    UNIT_SYMBOLS,
    ZH_BOUND_CHARACTERS,
    ZH_VERB_TAGGED_SUFFIXES,
)
from linkqa_pipelines.core.knowledge_points.seed_difficulty import seed_grade_and_difficulty
from linkqa_pipelines.taxonomy import load_taxonomy

OFFLINE_BACKEND = "offline"
OFFLINE_MODEL = "offline-keyphrase-v5"  # v5: formal mathematics problems name what their notation signals

_MAX_CANDIDATES_PER_SEED = 24  # best candidates kept for the redundancy join
_RELATIVE_SCORE_FLOOR = 0.4
_FRAGMENT_CONTEXT = 6  # tokens of context either side of a KP in its description
_CONNECTORS = ["of", "and"]
_PHRASE_OVER_WORD = 0.4
_UNSHARED_FACTOR = 0.35  # score factor of a candidate no other seed mentions: it can link nothing
_TEMPLATE_SHARE = 0.25  # a key in this share of a subject's seeds is the subject's template ...
_TEMPLATE_MIN_SEEDS = 20  # ... when the subject has at least this many seeds


def _candidates(t: pl.DataFrame) -> pl.DataFrame:
    """All 1-3 word candidate occurrences (columnar: neighbours via shift, then filter)."""

    def nxt(column: str, k: int) -> pl.Expr:
        return pl.col(column).shift(-k)

    def joined(k: int) -> pl.Expr:
        """Token k follows token k-1 in the same field with no punctuation between them."""
        same_field = (nxt("doc", k) == pl.col("doc")) & (nxt("field", k) == pl.col("field"))
        return same_field & ~nxt("trail", k - 1) & ~nxt("lead", k)

    content = pl.col("word") & ~pl.col("stop")
    # A Chinese phrase never starts with a character that belongs to the word before it ("性规则").
    can_start = (
        content
        & ~(pl.col("zh") & pl.col("original").is_in(list(ZH_BOUND_CHARACTERS)))
        & ~pl.col("lower").is_in(list(UNIT_SYMBOLS))  # "kg box" in "a 5 kg box"
    )
    long_enough = (pl.col("chars") >= 3) | (pl.col("cjk") & (pl.col("chars") >= 2)) | pl.col("acronym")

    def modifier(k: int) -> pl.Expr:
        return nxt("tag", k).is_in(["N", "A"])

    def head(k: int) -> pl.Expr:
        """Token k can end a KP: a noun, or (Chinese) a verb right after a noun ("细胞凋亡")."""
        # A one-character verb is a complement or the next clause's verb (观测|到, 孔子|说,
        # 髋关节疼痛|伴), unless jieba tags a term's suffix as a verb (余额调节|表, 气压|带).
        verb = (nxt("chars", k) >= 2) | nxt("original", k).is_in(list(ZH_VERB_TAGGED_SUFFIXES))
        nominalised = pl.col("zh") & (nxt("tag", k) == "V") & (nxt("tag", k - 1) == "N") & verb
        return nxt("word", k) & ~nxt("stop", k) & ((nxt("tag", k) == "N") | nominalised)

    def all_generic(n: int) -> pl.Expr:
        """A Chinese phrase of generic nouns only is generic too (基本|原则, 主要|特点)."""
        return pl.col("zh") & pl.all_horizontal([nxt("generic", k) for k in range(n)])

    connector = nxt("lemma", 1).is_in(_CONNECTORS)
    middle = nxt("word", 1) & ((~nxt("stop", 1) & modifier(1)) | connector)
    # "practice of public" is a truncated "practice of public relations": a 3-gram with a
    # connector must not run on into another content word; nor may a name start inside a longer
    # one ("States of America" in "United States of America").
    runs_on = joined(3) & nxt("word", 3) & ~nxt("stop", 3)
    after_name = (
        (pl.col("doc").shift(1) == pl.col("doc"))
        & (pl.col("field").shift(1) == pl.col("field"))
        & ~pl.col("trail").shift(1)
        & pl.col("proper").shift(1)
        & pl.col("word").shift(1)
    )
    runs_in = after_name & pl.col("proper")
    # "circle of radius", "sides of length", "particle of mass": a quantity whose value follows
    # (a number, a variable, a formula: "of radius $r$"); the thing measured is the KP.
    value_follows = (nxt("doc", 3) == pl.col("doc")) & (nxt("field", 3) == pl.col("field")) & ~nxt("trail", 2)
    of_quantity = (
        (nxt("lemma", 1) == "of") & nxt("lemma", 2).is_in(list(MEASURED_QUANTITIES)) & value_follows & ~nxt("word", 3)
    )

    def kind_of_number(k: int) -> pl.Expr:
        """Token k names a kind of number ("prime", "real", "two-digit"), not a count ("total")."""
        return nxt("lemma", k).is_in(list(NUMBER_KINDS)) | nxt("lemma", k).str.ends_with(" digit")

    # "number" heads a KP only after the kind it names ("real numbers", "prime number"), never
    # as a count ("total number", "number of students").
    counted2 = (nxt("lemma", 1) == "number") & ~kind_of_number(0)
    # "square units", "cubic feet": a unit of measure (a generic noun) squared or cubed.
    unit2 = pl.col("lemma").is_in(["square", "cubic"]) & nxt("generic", 1) & (nxt("lemma", 1) != "number")
    counted3 = ((nxt("lemma", 2) == "number") & ~kind_of_number(1)) | (
        (pl.col("lemma") == "number") & (nxt("lemma", 1) == "of")
    )
    t = t.with_columns(
        ok1=content & long_enough & (pl.col("tag") == "N") & ~pl.col("generic"),
        ok2=(can_start & modifier(0) & joined(1) & head(1) & ~all_generic(2) & ~counted2 & ~unit2).fill_null(False),
        ok3=(
            can_start
            & modifier(0)
            & joined(1)
            & joined(2)
            & middle
            & head(2)
            & ~(connector & (runs_on | runs_in).fill_null(False))
            & ~of_quantity.fill_null(False)
            & ~counted3.fill_null(False)
            & ~(connector & pl.col("generic") & nxt("generic", 2)).fill_null(False)  # "father and son"
            & ~all_generic(3)
        ).fill_null(False),
        **{f"{c}{k}": nxt(c, k) for c in ("lemma", "lower", "original", "proper", "chars") for k in (1, 2)},
    )
    t = t.rename({c: f"{c}0" for c in ("lemma", "lower", "original", "proper", "chars")})

    def gram(n: int) -> pl.DataFrame:
        ks = range(n)
        return t.filter(pl.col(f"ok{n}")).select(
            "doc",
            "field",
            "weight",
            "pos",
            "zh",
            n=pl.lit(n, dtype=pl.Int8),
            key=pl.concat_str([pl.col(f"lemma{k}") for k in ks], separator=" "),
            # A phrase with a proper noun or acronym keeps its written case ("Message Integrity",
            # "UN Charter"); others are shown lower-cased ("binary systems").
            display=pl.when(pl.any_horizontal([pl.col(f"proper{k}") for k in ks]))
            .then(pl.concat_str([pl.col(f"original{k}") for k in ks], separator=" "))
            .otherwise(pl.concat_str([pl.col(f"lower{k}") for k in ks], separator=" ")),
            members=pl.concat_list([pl.col(f"lemma{k}") for k in ks]).list.set_difference(pl.lit(_CONNECTORS)),
            proper=pl.any_horizontal([pl.col(f"proper{k}") for k in ks]),
            capitalised=pl.col("original0").str.contains(r"^\p{Lu}"),
            chars=pl.sum_horizontal([pl.col(f"chars{k}") for k in ks]),
        )

    grams = pl.concat([gram(1), gram(2), gram(3)])
    # Chinese phrases are capped in length so that a whole clause does not pass for a term.
    return (
        grams.with_columns(
            display=pl.when(pl.col("zh")).then(join_cjk(pl.col("display"))).otherwise("display"),
            key=pl.when(pl.col("zh")).then(join_cjk(pl.col("key"))).otherwise("key"),
        )
        .filter(~pl.col("zh") | (pl.col("chars") <= 10))
        .drop("chars")
    )


def _scored(cands: pl.DataFrame, docs: pl.DataFrame, question_len: pl.DataFrame) -> pl.DataFrame:
    """Per (doc, key) score; the occurrence kept for display is the one in the heaviest field, earliest.
    Keys that make a subject's template (rule 5 of the module docstring) are dropped here."""
    occurrence = (
        (-(pl.col("weight") * 2).cast(pl.Int64)) * 10**12 + pl.col("field").cast(pl.Int64) * 10**7 + pl.col("pos")
    )
    per = (
        cands.with_columns(occurrence=occurrence)
        .group_by("doc", "key")
        .agg(
            tf=pl.col("weight").sum(),
            n=pl.col("n").first(),
            members=pl.col("members").first(),
            proper=pl.col("proper").cast(pl.Float64).mean(),
            spread=pl.col("field").n_unique(),
            concept=(pl.col("field") == WORD_PROBLEM_FIELD).any(),
            formula=pl.col("field").is_in(FORMULA_FIELDS).any(),
            always_capitalised=pl.col("capitalised").all(),
            first_q=pl.col("pos").filter(pl.col("field") == 0).min(),
            display=pl.col("display").get(pl.col("occurrence").arg_min()),
            field=pl.col("field").get(pl.col("occurrence").arg_min()),
            pos=pl.col("pos").get(pl.col("occurrence").arg_min()),
            zh=pl.col("zh").first(),
        )
    )
    per = _word_problem_keys(per, docs)
    subject = docs.select("doc", subject=pl.col("subject").fill_null(""))
    per = per.join(subject, on="doc", how="left")
    in_subject = pl.len().over("key", "subject") / pl.col("subject_size")
    per = (
        per.join(subject.group_by("subject").agg(subject_size=pl.len()), on="subject", how="left")
        .filter(
            (pl.col("subject_size") < _TEMPLATE_MIN_SEEDS)
            | (in_subject < _TEMPLATE_SHARE)
            | pl.col("concept")
            | pl.col("formula")  # a formula's concept is what the subject teaches, not its frame
        )
        .drop("subject", "subject_size", "formula")
    )
    n_docs = docs.height
    df = per.group_by("key").agg(df=pl.len())
    idf = ((n_docs + 1) / (pl.col("df") + 1)).log() + 1.0
    linkable = pl.when(pl.col("df") >= 2).then(1.0).otherwise(_UNSHARED_FACTOR)
    position = (
        pl.when(pl.col("first_q").is_null())
        .then(1.0)
        .otherwise(1.0 + 0.25 * (1.0 - pl.col("first_q") / pl.col("question_len").clip(lower_bound=1)))
    )
    features = (
        position
        * (1.0 + 0.3 * pl.col("proper"))
        * (1.0 + 0.15 * (pl.col("spread").clip(upper_bound=4) - 1))
        * (1.0 + 0.3 * (pl.col("n").cast(pl.Float64) - 1))
    )
    return (
        per.join(df, on="key")
        .join(question_len, on="doc", how="left")
        .with_columns(score=(1.0 + pl.col("tf").log()) * idf * linkable * features)
        .drop("question_len", "df", "tf", "proper", "spread", "first_q")
    )


def _word_problem_keys(per: pl.DataFrame, docs: pl.DataFrame) -> pl.DataFrame:
    """Per (doc, key) candidates without a word problem's characters and partial concept names,
    with the `problem` and `attested` flags `_select` drops story props by (rule 1)."""
    # A word problem's one-word names capitalised wherever they occur are its characters ("Janet"),
    # never KPs, alone or in a phrase ("ages of Alice", "Dallas and Darla").
    problems = docs.filter("word_problem").select("doc", problem=pl.lit(True))
    per = per.join(problems, on="doc", how="left").with_columns(pl.col("problem").fill_null(False))
    names = per.filter(pl.col("problem") & (pl.col("n") == 1) & pl.col("always_capitalised")).select("doc", name="key")
    named = (
        per.filter("problem")
        .select("doc", "key", name=pl.col("members"))
        .explode("name")
        .join(names, on=["doc", "name"], how="semi")
        .select("doc", "key")
    )
    # A concept field holds whole names: "multiplicative" or "composition" alone is not the concept
    # its words name ("multiplicative comparison", "function composition").
    named_concepts = per.filter(pl.col("concept") | pl.col("formula")).select("doc", "key", "n", "members")
    partial = (
        named_concepts.join(named_concepts, on="doc", suffix="_whole")
        .filter(
            (pl.col("n_whole") > pl.col("n"))
            & (pl.col("members").list.set_difference(pl.col("members_whole")).list.len() == 0)
        )
        .select("doc", "key")
    )
    per = per.join(pl.concat([named, partial]), on=["doc", "key"], how="anti").drop("always_capitalised")
    # A key that two or more mathematics seeds that are no word problems name, and no more word
    # problems than those, is a term of the field ("equilateral triangle"), not a story prop
    # ("marbles"; "cost" and "rest", which stories use far more than formal problems): see `_select`.
    maths = docs.filter("mathematics").select("doc")
    formal = (~pl.col("problem")).sum()
    attested = (
        per.join(maths, on="doc", how="semi")
        .group_by("key")
        .agg(attested=(formal >= 2) & (formal >= pl.col("problem").sum()))
    )
    return per.join(attested, on="key", how="left").with_columns(pl.col("attested").fill_null(False))


def _select(scored: pl.DataFrame, min_kps: int, max_kps: int) -> pl.DataFrame:
    """Best non-redundant candidates per doc (rules 7-8 of the module docstring)."""
    # A word problem that signals a concept is about it and the field's terms it names; its props
    # ("marbles", "gallons of milk") would link it to other problems only by their story.
    prop = pl.col("problem") & ~pl.col("concept") & ~pl.col("attested") & pl.col("concept").any().over("doc")
    ranked = (
        scored.filter(~prop)
        .sort(["doc", "concept", "score", "key"], descending=[False, True, True, False])
        .with_columns(rank=pl.int_range(pl.len()).over("doc"))
    )
    top = ranked.filter(pl.col("rank") < _MAX_CANDIDATES_PER_SEED)
    words = top.select(
        "doc", "key", "rank", "score", w=pl.col("members").list.unique(), size=pl.col("members").list.n_unique()
    )
    words = words.explode("w")
    shared = (
        words.join(words, on=["doc", "w"], suffix="_b")
        .filter(pl.col("rank_b") < pl.col("rank"))
        .group_by("doc", "key", "key_b")
        .agg(pl.len().alias("shared"), pl.col("size", "size_b", "score", "score_b").first())
    )
    redundant = (pl.col("shared") == pl.col("size")) | (pl.col("shared") == pl.col("size_b")) | (pl.col("shared") >= 2)
    # A phrase beats the single word it contains when it scores at least _PHRASE_OVER_WORD of it
    # ("binary system" over "system": the word alone is shared more, the phrase is the concept).
    phrase_wins = (
        (pl.col("size_b") == 1) & (pl.col("size") > 1) & (pl.col("score") >= _PHRASE_OVER_WORD * pl.col("score_b"))
    )
    dominated = (
        pl.concat(
            [
                shared.filter(redundant & ~phrase_wins).select("doc", "key"),
                shared.filter(redundant & phrase_wins).select("doc", key="key_b"),
            ]
        )
        .with_columns(dominated=pl.lit(True))
        .unique()
    )
    top = top.join(dominated, on=["doc", "key"], how="left").with_columns(pl.col("dominated").fill_null(False))
    top = top.sort(["doc", "dominated", "rank"]).with_columns(
        pick=pl.int_range(pl.len()).over("doc"), best=pl.col("score").max().over("doc")
    )
    keep = (pl.col("pick") < max_kps) & (
        (pl.col("pick") < min_kps)
        | (~pl.col("dominated") & (pl.col("concept") | (pl.col("score") >= _RELATIVE_SCORE_FLOOR * pl.col("best"))))
    )
    # A Chinese seed names at least one KP in Chinese: its best Chinese candidate, in place of its
    # last pick if it has max_kps already ("CO2", "ATP" and "NADPH" are shared more than 卡尔文循环,
    # but a Chinese seed with Latin KPs only is no answer a Chinese catalog can use).
    cjk = pl.col("key").str.contains(f"[{CJK_CLASS}]")
    top = top.with_columns(keep=keep)
    need = pl.col("zh") & ~(pl.col("keep") & cjk).any().over("doc") & cjk.any().over("doc")
    best_cjk = cjk & (pl.col("pick") == pl.col("pick").filter(cjk).min().over("doc"))
    last_kept = pl.col("keep") & (pl.col("pick") == pl.col("pick").filter("keep").max().over("doc"))
    full = pl.col("keep").sum().over("doc") >= max_kps
    keep = (pl.col("keep") & ~(need & full & last_kept)) | (need & best_cjk)
    return top.filter(keep).drop("rank", "dominated", "best", "members", "concept", "problem", "attested", "keep")


def _with_descriptions(picked: pl.DataFrame, tokens: pl.DataFrame, docs: pl.DataFrame) -> pl.DataFrame:
    """Description = the seed's subject plus the text fragment around the KP's chosen occurrence,
    e.g. 'astronomy: What is true for a type-Ia ("type one-a") supernova?'."""
    length = pl.col("pieces").list.len()
    start = (pl.col("pos") - _FRAGMENT_CONTEXT).clip(lower_bound=0)
    end = pl.min_horizontal(pl.col("pos") + pl.col("n").cast(pl.Int64) + _FRAGMENT_CONTEXT, length)
    fragment = pl.col("pieces").list.slice(start, end - start).list.join(" ")
    fragment = pl.when(pl.col("zh")).then(join_cjk(fragment)).otherwise(fragment)
    fragment = (
        pl.when(start > 0).then(pl.lit("…")).otherwise(pl.lit(""))
        + fragment
        + pl.when(end < length).then(pl.lit("…")).otherwise(pl.lit(""))
    )
    return (
        picked.join(tokens.select("doc", "field", "pieces"), on=["doc", "field"], how="left")
        .join(docs.select("doc", "subject_label"), on="doc", how="left")
        .with_columns(
            kp_description=pl.when(pl.col("subject_label").is_not_null() & (pl.col("subject_label") != ""))
            .then(pl.col("subject_label") + ": " + fragment)
            .otherwise(fragment)
        )
        .drop("pieces", "subject_label")
    )


def extract_keyphrases(
    seeds: pl.DataFrame, *, min_kps: int = 2, max_kps: int = 8, corpus: pl.DataFrame | None = None
) -> pl.DataFrame:
    """KP links (KP_LINK_SCHEMA + `kp_score`) for every seed, min_kps..max_kps each where the
    text allows (see module docstring); `corpus` (e.g. every seed of every discipline) only
    feeds the document frequencies, so a partition's KPs are scored against the whole set."""
    if not 1 <= min_kps <= max_kps:
        raise ValueError(f"need 1 <= min_kps <= max_kps, got {min_kps}, {max_kps}")
    check_seeds(seeds, "extract_keyphrases seeds")
    if "discipline" not in seeds.columns:
        raise ValueError("extract_keyphrases seeds: missing column 'discipline'")
    if seeds.height == 0:
        return conform(pl.DataFrame(schema={**KP_LINK_SCHEMA, "kp_score": pl.Float64()}), KP_LINK_SCHEMA)
    used = ["seed_id", "question", "choices", "answer", "explanation", "subject", "language", "discipline"]
    everything = seeds.select([c for c in used if c in seeds.columns])
    if corpus is not None:
        check_seeds(corpus, "extract_keyphrases corpus")
        extra = corpus.join(seeds.select("seed_id"), on="seed_id", how="anti")
        # Seeds first: their doc indices are 0..len(seeds)-1 below.
        everything = pl.concat(
            [everything, extra.select([c for c in used if c in extra.columns])], how="diagonal_relaxed"
        )
    docs = documents(everything)
    tokens = tokenize(weighted_fields(docs), docs.filter("zh")["doc"])
    features = token_features(tokens, docs.filter("mathematics")["doc"])
    question_len = tokens.filter(pl.col("field") == 0).select("doc", question_len=pl.col("pieces").list.len())
    scored = _scored(_candidates(features), docs, question_len)
    own = docs.head(seeds.height)
    picked = _select(scored.join(own.select("doc"), on="doc", how="semi"), min_kps, max_kps)
    picked = _with_descriptions(picked, tokens, own)

    # Back-fill seeds short of min_kps with their subject's topic, their discipline, then the
    # full subject name ("mathematics", "elementary mathematics"); a Chinese seed with its
    # discipline's Chinese label only (the subject names are English).
    meta = own.select("doc", "seed_id", "subject_label", "zh").join(
        seeds.select("seed_id", "discipline", optional_column(seeds, "subject", pl.String())), on="seed_id", how="left"
    )
    label_zh = {d.id: d.label_zh for d in load_taxonomy().disciplines}
    discipline = pl.col("discipline").str.replace_all("_", " ")
    english = pl.when(~pl.col("zh"))
    labels = (
        pl.concat(
            [
                meta.select("doc", label=english.then("subject_label"), order=pl.lit(0)),
                meta.select(
                    "doc",
                    label=english.then(discipline).otherwise(
                        pl.col("discipline").replace_strict(label_zh, default=discipline, return_dtype=pl.String)
                    ),
                    order=pl.lit(1),
                ),
                meta.select("doc", label=english.then(pl.col("subject").str.replace_all("_", " ")), order=pl.lit(2)),
            ]
        )
        .with_columns(pl.col("label").str.strip_chars())
        .filter(pl.col("label").is_not_null() & (pl.col("label") != ""))
    )
    have = picked.group_by("doc").agg(have=pl.len())
    fills = (
        labels.with_columns(key=pl.col("label").str.to_lowercase())
        .join(picked.select("doc", "key"), on=["doc", "key"], how="anti")
        .unique(["doc", "key"], keep="first", maintain_order=True)
        .sort(["doc", "order"])
        .with_columns(i=pl.int_range(pl.len()).over("doc"))
        .join(have, on="doc", how="left")
        .filter(pl.col("i") < min_kps - pl.col("have").fill_null(0).cast(pl.Int64))
        .select(
            "doc",
            "key",
            display="label",
            score=pl.lit(0.0),
            order=pl.col("i") + 1,
            kp_description=pl.col("label")
            + pl.when(pl.col("order") == 1).then(pl.lit(BACKFILL_MARKS[0])).otherwise(pl.lit(BACKFILL_MARKS[1])),
        )
    )
    kps = pl.concat(
        [
            picked.select(
                "doc", "key", "display", "score", order=pl.lit(0, dtype=pl.Int64), kp_description="kp_description"
            ),
            fills.with_columns(pl.col("order").cast(pl.Int64)),
        ]
    )
    difficulty = seed_grade_and_difficulty(seeds)
    out = (
        kps.sort(["doc", "score", "order", "key"], descending=[False, True, False, False])
        .with_columns(kp_rank=pl.int_range(pl.len()).over("doc"))
        .join(meta.select("doc", "seed_id", "discipline"), on="doc")
        .join(difficulty, on="seed_id", how="left")
        .select(
            "seed_id",
            "discipline",
            "kp_rank",
            kp_name="display",
            kp_description="kp_description",
            grade_level="grade_level",
            difficulty="difficulty",
            backend=pl.lit(OFFLINE_BACKEND),
            model=pl.lit(OFFLINE_MODEL),
            kp_score="score",
        )
    )
    return conform(out, KP_LINK_SCHEMA)
