"""The generic handler: one tool call becomes one upstream request built from its spec."""

from __future__ import annotations

import json
from typing import Any

from aai_mcp.catalog import Param
from aai_mcp.mcp_server.runtime.tool_call import ToolCall
from aai_mcp.upstream import decode_json, decode_text
from aai_mcp.upstream.transcripts import path_segment

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def upstream_path(call: ToolCall) -> str:
    values = {name: path_segment(str(call.args[name])) for name in call.spec.params.path}
    return call.spec.path.format(**values)


def query_string_params(call: ToolCall) -> dict[str, str]:
    return {
        name: _query_value(call.args[name], param)
        for name, param in call.spec.params.query.items()
        if call.args.get(name) is not None
    }


def request_body(call: ToolCall) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for name, param in call.spec.params.body.items():
        if name in call.args:
            body[name] = call.args[name]
        elif param.apply_default:
            body[name] = param.default
    return body


async def forward(call: ToolCall) -> Any:
    spec = call.spec
    body = request_body(call) if spec.method in BODY_METHODS else None
    response = await call.upstream.request(
        spec.host, spec.method, upstream_path(call), params=query_string_params(call) or None, json_body=body
    )
    if spec.response == "text":
        return decode_text(response)
    return decode_json(response)


def _query_value(value: Any, param: Param) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        if param.serialize == "comma":
            return ",".join(str(item) for item in value)
        return json.dumps(value)
    return str(value)
