"""The archive read through a real `aai-mcp serve --auth tokens` (which opens the store), on SQLite
and PostgreSQL: a token of the transcript's account (team-a) finds and reads an archived transcript
AssemblyAI (here the server's simulator) no longer has, marked as archived; a token of another account
(team-b) finds nothing and cannot read it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from aai_mcp.access import Scopes, mint
from aai_mcp.state.archive_store import ArchivedTranscript, ArchiveStore
from tests.support.raw_mcp import Session, call
from tests.support.servers import ServerProcess, clean_env, serve_in_process
from tests.support.stores import StoreConfig

pytestmark = pytest.mark.slow

SECRET = "archive-reads-secret-0123456789abcdef"
LINE = "The Zanzibar contract renews in March."


def call_tool(server: ServerProcess, token: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    with httpx.Client(timeout=60) as http:
        session = Session(http, f"{server.base_url}/mcp", {"Authorization": f"Bearer {token}"})
        answer = session.result(call(1, name, **arguments))
    result: dict[str, Any] = answer["result"]
    return result


def archive_one(store_config: StoreConfig) -> None:
    store = store_config.open(auto_upgrade=True)
    try:
        utterance = {"speaker": "A", "start": 1000, "end": 3000, "text": LINE, "words": []}
        kept = ArchivedTranscript(
            transcript_id="archived-only-1",
            status="completed",
            request_config={"speaker_labels": True},
            created_at=1.0,  # 1970: long past any retention
            text=LINE,
            utterances=[utterance],
            account="team-a",
        )
        ArchiveStore(store.engine).upsert(kept)
    finally:
        store.close()


def test_a_served_gateway_reads_its_accounts_archive_and_only_that(store_config: StoreConfig) -> None:
    archive_one(store_config)
    env = clean_env(
        AAI_MCP_TOKEN_SECRETS=SECRET,
        AAI_MCP_ACCOUNTS="team-a=env:TEAM_A_KEY,team-b=env:TEAM_B_KEY",
        TEAM_A_KEY="team-a-key-0123456789",
        TEAM_B_KEY="team-b-key-0123456789",
        **store_config.env(),
    )
    own = mint(SECRET.encode(), name="own", scopes=Scopes(), expires_at=None, account="team-a").token
    other = mint(SECRET.encode(), name="other", scopes=Scopes(), expires_at=None, account="team-b").token
    with serve_in_process("--auth", "tokens", "--simulator-delay-seconds", "0", env=env) as server:
        found = call_tool(server, own, "search_archive", {"query": "zanzibar"})["structuredContent"]
        assert found["source"] == "archive"
        [hit] = found["results"]
        assert hit["transcript_id"] == "archived-only-1" and hit["expired"] is True
        assert hit["hits"] == [{"start": 1000, "end": 3000, "speaker": "A", "text": LINE}]
        read = call_tool(server, own, "get_transcript", {"transcript_id": "archived-only-1"})
        assert not read.get("isError") and read["structuredContent"]["archive"]["expired"] is True
        theirs = call_tool(server, other, "search_archive", {"query": "zanzibar"})["structuredContent"]
        assert theirs["results"] == []
        refused = call_tool(server, other, "get_transcript", {"transcript_id": "archived-only-1"})
        assert refused.get("isError") and LINE not in str(refused)
        logs = server.stderr()
    assert "zanzibar" not in logs.lower()  # argument values never reach the logs
    if store_config.database_url is not None:
        assert store_config.password() not in logs
