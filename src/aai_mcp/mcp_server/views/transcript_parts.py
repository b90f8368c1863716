"""Which parts of a finished transcript a call returns (`include`), so a workflow whose next step is
ask_transcript is not handed the whole transcript first."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aai_mcp.caller_input import ToolInputError

TEXT = "text"
UTTERANCES = "utterances"
DETAILS = "details"
FEATURES = "features"
TRANSCRIPT_PARTS = (TEXT, UTTERANCES, DETAILS, FEATURES)
"""In the order a result shows them. Id, status, next_step, error and the wait facts are not parts:
every result has them, since the next step depends on them."""


def requested_parts(args: Mapping[str, Any]) -> frozenset[str]:
    """The parts `args` ask for: all of them when `include` is absent (what callers got before it)."""
    include = args.get("include")
    if include is None:
        return frozenset(TRANSCRIPT_PARTS)
    return frozenset(str(part) for part in include)


def left_out(args: Mapping[str, Any]) -> list[str]:
    """The parts `include` leaves out, in display order (none when `include` is absent)."""
    parts = requested_parts(args)
    return [part for part in TRANSCRIPT_PARTS if part not in parts]


def check_include(args: Mapping[str, Any]) -> None:
    """Refuse, before anything is sent upstream, an `include` whose result could not be read again."""
    if args.get("prefer") == "speed" and TEXT not in requested_parts(args):
        raise ToolInputError(
            "include leaves out text, but prefer=speed may answer through the Sync API, which stores "
            'nothing: that text could never be read again. Add "text" to include, or drop prefer=speed.'
        )
