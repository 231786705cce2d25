"""Vectorised k-gram hashing of many texts at once: texts to token arrays ("char" or "word"
shingles), then 64-bit hashes of every k-gram in one numpy pass per k. The fingerprints that
dedup (MinHash) and decontamination (n-gram index) are both computed from.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import polars as pl

from linkqa_pipelines.core.text import WORD_TOKEN

ShingleMode = Literal["char", "word"]

POLY_BASE = np.uint64(0x100000001B3)  # odd multiplier of the rolling polynomial hash
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads structured inputs over all 64 bits."""
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


def token_arrays(texts: pl.Series, mode: ShingleMode) -> tuple[np.ndarray, np.ndarray]:
    """Flatten texts to one uint64 token array plus per-text lengths.

    "char": Unicode code points of the text as given. "word": `WORD_TOKEN` tokens hashed to
    64 bits with Polars' string hash (stable within a Polars version, which is all a
    fingerprint computed and compared in one process needs).
    """
    texts = texts.fill_null("")
    if mode == "char":
        lengths = texts.str.len_chars().to_numpy().astype(np.int64)
        flat = "".join(texts.to_list())
        tokens = np.frombuffer(flat.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        return tokens, lengths
    if mode == "word":
        words = texts.str.extract_all(WORD_TOKEN)
        lengths = words.list.len().fill_null(0).to_numpy().astype(np.int64)
        word_series = words.explode().drop_nulls()
        tokens = word_series.hash(seed=0x5EED).to_numpy() | np.uint64(1)  # never 0: 0 is padding
        return tokens, lengths
    raise ValueError(f"unknown shingle mode {mode!r}: use 'char' or 'word'")


def ngram_hashes(
    tokens: np.ndarray,
    lengths: np.ndarray,
    k: int,
    *,
    short: Literal["whole", "skip"] = "whole",
    salt: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """64-bit hashes of every contiguous k-gram of every text.

    Returns (hashes, text index, start position within the text). Texts are laid out with
    k-1 zero tokens after each, so one vectorised pass per k computes every window and no
    window mixes two texts. Texts shorter than k give one hash of the whole text
    (`short="whole"`, used by dedup) or none (`short="skip"`, used by decontamination).
    `salt` separates hash spaces (e.g. different k or tokenisations).
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    lengths = np.asarray(lengths, dtype=np.int64)
    n_texts = lengths.shape[0]
    pad = k - 1
    slot = lengths + pad
    offsets = np.zeros(n_texts, dtype=np.int64)
    np.cumsum(slot[:-1], out=offsets[1:])
    padded = np.zeros(int(slot.sum()), dtype=np.uint64)
    token_starts = np.zeros(n_texts, dtype=np.int64)
    np.cumsum(lengths[:-1], out=token_starts[1:])
    within = np.arange(tokens.shape[0], dtype=np.int64) - np.repeat(token_starts, lengths)
    padded[np.repeat(offsets, lengths) + within] = tokens

    n_windows = padded.shape[0] - pad
    window = np.zeros(max(n_windows, 0), dtype=np.uint64)
    for j in range(k):
        window = window * POLY_BASE + padded[j : j + n_windows]

    if short == "whole":
        n_grams = np.where(lengths >= k, lengths - k + 1, np.minimum(lengths, 1))
    else:
        n_grams = np.where(lengths >= k, lengths - k + 1, 0)
    gram_starts = np.zeros(n_texts, dtype=np.int64)
    np.cumsum(n_grams[:-1], out=gram_starts[1:])
    position = np.arange(int(n_grams.sum()), dtype=np.int64) - np.repeat(gram_starts, n_grams)
    text_index = np.repeat(np.arange(n_texts, dtype=np.int64), n_grams)
    hashes = mix64(window[np.repeat(offsets, n_grams) + position] ^ np.uint64(salt & 0xFFFFFFFFFFFFFFFF))
    return hashes, text_index, position
