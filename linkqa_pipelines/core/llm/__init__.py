"""The LLM generation layer: one batch interface over openai-compatible endpoints, in-process vLLM
and the stages' offline algorithms, with a response cache that makes every stage resumable.

Stages build `ChatRequest`s and call `LLMClient.generate(stage, partition, requests, ...)`.
"""

from linkqa_pipelines.core.llm.accounting import BatchStats
from linkqa_pipelines.core.llm.cache import ResponseCache, cache_key
from linkqa_pipelines.core.llm.client import LLMClient, Validator
from linkqa_pipelines.core.llm.offline_backend import OfflineAlgorithm
from linkqa_pipelines.core.llm.parsing import extract_json, split_reasoning
from linkqa_pipelines.core.llm.settings import LLMSettings
from linkqa_pipelines.core.llm.task import ModelTask, TaskOutcome
from linkqa_pipelines.core.llm.types import (
    FAILURE_SCHEMA,
    BatchOutcome,
    ChatRequest,
    ChatResult,
    LLMBackendError,
    RawResponse,
    SamplingParams,
)

__all__ = [
    "FAILURE_SCHEMA",
    "BatchOutcome",
    "BatchStats",
    "ChatRequest",
    "ChatResult",
    "LLMBackendError",
    "LLMClient",
    "LLMSettings",
    "ModelTask",
    "OfflineAlgorithm",
    "RawResponse",
    "ResponseCache",
    "SamplingParams",
    "TaskOutcome",
    "Validator",
    "cache_key",
    "extract_json",
    "split_reasoning",
]
