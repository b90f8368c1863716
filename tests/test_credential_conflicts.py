"""One request, one caller: two different credentials (a token in the path and another as a bearer,
a key header and a different bearer key, a token and a key) are refused with 400 instead of one of
them silently winning, as are repeated Mcp-Session-Id headers. Over raw sockets, as sent."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from aai_mcp.access import Scopes, mint
from tests.support import make_settings
from tests.support.servers import serve_in_thread
from tests.test_host_check import INITIALIZE, mcp_headers, raw_request

SECRET = "conflict-signing-secret-0123456789abcdef"


def token(name: str, **scopes: object) -> str:
    return mint(SECRET.encode(), name=name, scopes=Scopes(**scopes), expires_at=None).token


ADMIN = token("admin")
READER = token("reader", read_only=True)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    settings = make_settings(api_key=None, auth=["tokens", "passthrough-key"], token_secrets=SECRET)
    with serve_in_thread(settings) as url:
        yield url


def post(server: str, path: str, *credentials: tuple[str, str]) -> tuple[int, str]:
    headers = [*mcp_headers(urlsplit(server).netloc), *credentials]
    answer = raw_request(server, "POST", path, headers, INITIALIZE)
    code = answer.json().get("error", {}) if answer.status != 200 else {}
    return answer.status, code.get("code", "") if isinstance(code, dict) else ""


@pytest.mark.parametrize(
    ("path", "credentials"),
    [
        (f"/mcp/t/{ADMIN}", [("Authorization", f"Bearer {READER}")]),
        (f"/mcp/t/{READER}", [("Authorization", f"Bearer {ADMIN}")]),
        (f"/mcp/t/{READER}", [("Authorization", "Bearer junk")]),
        (f"/mcp/t/{ADMIN}", [("X-AssemblyAI-Key", "caller-key")]),
        ("/mcp", [("Authorization", f"Bearer {ADMIN}"), ("X-AssemblyAI-Key", "caller-key")]),
        ("/mcp", [("X-AssemblyAI-Key", "key-one"), ("Authorization", "Bearer key-two")]),
        ("/mcp", [("x-assemblyai-key", "key-one"), ("authorization", "bearer key-two")]),
    ],
)
def test_two_different_credentials_are_400(
    server: str, path: str, credentials: list[tuple[str, str]]
) -> None:
    assert post(server, path, *credentials) == (400, "conflicting_credentials")


@pytest.mark.parametrize(
    ("path", "credentials"),
    [
        (f"/mcp/t/{READER}", [("Authorization", f"Bearer {READER}")]),
        ("/mcp", [("Authorization", "Bearer caller-key"), ("X-AssemblyAI-Key", "caller-key")]),
        # Not a bearer credential: what a proxy doing Basic auth in front passes on.
        (f"/mcp/t/{READER}", [("Authorization", "Basic dXNlcjpwYXNz")]),
        ("/mcp", [("Authorization", f"Bearer {ADMIN}"), ("X-AssemblyAI-Key", "")]),
    ],
)
def test_the_same_credential_twice_or_a_non_bearer_header_is_one_caller(
    server: str, path: str, credentials: list[tuple[str, str]]
) -> None:
    assert post(server, path, *credentials) == (200, "")


def test_a_repeated_session_id_is_400(server: str) -> None:
    session = [("Mcp-Session-Id", "a" * 32), ("mcp-session-id", "b" * 32)]
    assert post(server, "/mcp", ("Authorization", f"Bearer {ADMIN}"), *session) == (400, "duplicate_header")
