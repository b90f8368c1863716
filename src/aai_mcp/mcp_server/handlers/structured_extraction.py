"""extract_from_transcript: the MCP front door of structured extraction (aai_mcp.extraction). Reads
each transcript (the archive's copy first, else upstream's), runs the kit through the shared
Extractor with the tool's declared chat call, and stores results when the server has a store."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aai_mcp.caller_input import ToolInputError, quoted
from aai_mcp.extraction.kits import ExtractionKit, available_kits
from aai_mcp.extraction.run import Extractor, TranscriptText, shown
from aai_mcp.mcp_server.handlers.archived_copies import archived_copy
from aai_mcp.mcp_server.handlers.ask import choose_model, gather_bounded, read_one, transcript_ids, unusable
from aai_mcp.mcp_server.runtime.forward import send
from aai_mcp.mcp_server.runtime.tool_call import ToolCall
from aai_mcp.upstream import UpstreamError, decode_json

if TYPE_CHECKING:
    pass

EXTRACT_CALLS = frozenset({"chat", "read"})


def chosen_kit(call: ToolCall) -> ExtractionKit:
    kits = available_kits(call.settings.extraction_kits_dir)
    name = str(call.args["kit"])
    if name not in kits:
        raise ToolInputError(f"No extraction kit {quoted(name)}. Use one of: {', '.join(sorted(kits))}.")
    return kits[name]


async def transcript_text(call: ToolCall, transcript_id: str) -> TranscriptText:
    """The archive's completed copy when it has one (upstream may have deleted it), else upstream's."""
    transcript = await archived_copy(call.archive, call.account, transcript_id)
    if transcript is None:
        transcript = await read_one(call, transcript_id)
        problem = unusable(transcript_id, transcript)
        if problem:
            raise ToolInputError(problem)
    return TranscriptText.of(transcript)


def extractor_for(call: ToolCall, model: str) -> Extractor:
    async def chat(body: dict[str, Any]) -> Any:
        try:
            return decode_json(await send(call, "chat", json_body=body))
        except UpstreamError as exc:
            raise exc.during(f"Asking {model} through the LLM Gateway failed") from None

    from aai_mcp.delivery.deliveries import extraction_store_of  # SQL-backed: loaded on first use

    store = extraction_store_of(call.archive.engine, call.settings) if call.archive is not None else None
    return Extractor(chat, model, store, call.account, call.settings.ask_max_context_chars)


async def extract(call: ToolCall) -> dict[str, Any]:
    """Each transcript's fields for the kit, in the order given (bounded and concurrent)."""
    kit = chosen_kit(call)
    model = choose_model(call)
    ids = transcript_ids(call, "extract_from_transcript", "Extract from fewer at a time.")
    sources = await gather_bounded(ids, lambda transcript_id: transcript_text(call, transcript_id))
    extractor = extractor_for(call, model)
    refresh = bool(call.args.get("refresh"))
    try:
        done = await gather_bounded(sources, lambda source: extractor.extract(kit, source, refresh))
    except UpstreamError as exc:
        raise exc.during(f"Extracting with kit {kit.name}") from None
    return {"kit": kit.name, "results": [shown(result, reused) for result, reused in done]}
