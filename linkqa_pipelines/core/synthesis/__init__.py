"""Pure logic of the synthesis stage (no Dagster): LinkSyn, one new QA per knowledge-point path
from the seeds linked along it.

The task follows the LLM-layer pattern shared by every model-backed stage:
- `build_synthesis_requests(paths, seeds, kps)` -> the LLM layer's `ChatRequest`s (key,
  messages, schema, params, payload);
- `offline_synthesis(payloads)` -> answers in the same JSON shape a model returns, computed
  without a model (see its docstring for what it can and cannot do);
- `validate_synthesis(payload, answer)` -> reason to reject an answer, or None (copy checks by
  containment, `copies.py`; `validate_composition` for offline compositions);
- `synthesized_frame(payloads, answers, meta)` -> SYNTH_QA_SCHEMA rows;
- `option_only_accuracy(items)` -> how option-only strategies score on composite items.
The answer helpers and templates are exported too: difficulty enhancement asks for QA in the
same shape.
"""

from linkqa_pipelines.core.synthesis.answers import (
    LETTERS,
    SYNTH_ANSWER_SCHEMA,
    answer_columns,
    check_qa_answer,
)
from linkqa_pipelines.core.synthesis.gaming import option_only_accuracy
from linkqa_pipelines.core.synthesis.offline import OFFLINE_SYNTH_MODEL, offline_synthesis
from linkqa_pipelines.core.synthesis.prompts import build_synthesis_requests, request_piece
from linkqa_pipelines.core.synthesis.results import (
    meta_columns,
    qa_id,
    synthesized_frame,
    validate_composition,
    validate_synthesis,
)
from linkqa_pipelines.core.synthesis.task import SYNTHESIS_TASK, path_seeds
from linkqa_pipelines.core.synthesis.templates import answer_text, render_item, template_for

__all__ = [
    "LETTERS",
    "OFFLINE_SYNTH_MODEL",
    "SYNTHESIS_TASK",
    "SYNTH_ANSWER_SCHEMA",
    "answer_columns",
    "answer_text",
    "build_synthesis_requests",
    "check_qa_answer",
    "meta_columns",
    "offline_synthesis",
    "option_only_accuracy",
    "path_seeds",
    "qa_id",
    "render_item",
    "request_piece",
    "synthesized_frame",
    "template_for",
    "validate_composition",
    "validate_synthesis",
]
