"""`aai-mcp usage [--team T] [--since month|DATE|7d] [--json]`: each team's usage as every instance
recorded it in the store (SQLite under the data directory, or PostgreSQL at AAI_MCP_DATABASE_URL).

Exit codes: 0 shown, 1 the store cannot be read, 2 the options are wrong.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime

from aai_mcp.access.quota_gate import month_start
from aai_mcp.cli.store_session import with_store
from aai_mcp.config.command_options import UsageOptions
from aai_mcp.config.settings import Settings
from aai_mcp.state.store import UsageTotals

COLUMNS = (
    "team",
    "audio hours",
    "transcripts",
    "LLM tokens",
    "streaming seconds",
    "clip seconds",
    "TTS characters",
)


def show_usage(options: UsageOptions, settings: Settings) -> int:
    try:
        since = period_start(options.since, time.time())
    except ValueError as exc:
        return _error(str(exc), 2)
    totals = with_store("usage", settings, lambda store: store.usage_totals(since, options.team))
    if totals is None:
        return 1
    if options.team is not None and not totals:
        totals = [UsageTotals(options.team)]
    print(_as_json(since, totals) if options.json_output else _as_table(since, totals))
    return 0


def period_start(since: str, now: float) -> float:
    """`month`, a UTC date, or `7d` / `12h` back from `now`, as epoch seconds."""
    if since == "month":
        return month_start(now)
    if since[-1:] in ("d", "h") and since[:-1].isdigit():
        return now - int(since[:-1]) * (86400 if since[-1] == "d" else 3600)
    try:
        return datetime.strptime(since, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise ValueError(f"--since {since}: not a date (YYYY-MM-DD), month, or a span like 7d") from None


def _as_table(since: float, totals: list[UsageTotals]) -> str:
    rows = [COLUMNS] + [
        (
            t.account,
            f"{t.audio_seconds / 3600:.3f}",
            str(t.transcripts),
            str(t.llm_tokens),
            f"{t.stream_seconds:.1f}",
            f"{t.clip_seconds:.1f}",
            str(t.tts_characters),
        )
        for t in totals
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = [f"usage since {_shown(since)}"]
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [
            cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    if not totals:
        lines.append("(no usage recorded in this period)")
    return "\n".join(lines)


def _as_json(since: float, totals: list[UsageTotals]) -> str:
    teams = [
        {"team": t.account, "audio_hours": round(t.audio_seconds / 3600, 6), **_fields(t)} for t in totals
    ]
    return json.dumps({"since": _shown(since), "teams": teams}, indent=2)


def _fields(totals: UsageTotals) -> dict[str, object]:
    fields = asdict(totals)
    del fields["account"]
    return fields


def _shown(since: float) -> str:
    return datetime.fromtimestamp(since, UTC).isoformat(timespec="seconds")


def _error(message: str, code: int) -> int:
    print(f"aai-mcp usage: {message}", file=sys.stderr)
    return code
