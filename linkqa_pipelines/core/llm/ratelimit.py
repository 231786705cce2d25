"""Client-side pacing: requests/tokens per minute, a shared pause after 429s, retry backoff."""

from __future__ import annotations

import asyncio
import random
import time

MAX_RETRY_AFTER = 600.0  # seconds; a server asking for longer is treated as this


class TokenBucket:
    """Refills `per_minute / 60` units a second up to one second's worth.

    A taker waits until the level is positive, then takes what it needs, possibly going
    into debt; the debt delays the next takers, so the long-run rate never exceeds the limit
    while a single large request (more tokens than a second's worth) can still pass.
    """

    def __init__(self, per_minute: float) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate)
        self.level = self.capacity
        self.stamp = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_time(self) -> float:
        self._refill()
        return 0.0 if self.level > 0 else (1e-3 - self.level) / self.rate

    def take(self, amount: float) -> None:
        self._refill()
        self.level -= amount


class RateLimiter:
    """RPM and TPM buckets plus a pause every caller honours (set from a 429's Retry-After)."""

    def __init__(self, rpm: int | None, tpm: int | None) -> None:
        self.requests = TokenBucket(rpm) if rpm else None
        self.tokens = TokenBucket(tpm) if tpm else None
        self.paused_until = 0.0

    async def acquire(self, est_tokens: int) -> None:
        while True:
            wait = self.paused_until - time.monotonic()
            for bucket in (self.requests, self.tokens):
                if bucket is not None:
                    wait = max(wait, bucket.wait_time())
            if wait <= 0:
                break
            await asyncio.sleep(wait)
        if self.requests is not None:
            self.requests.take(1)
        if self.tokens is not None:
            self.tokens.take(est_tokens)

    def settle(self, est_tokens: int, actual_tokens: int) -> None:
        """Correct the token bucket once the real usage is known."""
        if self.tokens is not None:
            self.tokens.take(actual_tokens - est_tokens)

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, time.monotonic() + min(seconds, MAX_RETRY_AFTER))


def backoff_delay(retry: int, base: float, cap: float, retry_after: float | None, rng: random.Random) -> float:
    """Seconds before re-send number `retry` (1-based): the server's Retry-After when given, else full jitter."""
    if retry_after is not None and retry_after >= 0:
        return min(retry_after, MAX_RETRY_AFTER) * (1.0 + 0.1 * rng.random())
    return rng.uniform(0.0, min(cap, base * 2 ** (retry - 1)))
