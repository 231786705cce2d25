"""Token, call and cost accounting of one `generate` batch (one stage, one partition)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class BatchStats:
    """Counters of one batch. Tokens and cost count only calls made in this run, not cache hits."""

    stage: str
    partition: str | None
    backend: str
    model: str
    requests: int = 0
    succeeded: int = 0
    failures: int = 0
    terminal: int = 0  # failures later runs do not retry (deterministic, or out of attempts)
    cache_hits: int = 0  # responses served from the cache instead of a call
    calls: int = 0  # requests sent to the backend, every transport attempt included
    retries: int = 0  # transport re-sends (429, 5xx, timeouts, dropped connections)
    repairs: int = 0  # follow-up requests showing the model why its answer was unusable
    prompt_tokens: int = 0
    completion_tokens: int = 0  # includes reasoning tokens, as endpoints bill them
    reasoning_tokens: int = 0
    est_cost_usd: float = 0.0
    seconds: float = 0.0

    def add_usage(self, prompt: int, completion: int, reasoning: int, price_input: float, price_output: float) -> None:
        self.prompt_tokens += prompt
        self.completion_tokens += completion
        self.reasoning_tokens += reasoning
        self.est_cost_usd += (prompt * price_input + completion * price_output) / 1_000_000

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """One log line: what a user wants to see after a stage."""
        return (
            f"{self.requests} requests: {self.succeeded} ok, {self.failures} failed ({self.terminal} terminal); "
            f"{self.cache_hits} cache hits, "
            f"{self.calls} calls, {self.retries} retries, {self.repairs} repairs; tokens {self.prompt_tokens} in / "
            f"{self.completion_tokens} out ({self.reasoning_tokens} reasoning); ~${self.est_cost_usd:.4f}; "
            f"{self.seconds:.1f}s"
        )
