"""LLM settings: one validated object, read from `LINKQA_LLM_*` environment variables or given directly.

Every field `name` can be set from `LINKQA_LLM_<NAME>` (e.g. `LINKQA_LLM_CONCURRENCY=32`,
`LINKQA_LLM_TENSOR_PARALLEL_SIZE=2`). The API key comes from `LINKQA_LLM_API_KEY`, falling back
to `OPENAI_API_KEY` and `DEEPSEEK_API_KEY`; it is a `SecretStr`, so reprs and dumps mask it.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from linkqa_pipelines.core.llm.families import ModelFamily, family_of

ENV_PREFIX = "LINKQA_LLM_"
API_KEY_ENV = ("LINKQA_LLM_API_KEY", "OPENAI_API_KEY", "DEEPSEEK_API_KEY")
_NOT_FROM_ENV = {"api_key", "home"}


class LLMSettings(BaseModel):
    """Backend choice, endpoint, limits, prices and vLLM engine options."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    backend: Literal["openai", "vllm", "offline"] = "offline"
    base_url: str | None = None  # None = the openai package's default endpoint
    model: str | None = None
    api_key: SecretStr | None = Field(default=None, repr=False)
    response_format: Literal["json_schema", "json_object", "text"] = "json_schema"
    concurrency: int = Field(default=64, ge=1)
    rpm: int | None = Field(default=None, gt=0)  # requests per minute
    tpm: int | None = Field(default=None, gt=0)  # tokens per minute (prompt estimate, corrected by usage)
    timeout: float = Field(default=120.0, gt=0)  # seconds per request
    max_retries: int = Field(default=6, ge=0)  # transport re-sends per call
    max_repairs: int = Field(default=1, ge=0)  # follow-ups that show the model its parse/validation error
    # answers a request may have rejected (parse/validation) over all runs before it is a terminal failure
    max_attempts_total: int = Field(default=4, ge=1)
    retry_failed: bool = False  # ask terminal failures again (`linkqa run --retry-failed`)
    model_family: str | None = None  # force a family of `families.py` (default: from the model name)
    system_message: Literal["auto", "yes", "no"] = "auto"  # auto: as the model family's guidance says
    backoff_base: float = Field(default=0.5, ge=0)
    backoff_max: float = Field(default=30.0, ge=0)
    price_input: float = Field(default=0.0, ge=0)  # USD per 1M prompt tokens
    price_output: float = Field(default=0.0, ge=0)  # USD per 1M completion tokens
    http_transport: Literal["auto", "aiohttp", "openai"] = "auto"  # see openai_backend; auto = aiohttp if installed
    home: Path | None = None  # LINKQA_HOME; None = environment/default
    # vLLM engine (backend=vllm)
    tensor_parallel_size: int = Field(default=1, ge=1)
    gpu_memory_utilization: float = Field(default=0.9, gt=0, le=1)
    max_model_len: int | None = Field(default=None, gt=0)
    max_num_seqs: int | None = Field(default=None, gt=0)
    dtype: str = "auto"
    seed: int = 0

    @field_validator("model_family")
    @classmethod
    def _known_family(cls, value: str | None) -> str | None:
        if value:
            family_of(None, value)  # raises naming the known families
        return value or None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> LLMSettings:
        """Environment first, then explicit `overrides` (None values are ignored)."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for name in cls.model_fields:
            var = ENV_PREFIX + name.upper()
            if name not in _NOT_FROM_ENV and env.get(var, "").strip():
                values[name] = env[var].strip()
                sources[name] = var
        key = next((env[v] for v in API_KEY_ENV if env.get(v, "").strip()), None)
        if key is not None:
            values["api_key"] = key.strip()
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**values)
        except ValidationError as exc:
            problems: list[str] = []
            for err in exc.errors():
                field = str(err["loc"][0]) if err["loc"] else "?"
                where = sources.get(field, field) if field not in overrides or overrides[field] is None else field
                shown = "***" if field == "api_key" else repr(values.get(field))
                problems.append(f"{where}={shown}: {err['msg']}")
            raise ValueError("invalid LLM settings: " + "; ".join(problems)) from None

    @property
    def cache_path(self) -> Path:
        return (self.home or Path(".linkqa")).resolve() / "cache" / "llm_responses.sqlite"

    def secret(self) -> str | None:
        return self.api_key.get_secret_value() if self.api_key is not None else None

    def family(self) -> ModelFamily:
        return family_of(self.model, self.model_family)

    def system_allowed(self) -> bool:
        """Whether instructions may go in a system message (R1-style models take none)."""
        return self.family().system_message if self.system_message == "auto" else self.system_message == "yes"

    def model_name(self) -> str:
        """The model, required for model-backed backends."""
        if not self.model:
            raise ValueError(
                f"LLM backend '{self.backend}' needs a model: set LINKQA_LLM_MODEL or the resource's model"
            )
        return self.model

    def pool_name(self) -> str:
        """Dagster concurrency pool shared by every run that calls the same endpoint and model."""
        if self.backend == "offline":
            return "llm_offline"
        if self.backend == "vllm":
            return _pool("llm_vllm", self.model or "")
        host = urlparse(self.base_url).netloc if self.base_url else "api.openai.com"
        return _pool("llm", f"{host}_{self.model or ''}")


def _pool(prefix: str, text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    if len(slug) > 60:  # keep names readable but still unique per endpoint
        slug = slug[:51] + "_" + hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"{prefix}_{slug}" if slug else prefix
