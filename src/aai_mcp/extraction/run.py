"""Running one kit over one transcript: reuse the stored result while the kit and the transcript's text
are unchanged, else ask the LLM Gateway once (structured output), check the answer against the kit and
every quote against the transcript, and store it. What the MCP tool and `archive extract` share: each
front door passes how it reaches the gateway (`Chat`) and where it read the transcript."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio

from aai_mcp.caller_input import ToolInputError
from aai_mcp.extraction.answer import read_answer, response_format
from aai_mcp.extraction.evidence import QuoteIndex, checked_evidence
from aai_mcp.extraction.kits import ExtractionKit

if TYPE_CHECKING:
    from aai_mcp.state.extraction_store import ExtractionStore, StoredExtraction

Chat = Callable[[dict[str, Any]], Awaitable[Any]]
"""Sends one chat-completions body to the LLM Gateway; returns the decoded answer."""

RULES = (
    "Answer with JSON only, in the schema given. For each field give value, evidence and confidence. "
    "Every evidence quote must be copied word for word from the transcript text (never the [mm:ss] "
    "timestamps or speaker labels in front of the lines, never a paraphrase); a quote that is not in "
    "the transcript is flagged as unverified."
)


@dataclass(frozen=True)
class TranscriptText:
    """What extraction needs of a completed transcript: its text, and its words for the quotes' times."""

    transcript_id: str
    text: str
    words: list[dict[str, Any]] | None = None
    utterances: list[dict[str, Any]] | None = None

    @classmethod
    def of(cls, transcript: dict[str, Any]) -> TranscriptText:
        """From a transcript in upstream's shape (upstream's own, or the archive's copy of it)."""
        return cls(
            str(transcript["id"]),
            str(transcript.get("text") or ""),
            transcript.get("words") or None,
            transcript.get("utterances") or None,
        )

    def digest(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def prompt_lines(self) -> str:
        """Speaker turns as "[mm:ss] Speaker A: text" lines when there are any, else the plain text."""
        if not self.utterances:
            return self.text
        lines = []
        for turn in self.utterances:
            seconds = int(turn.get("start") or 0) // 1000
            speaker = f" Speaker {turn['speaker']}:" if turn.get("speaker") else ""
            lines.append(f"[{seconds // 60:02d}:{seconds % 60:02d}]{speaker} {turn.get('text', '')}")
        return "\n".join(lines)

    def quote_index(self) -> QuoteIndex:
        words = self.words or [word for turn in self.utterances or [] for word in turn.get("words") or []]
        return QuoteIndex(self.text, words)


def chat_body(kit: ExtractionKit, source: TranscriptText, model: str, max_tokens: int) -> dict[str, Any]:
    fields = "\n".join(f"- {name}: {schema['description']}" for name, schema in kit.fields.items())
    user = (
        f"Extract these fields ({kit.name}: {kit.description}):\n{fields}\n\n"
        f'<transcript id="{source.transcript_id}">\n{source.prompt_lines()}\n</transcript>'
    )
    return {
        "model": model,
        "messages": [
            {"role": "system", "content": f"{kit.instructions}\n\n{RULES}"},
            {"role": "user", "content": user},
        ],
        "response_format": response_format(kit),
        "max_tokens": max_tokens,
        "temperature": 0,
    }


@dataclass(frozen=True)
class Extractor:
    """How one front door runs kits: its way to the gateway, the model, the store (None: nothing is
    kept, every call runs) and whose results they are."""

    chat: Chat
    model: str
    store: ExtractionStore | None
    account: str
    max_context_chars: int
    max_tokens: int = 4000

    async def extract(
        self, kit: ExtractionKit, source: TranscriptText, refresh: bool = False
    ) -> tuple[StoredExtraction, bool]:
        """The result of `kit` over `source`, and whether it was reused from the store."""
        kept = None if refresh else await self._kept(kit, source)
        if kept is not None and kept.current(kit.digest(), source.digest()):
            return kept, True
        result = await self._run(kit, source)
        if self.store is not None:
            store = self.store
            await anyio.to_thread.run_sync(lambda: store.save(result))
        return result, False

    async def _kept(self, kit: ExtractionKit, source: TranscriptText) -> StoredExtraction | None:
        if self.store is None:
            return None
        store = self.store
        return await anyio.to_thread.run_sync(lambda: store.get(kit.name, source.transcript_id, self.account))

    async def _run(self, kit: ExtractionKit, source: TranscriptText) -> StoredExtraction:
        if not source.text.strip():
            raise ToolInputError(f"Transcript {source.transcript_id} has no text to extract from.")
        body = chat_body(kit, source, self.model, self.max_tokens)
        size = len(body["messages"][1]["content"])
        if size > self.max_context_chars:
            raise ToolInputError(
                f"Transcript {source.transcript_id} makes {size:,} characters of context, over this "
                f"server's limit of {self.max_context_chars:,}: too long to extract from in one request."
            )
        answer = read_answer(kit, await self.chat(body))
        index = source.quote_index()
        fields = {
            name: {
                "value": field["value"],
                "confidence": field["confidence"],
                "evidence": checked_evidence(index, field["evidence"]),
            }
            for name, field in answer.items()
        }
        quotes = [quote for field in fields.values() for quote in field["evidence"]]
        verified = sum(1 for quote in quotes if quote["verified"])
        from aai_mcp.state.extraction_store import StoredExtraction  # SQL-backed: loaded on first use

        return StoredExtraction(
            kit=kit.name,
            transcript_id=source.transcript_id,
            account=self.account,
            kit_digest=kit.digest(),
            text_digest=source.digest(),
            model=self.model,
            fields=fields,
            verified_quotes=verified,
            unverified_quotes=len(quotes) - verified,
            extracted_at=time.time(),
        )


def shown(result: StoredExtraction, reused: bool) -> dict[str, Any]:
    """One result as the tool and the CLI show it."""
    return {
        "transcript_id": result.transcript_id,
        "kit": result.kit,
        "model": result.model,
        "fields": result.fields,
        "verified_quotes": result.verified_quotes,
        "unverified_quotes": result.unverified_quotes,
        "reused": reused,
    }
