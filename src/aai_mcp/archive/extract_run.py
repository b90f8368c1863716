"""`archive extract`: run one kit over every completed transcript in the archive, each stored under
its own account. Resumable by construction: a result is stored as soon as it is made, and a run
skips every result still current for the kit and the transcript's text, so a stopped run (Ctrl-C, a
crash, upstream failing) goes on where it stopped. LLM Gateway calls go through the pacer, so 429s
are waited out for their Retry-After."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aai_mcp.archive.capture import each_at_most
from aai_mcp.archive.pacing import Pacer, paced_request
from aai_mcp.caller_input import ToolInputError
from aai_mcp.extraction.kits import ExtractionKit
from aai_mcp.extraction.run import Extractor, TranscriptText
from aai_mcp.state.archive_store import ArchiveStore
from aai_mcp.state.extraction_store import ExtractionStore
from aai_mcp.upstream.client import Upstream, decode_json
from aai_mcp.upstream.errors import ErrorKind, UpstreamError

CHAT_PATH = "/v1/chat/completions"


@dataclass
class ExtractCounts:
    total: int = 0
    extracted: int = 0
    current: int = 0
    """Already extracted with this kit from this text: skipped."""
    refused: list[str] = field(default_factory=list)
    """Transcripts whose answer broke the kit, or that have no text / too much: '<id>: <why>'."""
    verified_quotes: int = 0
    unverified_quotes: int = 0
    waits: list[float] = field(default_factory=list)

    @property
    def done(self) -> int:
        return self.extracted + self.current + len(self.refused)


Report = Callable[[ExtractCounts], None]


@dataclass
class ArchiveExtraction:
    upstream: Upstream
    archive: ArchiveStore
    results: ExtractionStore
    kit: ExtractionKit
    model: str
    pacer: Pacer
    max_context_chars: int
    concurrency: int = 4
    refresh: bool = False
    report: Report = lambda _counts: None
    counts: ExtractCounts = field(default_factory=ExtractCounts)

    async def run(self) -> ExtractCounts:
        ids = self.results.archived_completed_ids()
        self.counts.total = len(ids)
        await each_at_most(self.concurrency, [{"id": transcript_id} for transcript_id in ids], self._one)
        return self.counts

    async def _chat(self, body: dict[str, Any]) -> Any:
        response = await paced_request(
            self.upstream, self.pacer, "POST", CHAT_PATH, host="llm_gateway", json_body=body
        )
        return decode_json(response)

    async def _one(self, item: dict[str, Any]) -> None:
        kept = self.archive.get(item["id"])
        if kept is None:
            return  # gone since the list was read
        extractor = Extractor(self._chat, self.model, self.results, kept.account, self.max_context_chars)
        source = TranscriptText(kept.transcript_id, kept.text or "", kept.words, kept.utterances)
        try:
            result, reused = await extractor.extract(self.kit, source, self.refresh)
        except ToolInputError as exc:
            self.counts.refused.append(f"{kept.transcript_id}: {exc}")
        except UpstreamError as exc:
            if exc.kind is not ErrorKind.BAD_RESPONSE:
                raise  # upstream itself failed: stop, the next run resumes
            self.counts.refused.append(f"{kept.transcript_id}: {exc}")
        else:
            if reused:
                self.counts.current += 1
            else:
                self.counts.extracted += 1
                self.counts.verified_quotes += result.verified_quotes
                self.counts.unverified_quotes += result.unverified_quotes
        self.counts.waits = list(self.pacer.waits)
        self.report(self.counts)
