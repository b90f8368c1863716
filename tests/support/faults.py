"""Helpers for the fault-matrix and hostile-input tests.

Minimal valid arguments for every tool, built from its input schema; the simulator on a real
loopback socket (with a way to hold back response headers); outbound-request capture; and the
counters (asyncio tasks, pooled connections, file descriptors) that show nothing was left behind.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import os
import re
import socket
import ssl
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aai_mcp.catalog import Catalog, ToolSpec
from aai_mcp.gateway import load_default_catalog
from aai_mcp.mcp_server.registry import accepted_schema
from aai_mcp.upstream import Upstream
from tests.support import wav_bytes

# Re-exported: the fault tests reach it as faults.serve_app_in_thread.
from tests.support.servers import serve_app_in_thread as serve_app_in_thread

AUDIO_URL = "https://example.com/support-call.mp3"
MODEL = "claude-sonnet-4-6"
CLIP = base64.b64encode(wav_bytes(0.1)).decode()

# Tools that need one of several optional arguments (a fact their schema cannot say without anyOf).
ONE_OF_CHOICES: dict[str, dict[str, Any]] = {
    "upload_file": {"data_base64": CLIP},
    "transcribe": {"audio_url": AUDIO_URL},
    "llm_chat_completion": {"prompt": "Summarise the call."},
    "transcribe_clip": {"data_base64": CLIP},
    "dictate": {"data_base64": CLIP},
}
# One transcript every tool can work on (get_redacted_audio needs the redaction options).
TRANSCRIPT_BODY = {
    "audio_url": AUDIO_URL,
    "speech_models": ["universal-2"],
    "speaker_labels": True,
    "redact_pii": True,
    "redact_pii_policies": ["person_name"],
    "redact_pii_audio": True,
}
# Strings a schema cannot produce a meaningful minimal value for.
FORMATS = {"uri": "https://example.com/a", "date": "2024-05-01"}


def later_call_tools() -> frozenset[str]:
    """Tools whose declared upstream calls are all made after the call answered (`later: true` in the
    catalog; today the upload-link tools, whose request is the person's upload): upstream faults and
    rate limits reach that later request (tests/test_upload_links.py), not the tool call."""
    return frozenset(name for name, spec in catalog().tools.items() if spec.calls_only_later)


def local_tools() -> frozenset[str]:
    """Tools that answer from data the server carries (`local: true`: the bundled API reference) and
    declare no upstream call: no upstream fault or rate limit can reach them."""
    return frozenset(name for name, spec in catalog().tools.items() if spec.local)


def tools_without_upstream_in_call() -> frozenset[str]:
    """Local tools and later-call tools together: no upstream fault, rate limit or key reaches
    their call (`ToolSpec.calls_upstream_in_call` is false)."""
    return frozenset(name for name, spec in catalog().tools.items() if not spec.calls_upstream_in_call)


@functools.cache
def catalog() -> Catalog:
    """The catalog, loaded once per test session (build_gateway loads it on every call)."""
    return load_default_catalog()


@functools.cache
def ssl_context() -> ssl.SSLContext:
    # One context for every test transport: building one per client costs ~40 ms.
    return ssl.create_default_context()


def real_transport() -> httpx.AsyncHTTPTransport:
    """What httpx builds when given no transport: real sockets, a connection pool."""
    return httpx.AsyncHTTPTransport(verify=ssl_context())


def minimal_value(schema: Mapping[str, Any]) -> Any:
    """The smallest instance of `schema` (first enum value, minimum, one item, required keys)."""
    if "enum" in schema:
        return next(value for value in schema["enum"] if value is not None)
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next(name for name in kind if name != "null")
    if kind == "string":
        value = FORMATS.get(schema.get("format", ""), "a" * max(1, schema.get("minLength", 1)))
        pattern = schema.get("pattern")
        if pattern and not re.search(pattern, value):
            raise ValueError(f"no minimal string for pattern {pattern!r}: add the parameter to `known`")
        return value
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return False
    if kind == "array":
        return [minimal_value(schema.get("items", {}))] * max(1, schema.get("minItems", 1))
    properties: dict[str, Any] = schema.get("properties", {})
    names = list(schema.get("required", []))
    names += [name for name in properties if name not in names][: max(0, schema.get("minProperties", 0))]
    return {name: minimal_value(properties.get(name, {})) for name in names}


def known_values(transcript_id: str) -> dict[str, Any]:
    """Arguments whose minimal value would not name anything real upstream."""
    return {
        "transcript_id": transcript_id,
        "id": transcript_id,
        "transcript_ids": [transcript_id],
        "audio_url": AUDIO_URL,
        "model": MODEL,
        "query": "refund",
        "endpoint_or_product": "createTranscript",
        "kit": "support-call-qa",
        "speech_understanding": {"request": {"translation": {"target_languages": ["es"]}}},
    }


def minimal_args(
    spec: ToolSpec, known: Mapping[str, Any], choice: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The required arguments of `spec` (from its input schema), plus the source it needs one of
    (`choice` picks another one). From the server's full schema: tools/list leaves some bounds out."""
    schema = accepted_schema(spec)
    properties: dict[str, Any] = schema["properties"]
    args = {
        name: known[name] if name in known else minimal_value(properties[name])
        for name in schema.get("required", [])
    }
    return {**args, **(ONE_OF_CHOICES.get(spec.name, {}) if choice is None else choice)}


def string_params(spec: ToolSpec) -> dict[str, bool]:
    """Every parameter that takes a string or a list of strings, as {name: is a list}."""
    found: dict[str, bool] = {}
    for name, schema in accepted_schema(spec)["properties"].items():
        kinds = schema.get("type", [])
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if "string" in kinds:
            found[name] = False
        elif "array" in kinds and schema.get("items", {}).get("type") == "string":
            found[name] = True
    return found


# --- the simulator on a real socket -------------------------------------------------------------


@dataclass
class _Hold:
    method: str
    path_prefix: str
    seconds: float
    remaining: int


class HeaderDelay:
    """ASGI wrapper: the next matching requests are handled at once, but their answer starts late.

    Upstream has done the work (a job created, a file stored) and the client times out waiting for
    the response headers: the case a gateway must never "fix" by sending the request again.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._holds: list[_Hold] = []
        self._lock = threading.Lock()

    def hold(self, method: str, path_prefix: str, seconds: float, count: int = 1) -> None:
        with self._lock:
            self._holds.append(_Hold(method.upper(), path_prefix, seconds, count))

    def clear(self) -> None:
        with self._lock:
            self._holds.clear()

    def _take(self, scope: Scope) -> float | None:
        with self._lock:
            for hold in self._holds:
                if scope["method"] == hold.method and scope["path"].startswith(hold.path_prefix):
                    hold.remaining -= 1
                    if hold.remaining == 0:
                        self._holds.remove(hold)
                    return hold.seconds
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        delay = self._take(scope) if scope["type"] == "http" else None
        if delay is None:
            await self.app(scope, receive, send)
            return
        held: list[Message] = []

        async def keep(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, keep)
        await anyio.sleep(delay)
        for message in held:
            await send(message)


@contextmanager
def refusing_port() -> Iterator[str]:
    """A loopback port bound but never listening: every connect gets ECONNREFUSED, and no one else
    can take the port while the test runs."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


# --- what went out, and what was left behind -----------------------------------------------------


@dataclass(frozen=True)
class Sent:
    host: str
    method: str
    path: str
    raw_path: bytes
    headers: tuple[tuple[str, str], ...]


@dataclass
class Outbound:
    """Every request the gateway's upstream clients send (one entry per attempt, retries included)."""

    sent: list[Sent] = field(default_factory=list)

    def attach(self, upstream: Upstream) -> None:
        for host, client in upstream._clients.items():
            client.event_hooks["request"].append(functools.partial(self._record, host))

    async def _record(self, host: str, request: httpx.Request) -> None:
        headers = tuple(
            (name.decode("latin-1"), "<key>" if name.lower() == b"authorization" else value.decode("latin-1"))
            for name, value in request.headers.raw
        )
        self.sent.append(Sent(host, request.method, request.url.path, request.url.raw_path, headers))

    def count(self, host: str, method: str, path_prefix: str) -> int:
        return sum(
            1 for s in self.sent if (s.host, s.method) == (host, method) and s.path.startswith(path_prefix)
        )


def pools(upstream: Upstream) -> list[Any]:
    """The httpcore connection pools behind the upstream's clients (one per distinct transport)."""
    transports = {id(client._transport): client._transport for client in upstream._clients.values()}
    return [transport._pool for transport in transports.values() if hasattr(transport, "_pool")]


def busy_connections(upstream: Upstream) -> list[str]:
    """Pooled connections that are not idle, and requests still queued: both should be none."""
    found = []
    for pool in pools(upstream):
        found += [repr(conn) for conn in pool.connections if not (conn.is_idle() or conn.is_closed())]
        found += [repr(request) for request in pool._requests]
    return found


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def task_count() -> int:
    return len(asyncio.all_tasks())


async def settle(condition: Callable[[], bool], timeout: float = 3.0) -> bool:
    """Wait until `condition` holds (tasks finishing, sockets closing), for at most `timeout`."""
    with anyio.move_on_after(timeout):
        while not condition():
            await anyio.sleep(0.005)
    return condition()
