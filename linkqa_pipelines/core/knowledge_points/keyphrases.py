"""Offline knowledge-point extractor: corpus-statistics keyphrases, no model needed.

The embedded default when no LLM is configured, and the fallback for seeds an LLM keeps
failing on. For every seed it returns 2-8 phrases a reader recognises as the question's
topics ("supernova", "binary systems" for the type-Ia supernova question, not "true").

Algorithm (all columnar in Polars except the Chinese segmenter call):

1. Fields: question (weight 3), correct choice or free-form answer (2), explanation (1.5),
   other choices (1). The correct choice names what the question tests; distractors less so.
2. Tokens: English text is split on whitespace; punctuation attached to a token ends a
   phrase there. Chinese text is segmented with jieba; punctuation tokens end phrases.
3. Candidates: 1-3 word n-grams that neither start nor end with a stop word (function
   words plus question-framing words such as "following", "true", "statement") nor cross
   punctuation; a 3-gram may have "of"/"and" in the middle ("law of demand"). Chinese
   n-grams join 1-3 adjacent non-stop words ("梅西叶" + "天体" -> "梅西叶天体").
   Numbers, formulas and one-letter tokens are never KP words.
4. Key: each word lower-cased with light plural trimming (`kp_catalog.singular_word`), so
   "binary systems" and "binary system" count as one candidate (the catalog agrees).
5. Score = (1 + ln weighted TF) x IDF x YAKE-like features. IDF is smoothed, ln((N+1)/(df+1)) + 1,
   over the seeds plus `corpus` (pass the whole seed set when extracting one partition).
   Features: position (earlier in the question is better, mildly), casing (capitalised
   mid-sentence or an acronym: a proper noun or term), spread (occurs in several fields),
   and length (multi-word phrases are more specific).
6. Redundancy: a candidate whose words are a subset/superset of a better-scoring one in the
   same seed, or share two words with it, is dropped ("binary" under "binary systems",
   "King George III" under "English King George").
7. Selection: the best candidates with score >= 40% of the seed's best, clamped to
   [min_kps, max_kps]; dropped candidates back-fill up to min_kps, then the subject's topic
   ("astronomy"), the discipline and the full subject name ("elementary mathematics"), so
   every seed gets rows — nothing is silently dropped.
"""

from __future__ import annotations

import logging

import polars as pl

from linkqa_pipelines.core.contracts import KP_LINK_SCHEMA, conform
from linkqa_pipelines.core.knowledge_points.catalog import EN_STOP_WORDS, singular_word

OFFLINE_BACKEND = "offline"
OFFLINE_MODEL = "offline-keyphrase-v1"

FIELD_WEIGHTS: dict[str, float] = {"question": 3.0, "answer": 2.0, "explanation": 1.5, "choice": 1.0}
_MAX_CANDIDATES_PER_SEED = 24  # best candidates kept for the redundancy join
_RELATIVE_SCORE_FLOOR = 0.4
_FRAGMENT_CONTEXT = 6  # tokens of context either side of a KP in its description

_VERB_BASES = """
    say make go get know think take see come want look use find give tell work call try ask need feel
    become leave put mean keep let begin seem help show hear play run move live believe hold bring
    happen write provide sit stand lose pay meet include continue set learn change lead understand
    watch follow stop create speak read allow add spend grow open walk win offer remember consider
    appear buy wait serve die send expect build stay fall cut reach remain suggest raise pass sell
    require report decide pull describe explain occur produce cause result increase decrease reduce
    affect involve contain represent indicate determine refer depend relate associate define
    identify apply compare argue claim note observe assume suppose estimate calculate select choose
    prefer fail tend lack exist involve regard concern
"""
_IRREGULAR_VERB_FORMS = """
    made went gone known taken given seen said told thought found held brought led left kept began
    begun written wrote ran grew grown won bought built sent fell fallen chose chosen became felt
    lost paid met understood stood sat drew drawn meant heard came saw got gotten
"""


def _verb_forms(bases: str) -> set[str]:
    """Inflected forms of common verbs: they make poor KPs and no POS tagger is at hand."""
    forms: set[str] = set()
    for verb in bases.split():
        stem = verb[:-1] if verb.endswith("e") else verb
        third = verb[:-1] + "ies" if verb.endswith("y") and verb[-2] not in "aeiou" else verb + "s"
        past = verb + "d" if verb.endswith("e") else (verb[:-1] + "ied" if third.endswith("ies") else verb + "ed")
        forms.update({verb, third, past, stem + "ing"})
    return forms


# Words that carry no topic in an exam question: function words, question framing, common
# verbs/adjectives/adverbs and number words. Used only to delimit and filter candidates.
EXTRACTION_STOP_WORDS: frozenset[str] = frozenset(
    EN_STOP_WORDS
    | _verb_forms(_VERB_BASES)
    | set(_IRREGULAR_VERB_FORMS.split())
    | set(
        """
        following true false correct incorrect right wrong best better worst statement statements
        question questions answer answers option options choice choices example examples none
        type types kind kinds way ways thing things something someone anything nothing everything
        one two three four five six seven eight nine ten hundred thousand million billion
        high higher highest low lower lowest large larger largest small smaller smallest big little
        good bad new old different similar certain various important main major minor likely
        unlikely possible impossible necessary usually often never sometimes generally typically
        mainly mostly primarily probably actually really simply directly relatively approximately
        amount amounts number numbers name names lot lots part parts case cases fact facts time times year
        years day days people person group groups term terms form forms order level levels
        per mr mrs ms dr st shall isn aren wasn weren don doesn didn won't can't cannot
        least greatest first-order
        """.split()
    )
)
_CONNECTORS = ["of", "and"]
# Words ending in "-ly" that are nouns (or a country), not adverbs: the rest are stop words.
_LY_NOUNS: frozenset[str] = frozenset(
    """
    family supply monopoly oligopoly duopoly anomaly assembly italy butterfly jelly ally rally
    reply belly lily homily bully july apply comply imply multiply ugly holy folly panoply
    """.split()
)

ZH_STOP_WORDS: frozenset[str] = frozenset(
    """
    的 了 是 在 和 与 及 或 而 并 且 但 也 都 就 还 又 很 最 更 较 比 被 把 将 对 从 由 向 于 以 为 之 其
    此 该 这 那 这些 那些 这个 那个 这种 一个 一种 一些 某 某些 每 各 个 种 些 中 上 下 内 外 前 后 时
    间 里 有 没有 无 不 非 否 是否 可 可以 可能 能 能够 会 应 应该 应当 需要 要 必须 已 已经 曾 正在
    们 我 你 他 她 它 我们 你们 他们 它们 自己 什么 哪 哪个 哪些 哪种 哪一 哪项 如何 怎样 怎么 为什么
    多少 几 下列 下面 以下 如下 上述 选项 说法 正确 错误 不正确 叙述 描述 属于 不属于 关于 主要 包括
    其中 分别 一般 通常 等 等等 所 所以 因为 因此 如果 虽然 但是 然而 并且 而且 或者 还是 以及 及其 即
    则 就是 只有 只 仅 都是 不是 作为 成为 进行 使用 采用 具有 存在 出现 发生 产生 表示 称为 叫做 指
    的是 是指 最多 最少 之一 不同 相同 主要 重要 一定 可能 时候 情况 问题 答案 方面 部分 方法 结果
    所示 如图 图中 题 题目 符合 不符合 是否 根据 按照 通过 由于 对于 关于 之间 以上 所有 一般 其他
    此时 看到 人们 处于 提出 认为 要求 某一 一次 本 称 称为 叫 即可 得到 导致 引起 影响 作用 特点
    """.split()
)

_CJK_CLASS = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_SUBJECT_PREFIXES = r"^(?:high_school|college|elementary|middle_school|professional|junior_high|senior_high)_"


def _check_seeds(seeds: pl.DataFrame, what: str) -> None:
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


def _optional(seeds: pl.DataFrame, column: str, dtype: pl.DataType) -> pl.Expr:
    return pl.col(column) if column in seeds.columns else pl.lit(None, dtype=dtype).alias(column)


def _fields(docs: pl.DataFrame) -> pl.DataFrame:
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
    fields = pl.concat([question, choices, free_answer, explanation], how="vertical_relaxed")
    return fields.with_columns(pl.col("field").cast(pl.Int32), pl.col("weight").cast(pl.Float64)).filter(
        pl.col("text").is_not_null()
    )


def _segment_chinese(texts: pl.Series) -> pl.Series:
    """jieba segmentation, one call per text (the only per-row Python step; jieba is a Python library)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return pl.Series([[t for t in jieba.lcut(text) if t.strip()] for text in texts.to_list()], dtype=pl.List(pl.String))


def _tokens(fields: pl.DataFrame, zh_docs: pl.Series) -> pl.DataFrame:
    """Field texts -> token lists (`pieces`), English by whitespace, Chinese by jieba."""
    fields = fields.with_columns(zh=pl.col("doc").is_in(zh_docs.implode()))
    en = fields.filter(~pl.col("zh")).with_columns(
        pieces=pl.col("text").str.replace_all(r"\s+", " ").str.strip_chars().str.split(" ")
    )
    zh = fields.filter(pl.col("zh"))
    zh = (
        zh.with_columns(pieces=_segment_chinese(zh["text"]))
        if zh.height
        else zh.with_columns(pieces=pl.lit(None, dtype=pl.List(pl.String)))
    )
    return pl.concat([en, zh]).select("doc", "field", "weight", "zh", "pieces")


def _vocabulary(cores: pl.Series) -> pl.DataFrame:
    """Word-level features, computed once per distinct token rather than per occurrence."""
    lower = pl.col("core").str.to_lowercase()
    contraction_base = lower.str.replace(r"['’](?:s|t|re|ve|ll|d|m)$", "")
    adverb = lower.str.ends_with("ly") & (lower.str.len_chars() >= 5) & ~lower.is_in(list(_LY_NOUNS))
    vocab = pl.DataFrame({"core": cores}).unique()
    return vocab.with_columns(
        latin=pl.col("core").str.contains(r"^\p{L}[\p{L}\p{N}'’\-]*$") & (pl.col("core").str.len_chars() >= 2),
        cjk=pl.col("core").str.contains(f"[{_CJK_CLASS}]"),
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
    )


def _token_features(tokens: pl.DataFrame) -> pl.DataFrame:
    """One row per token occurrence (ordered by doc, field, pos) with what candidates need."""
    t = (
        tokens.select("doc", "field", "weight", "zh", piece="pieces", pos=pl.int_ranges(pl.col("pieces").list.len()))
        .explode(["piece", "pos"])
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
    # Proper noun or term: capitalised where no sentence starts, or an acronym; shown as written.
    proper = (pl.col("capitalised") & ~pl.col("sentence_start") & ~pl.col("zh")) | pl.col("acronym")
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
        word=pl.col("latin") | (pl.col("zh") & pl.col("cjk")),
        proper=proper,
        original="core",
    )


def _join_cjk(text: pl.Expr) -> pl.Expr:
    """Drop the token-joining spaces next to Chinese characters ("梅西叶 天体" -> "梅西叶天体"),
    keeping those between Latin words."""
    return text.str.replace_all(f"([{_CJK_CLASS}]) ", "$1").str.replace_all(f" ([{_CJK_CLASS}])", "$1")


def _candidates(t: pl.DataFrame) -> pl.DataFrame:
    """All 1-3 word candidate occurrences (columnar: neighbours via shift, then filter)."""

    def nxt(column: str, k: int) -> pl.Expr:
        return pl.col(column).shift(-k)

    def joined(k: int) -> pl.Expr:
        """Token k follows token k-1 in the same field with no punctuation between them."""
        same_field = (nxt("doc", k) == pl.col("doc")) & (nxt("field", k) == pl.col("field"))
        return same_field & ~nxt("trail", k - 1) & ~nxt("lead", k)

    content = pl.col("word") & ~pl.col("stop")
    long_enough = (pl.col("chars") >= 3) | (pl.col("cjk") & (pl.col("chars") >= 2)) | pl.col("acronym")
    middle = nxt("word", 1) & (~nxt("stop", 1) | nxt("lemma", 1).is_in(_CONNECTORS))
    connector = nxt("lemma", 1).is_in(_CONNECTORS)
    # "practice of public" is a truncated "practice of public relations": a 3-gram with a
    # connector must not run on into another content word.
    runs_on = joined(3) & nxt("word", 3) & ~nxt("stop", 3)
    t = t.with_columns(
        ok1=content & long_enough,
        ok2=(content & joined(1) & nxt("word", 1) & ~nxt("stop", 1)).fill_null(False),
        ok3=(
            content
            & joined(1)
            & joined(2)
            & middle
            & nxt("word", 2)
            & ~nxt("stop", 2)
            & ~(connector & runs_on.fill_null(False))
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
            chars=pl.sum_horizontal([pl.col(f"chars{k}") for k in ks]),
        )

    grams = pl.concat([gram(1), gram(2), gram(3)])
    # Chinese phrases are capped in length so that a whole clause does not pass for a term.
    return (
        grams.with_columns(
            display=pl.when(pl.col("zh")).then(_join_cjk(pl.col("display"))).otherwise("display"),
            key=pl.when(pl.col("zh")).then(_join_cjk(pl.col("key"))).otherwise("key"),
        )
        .filter(~pl.col("zh") | (pl.col("chars") <= 10))
        .drop("chars")
    )


def _scored(cands: pl.DataFrame, n_docs: int, question_len: pl.DataFrame) -> pl.DataFrame:
    """Per (doc, key) score; the occurrence kept for display is the one in the heaviest field, earliest."""
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
            first_q=pl.col("pos").filter(pl.col("field") == 0).min(),
            display=pl.col("display").get(pl.col("occurrence").arg_min()),
            field=pl.col("field").get(pl.col("occurrence").arg_min()),
            pos=pl.col("pos").get(pl.col("occurrence").arg_min()),
            zh=pl.col("zh").first(),
        )
    )
    df = per.group_by("key").agg(df=pl.len())
    idf = ((n_docs + 1) / (pl.col("df") + 1)).log() + 1.0
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
        .with_columns(score=(1.0 + pl.col("tf").log()) * idf * features)
        .drop("question_len", "df", "tf", "proper", "spread", "first_q")
    )


def _select(scored: pl.DataFrame, min_kps: int, max_kps: int) -> pl.DataFrame:
    """Best non-redundant candidates per doc (rules 6-7 of the module docstring)."""
    ranked = scored.sort(["doc", "score", "key"], descending=[False, True, False]).with_columns(
        rank=pl.int_range(pl.len()).over("doc")
    )
    top = ranked.filter(pl.col("rank") < _MAX_CANDIDATES_PER_SEED)
    words = top.select("doc", "key", "rank", w=pl.col("members").list.unique(), size=pl.col("members").list.n_unique())
    words = words.explode("w")
    shared = (
        words.join(words, on=["doc", "w"], suffix="_b")
        .filter(pl.col("rank_b") < pl.col("rank"))
        .group_by("doc", "key", "key_b")
        .agg(shared=pl.len(), size=pl.col("size").first(), size_b=pl.col("size_b").first())
    )
    redundant = (pl.col("shared") == pl.col("size")) | (pl.col("shared") == pl.col("size_b")) | (pl.col("shared") >= 2)
    dominated = shared.filter(redundant).select("doc", "key", dominated=pl.lit(True)).unique()
    top = top.join(dominated, on=["doc", "key"], how="left").with_columns(pl.col("dominated").fill_null(False))
    top = top.sort(["doc", "dominated", "rank"]).with_columns(
        pick=pl.int_range(pl.len()).over("doc"), best=pl.col("score").max().over("doc")
    )
    keep = (pl.col("pick") < max_kps) & (
        (pl.col("pick") < min_kps)
        | (~pl.col("dominated") & (pl.col("score") >= _RELATIVE_SCORE_FLOOR * pl.col("best")))
    )
    return top.filter(keep).drop("rank", "dominated", "best", "members")


def _subject_label(subject: pl.Expr) -> pl.Expr:
    """ "high_school_biology" -> "biology": the topic a subject name stands for."""
    return subject.str.replace(_SUBJECT_PREFIXES, "").str.replace_all("_", " ").str.strip_chars()


def _with_descriptions(picked: pl.DataFrame, tokens: pl.DataFrame, docs: pl.DataFrame) -> pl.DataFrame:
    """Description = the seed's subject plus the text fragment around the KP's chosen occurrence,
    e.g. 'astronomy: What is true for a type-Ia ("type one-a") supernova?'."""
    length = pl.col("pieces").list.len()
    start = (pl.col("pos") - _FRAGMENT_CONTEXT).clip(lower_bound=0)
    end = pl.min_horizontal(pl.col("pos") + pl.col("n").cast(pl.Int64) + _FRAGMENT_CONTEXT, length)
    fragment = pl.col("pieces").list.slice(start, end - start).list.join(" ")
    fragment = pl.when(pl.col("zh")).then(_join_cjk(fragment)).otherwise(fragment)
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


def _grade_hint(subject: pl.Expr, adapter: pl.Expr) -> pl.Expr:
    """Grade level a subject or source name states outright (MMLU/CMMLU prefixes, GSM8K, MATH)."""
    s = subject.fill_null("").str.to_lowercase()
    a = adapter.fill_null("")
    return (
        pl.when(s.str.contains(r"elementary|primary|小学") | (a == "gsm8k_jsonl"))
        .then(pl.lit("primary"))
        .when(s.str.contains(r"middle_school|junior_high|初中"))
        .then(pl.lit("middle_school"))
        .when(s.str.contains(r"high_school|senior_high|高中"))
        .then(pl.lit("high_school"))
        .when(s.str.contains(r"college|undergrad|university|大学"))
        .then(pl.lit("undergraduate"))
        .when(s.str.contains(r"professional|graduate|研究生|资格"))
        .then(pl.lit("graduate_professional"))
        .when(s.str.contains(r"competition|olympiad|竞赛") | (a == "math_jsonl"))
        .then(pl.lit("competition"))
        .otherwise(pl.lit(None, dtype=pl.String))
    )


_GRADE_PRIOR = {
    "primary": 0.0,
    "middle_school": 0.5,
    "high_school": 1.0,
    "undergraduate": 1.5,
    "graduate_professional": 2.0,
    "competition": 2.5,
}
_GRADE_FROM_DIFFICULTY = {
    1: "middle_school",
    2: "high_school",
    3: "high_school",
    4: "undergraduate",
    5: "graduate_professional",
}


def offline_seed_difficulty(seeds: pl.DataFrame) -> pl.DataFrame:
    """(seed_id, grade_level, difficulty 1-5) from a transparent heuristic, no model.

    difficulty = ref_difficulty when the source has one (MATH levels are human labels);
    otherwise 1 + grade prior + length + maths + steps, rounded half up and clipped to 1-5, where
      grade prior: primary 0, middle school 0.5, high school 1, undergraduate 1.5,
                   graduate/professional 2, competition 2.5, no hint 1;
      length:      +0.5 above 40 words (Chinese: 60 characters), +1 above 120 (180);
      maths:       +0.5 when the question has digits together with an operator or LaTeX;
      steps:       +0.5 for >= 3 reasoning steps in the explanation (lines, sentences or
                   GSM8K <<calc>> marks), +1 for >= 6.
    grade_level = the subject's hint ("high_school_", "college_", "elementary_",
    "professional_", GSM8K -> primary, MATH -> competition), else from the difficulty
    (1 middle school, 2-3 high school, 4 undergraduate, 5 graduate/professional).
    """
    _check_seeds(seeds, "offline_seed_difficulty")
    text = pl.concat_str(
        [pl.col("question"), _optional(seeds, "choices", pl.List(pl.String())).list.join(" ").fill_null("")],
        separator=" ",
    )
    cjk_chars = text.str.count_matches(f"[{_CJK_CLASS}]")
    units = text.str.count_matches(r"\S+") + cjk_chars * 2 / 3
    explanation = _optional(seeds, "explanation", pl.String())
    steps = explanation.fill_null("").str.count_matches(r"\n|[.;。；](?:\s|$)|<<")
    maths = pl.col("question").str.contains(r"\d") & pl.col("question").str.contains(
        r"[=+*/^√∫∑π<>]|\\[a-z]+|\d\s*-\s*\d"
    )
    hint = _grade_hint(_optional(seeds, "subject", pl.String()), _optional(seeds, "adapter", pl.String()))
    score = (
        1.0
        + hint.replace_strict(_GRADE_PRIOR, default=1.0, return_dtype=pl.Float64)
        + pl.when(units > 120).then(1.0).when(units > 40).then(0.5).otherwise(0.0)
        + pl.when(maths).then(0.5).otherwise(0.0)
        + pl.when(steps >= 6).then(1.0).when(steps >= 3).then(0.5).otherwise(0.0)
    )
    ref = _optional(seeds, "ref_difficulty", pl.Int8())
    difficulty = pl.coalesce(ref.cast(pl.Int64), (score + 0.5).floor().cast(pl.Int64)).clip(1, 5).cast(pl.Int8)
    return seeds.select(
        "seed_id",
        grade_level=pl.coalesce(hint, difficulty.replace_strict(_GRADE_FROM_DIFFICULTY, return_dtype=pl.String)),
        difficulty=difficulty,
    )


def _documents(seeds: pl.DataFrame) -> pl.DataFrame:
    """The columns extraction reads, with a dense `doc` index and the Chinese flag."""
    language = _optional(seeds, "language", pl.String())
    cjk_share = pl.col("question").str.count_matches(f"[{_CJK_CLASS}]") / pl.col("question").str.len_chars()
    return seeds.select(
        "seed_id",
        "question",
        _optional(seeds, "choices", pl.List(pl.String())),
        _optional(seeds, "answer", pl.String()),
        _optional(seeds, "explanation", pl.String()),
        subject_label=_subject_label(_optional(seeds, "subject", pl.String())),
        zh=pl.when(language.is_not_null()).then(language == "zh").otherwise(cjk_share >= 0.3),
    ).with_row_index("doc")


def extract_keyphrases(
    seeds: pl.DataFrame, *, min_kps: int = 2, max_kps: int = 8, corpus: pl.DataFrame | None = None
) -> pl.DataFrame:
    """KP links (KP_LINK_SCHEMA + `kp_score`) for every seed, min_kps..max_kps each where the
    text allows (see module docstring); `corpus` (e.g. every seed of every discipline) only
    feeds the document frequencies, so a partition's KPs are scored against the whole set."""
    if not 1 <= min_kps <= max_kps:
        raise ValueError(f"need 1 <= min_kps <= max_kps, got {min_kps}, {max_kps}")
    _check_seeds(seeds, "extract_keyphrases seeds")
    if "discipline" not in seeds.columns:
        raise ValueError("extract_keyphrases seeds: missing column 'discipline'")
    if seeds.height == 0:
        return conform(pl.DataFrame(schema={**KP_LINK_SCHEMA, "kp_score": pl.Float64()}), KP_LINK_SCHEMA)
    used = ["seed_id", "question", "choices", "answer", "explanation", "subject", "language"]
    everything = seeds.select([c for c in used if c in seeds.columns])
    if corpus is not None:
        _check_seeds(corpus, "extract_keyphrases corpus")
        extra = corpus.join(seeds.select("seed_id"), on="seed_id", how="anti")
        # Seeds first: their doc indices are 0..len(seeds)-1 below.
        everything = pl.concat(
            [everything, extra.select([c for c in used if c in extra.columns])], how="diagonal_relaxed"
        )
    docs = _documents(everything)
    tokens = _tokens(_fields(docs), docs.filter("zh")["doc"])
    features = _token_features(tokens)
    question_len = tokens.filter(pl.col("field") == 0).select("doc", question_len=pl.col("pieces").list.len())
    scored = _scored(_candidates(features), docs.height, question_len)
    own = docs.head(seeds.height)
    picked = _select(scored.join(own.select("doc"), on="doc", how="semi"), min_kps, max_kps)
    picked = _with_descriptions(picked, tokens, own)

    # Back-fill seeds short of min_kps with their subject's topic, their discipline, then the
    # full subject name ("mathematics", "elementary mathematics").
    meta = own.select("doc", "seed_id", "subject_label").join(
        seeds.select("seed_id", "discipline", _optional(seeds, "subject", pl.String())), on="seed_id", how="left"
    )
    labels = pl.concat(
        [
            meta.select("doc", label="subject_label", order=pl.lit(0)),
            meta.select("doc", label=pl.col("discipline").str.replace_all("_", " "), order=pl.lit(1)),
            meta.select("doc", label=pl.col("subject").str.replace_all("_", " ").str.strip_chars(), order=pl.lit(2)),
        ]
    ).filter(pl.col("label").is_not_null() & (pl.col("label") != ""))
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
            + pl.when(pl.col("order") == 1)
            .then(pl.lit(" (discipline of the seed)"))
            .otherwise(pl.lit(" (subject of the seed)")),
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
    difficulty = offline_seed_difficulty(seeds)
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
