"""Pure logic of the synthesis stage (no Dagster): LinkSyn, k new QA per knowledge-point path
from the seeds linked along it.

The task follows the LLM-layer pattern shared by every model-backed stage:
- `build_synthesis_requests(paths, seeds, kps, qa_per_path=k)` -> the LLM layer's
  `ChatRequest`s (key, messages, schema, params, payload), one per path for k items;
- `offline_synthesis(payloads)` -> replies in the same JSON shape a model returns, computed
  without a model (one composition per path; see its docstring for what it can and cannot do);
- `validate_synthesis(payload, answer)` -> reason to reject a reply, or None (`reply_reason`
  for its shape, `item_reason` per item: copy checks by containment, `copies.py`;
  `validate_composition` for offline compositions);
- `synthesize(run, requests)` -> both rounds (the paths, then replacements of rejected items):
  SYNTH_QA_SCHEMA rows (`synthesized_frame`) and the reasoning rows (REASONING_SCHEMA);
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
from linkqa_pipelines.core.synthesis.prompts import build_synthesis_requests, replacement_request, request_piece
from linkqa_pipelines.core.synthesis.results import (
    item_reason,
    meta_columns,
    qa_id,
    reply_reason,
    synthesized_frame,
    validate_composition,
    validate_synthesis,
)
from linkqa_pipelines.core.synthesis.rounds import REASONING_SCHEMA, Synthesis, synthesize
from linkqa_pipelines.core.synthesis.task import SYNTHESIS_TASK, path_seeds
from linkqa_pipelines.core.synthesis.templates import answer_text, render_item, template_for

__all__ = [
    "LETTERS",
    "OFFLINE_SYNTH_MODEL",
    "REASONING_SCHEMA",
    "SYNTHESIS_TASK",
    "SYNTH_ANSWER_SCHEMA",
    "Synthesis",
    "answer_columns",
    "answer_text",
    "build_synthesis_requests",
    "check_qa_answer",
    "item_reason",
    "meta_columns",
    "offline_synthesis",
    "option_only_accuracy",
    "path_seeds",
    "qa_id",
    "render_item",
    "replacement_request",
    "reply_reason",
    "request_piece",
    "synthesize",
    "synthesized_frame",
    "template_for",
    "validate_composition",
    "validate_synthesis",
]
