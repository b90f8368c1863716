"""Runs in the FastMCP venv (.cache/fastmcp-venv): the peer a user would pick instead of aai-mcp.

    .cache/fastmcp-venv/bin/python bench/fastmcp_server.py --port P --spec openapi.json \
        --upstream URL --key K [--stateless]

`FastMCP.from_openapi` on AssemblyAI's openapi.json with an httpx client pointed at the simulator,
served the way FastMCP's documentation serves it (`mcp.run(transport="http")`), plus `/healthz` for
readiness. Imports nothing from aai_mcp: this venv has FastMCP 4.1.0, not the project.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import httpx2
from fastmcp import FastMCP
from starlette.requests import Request
from starlette.responses import JSONResponse, Response


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--spec", type=Path, required=True)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--key", default="")
    parser.add_argument("--stateless", action="store_true")
    args = parser.parse_args()
    spec = json.loads(args.spec.read_text(encoding="utf-8"))
    http = httpx2.AsyncClient(base_url=args.upstream, headers={"Authorization": args.key}, timeout=30)
    server = FastMCP.from_openapi(spec, client=http, name="AssemblyAI (FastMCP.from_openapi)")

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    server.custom_route("/healthz", methods=["GET"])(healthz)
    server.run(
        transport="http", host="127.0.0.1", port=args.port, stateless_http=args.stateless, log_level="warning"
    )


if __name__ == "__main__":
    main()
