"""Dagster resource around the LLM layer (`linkqa_pipelines.core.llm`); deliberately thin.

Fields default to the `LINKQA_LLM_*` environment when the resource is built, so `linkqa run`
options, `dagster dev` and explicit resource config all work. The API key is not a config
field: only the *name* of the environment variable holding it is, and the key is read from
the environment when a client is built, so it never reaches run config, metadata or the UI.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dagster import ConfigurableResource
from pydantic import Field, SecretStr

from linkqa_pipelines.core.llm import BatchOutcome, LLMClient, LLMSettings
from linkqa_pipelines.core.llm.settings import API_KEY_ENV

__all__ = ["LLMResource", "stats_metadata"]


def _env(name: str) -> Any:
    """Default factory: the field's value from the environment (validated), else the settings default."""
    return Field(default_factory=lambda: getattr(LLMSettings.from_env(), name),
                 description=LLMSettings.model_fields[name].description or f"env LINKQA_LLM_{name.upper()}")


class LLMResource(ConfigurableResource):
    """Which backend answers model-backed stages, and how hard it may be pushed."""

    backend: str = _env("backend")
    base_url: str | None = _env("base_url")
    model: str | None = _env("model")
    response_format: str = _env("response_format")
    concurrency: int = _env("concurrency")
    rpm: int | None = _env("rpm")
    tpm: int | None = _env("tpm")
    timeout: float = _env("timeout")
    max_retries: int = _env("max_retries")
    max_repairs: int = _env("max_repairs")
    price_input: float = _env("price_input")
    price_output: float = _env("price_output")
    tensor_parallel_size: int = _env("tensor_parallel_size")
    gpu_memory_utilization: float = _env("gpu_memory_utilization")
    max_model_len: int | None = _env("max_model_len")
    max_num_seqs: int | None = _env("max_num_seqs")
    dtype: str = _env("dtype")
    seed: int = _env("seed")
    api_key_env: str = Field(default="", description="env var holding the API key; empty = "
                             + " then ".join(API_KEY_ENV))

    def settings(self, home: str | None = None) -> LLMSettings:
        fields = {name: getattr(self, name) for name in LLMSettings.model_fields if hasattr(self, name)}
        env_names = (self.api_key_env,) if self.api_key_env else API_KEY_ENV
        key = next((os.environ[v].strip() for v in env_names if os.environ.get(v, "").strip()), None)
        return LLMSettings(**fields, api_key=SecretStr(key) if key else None, home=Path(home) if home else None)

    def client(self, home: str | None = None) -> LLMClient:
        """A client whose response cache lives under `home` (default LINKQA_HOME)."""
        return LLMClient(self.settings(home))

    def pool_name(self) -> str:
        """Dagster concurrency pool for assets calling this endpoint and model."""
        return self.settings().pool_name()

    def describe(self) -> str:
        """Human label for logs: backend, model and endpoint (never the key)."""
        if self.backend == "offline":
            return "[offline backend]"
        where = f" at {self.base_url}" if self.backend == "openai" and self.base_url else ""
        return f"[{self.backend} backend] {self.model}{where}"


def stats_metadata(outcome: BatchOutcome, backend: str | None = None) -> dict[str, Any]:
    """A batch's accounting as Dagster metadata (plain values); `backend` overrides the label."""
    s = outcome.stats
    return {
        "llm_backend": backend or s.backend,
        "llm_model": s.model,
        "llm_requests": s.requests,
        "llm_succeeded": s.succeeded,
        "llm_failures": s.failures,
        "llm_calls": s.calls,
        "llm_cache_hits": s.cache_hits,
        "llm_retries": s.retries,
        "llm_repairs": s.repairs,
        "llm_prompt_tokens": s.prompt_tokens,
        "llm_completion_tokens": s.completion_tokens,
        "llm_reasoning_tokens": s.reasoning_tokens,
        "llm_cost_usd": round(s.est_cost_usd, 6),
        "llm_seconds": round(s.seconds, 3),
    }
