"""Dagster resource around the LLM layer (`linkqa_pipelines.core.llm`); deliberately thin.

Every field is plain config: `linkqa run` flags and the launchpad set them as run config, and
the definitions bind each to its `LINKQA_LLM_*` variable (`EnvVar`) when that is set. The API
key is never a field: only the *name* of the environment variable that holds it is, and the key
is read from there when a client is built, so it cannot reach run config, a repr, metadata or the UI.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dagster import ConfigurableResource
from pydantic import Field, SecretStr

from linkqa_pipelines.core.llm import BatchOutcome, LLMClient, LLMSettings
from linkqa_pipelines.core.llm.settings import API_KEY_ENV, ENV_PREFIX
from linkqa_pipelines.lib.metadata import top_reasons

__all__ = ["LLM_ENV", "LLM_FLOAT_FIELDS", "LLM_INT_FIELDS", "LLMResource", "stats_metadata"]

_DEFAULTS = LLMSettings()


def _field(name: str) -> Any:
    return Field(default=getattr(_DEFAULTS, name), description=f"{ENV_PREFIX}{name.upper()}")


class LLMResource(ConfigurableResource):
    """Which backend answers model-backed stages, and how hard it may be pushed."""

    backend: str = _field("backend")
    base_url: str | None = _field("base_url")
    model: str | None = _field("model")
    api_key_env: str = Field(
        default="", description="environment variable holding the key; empty = " + " then ".join(API_KEY_ENV)
    )
    response_format: str = _field("response_format")
    concurrency: int = _field("concurrency")
    rpm: int | None = _field("rpm")
    tpm: int | None = _field("tpm")
    timeout: float = _field("timeout")
    max_retries: int = _field("max_retries")
    max_repairs: int = _field("max_repairs")
    max_attempts_total: int = _field("max_attempts_total")
    retry_failed: bool = Field(
        default=False, description="ask terminal failures again (`linkqa run --retry-failed`; run config only)"
    )
    model_family: str | None = _field("model_family")
    system_message: str = _field("system_message")
    price_input: float = _field("price_input")
    price_output: float = _field("price_output")
    tensor_parallel_size: int = _field("tensor_parallel_size")
    gpu_memory_utilization: float = _field("gpu_memory_utilization")
    max_model_len: int | None = _field("max_model_len")
    max_num_seqs: int | None = _field("max_num_seqs")
    dtype: str = _field("dtype")
    seed: int = _field("seed")

    def settings(self, home: Path | None = None) -> LLMSettings:
        fields = {name: getattr(self, name) for name in LLMSettings.model_fields if hasattr(self, name)}
        names = (self.api_key_env,) if self.api_key_env else API_KEY_ENV
        key = next((os.environ[v].strip() for v in names if os.environ.get(v, "").strip()), None)
        fields["api_key"] = SecretStr(key) if key else None
        return LLMSettings(**fields, home=home)

    def client(self, home: Path) -> LLMClient:
        """A client whose response cache lives under `home`."""
        return LLMClient(self.settings(home))

    def describe(self) -> str:
        """Human label for logs: backend, model and endpoint (never the key)."""
        if self.backend == "offline":
            return "[offline backend]"
        where = f" at {self.base_url}" if self.backend == "openai" and self.base_url else ""
        return f"[{self.backend} backend] {self.model}{where}"


# field -> environment variable, for the definitions' EnvVar bindings
LLM_ENV: dict[str, str] = {
    name: ENV_PREFIX + name.upper() for name in LLMResource.model_fields if name not in ("api_key_env", "retry_failed")
}
LLM_FLOAT_FIELDS = frozenset({"timeout", "price_input", "price_output", "gpu_memory_utilization"})
LLM_INT_FIELDS = frozenset(
    {
        "concurrency",
        "rpm",
        "tpm",
        "max_retries",
        "max_repairs",
        "max_attempts_total",
        "tensor_parallel_size",
        "max_model_len",
        "max_num_seqs",
        "seed",
    }
)


def stats_metadata(outcome: BatchOutcome, backend: str | None = None) -> dict[str, Any]:
    """A batch's accounting as Dagster metadata (plain values); `backend` overrides the label."""
    s = outcome.stats
    return {
        "llm_backend": backend or s.backend,
        "llm_model": s.model,
        "llm_requests": s.requests,
        "llm_succeeded": s.succeeded,
        "llm_failures": s.failures,
        "llm_terminal": s.terminal,
        "llm_calls": s.calls,
        "llm_cache_hits": s.cache_hits,
        "llm_retries": s.retries,
        "llm_repairs": s.repairs,
        "llm_prompt_tokens": s.prompt_tokens,
        "llm_completion_tokens": s.completion_tokens,
        "llm_reasoning_tokens": s.reasoning_tokens,
        "llm_cost_usd": round(s.est_cost_usd, 6),
        "llm_seconds": round(s.seconds, 3),
        # terminal failures say so, so that the run's summary does not read them as retried
        "llm_failure_reasons": top_reasons(_labelled(r.error or "", r.terminal) for r in outcome.failures),
    }


def _labelled(reason: str, terminal: bool) -> str:
    return f"terminal: {reason}" if terminal and not reason.startswith("terminal") else reason
