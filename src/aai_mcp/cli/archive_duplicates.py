"""`aai-mcp archive duplicates`: the archived transcripts of the same audio (same SHA-256, computed as
the upload went through aai-mcp), one group per account and hash, oldest first, with creation dates.

Exit codes: 0 shown (also when there are none), 1 the store cannot be read.
"""

from __future__ import annotations

from aai_mcp.cli.store_session import with_store
from aai_mcp.config.settings import Settings
from aai_mcp.state.archive_store import ArchiveStore, DuplicateAudio


def show_duplicates(settings: Settings) -> int:
    groups = with_store("archive duplicates", settings, lambda store: ArchiveStore(store.engine).duplicates())
    if groups is None:
        return 1
    print(report(groups))
    return 0


def report(groups: list[DuplicateAudio]) -> str:
    if not groups:
        return "No duplicates: no two archived transcripts of one account share their audio's hash."
    extra = sum(len(group.transcripts) - 1 for group in groups)
    lines = [f"{len(groups)} audio files transcribed more than once ({extra} duplicate transcripts):"]
    for group in groups:
        lines.append(f"{group.audio_hash}  account {group.account}  {len(group.transcripts)} transcripts")
        lines.extend(f"  {transcript_id}  {_day(created)}" for transcript_id, created in group.transcripts)
    return "\n".join(lines)


def _day(created: float | None) -> str:
    from aai_mcp.mcp_server.handlers.archived_copies import iso_time

    return iso_time(created) or "(no date)"
