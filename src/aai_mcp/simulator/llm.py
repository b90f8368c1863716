"""LLM Gateway chat completions: validation and a deterministic answer that echoes the input."""

from __future__ import annotations

import functools
import json
import math
import uuid
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from .host_rules import UpstreamError
from .llm_extraction import extraction_answer, is_extraction_schema
from .llm_structured import conforming_instance

ANTHROPIC_MODELS = (
    "claude-opus-4-6",
    "claude-sonnet-4-6",
    "claude-opus-4-5-20251101",
    "claude-sonnet-4-5-20250929",
    "claude-haiku-4-5-20251001",
    "claude-opus-4-20250514",
    "claude-sonnet-4-20250514",
    "claude-3-haiku-20240307",
)
OPENAI_MODELS = (
    "gpt-5.2",
    "gpt-5.1",
    "gpt-5",
    "gpt-5-mini",
    "gpt-5-nano",
    "gpt-4.1",
    "gpt-oss-120b",
    "gpt-oss-20b",
)
GOOGLE_MODELS = (
    "gemini-3-pro-preview",
    "gemini-3-flash-preview",
    "gemini-2.5-pro",
    "gemini-2.5-flash",
    "gemini-2.5-flash-lite",
)
KNOWN_MODELS = frozenset(ANTHROPIC_MODELS + OPENAI_MODELS + GOOGLE_MODELS)
ROLES = ("user", "assistant", "system", "tool")
TRANSCRIPT_TAG = "{{ transcript }}"
DEFAULT_MAX_TOKENS = 1000


def bad_request(message: str) -> UpstreamError:
    return UpstreamError(400, message)


def check_model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise bad_request("model is required")
    if model not in KNOWN_MODELS:
        raise UpstreamError(404, f"Model '{model}' not found. See the LLM Gateway docs for supported models.")
    return model


def content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) and p.get("type") == "text" for p in content):
        return "\n".join(str(p.get("text", "")) for p in content)
    raise bad_request("message content must be a string or an array of {type: text, text} parts")


def check_message(index: int, message: Any) -> dict[str, Any]:
    if not isinstance(message, dict) or message.get("role") not in ROLES:
        raise bad_request(f"messages[{index}].role must be one of: {', '.join(ROLES)}")
    if "content" not in message:
        raise bad_request(f"messages[{index}].content is required")
    if message["role"] == "tool" and not isinstance(message.get("tool_call_id"), str):
        raise bad_request(f"messages[{index}].tool_call_id is required for tool messages")
    return {**message, "content": content_text(message["content"])}


def chat_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The conversation, with `prompt` turned into a user message like upstream does."""
    messages, prompt = body.get("messages"), body.get("prompt")
    if messages is None and prompt is None:
        raise bad_request("Either messages or prompt is required")
    if messages is not None:
        if not isinstance(messages, list) or not messages:
            raise bad_request("messages must be a non-empty array")
        return [check_message(i, m) for i, m in enumerate(messages)]
    if not isinstance(prompt, str) or not prompt:
        raise bad_request("prompt must be a non-empty string")
    return [{"role": "user", "content": prompt}]


def check_options(body: dict[str, Any]) -> None:
    max_tokens = body.get("max_tokens", DEFAULT_MAX_TOKENS)
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise bad_request("max_tokens must be an integer >= 1")
    temperature = body.get("temperature", 0)
    if isinstance(temperature, bool) or not isinstance(temperature, int | float) or not 0 <= temperature <= 2:
        raise bad_request("temperature must be a number between 0 and 2")
    if body.get("stream"):
        # Streaming is SSE for OpenAI models only upstream; the simulator does not model it.
        raise bad_request("stream=true is not supported by the AssemblyAI simulator")


def substitute_transcript(messages: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """Replace the first `{{ transcript }}` in the first message that has one."""
    out = [dict(m) for m in messages]
    for message in out:
        if TRANSCRIPT_TAG in message["content"]:
            message["content"] = message["content"].replace(TRANSCRIPT_TAG, text, 1)
            break
    return out


def output_schema(response_format: dict[str, Any]) -> Any:
    """The structured-output schema, refused as the real gateway would when it is not a JSON Schema."""
    declared = response_format.get("json_schema")
    schema = declared.get("schema") if isinstance(declared, dict) else None
    problem = schema_problem(json.dumps(schema if isinstance(schema, dict) else {}, sort_keys=True))
    if problem is not None:
        raise bad_request(f"response_format.json_schema.schema is not a valid JSON Schema: {problem}")
    return schema


@functools.lru_cache(maxsize=64)
def schema_problem(schema_json: str) -> str | None:
    """Why a schema is not valid JSON Schema, or None. Cached: checking against the 2020-12 meta-schema
    takes ~0.1 s for an extraction kit's schema, and a run over an archive sends the same one each time."""
    try:
        Draft202012Validator.check_schema(json.loads(schema_json))
    except SchemaError as exc:
        return exc.message
    return None


def answer_text(model: str, messages: list[dict[str, Any]], transcript_words: int | None) -> str:
    user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), messages[-1]["content"])
    opening = " ".join(str(user).split()[:8])
    answer = f'Simulated {model} answer to a {len(user)}-character message beginning "{opening}".'
    if transcript_words is not None:
        answer += (
            f" The transcript ({transcript_words} words) is a support call: a customer was charged twice,"
            " the agent issued a refund and escalated the overdraft fee to a supervisor."
        )
    return answer


def tool_calls_for(body: dict[str, Any]) -> list[dict[str, Any]] | None:
    """A call to the function `tool_choice` names; "auto" and "none" get a plain answer."""
    choice = body.get("tool_choice")
    if not isinstance(choice, dict):
        return None
    chosen = choice.get("function")
    name = chosen.get("name") if isinstance(chosen, dict) else None
    tools = {f["name"]: f for f in map(declared_function, body.get("tools") or []) if f is not None}
    if not isinstance(name, str) or name not in tools:
        raise bad_request(f"tool_choice names a function that is not in tools: {name!r}")
    arguments = json.dumps(conforming_instance(tools[name].get("parameters")))
    call_id = "call_" + uuid.uuid5(uuid.NAMESPACE_URL, f"{name}:{arguments}").hex[:24]
    return [{"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}]


def declared_function(tool: Any) -> dict[str, Any] | None:
    """A tools entry's {"name": ..., ...} function, or None when the entry has none (no crash on junk)."""
    function = tool.get("function") if isinstance(tool, dict) else None
    return function if isinstance(function, dict) and isinstance(function.get("name"), str) else None


def count_tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


def chat_completion(
    body: dict[str, Any], messages: list[dict[str, Any]], transcript_words: int | None
) -> dict[str, Any]:
    """The AssemblyAI (not OpenAI) response shape of `/v1/chat/completions`."""
    model = str(body["model"])
    tool_calls = tool_calls_for(body)
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        schema = output_schema(response_format)
        shaped = extraction_answer(schema, messages) if is_extraction_schema(schema) else None
        content = json.dumps(shaped if shaped is not None else conforming_instance(schema))
    else:
        content = answer_text(model, messages, transcript_words)
    message: dict[str, Any] = {"role": "assistant", "content": content}
    choice: dict[str, Any] = {"index": 0, "message": message, "finish_reason": "stop"}
    if tool_calls:
        # The 2026-10 SDK reads them on the message, the 2026-03 spec on the choice: both are sent.
        message["tool_calls"] = tool_calls
        choice.update(finish_reason="tool_calls", tool_calls=tool_calls)
    input_tokens = sum(count_tokens(m["content"]) + 4 for m in messages)
    output_tokens = count_tokens(content)
    echo = {k: v for k, v in body.items() if k not in ("messages", "prompt")}
    echo.setdefault("max_tokens", DEFAULT_MAX_TOKENS)
    return {
        "request_id": str(uuid.uuid4()),
        "choices": [choice],
        "request": echo,
        # prompt/completion_tokens are what the 2026-10 SDK requires; input/output_tokens (2026-03
        # spec) are still sent on non-streamed answers.
        "usage": {
            "prompt_tokens": input_tokens,
            "completion_tokens": output_tokens,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "total_tokens": input_tokens + output_tokens,
        },
        "http_status_code": 200,
        "response_time": 180_000_000 + 40_000 * (input_tokens + output_tokens),
        "llm_status_code": 200,
    }
