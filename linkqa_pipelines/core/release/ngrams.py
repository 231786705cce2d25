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
_POLY_INVERSE = np.uint64(pow(int(POLY_BASE), -1, 1 << 64))
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads structured inputs over all 64 bits."""
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


def token_arrays(texts: pl.Series, mode: ShingleMode, word_pattern: str = WORD_TOKEN) -> tuple[np.ndarray, np.ndarray]:
    """Flatten texts to one uint64 token array plus per-text lengths.

    "char": Unicode code points of the text as given. "word": `word_pattern` matches (by default
    `WORD_TOKEN`; decontamination adds formula operators) hashed to 64 bits with Polars' string
    hash (stable within a Polars version, which is all a fingerprint computed and compared in one
    process needs).
    """
    texts = texts.fill_null("")
    if mode == "char":
        lengths = texts.str.len_chars().to_numpy().astype(np.int64)
        flat = "".join(texts.to_list())
        tokens = np.frombuffer(flat.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        return tokens, lengths
    if mode == "word":
        words = texts.str.extract_all(word_pattern)
        lengths = words.list.len().fill_null(0).to_numpy().astype(np.int64)
        word_series = words.explode().drop_nulls()
        tokens = word_series.hash(seed=0x5EED).to_numpy() | np.uint64(1)  # never 0: 0 is padding
        return tokens, lengths
    raise ValueError(f"unknown shingle mode {mode!r}: use 'char' or 'word'")


def text_starts(lengths: np.ndarray) -> np.ndarray:
    """Index of each text's first token in the flat token array."""
    starts = np.zeros(lengths.shape[0], dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    return starts


def window_positions(
    lengths: np.ndarray, k: int, short: Literal["whole", "skip"] = "skip"
) -> tuple[np.ndarray, np.ndarray]:
    """(text index, start within the text) of every k-token window of every text, in text order.
    A text shorter than k has one window, the whole text (`short="whole"`), or none ("skip")."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if short == "whole":
        n_grams = np.where(lengths >= k, lengths - k + 1, np.minimum(lengths, 1))
    else:
        n_grams = np.where(lengths >= k, lengths - k + 1, 0)
    text_index = np.repeat(np.arange(lengths.shape[0], dtype=np.int64), n_grams)
    position = np.arange(text_index.shape[0], dtype=np.int64) - np.repeat(text_starts(n_grams), n_grams)
    return text_index, position


def window_hashes(
    prefix: np.ndarray, powers: np.ndarray, start: np.ndarray, width: int | np.ndarray, salt: int | np.ndarray = 0
) -> np.ndarray:
    """Hashes of the flat-token windows [start, start + width) from `prefix_hashes`: O(1) per
    window whatever its width, so any window of a text can be hashed without hashing the others.
    `salt` (one, or one per window) separates hash spaces."""
    end = start + width
    window = powers[end - 1] * (prefix[end] - prefix[start])
    return mix64(window ^ np.asarray(salt, dtype=np.uint64))


def ngram_hashes(
    tokens: np.ndarray,
    lengths: np.ndarray,
    k: int,
    *,
    short: Literal["whole", "skip"] = "whole",
    salt: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """64-bit hashes of every contiguous k-gram of every text.

    Returns (hashes, text index, start position within the text). Texts shorter than k give
    one hash of the whole text (`short="whole"`, used by dedup) or none (`short="skip"`, used
    by decontamination). `salt` separates hash spaces (e.g. different k or tokenisations).

    The polynomial hash of tokens t[s:s+w] is sum t[j] * B^(s+w-1-j) mod 2^64. With B odd it
    has an inverse mod 2^64, so H = B^(s+w-1) * (Q[s+w] - Q[s]) where Q is the prefix sum of
    t[j] * B^-j: one cumulative sum per call and O(1) work per window whatever k is (wrapping
    uint64 arithmetic is exact arithmetic mod 2^64). Windows never cross texts: each starts and
    ends inside its own text.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    lengths = np.asarray(lengths, dtype=np.int64)
    text_index, position = window_positions(lengths, k, short)
    start = text_starts(lengths)[text_index] + position
    prefix, powers = prefix_hashes(tokens)
    hashes = window_hashes(prefix, powers, start, np.minimum(lengths[text_index], k), salt & 0xFFFFFFFFFFFFFFFF)
    return hashes, text_index, position


def prefix_hashes(tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(Q, B^i): Q[m] = sum_{j<m} t[j] * B^-j and B^i for i < len(tokens), mod 2^64."""
    n = tokens.shape[0]
    steps = np.full(n, POLY_BASE, dtype=np.uint64)
    steps[:1] = 1
    powers = np.cumprod(steps, dtype=np.uint64)
    steps[1:] = _POLY_INVERSE
    inverse_powers = np.cumprod(steps, dtype=np.uint64)
    prefix = np.zeros(n + 1, dtype=np.uint64)
    np.cumsum(tokens.astype(np.uint64) * inverse_powers, out=prefix[1:])
    return prefix, powers


def all_window_hashes(prefix: np.ndarray, powers: np.ndarray, k: int, salt: int = 0) -> np.ndarray:
    """`window_hashes` of the window of k tokens at every flat start 0..len-k, texts ignored:
    contiguous slices instead of gathers, several times faster; the caller keeps the windows
    that lie inside one text (`inside_texts`)."""
    n = prefix.shape[0] - 1
    if n < k:
        return np.empty(0, dtype=np.uint64)
    window = powers[k - 1 : n] * (prefix[k:] - prefix[: n - k + 1])
    return mix64(window ^ np.uint64(salt))


def inside_texts(
    flat: np.ndarray, starts: np.ndarray, lengths: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(text, position within it, inside) of windows of k tokens at flat starts `flat`:
    `inside` is False for a window that crosses into the next text."""
    text = np.searchsorted(starts, flat, side="right") - 1  # the last text starting at or before
    position = flat - starts[text]
    return text, position, position + k <= lengths[text]
