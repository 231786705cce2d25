"""An independent audit of decontamination: which items still contain a rare n-gram of a
benchmark item, recomputed with Polars string n-grams and joins.

It implements the spec in `decontamination`'s docstring (the text form `contamination_text_expr`
is shared: it *is* the definition of the text) but none of the filter's machinery: no token
hashing, no rolling polynomial hashes, no sorted-array lookups, no numpy prefix sums. Grams are
the tokens themselves joined into strings, boilerplate coverage is counted with joins, and
matching is a semi-join. A bug in one path therefore shows up as a disagreement with the
other; the release's blocking asset check runs this on what the filter let through.
"""

from __future__ import annotations

import polars as pl

from linkqa_pipelines.core.language import detect_language
from linkqa_pipelines.core.release.decontamination import DecontaminationSettings, contamination_text_expr
from linkqa_pipelines.core.release.ngrams import ShingleMode
from linkqa_pipelines.core.text import qa_text_expr

AUDIT_SCHEMA: dict[str, pl.DataType] = {"qa_id": pl.String(), "benchmark_id": pl.String(), "gram": pl.String()}
_SEP = "\x1f"


def _tokens(text: pl.Expr, mode: ShingleMode) -> pl.Expr:
    """Token lists: single characters, or space-separated words with each Han character a word."""
    if mode == "char":
        return text.str.split("").list.eval(pl.element().filter(pl.element() != ""))
    spaced = text.str.replace_all(r"(\p{Han})", " $1 ")
    return spaced.str.split(" ").list.eval(pl.element().filter(pl.element() != ""))


def _exploded(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per token: (tid, pos, tok, len), in text order."""
    return (
        frame.select("tid", "toks", len=pl.col("toks").list.len())
        .explode("toks")
        .drop_nulls("toks")
        .select("tid", pos=pl.int_range(pl.len()).over("tid"), tok="toks", len="len")
    )


def _windows(tokens: pl.DataFrame, width: int) -> pl.DataFrame:
    """Every `width`-token window of every text: (tid, pos, gram), from `_exploded` tokens."""
    parts = [pl.col("tok").shift(-j).over("tid") for j in range(width)]
    return (
        tokens.filter(pl.col("len") >= width)
        .select("tid", "pos", gram=pl.concat_str(parts, separator=_SEP), last=pl.col("len") - width)
        .filter(pl.col("pos") <= pl.col("last"))
        .drop("last")
    )


def _rare_grams(texts: pl.DataFrame, mode: ShingleMode, settings: DecontaminationSettings) -> pl.DataFrame:
    """(k, gram, benchmark_id) of the rare grams of benchmark texts (columns benchmark_id, t)."""
    n, shortest = settings.gram(mode)
    b = settings.boilerplate_span
    frame = texts.select("benchmark_id", toks=_tokens(contamination_text_expr(pl.col("t"), mode), mode)).with_row_index(
        "tid"
    )
    item = frame.select("tid", "benchmark_id")
    tokens = _exploded(frame)
    spans = _windows(tokens, b).join(item, on="tid")
    shared = spans.group_by("gram").agg(pl.col("benchmark_id").n_unique().alias("df"))
    boiler = spans.join(shared.filter(pl.col("df") > settings.boilerplate_items), on="gram", how="semi")
    covered = (
        boiler.select("tid", p=pl.int_ranges(pl.col("pos"), pl.col("pos") + b)).explode("p").unique().with_columns(c=1)
    )
    # Per token: c = covered by a boilerplate span, d = a number outside them; running sums per text.
    flags = (
        tokens.select("tid", p="pos", d=pl.col("tok").str.contains("[0-9]"))
        .join(covered, on=["tid", "p"], how="left")
        .with_columns(c=pl.col("c").fill_null(0))
        .with_columns(d=(pl.col("d") & (pl.col("c") == 0)).cast(pl.Int64))
        .sort("tid", "p")
        .with_columns(upto=pl.col("c").cum_sum().over("tid"), d_upto=pl.col("d").cum_sum().over("tid"))
        .with_columns(before=pl.col("upto") - pl.col("c"), d_before=pl.col("d_upto") - pl.col("d"))
    )

    def content(width: pl.Expr, covered: pl.Expr, numbers: pl.Expr) -> pl.Expr:
        """Mostly free of boilerplate spans, or holding a number outside them."""
        return (2 * (width - covered) >= width) | (numbers > 0)

    long = (
        _windows(tokens, n)
        .join(flags.select("tid", pos="p", before="before", d_before="d_before"), on=["tid", "pos"])
        .join(
            flags.select("tid", last=pl.col("p") - n + 1, upto="upto", d_upto="d_upto"),
            left_on=["tid", "pos"],
            right_on=["tid", "last"],
        )
        .filter(content(pl.lit(n), pl.col("upto") - pl.col("before"), pl.col("d_upto") - pl.col("d_before")))
        .select("tid", "gram", k=pl.lit(n, pl.Int64))
    )
    whole_len = pl.col("toks").list.len()
    whole = (
        frame.filter((whole_len >= shortest) & (whole_len < n))
        .join(flags.group_by("tid").agg(pl.col("c").sum(), pl.col("d").sum()), on="tid")
        .filter(content(whole_len, pl.col("c"), pl.col("d")))
        .select("tid", gram=pl.col("toks").list.join(_SEP), k=whole_len.cast(pl.Int64))
    )
    grams = pl.concat([long, whole]).join(item, on="tid").select("k", "gram", "benchmark_id").unique()
    return grams.filter(pl.col("benchmark_id").n_unique().over("k", "gram") <= settings.boilerplate_items)


def contamination_audit(
    qa: pl.DataFrame, benchmarks: pl.DataFrame, settings: DecontaminationSettings | None = None
) -> pl.DataFrame:
    """(qa_id, benchmark_id, gram) for every item of `qa` (qa_id, question, choices) that contains
    a rare gram of a benchmark item (`load_benchmark_questions` / `benchmark_items` rows)."""
    settings = settings or DecontaminationSettings()
    texts = pl.concat(
        [benchmarks.select("benchmark_id", t="text"), benchmarks.select("benchmark_id", t="question")]
    ).with_columns(zh=detect_language(pl.concat([benchmarks["text"], benchmarks["question"]])) == "zh")
    qa_text = qa.select("qa_id", t=qa_text_expr())
    found: list[pl.DataFrame] = [pl.DataFrame(schema=AUDIT_SCHEMA)]
    plan: tuple[tuple[ShingleMode, bool], ...] = (("word", False), ("char", True))
    for mode, zh in plan:
        rare = _rare_grams(texts.filter(pl.col("zh") == zh), mode, settings)
        if rare.is_empty():
            continue
        items = qa_text.select("qa_id", toks=_tokens(contamination_text_expr(pl.col("t"), mode), mode)).with_row_index(
            "tid"
        )
        tokens = _exploded(items.drop("qa_id"))
        for k in rare["k"].unique().sort().to_list():
            windows = _windows(tokens, k).join(items.select("tid", "qa_id"), on="tid")
            hits = windows.join(rare.filter(pl.col("k") == k), on="gram").select(
                "qa_id", "benchmark_id", gram=pl.col("gram").str.replace_all(_SEP, " " if mode == "word" else "")
            )
            found.append(hits.unique(["qa_id", "benchmark_id"]))
    return pl.concat(found).unique(["qa_id", "benchmark_id"]).sort("qa_id", "benchmark_id")
