"""Code handlers named by `handler:` in tool_schemas, for tools one forwarded request cannot serve,
and the upstream calls each makes (its tools declare exactly these in `calls:`)."""

from __future__ import annotations

from aai_mcp.mcp_server.handlers.archive_reads import (
    GET_TRANSCRIPT_CALLS,
    SEARCH_ARCHIVE_CALLS,
    get_transcript,
    search_archive,
)
from aai_mcp.mcp_server.handlers.ask import ASK_CALLS, ask
from aai_mcp.mcp_server.handlers.connector import FETCH_CALLS, SEARCH_CALLS, fetch, search
from aai_mcp.mcp_server.handlers.instant import DICTATION_CALLS, SYNC_CALLS, dictate, transcribe_clip
from aai_mcp.mcp_server.handlers.llm_gateway import (
    CHAT_CALLS,
    LIST_MODELS_CALLS,
    UNDERSTAND_CALLS,
    chat,
    list_models,
    understand,
)
from aai_mcp.mcp_server.handlers.redacted_audio import REDACTED_AUDIO_CALLS, get_redacted_audio
from aai_mcp.mcp_server.handlers.reference_lookup import REFERENCE_CALLS, get_reference, search_reference
from aai_mcp.mcp_server.handlers.speech import SPEECH_CALLS, text_to_speech
from aai_mcp.mcp_server.handlers.streaming_tokens import STREAMING_TOKEN_CALLS, streaming_token
from aai_mcp.mcp_server.handlers.structured_extraction import EXTRACT_CALLS, extract
from aai_mcp.mcp_server.handlers.upload_links import LINK_CALLS, create_upload_link, wait_for_upload
from aai_mcp.mcp_server.handlers.uploads import UPLOAD_CALLS, upload
from aai_mcp.mcp_server.handlers.upstream_deletions import DELETE_CALLS, delete_transcript
from aai_mcp.mcp_server.handlers.workflows import (
    CREATE_CALLS,
    TRANSCRIBE_CALLS,
    WAIT_CALLS,
    create_transcript,
    transcribe,
    wait_for_transcript,
)
from aai_mcp.mcp_server.runtime.tool_call import Handler

HANDLERS: dict[str, Handler] = {
    "upload": upload,
    "create_transcript": create_transcript,
    "wait_for_transcript": wait_for_transcript,
    "transcribe": transcribe,
    "ask": ask,
    "search": search,
    "fetch": fetch,
    "search_archive": search_archive,
    "get_transcript": get_transcript,
    "delete_transcript": delete_transcript,
    "create_upload_link": create_upload_link,
    "wait_for_upload": wait_for_upload,
    "extract": extract,
    "get_redacted_audio": get_redacted_audio,
    "chat": chat,
    "list_models": list_models,
    "understand": understand,
    "transcribe_clip": transcribe_clip,
    "dictate": dictate,
    "text_to_speech": text_to_speech,
    "search_reference": search_reference,
    "get_reference": get_reference,
    "streaming_token": streaming_token,
}
HANDLER_CALLS: dict[str, frozenset[str]] = {
    "upload": UPLOAD_CALLS,
    "create_transcript": CREATE_CALLS,
    "wait_for_transcript": WAIT_CALLS,
    "transcribe": TRANSCRIBE_CALLS,
    "ask": ASK_CALLS,
    "search": SEARCH_CALLS,
    "fetch": FETCH_CALLS,
    "search_archive": SEARCH_ARCHIVE_CALLS,
    "get_transcript": GET_TRANSCRIPT_CALLS,
    "delete_transcript": DELETE_CALLS,
    "create_upload_link": LINK_CALLS,
    "wait_for_upload": LINK_CALLS,
    "extract": EXTRACT_CALLS,
    "get_redacted_audio": REDACTED_AUDIO_CALLS,
    "chat": CHAT_CALLS,
    "list_models": LIST_MODELS_CALLS,
    "understand": UNDERSTAND_CALLS,
    "transcribe_clip": SYNC_CALLS,
    "dictate": DICTATION_CALLS,
    "search_reference": REFERENCE_CALLS,
    "get_reference": REFERENCE_CALLS,
    "text_to_speech": SPEECH_CALLS,
    "streaming_token": STREAMING_TOKEN_CALLS,
}
