"""The generic handler: one tool call becomes one upstream request built from its spec; and the way
handlers send the calls their spec declares."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from aai_mcp.catalog import Param
from aai_mcp.catalog.model import Route
from aai_mcp.mcp_server.runtime.tool_call import ToolCall
from aai_mcp.upstream import decode_json, decode_text
from aai_mcp.upstream.errors import malformed_body
from aai_mcp.upstream.transcripts import path_segment

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def filled_path(route: Route, *values: str) -> str:
    """`route`'s path with its placeholders filled in order, each value exactly one path segment."""
    names = route.placeholders()
    if len(names) != len(values):
        raise ValueError(f"{route.shown()} takes {len(names)} path values, not {len(values)}")
    return route.path.format(**{name: path_segment(value) for name, value in zip(names, values, strict=True)})


def upstream_path(call: ToolCall) -> str:
    route = call.spec.route
    return filled_path(route, *(str(call.args[name]) for name in route.placeholders()))


async def send(
    call: ToolCall,
    name: str,
    *values: str,
    params: Mapping[str, str] | None = None,
    json_body: Any = None,
) -> httpx.Response:
    """One of the calls the tool's spec declares under `name` (the only way a handler reaches upstream,
    so `calls:` in the YAML is what the code sends)."""
    route = call.spec.call(name)
    path = filled_path(route, *values)
    return await call.upstream.request(route.host, route.method, path, params=params, json_body=json_body)


async def read_object(call: ToolCall, name: str, *values: str) -> dict[str, Any]:
    """A declared call whose answer must be a JSON object (a transcript, say)."""
    response = await send(call, name, *values)
    payload = decode_json(response)
    if not isinstance(payload, dict):
        raise malformed_body(response.status_code, "an answer that is not a JSON object")
    return payload


def query_string_params(call: ToolCall) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, param in call.spec.params.query.items():
        if call.args.get(name) is not None:
            params[name] = _query_value(call.args[name], param)
        elif param.apply_default:
            params[name] = _query_value(param.default, param)
    return params


def request_body(call: ToolCall) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for name, param in call.spec.params.body.items():
        if name in call.args:
            body[name] = call.args[name]
        elif param.apply_default:
            body[name] = param.default
    return body


async def forward(call: ToolCall) -> Any:
    spec, route = call.spec, call.spec.route
    body = request_body(call) if route.method in BODY_METHODS else None
    response = await call.upstream.request(
        route.host,
        route.method,
        upstream_path(call),
        params=query_string_params(call) or None,
        json_body=body,
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
