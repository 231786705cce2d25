"""Synthetic QA for the release benches: English items of pseudo-words and Chinese items of Han
characters (question + four options), made with numpy from a seed so every subprocess of a bench
rebuilds exactly the same data."""

from __future__ import annotations

import numpy as np
import polars as pl

SYLLABLES = [c + v for c in "bklmnrst" for v in "aeiou"]


def vocabulary(rng: np.random.Generator, size: int = 20_000) -> np.ndarray:
    """Pseudo-words of 2-4 syllables (unique, deterministic)."""
    syl = np.array(SYLLABLES)
    words: set[str] = set()
    while len(words) < size:
        parts = rng.integers(0, len(syl), size=(size, 4))
        lens = rng.integers(2, 5, size=size)
        words.update("".join(syl[p[:k]]) for p, k in zip(parts, lens, strict=True))
    return np.array(sorted(words)[:size])


def english(rng: np.random.Generator, n: int, vocab: np.ndarray, words: tuple[int, int] = (25, 45)) -> list[str]:
    """n English-like texts: Zipf-weighted pseudo-words."""
    weights = 1.0 / np.arange(1, vocab.shape[0] + 1) ** 0.8
    weights /= weights.sum()
    lens = rng.integers(words[0], words[1], size=n)
    flat = vocab[rng.choice(vocab.shape[0], size=int(lens.sum()), p=weights)]
    cuts = np.cumsum(lens)[:-1]
    return [" ".join(chunk) + "?" for chunk in np.split(flat, cuts)]


def chinese(rng: np.random.Generator, n: int, chars: tuple[int, int] = (35, 70)) -> list[str]:
    """n Chinese-like texts: Zipf-weighted characters from the 3,000 first CJK code points."""
    pool = np.array([chr(0x4E00 + i) for i in range(3000)])
    weights = 1.0 / np.arange(1, pool.shape[0] + 1) ** 0.7
    weights /= weights.sum()
    lens = rng.integers(chars[0], chars[1], size=n)
    flat = pool[rng.choice(pool.shape[0], size=int(lens.sum()), p=weights)]
    return ["".join(chunk) + "？" for chunk in np.split(flat, np.cumsum(lens)[:-1])]


def qa_frame(rng: np.random.Generator, n: int, zh_share: float, vocab: np.ndarray) -> pl.DataFrame:
    """qa_id, question, choices (4 short options), language."""
    n_zh = int(n * zh_share)
    questions = english(rng, n - n_zh, vocab) + chinese(rng, n_zh)
    options = english(rng, 4 * (n - n_zh), vocab, (2, 6)) + chinese(rng, 4 * n_zh, (2, 8))
    order = rng.permutation(n)
    return pl.DataFrame(
        {
            "qa_id": [f"q{i:07d}" for i in range(n)],
            "question": [questions[i] for i in order],
            "choices": [options[4 * i : 4 * i + 4] for i in order],
            "language": ["zh" if i >= n - n_zh else "en" for i in order],
        },
        schema={"qa_id": pl.String, "question": pl.String, "choices": pl.List(pl.String), "language": pl.String},
    )
