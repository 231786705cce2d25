"""KP catalog: canonical keys for knowledge-point names and deterministic, explainable merging.

Extraction (LLM or offline) yields free-text KP names per seed; the same concept shows up
as "Binary systems", "binary system" or "the binary system". The catalog folds those onto
one `kp_id` per concept and records, for every surface name, which rule put it there.

Two stages, both columnar so that 1M seeds x 4 KPs takes seconds:

1. `canonical_keys`: NFKC + casefold, apostrophes dropped ("Newton's" -> "newtons"),
   `&` -> "and", other punctuation and symbols -> space, whitespace collapsed, light
   English plural trimming per word ("systems" -> "system", "galaxies" -> "galaxy",
   "supernovae" -> "supernova"), leading/trailing English stop words trimmed
   ("the law of demand" -> "law of demand"). Names with the same key are one KP
   (rule `exact_key`); this grouping is a Polars group_by over the links.
2. Merging of distinct keys, over unique keys only:
   - `compact_key`: equal once spaces are removed ("gamma ray burst" / "gammaray burst");
   - `token_order`: the same words in another order ("demand and supply" / "supply and demand");
   - `fuzzy:<score>`: rapidfuzz `token_sort_ratio` >= threshold *and* the keys differ in
     exactly one word (words in sorted order), by one letter inserted after its first two
     letters, in a word of >= 5 letters without digits (spelling variants and typos:
     "colour vision" / "color vision", "photosyntesis" / "photosynthesis"). Substitutions
     and prefix edits are never merged because in terminology they change the meaning: sulfate/sulfite,
     lactase/lactose, hypertension/hypotension, sexual/asexual, Newton's second/third law,
     type 1/type 2 diabetes. Chinese names are never fuzzy-merged: one character changes
     the concept (有丝分裂/无丝分裂). "photosynthesis" and "photosynthetic pigment" stay
     apart: a related but different concept.
   - Chinese (`core.knowledge_points.zh_merge`): `zh_facet:<suffix>` (光合作用的过程 ->
     光合作用), `zh_head` (a head term alone for its only compound, when the seeds' text names
     the modifier: 凋亡 -> 细胞凋亡) and `cilin:<code>` (one Cilin synonym group and shared
     characters: 价格/价钱); the rules and why embeddings were not used are in that module.
   - English (`core.knowledge_points.en_merge`): `abbreviation` (GDP / gross domestic product,
     where a seed's text defines it: "gross domestic product (GDP)") and `lemma` (irregular
     plurals by LemmInflect: viruses / virus, atria / atrium); the rules, their precision on
     the shared data and why embeddings were not used are in that module.
   Candidate pairs come from a deletion neighbourhood (see `_fuzzy_edges`): exact for this
   rule and linear in the number of keys, where blocked all-pairs scoring is quadratic in
   the block size; rapidfuzz (`process.cpdist`) scores the pairs found.
   Accepted pairs are edges of a key graph; its connected components (igraph) are the KPs,
   whose canonical key is the most used key of the component (ties: longest, so a dropped
   letter loses to the full spelling, then lexicographic), never a key `lemma` re-spells. So the result does not depend
   on input row order.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import igraph as ig
import numpy as np
import polars as pl
from rapidfuzz import fuzz, process

from linkqa_pipelines.core.contracts import KP_CATALOG_SCHEMA, conform
from linkqa_pipelines.core.knowledge_points.en_merge import abbreviation_edges, lemma_edges
from linkqa_pipelines.core.knowledge_points.lexicon import CJK_CLASS, EN_STOP_WORDS, backfilled, singular_word
from linkqa_pipelines.core.knowledge_points.zh_merge import zh_edges

_APOSTROPHES = r"['’ʼ`´]"
_PUNCT_OR_SYMBOL = r"[\p{P}\p{S}]+"
_CJK = f"[{CJK_CLASS}]"
DEFAULT_FUZZY_THRESHOLD = 92.0
HUB_SHARE = 0.05  # a KP linked to this share of a discipline's seeds ...
HUB_MIN_SEEDS = 20  # ... and to at least this many of them is a hub
_MIN_FUZZY_WORD = 5
_CONTEXT_CAP = 20


def _casefold(text: pl.Expr) -> pl.Expr:
    """NFKC + lowercase + the casefold specials Polars' lowercase lacks (ß, final sigma)."""
    return (
        text.str.normalize("NFKC")
        .str.to_lowercase()
        .str.replace_all("ß", "ss", literal=True)
        .str.replace_all("ς", "σ", literal=True)
    )


def canonical_keys(names: pl.Series) -> pl.Series:
    """Canonical key of each KP name (see module docstring). A name made only of punctuation
    keeps its folded, space-collapsed form so that no name ever maps to an empty key.

    Word-level work (plural trimming, stop words) runs once per distinct word, then the
    words are trimmed and re-joined per name with a group_by.
    """
    frame = (
        pl.DataFrame({"name": names})
        .with_row_index("i")
        .with_columns(
            words=_casefold(pl.col("name"))
            .str.replace_all(_APOSTROPHES, "")
            .str.replace_all("&", " and ", literal=True)
            .str.replace_all(_PUNCT_OR_SYMBOL, " ")
            .str.replace_all(r"\s+", " ")
            .str.strip_chars()
            .str.split(" "),
        )
    )
    words = frame.select("i", word="words", pos=pl.int_ranges(pl.col("words").list.len())).explode(["word", "pos"])
    vocab = (
        words.select("word")
        .unique()
        .with_columns(singular=singular_word(pl.col("word")), stop=pl.col("word").is_in(list(EN_STOP_WORDS)))
    )
    words = words.join(vocab, on="word", how="left", maintain_order="left")
    # Trim leading/trailing stop words: keep positions between the first and last content word.
    bounds = words.filter(~pl.col("stop")).group_by("i").agg(lo=pl.col("pos").min(), hi=pl.col("pos").max())
    kept = words.join(bounds, on="i", how="left", maintain_order="left").filter(
        pl.col("lo").is_null() | pl.col("pos").is_between(pl.col("lo"), pl.col("hi"))
    )
    keys = kept.group_by("i").agg(key=pl.col("singular").str.join(" "))  # keeps word order within a name
    fallback = _casefold(pl.col("name")).str.strip_chars().str.replace_all(r"\s+", " ")
    return (
        frame.join(keys, on="i", how="left", maintain_order="left")
        .select(
            pl.when(pl.col("key").str.len_chars() > 0)
            .then(pl.col("key"))
            .otherwise(fallback)
            .alias(names.name or "key")
        )
        .to_series()
    )


def kp_id_for(keys: pl.Series) -> pl.Series:
    """Stable id "kp_" + 12 hex digits of blake2b(canonical key): identical across runs,
    machines and library versions (Polars' own hash is not). One call per unique key."""
    return pl.Series(
        "kp_id",
        ["kp_" + hashlib.blake2b(k.encode("utf-8"), digest_size=6).hexdigest() for k in keys.to_list()],
        dtype=pl.String,
    )


@dataclass(frozen=True)
class Catalog:
    """Result of `build_catalog`.

    catalog: KP_CATALOG_SCHEMA plus `canonical_key` and `hub_reason` (null unless the KP is a
        hub, see `_hubs`, or only a back-filled label, see `_labels`), one row per KP, `node`
        dense 0..n-1 by popularity desc then key; `popularity` counts the seeds the KP is a
        topic of (back-filled label links, `lexicon.backfilled`, are not counted);
        `name` is the most used surface form of the canonical key.
    aliases: one row per distinct surface name: alias, kp_id, canonical_key, alias_key (the
        name's own key), rule (exact_key | compact_key | token_order | fuzzy:<score> |
        zh_facet:<suffix> | zh_head | cilin:<code> | abbreviation | lemma),
        matched_key (the key it was matched with; null for exact_key), n_links, hub_reason.
    links: the input links with `kp_id` appended.
    """

    catalog: pl.DataFrame
    aliases: pl.DataFrame
    links: pl.DataFrame


def _fail_rows(links: pl.DataFrame, bad: pl.Expr, what: str) -> None:
    """Raise naming the offending rows (0-based) and their seed_ids, if any row matches `bad`."""
    rows = links.with_row_index("row").filter(bad)
    if rows.height:
        raise ValueError(
            f"KP links: {rows.height} row(s) {what} (0-based rows {rows['row'].head(10).to_list()}, "
            f"seed_ids {rows['seed_id'].head(10).to_list()})"
        )


def _check_links(links: pl.DataFrame) -> None:
    """Fail loudly, naming rows and field, rather than dropping unusable links. Cheap checks
    only here (null counts); empty names are checked on the distinct names."""
    missing = [c for c in ("seed_id", "kp_name", "discipline") if c not in links.columns]
    if missing:
        raise ValueError(f"KP links are missing columns {missing}")
    for column in ("seed_id", "kp_name", "discipline"):
        if links[column].null_count():
            _fail_rows(links, pl.col(column).is_null(), f"with null '{column}'")


def _group_edges(keys: pl.DataFrame, by: pl.Expr, rule: str) -> pl.DataFrame:
    """Edges linking every key of an exact group (`by`) to the group's first key."""
    grouped = keys.with_columns(group=by).filter(pl.len().over("group") > 1)
    first = grouped.group_by("group").agg(b=pl.col("key").min())
    return (
        grouped.join(first, on="group")
        .filter(pl.col("key") != pl.col("b"))
        .select(a=pl.col("key"), b=pl.col("b"), rule=pl.lit(rule), score=pl.lit(100.0))
    )


def _fuzzy_edges(keys: pl.DataFrame, threshold: float) -> pl.DataFrame:
    """Spelling-variant pairs among distinct keys (rules in the module docstring).

    Exact and linear via a deletion neighbourhood: every key B proposes, for each word of
    >= _MIN_FUZZY_WORD + 1 letters without digits, the strings with one letter from the
    third onwards removed; a proposal equal to another key A (words in sorted order) is a
    pair that differs by exactly one inserted letter in one word. rapidfuzz then scores the
    few pairs found and the threshold applies. No all-pairs comparison, so 1M distinct keys
    cost the same per key as 1k.
    """
    latin = keys.filter(~pl.col("key").str.contains(_CJK)).select("key", words=pl.col("key").str.split(" ").list.sort())
    targets = latin.select(a="key", target=pl.col("words").list.join(" "))
    n = pl.col("words").list.len()
    per_word = (
        latin.select(b="key", words="words", i=pl.int_ranges(n))
        .explode("i")
        .with_columns(word=pl.col("words").list.get(pl.col("i")))
        .filter((pl.col("word").str.len_chars() > _MIN_FUZZY_WORD) & ~pl.col("word").str.contains(r"\d"))
        .select(
            "b",
            "word",
            head=pl.col("words").list.slice(0, pl.col("i")).list.join(" "),
            tail=pl.col("words").list.slice(pl.col("i") + 1).list.join(" "),
            j=pl.int_ranges(2, pl.col("word").str.len_chars()),
        )
        .explode("j")
    )
    shorter = pl.col("word").str.slice(0, pl.col("j")) + pl.col("word").str.slice(pl.col("j") + 1)
    proposals = per_word.select(
        "b",
        target=pl.concat_str(
            [pl.col("head").replace("", None), shorter, pl.col("tail").replace("", None)],
            separator=" ",
            ignore_nulls=True,
        ),
    )
    pairs = (
        proposals.join(targets, on="target")
        .filter(pl.col("a") != pl.col("b"))
        .select("a", "b")
        .unique()  # a doubled letter proposes the same string twice
        .sort("a", "b")
    )
    scores = process.cpdist(pairs["a"].to_list(), pairs["b"].to_list(), scorer=fuzz.token_sort_ratio, workers=-1)
    return (
        pairs.with_columns(score=pl.Series(scores, dtype=pl.Float64))
        .filter(pl.col("score") >= threshold)
        .with_columns(rule=pl.format("fuzzy:{}", pl.col("score").round(0).cast(pl.Int64)))
        .select("a", "b", "rule", "score")
    )


def _merge_keys(keys: pl.DataFrame, threshold: float, english: pl.DataFrame) -> pl.DataFrame:
    """Map each distinct key to its KP's canonical key, with the rule that merged it.

    `keys` has columns key, n_links and optionally context (texts the key was extracted from,
    for `zh_head`); `english` holds the `en_merge` edges, which need names and texts rather
    than keys. Returns key, canonical_key, rule, matched_key.
    """
    keys = keys.sort("key")
    no_space = pl.col("key").str.replace_all(" ", "")
    sorted_words = pl.col("key").str.split(" ").list.sort().list.join(" ")
    edges = pl.concat(
        [
            _group_edges(keys, no_space, "compact_key"),
            _group_edges(keys.filter(~pl.col("key").str.contains(_CJK)), sorted_words, "token_order"),
            _fuzzy_edges(keys, threshold),
            zh_edges(keys),
            english,
        ]
    )
    index = keys.select("key").with_row_index("i")
    edges = (
        edges.join(index, left_on="a", right_on="key")
        .join(index, left_on="b", right_on="key", suffix="_b")
        .select("a", "b", "rule", "score", ia="i", ib="i_b")
    )
    graph = ig.Graph(n=keys.height, edges=np.column_stack([edges["ia"].to_numpy(), edges["ib"].to_numpy()]))
    component = np.asarray(graph.connected_components().membership, dtype=np.int64)
    # A key the `lemma` rule re-spells ("viruse", from "viruses") never names its KP.
    misspelt = pl.col("key").is_in(edges.filter(pl.col("rule") == "lemma")["a"].implode())
    ranked = keys.with_columns(component=pl.Series(component)).sort(
        ["component", misspelt, "n_links", pl.col("key").str.len_chars(), "key"],
        descending=[False, False, True, True, False],
    )
    canonical = ranked.group_by("component", maintain_order=True).agg(canonical_key=pl.col("key").first())
    # Explain each merged key by its strongest direct edge (rule priority, then score, then key).
    priority = pl.col("rule").replace_strict({"compact_key": 0, "token_order": 1}, default=2, return_dtype=pl.Int8)
    both_ways = pl.concat(
        [
            edges.select(key="a", matched_key="b", rule="rule", score="score"),
            edges.select(key="b", matched_key="a", rule="rule", score="score"),
        ]
    )
    explained = (
        both_ways.sort(["key", priority, "score", "matched_key"], descending=[False, False, True, False])
        .group_by("key", maintain_order=True)
        .first()
        .select("key", "rule", "matched_key")
    )
    return (
        ranked.join(canonical, on="component")
        .join(explained, on="key", how="left")
        .with_columns(
            rule=pl.when(pl.col("key") == pl.col("canonical_key")).then(pl.lit("exact_key")).otherwise("rule"),
            matched_key=pl.when(pl.col("key") == pl.col("canonical_key")).then(None).otherwise("matched_key"),
        )
        .select("key", "canonical_key", "rule", "matched_key")
    )


def _contexts(links: pl.DataFrame, names: pl.DataFrame, name_code: np.ndarray) -> pl.DataFrame:
    """(key, context): up to _CONTEXT_CAP descriptions of each Chinese key's links, the text
    `zh_head` reads to tell whether a head term stands for its compound."""
    zh_names = names.with_row_index("code").filter(pl.col("alias_key").str.contains(_CJK))
    return (
        pl.DataFrame({"code": name_code, "context": links["kp_description"]})
        .join(zh_names.select(pl.col("code").cast(pl.UInt32), key="alias_key"), on="code")
        .group_by("key")
        .agg(pl.col("context").drop_nulls().head(_CONTEXT_CAP))
    )


def _english_edges(
    links: pl.DataFrame, names: pl.DataFrame, name_code: np.ndarray, discipline_code: np.ndarray, disciplines: pl.Series
) -> pl.DataFrame:
    """`en_merge` edges: `lemma` over the distinct names, `abbreviation` over the distinct
    descriptions, with the disciplines each key is used in."""
    lemma = lemma_edges(names["kp_name"], names["alias_key"], canonical_keys)
    if "kp_description" not in links.columns:
        return lemma
    pairs = np.unique((name_code.astype(np.uint64) << np.uint64(32)) | discipline_code.astype(np.uint64))
    key_disciplines = pl.DataFrame(
        {
            "key": names["alias_key"].gather((pairs >> np.uint64(32)).astype(np.uint32)),
            "discipline": disciplines.gather((pairs & np.uint64(0xFFFFFFFF)).astype(np.uint32)),
        }
    ).unique()
    described = links["kp_description"].drop_nulls()
    texts = described.filter(described.str.contains("(", literal=True)).unique().sort()
    return pl.concat([lemma, abbreviation_edges(texts, key_disciplines, canonical_keys)])


def _codes(values: pl.Series) -> tuple[pl.Series, np.ndarray]:
    """(sorted distinct values, code of each row): one hash group_by, then integer work."""
    grouped = pl.DataFrame({"v": values}).with_row_index("row").group_by("v").agg(pl.col("row")).sort("v")
    exploded = grouped.with_row_index("code").select("code", "row").explode("row")
    codes = np.empty(values.len(), dtype=np.uint32)
    codes[exploded["row"].to_numpy()] = exploded["code"].to_numpy()
    return grouped["v"], codes


def _hubs(
    link_kp: np.ndarray, seed_code: np.ndarray, discipline_code: np.ndarray, disciplines: pl.Series
) -> pl.DataFrame:
    """KPs that co-occur with everything in a discipline: linked to >= HUB_SHARE of its seeds and to
    >= HUB_MIN_SEEDS seeds ("defendant" in law, "patient" in clinical medicine). Columns kp,
    hub_reason. They stay in the catalog (a seed's KP is still its KP); the graph discounts their
    edges by NPMI (`core.graph.edge_strength`), so walks rarely pass through them.

    Checked on the shared data (20,604 seeds, back-filled labels not counted: see `_labels`): 8 hubs
    — "defendant" (10% of law), "auditor", "customer", "emergency department", "Earth", "Python"
    (5.0% of computer science), and two that are core concepts of a small discipline ("standard
    deviation", "probability": 18% and 10% of 224 statistics seeds). Lower thresholds would catch
    scenario props ("buyer", "owner", "car": 2.5% of law) only together with core concepts of the
    same popularity ("kinetic energy", "mass" in physics), and neither neighbour diversity (share of
    co-occurrences repeated: defendant 0.51, standard deviation 0.24, owner 0.15, simple random
    sample 0.13) nor form separates the two; so the rule stays strict and NPMI does the discounting
    for the rest."""
    pairs = pl.DataFrame({"kp": link_kp, "seed": seed_code, "code": discipline_code}).unique(["kp", "seed"])
    sizes = pairs.unique("seed").group_by("code").agg(discipline_seeds=pl.len())
    return (
        pairs.group_by("kp", "code")
        .agg(seeds=pl.len())
        .join(sizes, on="code")
        .with_columns(share=pl.col("seeds") / pl.col("discipline_seeds"))
        .filter((pl.col("share") >= HUB_SHARE) & (pl.col("seeds") >= HUB_MIN_SEEDS))
        .join(pl.DataFrame({"discipline": disciplines}).with_row_index("code"), on="code")
        .sort("kp", "share", "discipline", descending=[False, True, False])
        .group_by("kp", maintain_order=True)
        .first()
        .select(
            "kp",
            hub_reason=pl.format(
                "hub: in {}% of the {} seeds of {} ({} seeds); edges discounted by NPMI",
                (pl.col("share") * 100).round(1),
                "discipline_seeds",
                "discipline",
                "seeds",
            ),
        )
    )


def _labels(link_kp: np.ndarray, seed_code: np.ndarray, topical: np.ndarray) -> pl.DataFrame:
    """KPs used only as back-filled labels (columns kp, hub_reason): popularity 0, not in the graph."""
    frame = pl.DataFrame({"kp": link_kp, "seed": seed_code, "topical": topical})
    return (
        frame.group_by("kp")
        .agg(seeds=pl.col("seed").n_unique(), topical=pl.col("topical").any())
        .filter(~pl.col("topical"))
        .sort("kp")
        .select(
            "kp",
            hub_reason=pl.format(
                "back-filled label of {} seed(s) without a KP of their own: not a topic, not counted in "
                "popularity, not in the graph",
                "seeds",
            ),
        )
    )


def build_catalog(links: pl.DataFrame, *, fuzzy_threshold: float = DEFAULT_FUZZY_THRESHOLD) -> Catalog:
    """Canonical KPs from KP links (KP_LINK_SCHEMA rows; `seed_id`, `kp_name`, `discipline` required).

    Strings are hashed once per column into integer codes; after that, per-link work is
    integer group_bys and gathers, and string normalisation and fuzzy matching run over
    distinct names and keys only. That is what keeps 4M links in seconds.
    """
    _check_links(links)
    name_values, name_code = _codes(links["kp_name"])
    empty = name_values.str.strip_chars().str.len_chars() == 0
    if empty.any():
        _fail_rows(links, pl.col("kp_name").str.strip_chars().str.len_chars() == 0, "with empty 'kp_name'")
    _, seed_code = _codes(links["seed_id"])  # codes follow seed_id order
    discipline_values, discipline_code = _codes(links["discipline"])

    names = pl.DataFrame(
        {"kp_name": name_values, "n_links": np.bincount(name_code, minlength=name_values.len()).astype(np.int64)}
    ).with_columns(alias_key=canonical_keys(name_values))
    keys = names.group_by("alias_key").agg(pl.col("n_links").sum()).rename({"alias_key": "key"})
    if "kp_description" in links.columns:
        keys = keys.join(_contexts(links, names, name_code), on="key", how="left")
    merged = _merge_keys(
        keys, fuzzy_threshold, _english_edges(links, names, name_code, discipline_code, discipline_values)
    )
    names = names.with_row_index("name_code").join(merged, left_on="alias_key", right_on="key", maintain_order="left")

    # Per-KP statistics from integer codes: distinct seeds, disciplines.
    kp_keys = merged.select("canonical_key").unique().sort("canonical_key").with_row_index("kp")
    name_kp = names.join(kp_keys, on="canonical_key", maintain_order="left")["kp"].to_numpy()
    link_kp = name_kp[name_code]
    # Back-filled labels (a seed without KPs of its own) are not topics: not counted in popularity,
    # not hub candidates (`lexicon.backfilled`).
    topical = (
        ~links.select(backfilled(pl.col("kp_description"))).to_series().to_numpy()
        if "kp_description" in links.columns
        else np.ones(links.height, dtype=bool)
    )
    # Distinct (kp, seed) and (kp, discipline) pairs, packed into one u64 each: one cheap unique.
    packed = link_kp.astype(np.uint64) << np.uint64(32)
    kp_seed = pl.Series((packed | seed_code.astype(np.uint64))[topical]).unique().to_numpy()
    popularity = pl.DataFrame(
        {
            "kp": np.arange(kp_keys.height, dtype=np.uint32),
            "popularity": np.bincount((kp_seed >> np.uint64(32)).astype(np.int64), minlength=kp_keys.height),
        }
    )
    kp_discipline = pl.Series(packed | discipline_code.astype(np.uint64)).unique().to_numpy()
    disciplines = (
        pl.DataFrame(
            {
                "kp": (kp_discipline >> np.uint64(32)).astype(np.uint32),
                "code": (kp_discipline & np.uint64(0xFFFFFFFF)).astype(np.uint32),
            }
        )
        .join(pl.DataFrame({"name": discipline_values}).with_row_index("code"), on="code")
        .group_by("kp")
        .agg(disciplines=pl.col("name").sort())
    )
    kp_keys = kp_keys.with_columns(kp_id=kp_id_for(kp_keys["canonical_key"]))
    hubs = pl.concat(
        [
            _hubs(link_kp[topical], seed_code[topical], discipline_code[topical], discipline_values),
            _labels(link_kp, seed_code, topical),
        ]
    )

    aliases = (
        names.join(kp_keys, on="canonical_key")
        .select(
            "name_code",
            "kp",
            alias="kp_name",
            kp_id="kp_id",
            canonical_key="canonical_key",
            alias_key="alias_key",
            rule="rule",
            matched_key="matched_key",
            n_links="n_links",
        )
        .sort(
            ["kp_id", pl.col("alias_key") == pl.col("canonical_key"), "n_links", "alias"],
            descending=[False, True, True, False],
        )
    )
    # Name = most used surface form of the canonical key (ties: lexicographic).
    surface = aliases.group_by("kp", maintain_order=True).agg(
        name=pl.col("alias").first(), name_code=pl.col("name_code").first(), aliases=pl.col("alias").slice(1).sort()
    )
    if "kp_description" in links.columns:
        # The description the canonical name got on its lowest seed_id: deterministic, integer work.
        canonical = (
            pl.DataFrame({"kp": link_kp, "name_code": name_code, "seed": seed_code})
            .with_columns(description=links["kp_description"])
            .join(surface.select("kp", "name_code"), on=["kp", "name_code"], how="semi")
        )
        described = canonical.group_by("kp").agg(pl.col("description").get(pl.col("seed").arg_min()))
    else:
        described = surface.select("kp", description=pl.lit(None, dtype=pl.String))
    catalog = (
        kp_keys.join(surface.drop("name_code"), on="kp")
        .join(popularity, on="kp")
        .join(disciplines, on="kp")
        .join(described, on="kp", how="left")
        .join(hubs, on="kp", how="left")
        .sort(["popularity", "canonical_key"], descending=[True, False])
        .with_row_index("node")
    )
    out_links = links.with_columns(kp_id=kp_keys["kp_id"].gather(link_kp))
    return Catalog(
        catalog=conform(catalog.drop("kp"), KP_CATALOG_SCHEMA),
        aliases=aliases.join(hubs, on="kp", how="left", maintain_order="left").drop("name_code", "kp"),
        links=out_links,
    )
