"""What a model family takes in a request, by the family's own guidance.

Models differ in what a chat request may carry:

- DeepSeek-R1 and its distills: "avoid adding a system prompt; all instructions should be
  contained within the user prompt" (DeepSeek-R1 model card), so they get no system message;
  the R1 weights take sampling parameters (0.6 / 0.95 recommended), but DeepSeek's hosted
  `deepseek-reasoner` ignores temperature and top_p, so they are not sent to it;
- OpenAI's reasoning models (o1, o3, o4-mini, gpt-5...) reject temperature / top_p and take
  `max_completion_tokens` instead of `max_tokens`;
- everything else: a system message, sampling parameters and `max_tokens`.

The family is found from the model name (the part after the last `/`), or forced with
`LINKQA_LLM_MODEL_FAMILY` for a model whose name does not say (a local fine-tune of R1);
`LINKQA_LLM_SYSTEM_MESSAGE=yes|no` overrides the family's system-message guidance alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

TokenLimitField = Literal["max_tokens", "max_completion_tokens"]


@dataclass(frozen=True)
class ModelFamily:
    name: str
    pattern: re.Pattern[str]  # matched against the model name without its provider prefix
    system_message: bool  # whether instructions may go in a system message
    sampling: bool  # whether temperature, top_p and seed are sent
    token_limit: TokenLimitField


FAMILIES: tuple[ModelFamily, ...] = (
    ModelFamily("deepseek-reasoner", re.compile(r"^deepseek-reasoner", re.I), False, False, "max_tokens"),
    ModelFamily("r1", re.compile(r"(^|[-_.])r1([-_.]|$)|^qwq", re.I), False, True, "max_tokens"),
    ModelFamily("openai-reasoning", re.compile(r"^(o\d|gpt-5)", re.I), True, False, "max_completion_tokens"),
)
DEFAULT_FAMILY = ModelFamily("default", re.compile(""), True, True, "max_tokens")
FAMILY_NAMES = tuple(f.name for f in (*FAMILIES, DEFAULT_FAMILY))


def family_of(model: str | None, forced: str | None = None) -> ModelFamily:
    """The family named by `forced`, else the first whose pattern matches the model name."""
    if forced:
        found = next((f for f in (*FAMILIES, DEFAULT_FAMILY) if f.name == forced), None)
        if found is None:
            raise ValueError(f"unknown model family {forced!r}; known: {', '.join(FAMILY_NAMES)}")
        return found
    name = (model or "").rsplit("/", 1)[-1]
    return next((f for f in FAMILIES if f.pattern.search(name)), DEFAULT_FAMILY)
