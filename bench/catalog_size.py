"""Catalog size: tools/list bytes and tokens of aai-mcp vs FastMCP.from_openapi for the same operations.

    python -m bench.catalog_size

FastMCP 4.1.0 runs in its own venv (.cache/fastmcp-venv, created on first run from
bench/requirements-fastmcp.txt); it builds one server per AssemblyAI spec (openapi.json,
llm-gateway.yml, streaming-token.yml from shared/reference/assemblyai, or AAI_MCP_SPEC_DIR).
Each tool is measured as the compact JSON of its tools/list entry; tokens are len/4 and, where
bpe-openai is installed in that venv, o200k_base counts.

Measured 2026-11-30 on the slimcat branch (issue 17 target 3, main merged in: transcribe's include and
create_streaming_token's connection counted), nproc 2: the whole tools/list 29 986 bytes for 30 tools
(~7 496 tokens by len/4; 88 435 bytes before); the 13 paired operations were 12 342 bytes vs FastMCP's
349 977 before the merge (3.5 %, was 8.6 %). `--dynamic-toolsets` starts a session with 1 344 bytes
(list_toolsets and enable_toolset). Byte counts do not depend on machine load.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
from mcp.client import Client

from aai_mcp.config.settings import Settings
from aai_mcp.gateway import build_gateway
from aai_mcp.mcp_server.factory import build_server
from bench import common
from tests.support.servers import SIM_KEY

FASTMCP_VENV = common.CACHE / "fastmcp-venv"
REQUIREMENTS = common.BENCH / "requirements-fastmcp.txt"
SPEC_DIR = Path(os.environ.get("AAI_MCP_SPEC_DIR") or common.ROOT.parent / "shared/reference/assemblyai")
TARGET_RATIO = 0.40
# (spec file, operationId) -> our tool for the same upstream operation, checked against the catalog below.
SAME_OPERATIONS: dict[tuple[str, str], str] = {
    ("openapi.json", "uploadFile"): "upload_file",
    ("openapi.json", "createTranscript"): "create_transcript",
    ("openapi.json", "listTranscripts"): "list_transcripts",
    ("openapi.json", "getTranscript"): "get_transcript",
    ("openapi.json", "deleteTranscript"): "delete_transcript",
    ("openapi.json", "getSubtitles"): "get_subtitles",
    ("openapi.json", "getTranscriptSentences"): "get_sentences",
    ("openapi.json", "getTranscriptParagraphs"): "get_paragraphs",
    ("openapi.json", "wordSearch"): "search_words",
    ("openapi.json", "getRedactedAudio"): "get_redacted_audio",
    ("llm-gateway.yml", "createChatCompletion"): "llm_chat_completion",
    ("llm-gateway.yml", "createSpeechUnderstanding"): "understand_transcript",
    ("streaming-token.yml", "generateStreamingToken"): "create_streaming_token",
}
PARTS = ("description", "inputSchema", "outputSchema")


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def parts(tool: dict[str, Any]) -> dict[str, int]:
    """Bytes of a tool's entry, split into description, input schema, output schema and the rest."""
    sizes = {part: len(compact(tool[part]).encode()) if part in tool else 0 for part in PARTS}
    sizes["description"] = len(tool.get("description", "").encode())
    sizes["total"] = len(compact(tool).encode())
    sizes["other"] = sizes["total"] - sum(sizes[p] for p in PARTS)
    return sizes


async def our_tools() -> tuple[dict[str, dict[str, Any]], int]:
    """Our tools/list, through the mcp SDK client, and the byte size of the whole result."""
    gateway = build_gateway(Settings(api_key=SIM_KEY))
    try:
        async with Client(build_server(gateway)) as client:
            listed = await client.list_tools()
    finally:
        await gateway.aclose()
    tools = {
        tool.name: tool.model_dump(mode="json", by_alias=True, exclude_none=True) for tool in listed.tools
    }
    whole = len(listed.model_dump_json(by_alias=True, exclude_none=True).encode())
    return tools, whole


def ensure_fastmcp_venv() -> Path:
    python = FASTMCP_VENV / "bin" / "python"
    if not python.exists():
        print(f"(creating {FASTMCP_VENV} with {REQUIREMENTS.name}: once)", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(FASTMCP_VENV)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, "-r", str(REQUIREMENTS)], check=True)
    return python


def fastmcp_tools(texts: dict[str, str]) -> tuple[dict[str, dict[str, Any]], dict[str, int] | None]:
    """FastMCP's tools per spec file (by operationId), and token counts (None without bpe-openai)."""
    python = ensure_fastmcp_venv()
    specs = sorted({SPEC_DIR / spec for spec, _ in SAME_OPERATIONS})
    answer = subprocess.run(
        [str(python), str(common.BENCH / "fastmcp_catalog.py"), *map(str, specs)],
        input=json.dumps({"texts": texts}),
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(answer.stdout)
    return data["tools"], data["tokens"]


def check_mapping(catalog_paths: Mapping[str, tuple[str, str]], fastmcp: dict[str, dict[str, Any]]) -> None:
    """Each paired FastMCP tool exists, and our tool calls the same method on the same path."""
    for (spec, op_id), tool in SAME_OPERATIONS.items():
        if op_id not in fastmcp.get(spec, {}):
            raise SystemExit(f"FastMCP built no tool {op_id} from {spec}")
        method, path = catalog_paths[tool]
        if not path.endswith(_op_path(spec, op_id)) or method != _op_method(spec, op_id):
            raise SystemExit(f"{tool} ({method} {path}) is not {spec} {op_id}")


def _spec(spec: str) -> dict[str, Any]:
    import yaml

    text = (SPEC_DIR / spec).read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text) if spec.endswith(".json") else yaml.safe_load(text)
    return loaded


def _operation(spec: str, op_id: str) -> tuple[str, str]:
    for path, item in _spec(spec)["paths"].items():
        for method, op in item.items():
            if isinstance(op, dict) and op.get("operationId") == op_id:
                return method.upper(), path
    raise KeyError(op_id)


def _op_path(spec: str, op_id: str) -> str:
    return _operation(spec, op_id)[1]


def _op_method(spec: str, op_id: str) -> str:
    return _operation(spec, op_id)[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--no-reference", action="store_true", help="only aai-mcp's breakdown, no FastMCP")
    args = parser.parse_args(argv)
    common.header("Catalog size: tools/list")
    ours, whole = anyio.run(our_tools)
    if args.no_reference:
        print(where_bytes_go(ours, whole, None))
        return 0
    gateway = build_gateway(Settings(api_key=SIM_KEY))
    # A local tool (the bundled API reference) has no upstream route, so no FastMCP counterpart.
    tools = gateway.catalog.tools.items()
    catalog_paths = {name: (s.route.method, s.route.path) for name, s in tools if not s.local}
    anyio.run(gateway.aclose)
    fastmcp, tokens = fastmcp_tools({f"aai:{name}": compact(tool) for name, tool in ours.items()})
    check_mapping(catalog_paths, fastmcp)
    print(same_operations_table(ours, fastmcp, tokens))
    print()
    print(where_bytes_go(ours, whole, tokens))
    return 0


def same_operations_table(
    ours: dict[str, dict[str, Any]], fastmcp: dict[str, dict[str, Any]], tokens: dict[str, int] | None
) -> str:
    rows = []
    totals = {"aai": 0, "fastmcp": 0, "aai_tok": 0, "fastmcp_tok": 0}
    by_spec: dict[str, list[int]] = {}
    for (spec, op_id), tool in SAME_OPERATIONS.items():
        mine, theirs = parts(ours[tool])["total"], parts(fastmcp[spec][op_id])["total"]
        mine_tok = tokens[f"aai:{tool}"] if tokens else mine // 4
        theirs_tok = tokens[f"fastmcp:{spec}:{op_id}"] if tokens else theirs // 4
        totals["aai"] += mine
        totals["fastmcp"] += theirs
        totals["aai_tok"] += mine_tok
        totals["fastmcp_tok"] += theirs_tok
        by_spec.setdefault(spec, [0, 0])
        by_spec[spec][0] += mine
        by_spec[spec][1] += theirs
        rows.append([f"{spec} {op_id}", tool, mine, theirs, f"{mine / theirs:.0%}", mine_tok, theirs_tok])
    for spec, (mine, theirs) in by_spec.items():
        rows.append([f"**{spec} (all paired operations)**", "", mine, theirs, f"{mine / theirs:.0%}", "", ""])
    ratio = totals["aai"] / totals["fastmcp"]
    rows.append(["**all 13 paired operations**", "", totals["aai"], totals["fastmcp"], f"**{ratio:.0%}**",
                 totals["aai_tok"], totals["fastmcp_tok"]])  # fmt: skip
    unit = "o200k tokens" if tokens else "tokens (len/4)"
    headers = ["operation", "aai-mcp tool", "aai-mcp bytes", "FastMCP bytes", "aai-mcp / FastMCP",
               f"aai-mcp {unit}", f"FastMCP {unit}"]  # fmt: skip
    verdict = common.verdict(ratio <= TARGET_RATIO)
    return (
        common.table(headers, rows)
        + f"\n\nTarget: aai-mcp at most {TARGET_RATIO:.0%} of FastMCP for the same operations: {verdict} "
        f"({ratio:.1%}; len/4 tokens: {totals['aai'] // 4} vs {totals['fastmcp'] // 4})."
    )


def where_bytes_go(ours: dict[str, dict[str, Any]], whole: int, tokens: dict[str, int] | None) -> str:
    rows = []
    sums = dict.fromkeys((*PARTS, "other", "total"), 0)
    for name, tool in ours.items():
        sizes = parts(tool)
        for key in sums:
            sums[key] += sizes[key]
        tok = tokens[f"aai:{name}"] if tokens else sizes["total"] // 4
        rows.append([name, sizes["description"], sizes["inputSchema"], sizes["outputSchema"], sizes["other"],
                     sizes["total"], tok])  # fmt: skip
    rows.sort(key=lambda row: -int(str(row[5])))
    all_tok = sum(tokens[f"aai:{n}"] for n in ours) if tokens else sums["total"] // 4
    rows.append(["**all tools**", sums["description"], sums["inputSchema"], sums["outputSchema"],
                 sums["other"], sums["total"], all_tok])  # fmt: skip
    unit = "o200k tokens" if tokens else "tokens (len/4)"
    headers = ["aai-mcp tool", "description", "input schema", "output schema", "other", "bytes", unit]
    return (
        f"Where aai-mcp's bytes go ({len(ours)} tools; the whole tools/list result is {whole} bytes, "
        f"~{whole // 4} tokens by len/4):\n\n" + common.table(headers, rows)
    )


if __name__ == "__main__":
    sys.exit(main())
