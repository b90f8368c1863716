"""ask_transcript: the server reads the transcripts itself and asks the LLM Gateway about them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import anyio

from aai_mcp.caller_input import ToolInputError
from aai_mcp.config.settings import EU_MODEL_PREFIXES, Settings
from aai_mcp.mcp_server.handlers.llm_gateway import completed
from aai_mcp.mcp_server.handlers.llm_models import checked_model
from aai_mcp.mcp_server.handlers.structured_answers import answer_schema, parsed_answer
from aai_mcp.mcp_server.runtime.forward import read_object, request_body, send
from aai_mcp.mcp_server.runtime.tool_call import ToolCall
from aai_mcp.mcp_server.views.answers import segment_lines
from aai_mcp.upstream import UpstreamError, decode_json, decode_text

T = TypeVar("T")
R = TypeVar("R")

# Upstream reads one tool call may have in flight at once.
CONCURRENCY = 4
# What upstream leaves in audio_url after DELETE (ENDPOINTS.md §4).
DELETED_URL = "http://deleted_by_user"
# Contexts that need a second read: the endpoint under /v2/transcript/{id}/.
EXTRA_READS = ("sentences", "paragraphs", "vtt")
# The calls ask makes, by name in its `calls:`: each extra read is a call of its own.
ASK_CALLS = frozenset({"chat", "read", "models", *EXTRA_READS})
SYSTEM_PROMPT = (
    "You answer questions about speech transcripts. Use only the transcripts in the user's message; "
    "if they do not contain the answer, say so. When lines carry timestamps like [01:23], cite them; "
    "when there are several transcripts, say which transcript id each point comes from."
)


async def gather_bounded(
    items: Sequence[T], run: Callable[[T], Awaitable[R]], limit: int = CONCURRENCY
) -> list[R]:
    """`run` over `items`, at most `limit` at a time, results in order; a failure cancels the rest."""
    results: dict[int, R] = {}
    failures: list[Exception] = []
    limiter = anyio.CapacityLimiter(limit)
    async with anyio.create_task_group() as group:

        async def one(index: int, item: T) -> None:
            async with limiter:
                try:
                    results[index] = await run(item)
                except (UpstreamError, ToolInputError) as exc:
                    failures.append(exc)
                    group.cancel_scope.cancel()

        for index, item in enumerate(items):
            group.start_soon(one, index, item)
    if failures:
        raise failures[0]
    return [results[index] for index in range(len(items))]


def accepted_models(settings: Settings) -> list[str]:
    if settings.region == "eu":
        return [model for model in settings.llm_models if model.startswith(EU_MODEL_PREFIXES)]
    return list(settings.llm_models)


def choose_model(call: ToolCall) -> str:
    settings = call.settings
    model = str(call.args.get("model") or settings.llm_default_model)
    accepted = accepted_models(settings)
    if model in accepted:
        return model
    if settings.region == "eu" and model in settings.llm_models:
        reason = "is not served in the EU region (its LLM Gateway serves Claude and Gemini models only)"
    else:
        reason = "is not one this server accepts"
    raise ToolInputError(f"Model '{model}' {reason}. Use one of: {', '.join(accepted)}.")


def transcript_ids(
    call: ToolCall,
    tool: str = "ask_transcript",
    advice: str = "Ask about fewer at a time and combine the answers.",
) -> list[str]:
    """The distinct transcript_ids given, in order, at most ask_max_transcripts of them."""
    ids = list(dict.fromkeys(str(item) for item in call.args["transcript_ids"]))
    limit = call.settings.ask_max_transcripts
    if len(ids) > limit:
        raise ToolInputError(f"{len(ids)} transcripts given; one {tool} call takes at most {limit}. {advice}")
    return ids


async def read_one(call: ToolCall, transcript_id: str) -> dict[str, Any]:
    try:
        return await read_object(call, "read", transcript_id)
    except UpstreamError as exc:
        raise exc.during(f"Reading transcript {transcript_id} failed") from None


def unusable(transcript_id: str, transcript: dict[str, Any]) -> str | None:
    """Why a transcript has no text to work with, or None when it is completed."""
    status = transcript.get("status")
    if status == "error":
        reason = transcript.get("error") or "no reason given"
        return f"Transcript {transcript_id} failed (status: error, {reason}); it has no text."
    if status != "completed":
        return (
            f"Transcript {transcript_id} is not completed (status: {status}): call wait_for_transcript "
            f"with transcript_id={transcript_id}, then try again."
        )
    if transcript.get("audio_url") == DELETED_URL:
        return f"Transcript {transcript_id} was deleted; its text is gone."
    return None


async def context_body(call: ToolCall, transcript: dict[str, Any], kind: str) -> tuple[str, str | None]:
    """The text the model sees for one transcript, and a note when it is not what was asked for."""
    transcript_id = str(transcript["id"])
    if kind == "utterances":
        utterances = transcript.get("utterances") or []
        if utterances:
            return segment_lines(utterances), None
        note = (
            f"Transcript {transcript_id} has no speaker turns (it was transcribed without "
            "speaker_labels), so its plain text was used instead."
        )
        return str(transcript.get("text") or ""), note
    if kind not in EXTRA_READS:
        return str(transcript.get("text") or ""), None
    try:
        response = await send(call, kind, transcript_id)
        if kind == "vtt":
            return decode_text(response), None
        payload = decode_json(response)
    except UpstreamError as exc:
        raise exc.during(f"Reading the {kind} of transcript {transcript_id} failed") from None
    items = payload.get(kind) if isinstance(payload, dict) else None
    return segment_lines(items or []), None


def chat_messages(context: str, prompt: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": f"{context}\n\nQuestion/task: {prompt}"},
    ]


def checked_size(context: str, kind: str, settings: Settings) -> int:
    limit = settings.ask_max_context_chars
    if len(context) > limit:
        raise ToolInputError(
            f"The transcripts make {len(context):,} characters of {kind} context, over this server's limit "
            f"of {limit:,}. Use a smaller context (text is the smallest; utterances, sentences, paragraphs "
            "and vtt add timestamps) or fewer transcripts per call."
        )
    return len(context)


async def ask(call: ToolCall) -> dict[str, Any]:
    """Read the transcripts (bounded, concurrent), build one grounded prompt, ask the gateway once."""
    ids = transcript_ids(call)
    schema = answer_schema(call.args)
    model, model_note = await checked_model(
        call, str(call.args.get("model") or call.settings.llm_default_model)
    )
    kind = str(call.args.get("context") or "utterances")
    transcripts = await gather_bounded(ids, lambda transcript_id: read_one(call, transcript_id))
    problems = [problem for tid, t in zip(ids, transcripts, strict=True) if (problem := unusable(tid, t))]
    if problems:
        raise ToolInputError(" ".join(problems))
    pieces = await gather_bounded(transcripts, lambda transcript: context_body(call, transcript, kind))
    context = "\n\n".join(
        f"=== Transcript {tid} ===\n{body}" for tid, (body, _) in zip(ids, pieces, strict=True)
    )
    size = checked_size(context, kind, call.settings)
    # max_tokens (with its default) and any other body parameter come from the spec; prompt goes in messages.
    extra = {key: value for key, value in request_body(call).items() if key not in ("model", "prompt")}
    body = {"model": model, "messages": chat_messages(context, str(call.args["prompt"])), **extra}
    completion = await completed(call, body, model)
    notes = [note for note in [model_note, *(note for _, note in pieces)] if note]
    answer = {
        "completion": completion,
        "model": model,
        "transcript_ids": ids,
        "context": kind,
        "context_chars": size,
        "notes": notes,
    }
    if schema is not None:
        answer["parsed"] = parsed_answer(completion, schema)
    return answer
