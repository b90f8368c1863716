"""How extract_from_transcript's answer reads: each transcript's fields with their evidence, and a
quote not found in the transcript said plainly, in the text as in the structured result."""

from __future__ import annotations

import json
from typing import Any

from aai_mcp.mcp_server.views.contract import Shaped, ViewContext
from aai_mcp.mcp_server.views.shaping import capped_json


def extraction_view(payload: dict[str, Any], ctx: ViewContext) -> Shaped:
    lines: list[str] = []
    for result in payload["results"]:
        lines.extend(_result_lines(result))
    text = "\n".join(lines)
    if len(text) > ctx.max_chars:
        text = capped_json(payload, ctx.max_chars, "Extract from fewer transcripts per call.")
    return Shaped(structured=payload, text=text)


def _result_lines(result: dict[str, Any]) -> list[str]:
    reused = "; stored result, still current" if result["reused"] else ""
    lines = [
        f"Transcript {result['transcript_id']} (kit {result['kit']}, model {result['model']}; "
        f"{result['verified_quotes']} quotes verified, {result['unverified_quotes']} NOT found{reused}):"
    ]
    for name, field in result["fields"].items():
        value = json.dumps(field.get("value"), ensure_ascii=False)
        lines.append(f"- {name}: {value} (confidence {field['confidence']})")
        lines.extend(f"    {_evidence_line(item)}" for item in field["evidence"])
    return lines


def _evidence_line(item: dict[str, Any]) -> str:
    quote = json.dumps(item["quote"], ensure_ascii=False)
    if not item["verified"]:
        return f"{quote} NOT FOUND in the transcript: unsupported"
    if item.get("start") is None:
        return f"{quote} (found)"
    return f"{quote} [{_stamp(item['start'])}-{_stamp(item['end'])}]"


def _stamp(ms: int) -> str:
    seconds = ms // 1000
    return f"{seconds // 60:02d}:{seconds % 60:02d}"
