"""Runs in the FastMCP venv (.cache/fastmcp-venv): FastMCP.from_openapi tools per spec, and token counts.

    .cache/fastmcp-venv/bin/python bench/fastmcp_catalog.py SPEC_FILE... < {"texts": {key: text}}

Prints JSON: {"tools": {spec file: {operationId: tool JSON}}, "tokens": {key: count} or null}, where
the token counts cover the given texts and every FastMCP tool (key "fastmcp:<spec file>:<operationId>").
Imports nothing from aai_mcp: this venv has FastMCP 4.1.0, not the project.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import httpx2
import yaml
from fastmcp import Client, FastMCP


def load_spec(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    spec: dict[str, Any] = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    return spec


async def tools_of(path: Path) -> dict[str, Any]:
    spec = load_spec(path)
    base_url = spec.get("servers", [{}])[0].get("url", "http://127.0.0.1")
    # The client is never used to send anything: only tools/list is asked for.
    async with httpx2.AsyncClient(base_url=base_url) as http:
        server = FastMCP.from_openapi(spec, client=http, name="AssemblyAI (FastMCP.from_openapi)")
        async with Client(server) as client:
            listed = await client.list_tools()
    return {tool.name: tool.model_dump(mode="json", by_alias=True, exclude_none=True) for tool in listed}


def token_counts(texts: dict[str, str]) -> dict[str, int] | None:
    """o200k_base counts (GPT-4o's tokenizer) from bpe-openai, which ships its vocabularies offline."""
    try:
        import bpe_openai
    except ImportError:
        return None
    encoding = bpe_openai.get_encoding("o200k_base")
    return {key: len(encoding.encode(text)) for key, text in texts.items()}


async def main() -> None:
    request = json.loads(sys.stdin.read() or "{}")
    tools = {Path(arg).name: await tools_of(Path(arg)) for arg in sys.argv[1:]}
    texts = dict(request.get("texts", {}))
    for spec, by_name in tools.items():
        texts.update({f"fastmcp:{spec}:{name}": compact(tool) for name, tool in by_name.items()})
    print(json.dumps({"tools": tools, "tokens": token_counts(texts)}))


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


if __name__ == "__main__":
    asyncio.run(main())
