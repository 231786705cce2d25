"""Deduplication of QA rows: exact duplicates (same normalised text) and near duplicates
(shingle-set Jaccard >= threshold) found with MinHash + LSH banding in numpy.

Shingles are chosen per item: word 3-grams for space-separated text, character 5-grams for
Chinese (`core.language.detect_language` on the item's text). Items of the two kinds are never
near duplicates of each other (their shingle sets are disjoint), so each kind is banded apart.

Near-duplicate detection works in three steps:
1. one pass over batches of rows: normalised text -> its 64-bit hash (exact duplicates), its
   language, k-gram hashes (`ngrams`) and MinHash signatures (the hashes broadcast against
   `num_perm` multiply-add permutations in blocks, reduced per row);
2. LSH banding: rows that agree on a whole band of the signature become candidate pairs. Each
   batch's band keys are spilled to disk by hash bucket and each bucket is paired alone
   (`BandSpill`), so the signatures of the corpus are never all in memory;
3. exact verification: candidates whose signature agreement (signatures remade for the rows in
   a candidate pair only) is near the threshold get the true Jaccard of their shingle sets,
   computed with Polars joins.
Because pairs are verified exactly, MinHash only decides which pairs are looked at; the bands
are chosen so that a pair exactly at the threshold becomes a candidate with probability >= 0.99.

Which copy is kept: rows are ranked by `priority` (the caller's keep rule; `keep_priority_expr`
is the pipeline's: verified > refined > unverified, then difficulty fit), ties by input order;
a row is dropped when it is an exact copy of, or at least `threshold` similar to, a better
ranked row that is kept. Memory bounded by a batch or a bucket, not the corpus: normalised texts,
k-gram hashes and signatures of one batch of `_ROW_BATCH` rows at a time (texts are remade for
the rows in a candidate pair, never held for the corpus), one bucket's band keys (12 bytes per row
and band / `_BUCKETS`), the candidate pairs' rows, and a few dozen bytes per row of id, text hash
and rank. The rows themselves are the caller's input.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import polars as pl

from linkqa_pipelines.core.language import detect_language
from linkqa_pipelines.core.release.ngrams import POLY_BASE, ShingleMode, mix64, ngram_hashes, token_arrays
from linkqa_pipelines.core.text import normalize_expr, qa_text_expr

_BLOCK = 1 << 13  # k-grams per MinHash block: an 8 MB buffer (faster than 16 MB: 1 << 14 was 20% slower)
_ROW_BATCH = 20_000  # rows whose k-grams are materialised at once
_ESTIMATE_MARGIN = 0.2  # > 5 standard deviations of the 128-permutation MinHash estimate
_BUCKETS = 16  # spill files of band keys: one bucket's keys are in memory at a time


def lsh_params(threshold: float, num_perm: int, min_recall: float = 0.99) -> tuple[int, int]:
    """(bands, rows per band): the most selective banding that still makes a pair at
    exactly `threshold` Jaccard a candidate with probability >= `min_recall`."""
    for rows in range(num_perm, 0, -1):
        bands = num_perm // rows
        if 1.0 - (1.0 - threshold**rows) ** bands >= min_recall:
            return bands, rows
    return num_perm, 1


def _permutations(num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0x11A5)
    a = rng.integers(1, 2**63, size=num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    b = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64)
    return a, b


def minhash_signatures(texts: pl.Series, *, mode: ShingleMode = "char", k: int = 5, num_perm: int = 128) -> np.ndarray:
    """(n, num_perm) uint32 MinHash signatures of the texts' k-gram sets (high 32 bits of
    each 64-bit minimum: half the memory, same ordering).

    Works permutation-major — (num_perm, block) arrays reduced along contiguous rows —
    which is several times faster than reducing a (block, num_perm) array down columns.
    """
    a, b = _permutations(num_perm)
    n = texts.len()
    signatures = np.empty((n, num_perm), dtype=np.uint32)
    buffer = np.empty((num_perm, _BLOCK), dtype=np.uint64)  # reused: a fresh array per block page-faults anew
    for lo in range(0, n, _ROW_BATCH):
        batch = texts.slice(lo, _ROW_BATCH)
        tokens, lengths = token_arrays(batch, mode)
        hashes, owner, _ = ngram_hashes(tokens, lengths, k, short="whole")
        mins = np.full((num_perm, batch.len()), np.iinfo(np.uint64).max, dtype=np.uint64)
        for start in range(0, hashes.shape[0], _BLOCK):
            rows = owner[start : start + _BLOCK]
            permuted = np.multiply(a[:, None], hashes[None, start : start + _BLOCK], out=buffer[:, : rows.shape[0]])
            permuted += b[:, None]
            seg = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
            mins[:, rows[seg]] = np.minimum(mins[:, rows[seg]], np.minimum.reduceat(permuted, seg, axis=1))
        signatures[lo : lo + batch.len()] = (mins.T >> np.uint64(32)).astype(np.uint32)
    return signatures


def band_keys(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(n, bands) uint64: one hash per band of each signature, salted by the band's index so equal
    keys mean the same band of two signatures (a cross-band collision is 2^-64 and only adds a
    candidate that the exact check rejects)."""
    keys = np.empty((signatures.shape[0], bands), dtype=np.uint64)
    for band in range(bands):
        key = np.full(signatures.shape[0], band + 1, dtype=np.uint64)
        for col in range(band * rows, (band + 1) * rows):
            key = mix64(key * POLY_BASE + signatures[:, col].astype(np.uint64))
        keys[:, band] = key
    return keys


def equal_key_pairs(keys: np.ndarray, members: np.ndarray) -> np.ndarray:
    """(m, 2) int64 pairs (i < j) of `members` that share a key."""
    order = np.argsort(keys, kind="stable")
    sorted_key = keys[order]
    bounds = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1], True])
    sizes = np.diff(bounds)
    two = bounds[:-1][sizes == 2]  # nearly every key that has a pair has exactly one: no Python loop
    found = [np.sort(np.stack([members[order[two]], members[order[two + 1]]], axis=1), axis=1)]
    for g in np.flatnonzero(sizes > 2):
        group = np.sort(members[order[bounds[g] : bounds[g + 1]]])
        i, j = np.triu_indices(group.shape[0], k=1)
        found.append(np.stack([group[i], group[j]], axis=1))
    return np.concatenate(found).astype(np.int64)


class BandSpill:
    """LSH banding with memory bounded by a batch and a bucket, not the corpus: each batch's
    signatures are reduced to their band keys and every (key, row) is spilled (under TMPDIR) to
    one of `buckets` (rounded up to a power of two) files by the key's top bits; `pairs()` then
    sorts each bucket alone into pairs (two rows share a band exactly when they share a key, and
    equal keys fall in the same bucket). Peak memory: one batch's signatures, or one bucket's keys
    (12 bytes per row and band / buckets). A context manager: the files go on exit."""

    def __init__(self, bands: int, rows: int, buckets: int = _BUCKETS) -> None:
        self.bands, self.rows = bands, rows
        self.bits = max(int(buckets - 1).bit_length(), 1)
        self._tmp = tempfile.TemporaryDirectory(prefix="linkqa-dedup-")
        self._dir = Path(self._tmp.name)
        self._batches = 0

    def __enter__(self) -> BandSpill:
        return self

    def __exit__(self, *exc: object) -> None:
        self._tmp.cleanup()

    def add(self, signatures: np.ndarray, members: np.ndarray) -> None:
        """Spill the band keys of `signatures`, the rows numbered `members` (int, < 2^31)."""
        keys = band_keys(signatures, self.bands, self.rows).reshape(-1)
        owners = np.repeat(members.astype(np.int32), self.bands)
        bucket = (keys >> np.uint64(64 - self.bits)).astype(np.int64)
        for b in np.unique(bucket):
            sel = bucket == b
            np.save(self._dir / f"{b}-{self._batches}-key.npy", keys[sel])
            np.save(self._dir / f"{b}-{self._batches}-row.npy", owners[sel])
        self._batches += 1

    def pairs(self) -> np.ndarray:
        """(m, 2) int64 unique pairs (i < j) of rows sharing at least one band; reads each bucket once."""
        found: list[np.ndarray] = [np.empty((0, 2), dtype=np.int64)]
        for b in range(1 << self.bits):
            parts = sorted(self._dir.glob(f"{b}-*-key.npy"))
            if parts:
                keys = np.concatenate([np.load(p) for p in parts])
                rows = [np.load(p.with_name(p.name.replace("-key", "-row"))) for p in parts]
                found.append(equal_key_pairs(keys, np.concatenate(rows).astype(np.int64)))
        return np.unique(np.concatenate(found), axis=0)


def pair_jaccard(texts: pl.Series, pairs: np.ndarray, *, mode: ShingleMode = "char", k: int = 5) -> np.ndarray:
    """Exact Jaccard of the k-gram hash sets of each (i, j) pair, via Polars joins."""
    if pairs.shape[0] == 0:
        return np.empty(0, dtype=np.float64)
    involved = np.unique(pairs)
    tokens, lengths = token_arrays(texts.gather(involved), mode)
    hashes, owner, _ = ngram_hashes(tokens, lengths, k, short="whole")
    grams = pl.DataFrame({"doc": involved[owner], "h": hashes}).unique()
    sizes = grams.group_by("doc").len("size")
    pair_frame = pl.DataFrame({"i": pairs[:, 0], "j": pairs[:, 1], "pair": np.arange(len(pairs))})
    inter = (
        pair_frame.join(grams, left_on="i", right_on="doc")
        .join(grams, left_on=["j", "h"], right_on=["doc", "h"], how="semi")
        .group_by("pair")
        .len("inter")
    )
    scored = (
        pair_frame.join(inter, on="pair", how="left")
        .join(sizes.rename({"doc": "i", "size": "size_i"}), on="i")
        .join(sizes.rename({"doc": "j", "size": "size_j"}), on="j")
        .sort("pair")
        .select(pl.col("inter").fill_null(0) / (pl.col("size_i") + pl.col("size_j") - pl.col("inter").fill_null(0)))
    )
    return scored.to_series().to_numpy()


def dedup_text_expr(text_col: str, include_choices: bool) -> pl.Expr:
    """The normalised `qa_text_expr`: what exact and near duplicates are judged on."""
    return normalize_expr(qa_text_expr(text_col, include_choices))


VERIFICATION_RANK = {"verified": 0, "refined": 1}  # anything else (or no `verification` column): unverified


def keep_priority_expr(columns: Sequence[str], level_share: pl.DataFrame | None = None) -> pl.Expr:
    """The pipeline's keep rule as a sort key (smaller is better): verified > refined >
    unverified (column `verification`, when the rows have it), then difficulty fit: the target
    share of the row's (discipline, difficulty) level in `level_share` (columns discipline,
    difficulty, share), larger first, so a copy is kept where the target mix wants more rows.
    Unscored rows rank last within their verification class."""
    verification = (
        pl.col("verification").replace_strict(VERIFICATION_RANK, default=len(VERIFICATION_RANK), return_dtype=pl.Int64)
        if "verification" in columns
        else pl.lit(len(VERIFICATION_RANK), pl.Int64)
    )
    if level_share is None or level_share.is_empty():
        fit = pl.when(pl.col("difficulty").is_null()).then(2.0).otherwise(1.0)
    else:
        level = pl.concat_str(pl.col("discipline"), pl.col("difficulty").cast(pl.Int64).cast(pl.String), separator="|")
        keys = level_share.select(level.alias("key"))["key"]
        share = level.replace_strict(keys, level_share["share"], default=0.0, return_dtype=pl.Float64)
        fit = pl.when(pl.col("difficulty").is_null()).then(2.0).otherwise(1.0 - share)
    return verification.cast(pl.Float64) * 10.0 + fit


def _near_pairs(
    spills: Mapping[ShingleMode, BandSpill],
    rank_of: np.ndarray,
    texts: Callable[[np.ndarray], pl.Series],
    threshold: float,
    num_perm: int,
    k: Mapping[ShingleMode, int],
) -> tuple[np.ndarray, np.ndarray]:
    """(pairs (i < j), Jaccard) of every pair of ranked rows at least `threshold` similar. The
    spills hold every input row's band keys; `rank_of[input row]` is its position among the rows
    still in play (-1: not in play, an exact copy) and `texts(positions)` their normalised texts."""
    found_pairs: list[np.ndarray] = [np.empty((0, 2), dtype=np.int64)]
    found_sims: list[np.ndarray] = [np.empty(0, dtype=np.float64)]
    for mode, spill in spills.items():
        pairs = rank_of[spill.pairs()]
        pairs = np.sort(pairs[(pairs >= 0).all(axis=1)], axis=1)
        if pairs.shape[0] == 0:
            continue
        # Signature agreement estimates Jaccard (std ~0.035 at 0.8 with 128 permutations); only
        # pairs within _ESTIMATE_MARGIN of the threshold are worth an exact check. The signatures
        # are remade for the rows in a candidate pair only (a few per cent of the corpus).
        involved, at = np.unique(pairs, return_inverse=True)
        involved_texts = texts(involved)
        signatures = minhash_signatures(involved_texts, mode=mode, k=k[mode], num_perm=num_perm)
        at = at.reshape(pairs.shape)
        close = (signatures[at[:, 0]] == signatures[at[:, 1]]).mean(axis=1) >= threshold - _ESTIMATE_MARGIN
        sims = pair_jaccard(involved_texts, at[close], mode=mode, k=k[mode])
        similar = sims >= threshold
        found_pairs.append(pairs[close][similar])
        found_sims.append(sims[similar])
    return np.concatenate(found_pairs), np.concatenate(found_sims)


def dedup(
    qa: pl.DataFrame,
    text_col: str = "question",
    threshold: float = 0.8,
    *,
    id_col: str = "qa_id",
    include_choices: bool = True,
    priority: pl.Expr | None = None,
    word_k: int = 3,
    char_k: int = 5,
    num_perm: int = 128,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split `qa` into (kept, dropped).

    Rows are visited best `priority` first (smaller sorts first; ties and no priority: input
    order). Exact duplicates (equal normalised text) keep the best ranked copy. Near
    duplicates: a row is dropped when its shingle-set Jaccard with a better ranked *kept* row
    is >= `threshold` (so chains A~B~C never drop C for a resemblance to A it lacks). Every
    dropped row points at a row that is in `kept`: an exact copy of a row that was dropped as a
    near duplicate is reported as "near" with that row's target and similarity.
    `dropped` holds the dropped rows plus `dedup_reason` ("exact" | "near"), `duplicate_of`
    (the kept row's id) and `similarity` (1.0 for exact). Deterministic; both frames keep
    input order.
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    for col in (text_col, id_col) + (("choices",) if include_choices else ()):
        if col not in qa.columns:
            raise ValueError(f"dedup: column {col!r} missing (columns: {qa.columns})")
    if qa[text_col].null_count():
        bad = qa.filter(pl.col(text_col).is_null())[id_col].head(5).to_list()
        raise ValueError(f"dedup: {qa[text_col].null_count()} rows have a null {text_col!r}, e.g. {id_col} {bad}")
    if qa[id_col].n_unique() != qa.height:
        dup_ids = qa.filter(pl.col(id_col).is_duplicated())[id_col].unique().head(5).to_list()
        raise ValueError(f"dedup: {id_col!r} is not unique, e.g. {dup_ids}")

    # One pass of batches: normalised texts -> a 64-bit hash (exact duplicates: equal hashes; a
    # collision of two different texts is ~n^2 / 2^65, 3e-8 at 1M rows), a language, and MinHash
    # band keys spilled by bucket. Texts are remade only for the rows in a candidate pair. Only id,
    # hash and rank are sorted; the decisions are joined back to `qa` at the end.
    text_expr = dedup_text_expr(text_col, include_choices)
    text_cols = [text_col, "choices"] if include_choices else [text_col]

    def normalised(rows: np.ndarray) -> pl.Series:
        return qa.select(pl.col(text_cols).gather(pl.Series(rows, dtype=pl.Int64))).select(text_expr).to_series()

    k: dict[ShingleMode, int] = {"word": word_k, "char": char_k}
    bands, rows = lsh_params(threshold, num_perm)
    with BandSpill(bands, rows) as word_spill, BandSpill(bands, rows) as char_spill:
        spills: dict[ShingleMode, BandSpill] = {"word": word_spill, "char": char_spill}
        hashes: list[pl.Series] = [pl.Series("_key", [], dtype=pl.UInt64)]
        for lo in range(0, qa.height, _ROW_BATCH):
            members = np.arange(lo, min(lo + _ROW_BATCH, qa.height), dtype=np.int64)
            texts = normalised(members)
            hashes.append(texts.hash(seed=0x5EED).alias("_key"))
            is_zh = (detect_language(texts) == "zh").to_numpy()
            by_mode: tuple[tuple[ShingleMode, np.ndarray], ...] = (("word", ~is_zh), ("char", is_zh))
            for mode, sel in by_mode:
                if sel.any():
                    part = texts.filter(pl.Series(sel))
                    spills[mode].add(minhash_signatures(part, mode=mode, k=k[mode], num_perm=num_perm), members[sel])
        kept, dropped = _decide(qa, id_col, priority, pl.concat(hashes), spills, normalised, threshold, num_perm, k)
    return kept, dropped


def _decide(
    qa: pl.DataFrame,
    id_col: str,
    priority: pl.Expr | None,
    hashes: pl.Series,
    spills: Mapping[ShingleMode, BandSpill],
    normalised: Callable[[np.ndarray], pl.Series],
    threshold: float,
    num_perm: int,
    k: Mapping[ShingleMode, int],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`dedup`'s keep decisions from the text hashes and the spilled band keys of every row."""
    work = (
        qa.select(
            pl.col(id_col),
            _input=pl.int_range(pl.len(), dtype=pl.Int64),
            _rank=priority if priority is not None else pl.lit(0),
        )
        .with_columns(hashes)
        .sort("_rank", "_input")
        .with_columns(_row=pl.int_range(pl.len(), dtype=pl.Int64))
        .with_columns(_first=pl.col("_row").min().over("_key"), _first_id=pl.col(id_col).first().over("_key"))
    )
    exact_mask = (work["_row"] != work["_first"]).to_numpy()

    survivors = work.filter(~pl.Series(exact_mask))
    rank_of = np.full(qa.height, -1, dtype=np.int64)
    rank_of[survivors["_input"].to_numpy()] = np.arange(survivors.height)
    at_input = survivors["_input"].to_numpy()
    drop_near = np.zeros(survivors.height, dtype=bool)
    near_of = np.full(survivors.height, -1, dtype=np.int64)
    near_sim = np.zeros(survivors.height, dtype=np.float64)
    if survivors.height > 1:
        pairs, sims = _near_pairs(
            spills, rank_of, lambda positions: normalised(at_input[positions]), threshold, num_perm, k
        )
        # Greedy in rank order: visit pairs by later row, best match first.
        for p in np.lexsort((-sims, pairs[:, 1])):
            i, j = pairs[p]
            if not drop_near[j] and not drop_near[i]:
                drop_near[j], near_of[j], near_sim[j] = True, i, sims[p]

    ids = survivors[id_col]
    near = survivors.filter(pl.Series(drop_near)).select(
        "_input",
        pl.col(id_col).alias("_first_id"),
        dedup_reason=pl.lit("near"),
        duplicate_of=ids.gather(near_of[drop_near]),
        similarity=pl.Series(near_sim[drop_near], dtype=pl.Float64),
    )
    # A copy of a row that was itself dropped as a near duplicate points where that row points.
    via = near.select("_first_id", _via="duplicate_of", _via_sim="similarity")
    exact = (
        work.filter(pl.Series(exact_mask))
        .join(via, on="_first_id", how="left", maintain_order="left")
        .select(
            "_input",
            dedup_reason=pl.when(pl.col("_via").is_null()).then(pl.lit("exact")).otherwise(pl.lit("near")),
            duplicate_of=pl.coalesce("_via", "_first_id"),
            similarity=pl.col("_via_sim").fill_null(1.0),
        )
    )
    decisions = pl.concat([exact, near.drop("_first_id")]).cast(
        {"dedup_reason": pl.String, "duplicate_of": pl.String, "similarity": pl.Float64}
    )
    indexed = qa.with_columns(_input=pl.int_range(pl.len(), dtype=pl.Int64))
    dropped = indexed.join(decisions, on="_input").sort("_input").drop("_input")
    kept = indexed.filter(~pl.col("_input").is_in(decisions["_input"].implode())).drop("_input")
    return kept, dropped
