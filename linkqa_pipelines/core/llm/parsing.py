"""Turning a raw model response into an answer: reasoning apart, JSON out of text, schema check.

Runs after the cache, so a better parser re-reads cached responses for free. Errors are
short sentences meant for the model's repair prompt and the failure ledger.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

import orjson
from jsonschema import Draft202012Validator, ValidationError
from jsonschema import exceptions as jsonschema_exceptions

from linkqa_pipelines.core.llm.types import RawResponse, ResponseFormat

_THINK = re.compile(r"<think>(.*?)</think>", re.S | re.I)
_FENCE = re.compile(r"```[\w-]*[ \t]*\n?(.*?)```", re.S)
_MAX_SCANS = 64  # '{' positions tried when the JSON is buried in prose


class ParseError(ValueError):
    """The text holds no usable JSON object; the message says why."""


@dataclass(frozen=True)
class Interpreted:
    """A response read against the request's schema."""

    answer: str  # the text without reasoning
    reasoning: str | None  # reasoning_content and <think> text, joined
    parsed: dict[str, Any] | None
    error: str | None


def split_reasoning(text: str) -> tuple[str, str | None]:
    """Answer text and `<think>` reasoning, also for an opening tag left in the prompt or a cut-off block."""
    if "think>" not in text.lower():
        return text.strip(), None
    thoughts = [t.strip() for t in _THINK.findall(text)]
    rest = _THINK.sub("", text)
    close = rest.lower().rfind("</think>")
    if close >= 0:  # the chat template opened the block: everything before the close is reasoning
        thoughts.insert(0, rest[:close].strip())
        rest = rest[close + len("</think>") :]
    opening = rest.lower().find("<think>")
    if opening >= 0:  # cut off while thinking
        thoughts.append(rest[opening + len("<think>") :].strip())
        rest = rest[:opening]
    return rest.strip(), "\n\n".join(t for t in thoughts if t) or None


def extract_json(text: str) -> dict[str, Any]:
    """The first JSON object in `text`: bare, in a code fence, or after leading prose.

    Only top-level braces are candidates: an object that does not decode is skipped as a
    whole, and one that is never closed (a reply cut off mid-object) is an error, so an
    inner object of a truncated reply is never taken for the answer.
    """
    s = text.strip()
    if not s:
        raise ParseError("the answer is empty")
    if s[0] == "{":
        try:
            return _object(orjson.loads(s))
        except orjson.JSONDecodeError:
            pass
    for block in _FENCE.findall(s):
        try:
            value = orjson.loads(block.strip())
        except orjson.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return cast(dict[str, Any], value)
    decoder = json.JSONDecoder()
    first_error: json.JSONDecodeError | None = None
    pos = s.find("{")
    for _ in range(_MAX_SCANS):
        if pos < 0:
            break
        end = _closing(s, pos)
        if end is None:
            raise ParseError(f"unbalanced JSON: the object opened at character {pos} is never closed")
        try:
            value, _end = decoder.raw_decode(s[:end], pos)
        except json.JSONDecodeError as exc:
            first_error = first_error or exc
        else:
            if isinstance(value, dict):
                return cast(dict[str, Any], value)
        pos = s.find("{", end)
    if first_error is not None:
        raise ParseError(f"invalid JSON: {first_error.msg} (line {first_error.lineno}, column {first_error.colno})")
    raise ParseError("no JSON object found in the answer")


def _closing(s: str, start: int) -> int | None:
    """End (exclusive) of the bracketed block opening at `s[start]`, skipping JSON strings; None if it never closes."""
    depth = 0
    in_string = escaped = False
    for i in range(start, len(s)):
        c = s[i]
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "{[":
            depth += 1
        elif c in "}]":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ParseError(f"expected a JSON object, got {type(value).__name__}")
    return cast(dict[str, Any], value)


@lru_cache(maxsize=64)
def _validator(schema_json: bytes) -> Draft202012Validator:
    return Draft202012Validator(orjson.loads(schema_json))


def schema_error(value: dict[str, Any], schema: dict[str, Any]) -> str | None:
    """The most relevant schema violation, or None."""
    validator = _validator(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS))
    # typeshed's stub of best_match has no return type: the most relevant error, or None when there is none
    error = cast(ValidationError | None, jsonschema_exceptions.best_match(validator.iter_errors(value)))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return f"schema violation at {where}: {error.message[:300]}"


def interpret(raw: RawResponse, schema: dict[str, Any] | None) -> Interpreted:
    """Split reasoning off, then (with a schema) parse and check the JSON answer.

    A JSON reply cut off at the token limit (`finish_reason == "length"`) is an error whatever
    it holds, so the client asks for a repair and, failing that, records the failure.
    """
    answer, thought = split_reasoning(raw.text)
    reasoning = "\n\n".join(r for r in (raw.reasoning, thought) if r) or None
    if schema is None:
        return Interpreted(answer, reasoning, None, None if answer else "the answer is empty")
    if raw.finish_reason == "length":  # a cut-off reply is never read, even when an object inside it parses
        return Interpreted(answer, reasoning, None, "the answer was cut off at the token limit; answer more briefly")
    try:
        parsed = extract_json(answer)
    except ParseError as exc:
        return Interpreted(answer, reasoning, None, str(exc))
    return Interpreted(answer, reasoning, parsed, schema_error(parsed, schema))


def schema_instruction(schema: dict[str, Any], mode: ResponseFormat = "json_schema") -> str:
    """Tells the model the answer's shape, worded for the response mode.

    With `json_schema` the endpoint holds the schema and the text only restates it; DeepSeek's
    JSON mode (`json_object`) requires the word "json" in the prompt and an example of the
    wanted output, and plain text mode needs the same to be understood, so both get an example.
    """
    text = (
        "Reply with a single JSON object, without prose or code fences, that conforms to this JSON schema:\n"
        + orjson.dumps(schema).decode()
    )
    if mode == "json_schema":
        return text
    example = orjson.dumps(schema_example(schema)).decode()
    return f"{text}\nOutput json only, shaped like this example (placeholder values):\n{example}"


def schema_example(schema: Mapping[str, Any]) -> Any:
    """A placeholder value of `schema`'s shape: every property present, strings "...", the first
    enum value, arrays of one (or `minItems`) example item; for the json example of the prompt."""
    if "enum" in schema:
        return cast(list[Any], schema["enum"])[0]
    kinds: object = schema.get("type", "object")
    kind = next((k for k in cast(list[str], kinds) if k != "null"), "null") if isinstance(kinds, list) else kinds
    if kind == "object":
        props = cast(dict[str, Mapping[str, Any]], schema.get("properties") or {})
        return {name: schema_example(sub) for name, sub in props.items()}
    if kind == "array":
        item = schema_example(cast(Mapping[str, Any], schema.get("items") or {"type": "string"}))
        return [item] * max(1, int(schema.get("minItems") or 1))
    return {"string": "...", "integer": 0, "number": 0, "boolean": True}.get(str(kind))


def repair_instruction(error: str, structured: bool) -> str:
    """The follow-up message that shows the model why its previous answer was not usable."""
    tail = "Reply again with only the corrected JSON object." if structured else "Please answer again."
    return f"Your previous answer could not be used: {error}. {tail}"
