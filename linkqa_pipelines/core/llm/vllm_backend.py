"""In-process vLLM on local GPUs: one `vllm.LLM` per process, a whole batch per `LLM.chat` call.

vLLM is an optional extra and imported only here, only when this backend runs. Submitting
the whole batch at once lets vLLM's continuous batching keep the GPU full; outputs come back
in input order and are mapped to their cache keys by position. Structured output uses the
API of vLLM >= 0.12 (`SamplingParams(structured_outputs=StructuredOutputsParams(json=...))`;
the `guided_*` fields were removed). The engine is built by an injectable factory so tests
can use a stand-in object with vLLM's interface.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, cast

from linkqa_pipelines.core.llm.settings import LLMSettings
from linkqa_pipelines.core.llm.types import Call, CallOutcome, RawResponse

log = logging.getLogger("linkqa_pipelines.llm")

EngineFactory = Callable[[LLMSettings], Any]
_ENGINES: dict[tuple[Any, ...], Any] = {}  # one engine per process (and per configuration)


def engine_options(settings: LLMSettings) -> dict[str, Any]:
    """Keyword arguments for `vllm.LLM` (unset optional limits left to vLLM's defaults)."""
    options: dict[str, Any] = {
        "model": settings.model_name(),
        "tensor_parallel_size": settings.tensor_parallel_size,
        "gpu_memory_utilization": settings.gpu_memory_utilization,
        "dtype": settings.dtype,
        "seed": settings.seed,
    }
    if settings.max_model_len is not None:
        options["max_model_len"] = settings.max_model_len
    if settings.max_num_seqs is not None:
        options["max_num_seqs"] = settings.max_num_seqs
    return options


def build_engine(settings: LLMSettings) -> Any:
    try:
        # vllm is an optional extra, not installed where pyright runs: its names are unresolved, hence
        # unknown (the ignores), and what they build is cast to Any
        from vllm import LLM  # pyright: ignore[reportMissingImports, reportUnknownVariableType]
    except ImportError as exc:
        raise RuntimeError("backend 'vllm' needs the vllm extra: pip install 'linkqa-pipelines[vllm]'") from exc
    return cast(Any, LLM(**engine_options(settings)))


def sampling_params(call: Call) -> Any:
    """vLLM SamplingParams for a call, with structured output for its schema."""
    # the optional vllm extra, as in build_engine
    from vllm import SamplingParams  # pyright: ignore[reportMissingImports, reportUnknownVariableType]
    from vllm.sampling_params import StructuredOutputsParams  # pyright: ignore[reportMissingImports, reportUnknownVariableType]

    structured = None
    if call.schema is not None and call.response_format == "json_schema":
        structured = cast(Any, StructuredOutputsParams(json=call.schema))
    elif call.schema is not None and call.response_format == "json_object":
        structured = cast(Any, StructuredOutputsParams(json_object=True))
    p = call.params
    return cast(
        Any,
        SamplingParams(
            temperature=p.temperature,
            top_p=p.top_p,
            max_tokens=p.max_tokens,
            seed=p.seed,
            structured_outputs=structured,
        ),
    )


class VLLMBackend:
    """Runs each round of calls as one `LLM.chat` batch on the process's engine."""

    name = "vllm"

    def __init__(self, settings: LLMSettings, engine_factory: EngineFactory = build_engine) -> None:
        self.settings = settings
        self.model = settings.model_name()
        self.engine_factory = engine_factory

    def engine(self) -> Any:
        key = (self.engine_factory, *sorted(engine_options(self.settings).items()))
        if key not in _ENGINES:
            log.info(
                "[vllm backend] loading %s (tensor_parallel_size=%d)", self.model, self.settings.tensor_parallel_size
            )
            _ENGINES[key] = self.engine_factory(self.settings)
        return _ENGINES[key]

    def run(self, calls: Sequence[tuple[str, Call]], on_done: Callable[[list[tuple[str, CallOutcome]]], None]) -> None:
        if calls:
            self._submit(self.engine(), list(calls), on_done)

    def _submit(
        self, engine: Any, calls: list[tuple[str, Call]], on_done: Callable[[list[tuple[str, CallOutcome]]], None]
    ) -> None:
        """One `chat` call for the batch; if vLLM rejects it (e.g. a prompt over max_model_len), bisect."""
        try:
            outputs = engine.chat(
                messages=[list(call.messages) for _, call in calls],
                sampling_params=[sampling_params(call) for _, call in calls],
                use_tqdm=False,
            )
        except ValueError as exc:  # vLLM's way of refusing a prompt; engine failures propagate
            if len(calls) == 1:
                on_done([(calls[0][0], CallOutcome(None, f"vLLM rejected the request: {str(exc)[:300]}", 1))])
                return
            half = len(calls) // 2
            self._submit(engine, calls[:half], on_done)
            self._submit(engine, calls[half:], on_done)
            return
        if len(outputs) != len(calls):
            raise RuntimeError(f"vLLM returned {len(outputs)} outputs for {len(calls)} prompts")
        on_done(
            [
                (
                    key,
                    CallOutcome(
                        RawResponse(
                            text=out.outputs[0].text,
                            prompt_tokens=len(out.prompt_token_ids or ()),
                            completion_tokens=len(out.outputs[0].token_ids or ()),
                            finish_reason=out.outputs[0].finish_reason,
                        ),
                        None,
                        1,
                    ),
                )
                for (key, _call), out in zip(calls, outputs, strict=True)
            ]
        )
