"""Where model-backed assets run: their Dagster concurrency pool and Kubernetes GPU tags.

Both are fixed when the code location loads (Dagster reads them from the asset
definitions), so they come from the same `LINKQA_LLM_*` environment the resource reads.
"""

from __future__ import annotations

from typing import Any

from linkqa_pipelines.core.llm import LLMSettings, gpu_op_tags


def llm_pool() -> str:
    """One pool per endpoint and model, so several runs together respect its limits."""
    return LLMSettings.from_env().pool_name()


def llm_op_tags() -> dict[str, Any]:
    """GPU request for in-process vLLM; nothing for remote or offline backends."""
    settings = LLMSettings.from_env()
    return gpu_op_tags(settings.tensor_parallel_size) if settings.backend == "vllm" else {}
