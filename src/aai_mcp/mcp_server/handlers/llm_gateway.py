"""Handlers of the llm tools that are more than one forwarded request: llm_chat_completion (model
check, structured outputs), list_llm_models (the cached list), understand_transcript (a dry run
through `/v1/understanding/validate`)."""

from __future__ import annotations

from typing import Any

from aai_mcp.mcp_server.handlers.llm_models import MODELS_CALL, checked_model, directory_of
from aai_mcp.mcp_server.handlers.structured_answers import answer_schema, parsed_answer
from aai_mcp.mcp_server.runtime.forward import request_body, send
from aai_mcp.mcp_server.runtime.tool_call import ToolCall
from aai_mcp.upstream import UpstreamError, decode_json
from aai_mcp.upstream.errors import ErrorKind

CHAT_CALLS = frozenset({"chat", MODELS_CALL})
LIST_MODELS_CALLS = frozenset({MODELS_CALL})
UNDERSTAND_CALLS = frozenset({"understand", "validate"})
# Validate's statuses that are its answer ("this request is invalid"), not a failure to answer.
INVALID_STATUSES = frozenset({400, 422})


async def chat(call: ToolCall) -> dict[str, Any]:
    model, note = await checked_model(call, str(call.args["model"]))
    schema = answer_schema(call.args)
    completion = await completed(call, request_body(call), model)
    out: dict[str, Any] = {"completion": completion, "notes": [note] if note else []}
    if schema is not None:
        out["parsed"] = parsed_answer(completion, schema)
    return out


async def completed(call: ToolCall, body: dict[str, Any], model: str) -> dict[str, Any]:
    """The gateway's chat completion for `body`, an object, or the error saying which model failed."""
    try:
        completion = decode_json(await send(call, "chat", json_body=body))
    except UpstreamError as exc:
        raise exc.during(f"Asking {model} through the LLM Gateway failed") from None
    if not isinstance(completion, dict):
        raise UpstreamError(
            "The LLM Gateway sent an answer that is not an object.", kind=ErrorKind.BAD_RESPONSE
        )
    return completion


async def list_models(call: ToolCall) -> dict[str, Any]:
    listed = await directory_of(call).listed(call, force=bool(call.args.get("refresh")))
    return {"models": listed.models, "detail": bool(call.args.get("detail"))}


async def understand(call: ToolCall) -> Any:
    body = request_body(call)
    if not call.args.get("dry_run"):
        return decode_json(await send(call, "understand", json_body=body))
    checked = {"dry_run": True, "speech_understanding": body["speech_understanding"]}
    try:
        await send(call, "validate", json_body=body)
    except UpstreamError as exc:
        if exc.status not in INVALID_STATUSES:
            raise exc.during("Validating the request through the LLM Gateway failed") from None
        problems = exc.reported.get("upstream_errors") or [exc.message]
        return {**checked, "valid": False, "errors": problems, **request_id(exc)}
    return {**checked, "valid": True}


def request_id(exc: UpstreamError) -> dict[str, Any]:
    return {"request_id": exc.reported["request_id"]} if "request_id" in exc.reported else {}
