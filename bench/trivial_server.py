"""The ceiling: a bare mcp SDK low-level Server with one tool returning a constant.

Served the way aai-mcp serves itself (Starlette route at /mcp around a StreamableHTTPSessionManager,
DNS-rebinding protection, uvicorn, one worker), so the difference is what aai-mcp does per call.
With --upstream it has a second tool, `fetch`, that does only what any gateway must: GET
/v2/transcript/{id} upstream with httpx and decode the JSON (it returns a constant all the same).

    python -m bench.trivial_server --port 8100 [--stateless] [--json-response] [--plain] \
        [--upstream URL --key K]

--plain serves it on the stack `pip install mcp` brings (uvicorn without uvloop or httptools, asyncio's
loop, h11), as a user following the SDK's documentation would run it: bench/call_peers.py's peer.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import mcp_types as types
import uvicorn
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TOOL = types.Tool(name="constant", description="Returns a constant.", input_schema={"type": "object"})
FETCH = types.Tool(name="fetch", description="GETs a transcript upstream.", input_schema={"type": "object"})
RESULT = types.CallToolResult(content=[types.TextContent(text="ok")])


def build_app(stateless: bool, json_response: bool, upstream: str | None = None, key: str = "") -> Starlette:
    http = httpx.AsyncClient(base_url=upstream or "http://127.0.0.1", headers={"Authorization": key})

    async def list_tools(ctx: ServerRequestContext[Any], params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[TOOL, FETCH] if upstream else [TOOL])

    async def call_tool(ctx: ServerRequestContext[Any], params: types.CallToolRequestParams) -> Any:
        if params.name == "fetch":
            response = await http.get(f"/v2/transcript/{(params.arguments or {})['transcript_id']}")
            response.raise_for_status()
            response.json()
        return RESULT

    server: Server[Any] = Server("trivial", on_list_tools=list_tools, on_call_tool=call_tool)
    hosts = ["127.0.0.1", "127.0.0.1:*", "localhost", "localhost:*"]
    security = TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts)
    manager = StreamableHTTPSessionManager(
        app=server, stateless=stateless, json_response=json_response, security_settings=security
    )

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with http, manager.run():
            yield

    routes = [Route("/mcp", endpoint=StreamableHTTPASGIApp(manager)), Route("/healthz", endpoint=healthz)]
    return Starlette(routes=routes, lifespan=lifespan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--stateless", action="store_true")
    parser.add_argument("--json-response", action="store_true")
    parser.add_argument("--upstream", help="base URL of the (simulated) AssemblyAI API, for `fetch`")
    parser.add_argument("--key", default="", help="API key sent upstream")
    parser.add_argument("--plain", action="store_true", help="asyncio loop and h11, whatever is installed")
    args = parser.parse_args()
    app = build_app(args.stateless, args.json_response, args.upstream, args.key)
    loop, http = ("asyncio", "h11") if args.plain else ("auto", "auto")
    options = {"host": "127.0.0.1", "port": args.port, "log_level": "warning", "access_log": False}
    uvicorn.run(app, loop=loop, http=http, **options)


if __name__ == "__main__":
    main()
