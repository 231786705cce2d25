"""Word lists of the knowledge-point algorithms — English and Chinese stop words, the common verb
forms that make poor KPs, generic nouns, the CJK character class, and the concept tables of
formulas and word problems — and light English plural trimming (`singular_word`), so that the
catalog's keys and the offline extractor's candidates agree.
"""

from __future__ import annotations

from typing import NamedTuple

import polars as pl

CJK_CLASS = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK unified ideographs (+ ext. A, compatibility)


# Function words: trimmed from the edges of a KP name, never counted as KP content.
EN_STOP_WORDS: frozenset[str] = frozenset(
    """
    a an the and or nor but if then than so as of at by for from in into on onto to up
    with within without about above across after against along among around before behind
    below beneath beside besides between beyond during except inside near off out outside
    over past since through throughout toward towards under underneath until unto upon via
    this that these those such i me my mine we us our ours you your yours he him his she her
    hers it its they them their theirs who whom whose which what whatever whichever when where
    why how there here is are was were be been being am do does did done doing have has had
    having will would shall should can could may might must not no yes all any both each
    either neither every few many much more most less least other others another some
    several same own only just also very too quite rather again ever even still yet
    whether while although though because unless whereas etc eg ie vs
    """.split()
)


# Words ending in "s" that are singular (or invariant) and must not lose it.
# Singular words ending in "s" that the suffix rules below would wrongly trim ("-ss", "-us",
# "-is", "-ics", "-ous" are already protected by rule).
PLURAL_INVARIANT: frozenset[str] = frozenset(
    """
    news means lens bias atlas canvas alias texas christmas pancreas chaos cosmos ethos pathos
    logos kudos measles diabetes herpes rabies mumps rickets scabies whereas perhaps always
    towards afterwards
    """.split()
)


# Irregular plurals, and "-ies"/"-ches" words whose singular is not "-y"/"-ch".
_IRREGULAR_PLURALS: dict[str, str] = {
    "matrices": "matrix",
    "vertices": "vertex",
    "indices": "index",
    "appendices": "appendix",
    "analyses": "analysis",
    "hypotheses": "hypothesis",
    "theses": "thesis",
    "crises": "crisis",
    "diagnoses": "diagnosis",
    "syntheses": "synthesis",
    "axes": "axis",
    "bacteria": "bacterium",
    "phenomena": "phenomenon",
    "criteria": "criterion",
    "nuclei": "nucleus",
    "fungi": "fungus",
    "stimuli": "stimulus",
    "radii": "radius",
    "foci": "focus",
    "loci": "locus",
    "alumni": "alumnus",
    "genera": "genus",
    "children": "child",
    "men": "man",
    "women": "woman",
    "teeth": "tooth",
    "feet": "foot",
    "mice": "mouse",
    "geese": "goose",
    "leaves": "leaf",
    "lives": "life",
    "wives": "wife",
    "halves": "half",
    "shelves": "shelf",
    "wolves": "wolf",
    "calves": "calf",
    "series": "series",
    "species": "species",
    "movies": "movie",
    "cookies": "cookie",
    "calories": "calorie",
    "zombies": "zombie",
    "headaches": "headache",
    "caches": "cache",
    "niches": "niche",
    "aches": "ache",
}


def singular_word(word: pl.Expr) -> pl.Expr:
    """Light English singular of a lower-cased single word (a Polars expression).

    Rule-based on purpose: a lemmatiser would need a model, and KP names are mostly nouns
    whose plural is regular. Irregular and invariant words are looked up in small tables;
    anything not matching an ASCII plural pattern is returned unchanged (so Chinese,
    numbers and formulas pass through).
    """
    n = word.str.len_chars()
    return (
        pl.when(word.is_in(list(_IRREGULAR_PLURALS)))
        .then(word.replace(_IRREGULAR_PLURALS))
        .when(word.is_in(list(PLURAL_INVARIANT)) | (n <= 3) | ~word.str.contains(r"^[a-z][a-z\-]*[a-z]$"))
        .then(word)
        .when(word.str.ends_with("ies") & (n > 4))
        .then(word.str.slice(0, n - 3) + "y")
        .when(word.str.contains(r"(?:sses|xes|ches|shes)$"))
        .then(word.str.slice(0, n - 2))
        .when(word.str.contains(r"(?:ss|us|is|ics|ous)$"))
        .then(word)
        .when(word.str.ends_with("ae") & (n > 4))
        .then(word.str.slice(0, n - 1))
        .when(word.str.ends_with("s"))
        .then(word.str.slice(0, n - 1))
        .otherwise(word)
    )


_VERB_BASES = """
    say make go get know think take see come want look use find give tell work call try ask need feel
    become leave put mean keep let begin seem help show hear play run move live believe hold bring
    happen write provide sit stand lose pay meet include continue set learn change lead understand
    watch follow stop create speak read allow add spend grow open walk win offer remember consider
    appear buy wait serve die send expect build stay fall cut reach remain suggest raise pass sell
    require report decide pull describe explain occur produce cause result increase decrease reduce
    affect involve contain represent indicate determine refer depend relate associate define
    identify apply compare argue claim note observe assume suppose estimate calculate select choose
    prefer fail tend lack exist involve regard concern express simplify compute evaluate enter round solve
    list notice
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
        amount amounts name names lot lots part parts case cases fact facts time times year
        years day days people person group groups term terms form forms order level levels
        per mr mrs ms dr st shall isn aren wasn weren don doesn didn won't can't cannot
        least greatest first-order
        """.split()
    )
)


# Words ending in "-ly" that are nouns (or a country), not adverbs: the rest are stop words.
LY_NOUNS: frozenset[str] = frozenset(
    """
    family supply monopoly oligopoly duopoly anomaly assembly italy butterfly jelly ally rally
    reply belly lily homily bully july apply comply imply multiply ugly holy folly panoply
    """.split()
)


# The last row: verbs that take an object and never end a term, read off CMMLU test's KPs that
# end in a verb (研究发现, 原则分为, 根本区别在于, 物体受到, 当事人超过: about 150 links).
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
    无关 有关 相关 不能 不会 来自 达到 进入 增加 减少 增大 减小 升高 降低 延长 缩短 携带 合理 变化 不变 位于
    参与 控制 促进 抑制 完成 需要 说明 体现 反映 表明 显示 适宜 有效 一段时间 本年度 项是 一项是 根据上述
    分为 在于 出自 等于 不得 造成 受到 采取 发出 提供 开始 发现 超过 享有 想到
    """.split()
)


# Nouns too general to be a knowledge point on their own, though fine inside one ("absolute
# value", "prime number", "刑罚制度"): question framing, units of counting, and the generic
# nouns that top the popularity list of a real Chinese benchmark (作者, 信息, 部位, 结构, ...).
GENERIC_NOUNS: frozenset[str] = frozenset(
    """
    value number numeral point sum product result expression form amount part way thing kind type
    case fact group member item unit piece step side end term order level degree rate
    scenario statement situation example answer option choice question problem solution figure diagram
    table list pair box hour minute second day week month year time percent dollar cent mile meter half halves dozen
    foot inch pound person people man woman child student teacher friend someone everyone individual patient
    use purpose reason effect cause role aspect feature factor characteristic region place
    monday tuesday wednesday thursday friday saturday sunday weekend
    作者 信息 部位 结构 行为 世界 国家 表现 核心 对象 标准 功能 时间 物质 情况 问题 方面 部分 方法 结果 特点 作用
    影响 原因 内容 过程 因素 条件 要求 关系 形式 方式 程度 意义 范围 东西 事情 事物 人们 选项 说法 答案 题目 情形
    现象 特征 能力 水平 活动 工作 地方 地区 时期 阶段 时候 年代 问题 数量 数字 数值 个数 次数 总数 一组 一项 各项
    发展 规定 实际 基本 代表 行动 计划 性质 学者 人类 时代 同学 理想 目的 依据 原则 措施 手段 途径 主体 客体
    小时 分钟 类型 种类 项目 句子 本质 实质 统一
    男性 女性 患者 学生 个人 世纪 观点 基础 概念 前提 目标 指标 事件 作品 物体 实验
    boy girl baby infant kid adult teenager husband wife son daughter mother father mom dad parent
    brother sister sibling grandmother grandfather aunt uncle cousin neighbor neighbour roommate guy lady
    stranger doctor physician driver farmer owner homeowner customer shopper passenger classmate coworker
    car truck bicycle bike house home apartment room kitchen store shop park city town street road dog cat
    pet ball toy gun picture job company country world school object
    information view idea study approach respect possibility concept definition ability relationship
    middle bottom top check first word letter comma subtracting substitute squaring plug yield nonzero
    equivalent condition measure centimeter kilometer millimeter kilogram gram liter gallon yard ounce
    metre centimetre kilometre millimetre litre
    意思 全部 运用 利用 区别 差异 效果 典型 含义 前者 后者 两者 大量 关键 优点 缺点 优势 办法 状况 用途 例子
    来源 地点 步骤 环节 人员 人物 人群 父母 学校 分析 研究 标志 任务 材料 资料 生活 现实 地位 主张 要素 定义
    单位 特性 状态 事实 产物 设置 顺序 经历 故事 名称 医生 病人 妇女 总和 根本
    """.split()
)
# The rows are read off real popularity lists, in the order they were added:
# - 小时 ... 统一: the generic nouns among the 200 most popular Chinese KPs of CMMLU test (11,554
#   seeds; the units "hour"/"type"/"item" of the English rows, 句子 from "下列句子中…", 本质/实质
#   from "…的本质是"; `keyphrases` also treats a Chinese phrase of generic nouns only, 基本|原则,
#   as generic). A rule was measured instead and rejected: the number of disciplines a word is
#   used in does not separate them from concepts (类型 10, 项目 10, 本质 8 disciplines; 频率 10,
#   动物 10, 能量 8).
# - 男性 ... 实验: the same list read again after the word-problem change (男性/女性/患者 and
#   "patient" from clinical vignettes "患者，男性，45岁"; 世纪 from "20世纪", 观点/概念/前提/基础
#   from the question frame "…的观点是"), with English half, halves and dozen, which word
#   problems name as concepts (fractions, unit conversion).
# - boy ... 经历: the 300 most popular English KPs of the shared data and Chinese KPs of CMMLU
#   test, read again: the people, places and things of case vignettes and moral scenarios
#   ("wife", "neighbor", "car", "dog": MMLU professional_law, moral_scenarios), the words of a
#   worked solution's steps ("first", "check", "subtracting", "plug"), units of measure
#   ("centimeters"; "square units" and "cubic feet" are units too: `keyphrases`) and generic
#   nouns of either language (information, view, 意思, 区别, 前者, 材料 from "根据材料"). A word
#   that is a field's term somewhere stays a KP alone (behavior, system, state, society, energy,
#   image, bill, 运动, 意识, 态度, 规律), as do the parties of a legal case (defendant, plaintiff,
#   victim, witness, tenant, buyer, employee): their law is about them.

# Quantities a problem gives a value for ("a circle of radius $r$", "sides of length 5", "a
# particle of mass m"): "X of <quantity>" followed by its value is a fragment, X is the KP
# ("circle of radius" was a KP of 24 seeds, "sides of length" of 25); "conservation of mass" is
# followed by words, not a value, and stays.
MEASURED_QUANTITIES: frozenset[str] = frozenset(
    """
    length radius mass degree width height diameter charge weight side depth wavelength frequency
    temperature volume perimeter area
    """.split()
)

# Terms that hold a stop word (written as lemmas: singular, lower case): the stop word is part
# of the term, not a phrase break ("price level": 23 seeds of the shared data read "price";
# "like terms" 32, "standard form" 20, "long run" / "short run" 27, "order of operations" 12).
STOP_WORD_TERMS: frozenset[str] = frozenset(
    {
        "price level", "significance level", "energy level", "sea level", "like term", "standard form",
        "long run", "short run", "order of operation", "good faith", "public good", "normal good",
        "inferior good", "small intestine", "large intestine", "control group", "functional group",
        "time series", "major depressive disorder", "blood type", "light year", "main sequence",
        "high blood pressure", "case law", "rule of law", "new deal",
    }
)  # fmt: skip

# Stop words that begin names when capitalised before another capitalised word ("New York",
# "Old Testament", "High Contracting Parties", "Main Street"); other capitalised stop words in
# titles ("Remember Sharpeville", "Adding Equations") stay phrase breaks.
NAME_STOP_WORDS: frozenset[str] = frozenset(
    "new old high low first second main good great last little big large small major minor".split()
)

# Unit symbols ("a 5 kg box", "120 mm Hg"): a KP never starts with one ("kg box" was a KP).
UNIT_SYMBOLS: frozenset[str] = frozenset(
    "kg mg cm mm km ml kn kj kw mv hz khz mhz mph kph ft lb lbs oz kpa atm mol".split()
)

# Kinds of number, the only words "number" follows in a KP ("real numbers": a KP of 218 shared
# seeds, "complex number", "prime number"); any other is a count ("total number", "number of
# students"). "number" alone is a generic noun.
NUMBER_KINDS: frozenset[str] = frozenset(
    """
    real complex prime whole mixed odd even rational irrational natural composite counting negative
    positive nonnegative nonpositive imaginary decimal binary fibonacci quantum atomic oxidation mass
    perfect triangular square random integer cardinal ordinal reynolds avogadro coordination
    """.split()
)

# Instructions of a benchmark's question frame that name no concept, removed from the question
# and the worked solution before extraction reads them:
# - MATH's generic answer formats ("Express your answer as a common fraction.": 155 of its 5,000
#   problems, which linked every probability problem to "common fraction"; "..., separated by
#   commas."). A format that is a concept of its own stays ("in interval notation", "in simplest
#   radical form", "as a polynomial", "in base 10": the only words of some LaTeX problems).
# - MATH solutions' "Equality occurs when" / "with equality at" (AM-GM), step references ("the
#   first equation": a KP of 74 seeds; "the left-hand side", "on the other hand") and "without
#   loss of generality".
# - MMLU moral_scenarios' frame, the history passages' lead-in, and clinical vignettes' "is
#   brought to the emergency department" ("emergency department" was a KP of 41 seeds).
QUESTION_FRAMES: tuple[str, ...] = (
    r"(?i)\b(?:express|give|write|round) your answer (?:as an? (?:simplified |reduced )?(?:common fraction|fraction"
    r"|decimal|integer|whole number)|in (?:simplest|lowest) (?:fractional )?(?:form|terms)|in decimal form"
    r"|to the nearest)\b[^.?!]*[.?!]?",
    r"(?i),? separated by commas\b",
    r"(?i)\benter the letters? of the correct options?\b[^.?!]*[.?!]?",
    r"(?i)\bequality (?:to |cannot |can't |does not |will )?(?:occurs?|holds?|case)\b",
    r"(?i)\b(?:with|get|have|for) equality\b",
    r"(?i)\b(?:first|second|third|original|given|last|resulting) (?:equation|inequality|expression|condition)s?\b",
    r"(?i)\b(?:left|right)-hand sides?\b|\bon (?:the other|one) hand\b",
    r"(?i)\bfor which of these two scenarios does the main character\b[^?]*\?",
    r"(?i)\baccording to ordinary moral standards in the US as of 2020\b,?",
    r"(?i)\bthis question refers to the following information\.?",
    r"(?i)\bwithout loss of generality\b",
    r"(?i)\b(?:is |was )?(?:brought|comes|came|presents|presented) to the "
    r"(?:emergency department|physician|office|clinic)\b",
)

# Bound characters that belong to the word before them when jieba cuts them off: a suffix
# (授权|性 规则, 现代|化) or a measure word after a numeral (第1|条 规定, 第二|款). A Chinese phrase
# never starts with one ("性规则", "条规定" are fragments); a longer word holding them (性质,
# 条件) is another token and is unaffected.
ZH_BOUND_CHARACTERS: frozenset[str] = frozenset("性 化 者 式 型 率 度 条 款 项 章 节".split())

# Entries of jieba's dictionary that are a verb and its object, not a word: "求函数 f(x) = x³ − 3x
# 的极值" (find the function's extrema) made 求函数 a KP of the sample's calculus seeds. They are
# removed from the dictionary before tagging, so jieba cuts 求|函数.
ZH_DICTIONARY_NON_WORDS: frozenset[str] = frozenset({"求函数"})

# One-character words jieba tags as verbs that end a term as its suffix: 余额调节表, 气压带,
# 英美法系, 想象竞合犯, 沥青混合料, 四格表, Babinski征, 心理学派. Any other one-character verb
# after a noun is a complement or the next clause's verb, never a term's head (观测|到, 孔子|说,
# 髋关节疼痛|伴: about 950 links on CMMLU test; 起源说, a theory, is lost with 孔子说).
ZH_VERB_TAGGED_SUFFIXES: frozenset[str] = frozenset("表 带 系 犯 料 剂 征 派".split())

# Back-filled labels (`keyphrases.extract_keyphrases`, rule 8): a seed with fewer than min_kps KPs
# of its own gets its subject's topic, discipline or subject name, with one of these descriptions'
# endings. Such a link keeps the seed's rows but is not a topic: the catalog does not count it in
# popularity and the graph leaves it out (`core.graph.build_graph`).
BACKFILL_MARKS = (" (discipline of the seed)", " (subject of the seed)")


def backfilled(description: pl.Expr) -> pl.Expr:
    """True for a back-filled label link, by its description (null description: not back-filled)."""
    return pl.any_horizontal([description.str.ends_with(m) for m in BACKFILL_MARKS]).fill_null(False)


# Arithmetic word problems (GSM8K-style: a mathematics seed in prose with numbers, no LaTeX) name
# their concept in words, not formulas: a pattern over the question and its worked solution (or
# the question alone, where solutions write the same thing for another reason: "20/4" is a
# division there), and the concept it signals in English and Chinese ("20% off" -> "percentages"
# / "百分数"). Names follow school usage (Common Core; Chinese primary-school problem types such as
# 倍数问题), not number theory: "twice as many" is a multiplicative comparison, not "multiples".
# Their nouns are mostly story props and characters ("Janet", "duck eggs"), which link nothing.


class SignalledConcept(NamedTuple):
    """A pattern that signals a concept in a seed's text, and the concept's English and Chinese name."""

    en: str  # pattern over the English text
    zh: str  # pattern over the Chinese text
    en_name: str
    zh_name: str
    question_only: bool = False


_RATE_UNITS = r"(?:hour|minute|day|week|month|year|kilogram|pound|item|person|morning|night)"
WORD_PROBLEM_CONCEPTS: tuple[SignalledConcept, ...] = (
    SignalledConcept(r"(?i)\bper ?cent\b|%", r"百分|%", "percentages", "百分数"),
    SignalledConcept(
        r"(?i)\bhalf\b|\bhalves\b|\bthirds?\b|\bfifths?\b|\bfractions?\b|\b(?:a|one|three) quarters? of\b",
        r"分之|几分",
        "fractions",
        "分数",
    ),
    # (no \b in Chinese: a Han character is a word character, "全长的1/4")
    SignalledConcept(r"\b\d+/\d+\b", r"\d+/\d+", "fractions", "分数", question_only=True),
    SignalledConcept(
        r"(?i)\btwice\b|\bthrice\b|\b(?:\d+(?:\.\d+)?|two|three|four|five|six|ten) times "
        r"(?:as|more|less|fewer|the|what|that|his|her|their)\b"
        r"|\bdoubles?\b|\btriples?\b",
        r"倍",
        "multiplicative comparison",
        "倍数问题",
    ),
    SignalledConcept(
        r"(?i)\b(?:more|fewer|less|longer|shorter|taller|older|younger)\b(?: \w+){0,3} than\b"
        r"|\bhow (?:many|much) (?:more|less|fewer|longer)\b",
        r"比.{1,12}?[多少]",
        "additive comparison",
        "比多少问题",
    ),
    SignalledConcept(
        rf"(?i)\bper {_RATE_UNITS}\b|\b(?:a|an|each|every) {_RATE_UNITS}\b"
        r"|\b(?:hourly|daily|weekly|monthly|yearly|annually)\b|\bevery \d+(?:\.\d+)? [a-z]+",
        r"每(?:小时|分钟|天|周|月|年|千克|斤|个|人)",
        "unit rates",
        "单位量",
    ),
    SignalledConcept(
        r"(?i)\bmph\b|\bmiles per hour\b|\bkm/h\b|\bspeed\b|\bkilometers per hour\b|/(?:second|minute|hour)\b",
        r"速度|千米/时",
        "speed",
        "速度",
    ),
    SignalledConcept(
        r"(?i)\bequally\b|\bevenly\b|\bsplit (?:into|between|among)\b|\bgroups of \d+\b|\b\d+-person groups?\b",
        r"平均分|平分|每组",
        "equal sharing",
        "平均分",
    ),
    SignalledConcept(r"(?i)\baverage\b|\bmean\b", r"平均数|平均每|平均成绩", "averages", "平均数"),
    SignalledConcept(r"(?i)\bratio\b|\bproportion\b", r"比例|之比", "ratios", "比例"),
    SignalledConcept(r"(?i)\bprofit\b|\bloss\b|\brevenue\b", r"利润|盈利|亏损", "profit", "利润"),
    SignalledConcept(
        r"(?i)\bdiscount\b|\b\d+% off\b|\bsale price\b", r"打折|折扣|[一二三四五六七八九]折", "discounts", "折扣"
    ),
    SignalledConcept(
        r"(?i)\binterest (?:rate|of)\b|\bsimple interest\b|\bcompound interest\b", r"利息|利率", "interest", "利息"
    ),
    SignalledConcept(r"(?i)\btax\b|\btip\b", r"税|小费", "taxes and tips", "税费"),
    SignalledConcept(
        r"(?i)\$\d|\bdollars?\b|\bcents?\b|\bchange\b.{0,30}\$|\b(?:quarters|dimes|nickels|pennies)\b",
        r"[元角]钱|找回|零钱",
        "money",
        "人民币计算",
        question_only=True,  # a worked solution in LaTeX writes "$21$"
    ),
    SignalledConcept(
        r"(?i)\b\d{1,2}:\d{2}\b|\bhow (?:long|much time)\b|\b[ap]\.m\.|\d ?[AaPp][Mm]\b",
        r"几点|经过.{0,4}时间|用了.{0,4}(?:小时|分钟)",
        "durations",
        "时间计算",
    ),
    SignalledConcept(r"(?i)\barea\b|\bsquare (?:feet|foot|meters?|inches|yards?|miles?)\b", r"面积", "area", "面积"),
    SignalledConcept(r"(?i)\bperimeter\b|\bfenc(?:e|ing)\b", r"周长|围栏", "perimeter", "周长"),
    SignalledConcept(r"(?i)\bvolume\b|\bcubic\b", r"体积|容积", "volume", "体积"),
    SignalledConcept(r"(?i)\bremainders? when\b|\bleft over\b", r"余数|余几", "remainders", "余数"),
    SignalledConcept(r"(?i)\byears old\b|\byears (?:older|younger)\b|\bages?\b", r"岁", "ages", "年龄问题"),
    SignalledConcept(r"(?i)\bprobability\b|\bchance\b", r"概率|可能性", "probability", "概率"),
    SignalledConcept(
        r"(?i)\bdozens?\b|\b(?:60|sixty) minutes\b|\b(?:12|twelve) inches\b|\bounces?\b|\bquarts?\b|\bpints?\b"
        r"|\bconvert",
        r"换算",
        "unit conversion",
        "单位换算",
    ),
)

# Capital letters name points in a mathematics seed: "triangle ABC", "side AE", "HK" are labels
# of a figure (233 links of the shared mathematics seeds, joining unrelated geometry problems), not
# KPs. These are the acronyms of mathematics that are terms.
MATHS_ACRONYMS: frozenset[str] = frozenset(
    "GCD GCF LCM LCD AM GM HM QM RMS ASA SAS SSS AAS HL CPCTC PEMDAS BODMAS FOIL SD IQR".split()
)

# The concepts a formal mathematics problem's own notation and wording signal, as textbooks name
# them: "$2^{x+1}=4^{x-7}$" is about exponents, "$g(g(2))$" about function composition, "$x + y = 3$
# and $x - y = 4$" a system of equations. Matched on the question (drawings removed) of every
# mathematics seed; the names join the question's formula field. Without them a MATH problem
# written all in formulas had no KP of its own (406 of the shared English seeds had labels only;
# 159 now). Read on the shared MATH, MMLU and CMMLU mathematics seeds (`bench/kp_graph_quality.py`
# docstring): patterns
# that also matched card suits (\clubsuit), a round table, circles ("x^2 + y^2 =") or lists of
# variables ("$x_1,$ $x_2,$ $\dots$") were narrowed or left out ("quadratic equations", "sequences").
_TIMES = r"(?:×|÷|\\times|\\div|\\cdot|•|\*| x | / )"
_PLUS = r"[+\-−]"
# An equation in a maths span with an operation before "=" ("$x + y = 3$", not "$x = 25$").
_EQUATION = r"\$[^$(=]*\b[a-z]\b[^$(=]*[+\-−*/^][^$(=]*=[^$(]*\$"
_NUMERIC_FRACTION = r"\\[dt]?frac\s*\{\s*\d+\s*\}\s*\{\s*\d+\s*\}"


def _notation(pattern: str, en_name: str, zh_name: str, zh_words: str = "") -> SignalledConcept:
    """A concept maths notation signals the same in both languages; Chinese wording adds `zh_words`."""
    return SignalledConcept(pattern, f"{pattern}|{zh_words}" if zh_words else pattern, en_name, zh_name)


FORMAL_MATHS_CONCEPTS: tuple[SignalledConcept, ...] = (
    _notation(
        r"(?:\d|\)|\})\s*\^\s*\{?\s*-?\s*(?:\d{2,}|[3-9]|[a-z]|\()|[A-Za-z]\s*\^\s*\{?\s*-?\s*\(?[a-z]\b"
        r"|\d\s*\^\s*\{?\s*-\s*\d",
        "exponents",
        "指数",
    ),
    _notation(r"[a-z]\s*\^\s*\{?\s*[3-9]\b", "polynomials", "多项式"),
    SignalledConcept(
        r"\b[a-z]\s*\(\s*[a-z]\s*\(|\b[a-z]\s*\\circ\s*[a-z]\b",
        r"\b[a-z]\s*\(\s*[a-z]\s*\(",
        "function composition",
        "复合函数",
    ),
    _notation(r"\b[a-z]\s*\^\s*\{\s*-1\s*\}\s*(?:\\left)?\s*\(", "inverse functions", "反函数", "反函数"),
    _notation(r"\\left\s*\||\\lvert|\\vert|(?:^|[^\\|])\|[^|$]{1,40}[^\\|]\|", "absolute value", "绝对值", "绝对值"),
    _notation(r"[+\-−]\s*\\[lc]?dots(?:b)?|\\dotsb", "series", "级数", "数列求和"),
    _notation(r"(?:\d|\)|(?:^|[^A-Za-z\\])[a-z])\s*!", "factorials", "阶乘", "阶乘"),
    _notation(r"(?:^|[^_\d{])\d+\s*i\b|\bi\s*\^\s*\{?\d|\\overline\{z\}|\\bar\{z\}", "complex numbers", "复数", "复数"),
    SignalledConcept(
        r"\\times\s*10\s*\^|\d\s*[x×]\s*10\s*\^", r"\\times\s*10\s*\^|科学记数法", "scientific notation", "科学记数法"
    ),
    SignalledConcept(
        r"\\overline\{\s*\d|\d\.\d+\.\.\.", r"\\overline\{\s*\d|循环小数", "repeating decimals", "循环小数"
    ),
    _notation(
        rf"{_NUMERIC_FRACTION}\s*(?:[+\-−*/÷×]|\\cdot|\\times|\\div)\s*{_NUMERIC_FRACTION}"
        rf"|(?:^|\s)\d+/\d+\s*[+\-−*/÷×x]\s*\d+/\d+|{_NUMERIC_FRACTION}\$? of\b|\\[dt]?frac\s*\{{\s*-?\s*\\[dt]?frac",
        "fractions",
        "分数",
    ),
    _notation(r"(?:^|[\s$(+\-])\d+\s*" + _NUMERIC_FRACTION, "mixed numbers", "带分数", "带分数"),
    _notation(
        rf"{_EQUATION}\s*,?\s*(?:and\s*)?{_EQUATION}|\\begin\{{align\*?\}}[^(]*?=[^(]*?\\\\[^(]*?=",
        "systems of equations",
        "方程组",
        "方程组",
    ),
    _notation(r"\\[dt]?frac\s*\{[^{}]*\}\s*\{[^{}]*[a-z][^{}]*[+\-][^{}]*\}", "rational expressions", "分式", "分式"),
    SignalledConcept(
        r"\\(?:star|odot|oplus|otimes|bowtie|dagger|circledast|boxtimes)\b"
        r"|\\(?:clubsuit|spadesuit|diamondsuit|heartsuit)[^.?]*\bdefined\b|(?i)\boperation\b",
        r"\\(?:star|odot|oplus|otimes|bowtie|dagger|circledast|boxtimes)\b|新运算|定义.{0,6}运算",
        "binary operations",
        "新定义运算",
    ),
    SignalledConcept(
        r"(?i)\bsolve\b|\bsolutions? (?:to|of) the equation\b",
        r"解方程|方程的解|方程的根",
        "solving equations",
        "解方程",
    ),
    SignalledConcept(
        r"(?i)\bround(?:s|ed|ing)?\b[^.?]{0,40}\bnearest\b|\bround(?:ed)? (?:off|up|down)\b",
        r"四舍五入|近似数",
        "rounding",
        "近似数",
    ),
    SignalledConcept(r"(?i)\bestimat", r"估算|估计", "estimation", "估算"),
    SignalledConcept(
        r"(?i)\bexpressions?\b[^.?]{0,30}\bequivalent\b|\bequivalent expressions?\b",
        r"等价的?(?:代数)?式",
        "equivalent expressions",
        "等价式",
    ),
    _notation(
        rf"\d\s*{_TIMES}\s*\d+(?:\.\d+)?\s*{_PLUS}\s*\d|\d\s*{_PLUS}\s*\d+(?:\.\d+)?\s*{_TIMES}\s*\d",
        "order of operations",
        "四则混合运算",
        "运算顺序|混合运算",
    ),
    SignalledConcept(
        r"(?:^|[\s$])\d[\d,.]*\s*(?:×|x|\\times|\*)\s*\d[\d,.]*(?:\s*[.?$]|$)|(?i)^\s*multiply\b",
        r"\d\s*×\s*\d",
        "multiplication",
        "乘法",
    ),
    SignalledConcept(r"\d\s*(?:÷|\\div)\s*\d|(?i)^\s*divide\b", r"\d\s*(?:÷|\\div)\s*\d", "division", "除法"),
    _notation(r"\d\s*\\?%", "percentages", "百分数", "百分"),
    SignalledConcept(
        r"(?i)\b(?:evaluate|value of)\b[^.?]*\b(?:when|if|for)\s*\$?[a-z]\s*=",
        r"当\s*\$?[a-z]\s*=.{0,20}(?:值|求)",
        "evaluating expressions",
        "代数式求值",
    ),
)

# LaTeX commands and environments that name a concept, with its English and Chinese name: a
# formula becomes the concept it expresses ("\sqrt" -> "square root" / "平方根"). Commands that
# name none ("\frac", "\cdot", "\left", Greek letters used as variables) give nothing.
FORMULA_CONCEPTS: dict[str, tuple[str, str]] = {
    "sqrt": ("square root", "平方根"),
    "log": ("logarithm", "对数"),
    "ln": ("logarithm", "对数"),
    "lg": ("logarithm", "对数"),
    "deg": ("polynomial degree", "多项式次数"),
    **dict.fromkeys(["sin", "cos", "tan", "cot", "sec", "csc"], ("trigonometric function", "三角函数")),
    **dict.fromkeys(["arcsin", "arccos", "arctan"], ("inverse trigonometric function", "反三角函数")),
    **dict.fromkeys(["binom", "dbinom", "tbinom", "choose"], ("binomial coefficient", "二项式系数")),
    **dict.fromkeys(["equiv", "pmod", "bmod"], ("modular arithmetic", "同余")),
    **dict.fromkeys(["lfloor", "rfloor"], ("floor function", "取整函数")),
    **dict.fromkeys(["lceil", "rceil"], ("ceiling function", "取整函数")),
    "gcd": ("greatest common divisor", "最大公约数"),
    "lcm": ("least common multiple", "最小公倍数"),
    "sum": ("summation", "求和"),
    "int": ("integral", "积分"),
    "oint": ("integral", "积分"),
    "lim": ("limit", "极限"),
    "det": ("determinant", "行列式"),
    **dict.fromkeys(["pmatrix", "bmatrix", "vmatrix", "matrix"], ("matrix", "矩阵")),
    **dict.fromkeys(["vec", "overrightarrow"], ("vector", "向量")),
    "angle": ("angle", "角"),
    "triangle": ("triangle", "三角形"),
    "infty": ("infinity", "无穷大"),
    **dict.fromkeys(["cup", "cap", "setminus"], ("set operation", "集合运算")),
    **dict.fromkeys(["subset", "subseteq", "supset", "supseteq"], ("subset", "子集")),
    "partial": ("partial derivative", "偏导数"),
    "nabla": ("gradient", "梯度"),
    "perp": ("perpendicular lines", "垂直"),
    "parallel": ("parallel lines", "平行线"),
    "cases": ("piecewise function", "分段函数"),
}
