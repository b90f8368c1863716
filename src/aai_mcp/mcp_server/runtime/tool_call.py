"""What a handler gets for one tool call, and the error it raises for bad input."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aai_mcp.catalog import ToolSpec
from aai_mcp.config.settings import Settings
from aai_mcp.upstream import Upstream

if TYPE_CHECKING:
    from aai_mcp.mcp_server.handlers.llm_models import ModelDirectory
    from aai_mcp.mcp_server.handlers.polling import TranscriptPoller
    from aai_mcp.mcp_server.speech_clips import SpeechClips
    from aai_mcp.state.archive_store import ArchiveStore
    from aai_mcp.uplink.link_service import LinkUploads

ProgressFn = Callable[[float, float | None, str | None], Awaitable[None]]


JobNote = Callable[[str], Awaitable[None]]
job_started: ContextVar[JobNote | None] = ContextVar("job_started", default=None)
"""Set by a task running a tool: told the id of the upstream job the tool created, as soon as it exists,
so a cancelled or interrupted task can still say where that (billed) job is."""


async def note_job(job_id: str) -> None:
    note = job_started.get()
    if note is not None:
        await note(job_id)


async def no_progress(progress: float, total: float | None, message: str | None) -> None:
    """Where progress goes when the client asked for none."""


@dataclass(frozen=True)
class ToolCall:
    spec: ToolSpec
    args: dict[str, Any]
    upstream: Upstream
    settings: Settings
    poller: TranscriptPoller | None = None
    progress: ProgressFn = field(default=no_progress)
    partition: str = ""
    """Whose AssemblyAI key this call uses, so shared poll loops never mix callers."""
    archive: ArchiveStore | None = None
    """The gateway's transcript archive, when the server has a store."""
    account: str = "default"
    """The caller's account: the only one whose archived transcripts it may find."""
    links: LinkUploads | None = None
    """Upload links, when the server has a store."""
    own_key: bool = False
    """The caller brought its own AssemblyAI key (passthrough), which the server never keeps."""
    models: ModelDirectory | None = None
    """The LLM Gateway model lists this process has read (one cache for every call)."""
    clips: SpeechClips | None = None
    """Where speech too large for a result is held as a resource (text_to_speech)."""
    owner: str = ""
    """Who may read what this call keeps in `clips` (speech_clips.clip_owner)."""


Handler = Callable[[ToolCall], Awaitable[Any]]
