"""/healthz and X-AAI-MCP-Instance tell strangers nothing about the machine; a configured revocation file
that is missing or unreadable refuses every token and says so in /healthz and, once, in the log."""

from __future__ import annotations

import logging
import os
import re
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

from aai_mcp import __version__
from aai_mcp.access import RevocationList, RevocationUnavailable, Scopes, append_revocation, mint
from aai_mcp.access.principal import Authenticator
from tests.support import make_settings
from tests.support.servers import serve_in_thread

SECRET = "health-signing-secret-0123456789abcdefgh"
JTI = "tok_aaaaaaaaaaaa"
DETAILS = {"instance", "version", "simulated", "tools", "shared_state"}
REVOCATION_LOGGER = "aai_mcp.access.revocation"


def token_settings(**overrides: Any) -> Any:
    values: dict[str, Any] = {"api_key": None, "stateless": True, "auth": ["tokens"], "token_secrets": SECRET}
    return make_settings(**{**values, **overrides})


def bearer() -> dict[str, str]:
    minted = mint(SECRET.encode(), name="health", scopes=Scopes(), expires_at=None)
    return {"Authorization": f"Bearer {minted.token}"}


def list_call(base: str, headers: dict[str, str]) -> httpx.Response:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    accept = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    return httpx.post(f"{base}/mcp", json=body, headers={**accept, **headers}, timeout=30)


def revocation_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == REVOCATION_LOGGER]


# --- revocation fails closed ---------------------------------------------------------------------


def test_a_missing_revocation_file_refuses_and_logs_each_change_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=REVOCATION_LOGGER)
    path = tmp_path / "revoked"
    revocations = RevocationList(path)
    for _ in range(3):
        with pytest.raises(RevocationUnavailable) as caught:
            revocations.contains(JTI)
    assert caught.value.code == "revocation_unavailable" and str(tmp_path) not in caught.value.reason
    assert revocations.problem() == "revocation file missing"
    path.write_text("")
    assert not revocations.contains(JTI) and revocations.problem() is None
    append_revocation(path, JTI)
    assert JTI in revocations
    path.unlink()
    assert revocations.problem() == "revocation file missing"
    with pytest.raises(RevocationUnavailable):
        revocations.contains(JTI)
    lines = revocation_lines(caplog)
    assert [level for level, _ in lines] == [logging.ERROR, logging.INFO, logging.ERROR], lines
    assert all(str(path) in message for _, message in lines)


def test_a_missing_or_misspelt_revocation_file_refuses_every_token_over_http(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=REVOCATION_LOGGER)
    path = tmp_path / "revoked"
    with serve_in_thread(token_settings(token_revocation_file=path)) as base:
        refused = list_call(base, bearer())
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "revocation_unavailable"
        health = httpx.get(f"{base}/healthz")
        assert health.status_code == 503
        assert health.json() == {"status": "unavailable", "reason": "revocation file missing"}
        assert len(revocation_lines(caplog)) == 1, "logged once at start, not once per request"

        path.write_text("# nothing revoked yet\n")
        assert list_call(base, bearer()).status_code == 200
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}

        path.rename(tmp_path / "revoked.old")  # as good as a misspelt name
        assert list_call(base, bearer()).status_code == 503
        assert httpx.get(f"{base}/healthz").status_code == 503
    assert [level for level, _ in revocation_lines(caplog)] == [logging.ERROR, logging.INFO, logging.ERROR]


def test_an_unreadable_revocation_file_is_unhealthy_too(tmp_path: Path) -> None:
    path = tmp_path / "revoked"
    path.mkdir()  # chmod 000 does not stop root; a directory cannot be read as a file by anyone
    with serve_in_thread(token_settings(token_revocation_file=path)) as base:
        assert list_call(base, bearer()).status_code == 503
        health = httpx.get(f"{base}/healthz")
    assert health.status_code == 503 and health.json()["reason"].startswith("revocation file unreadable")
    assert str(tmp_path) not in health.text


# --- what /healthz tells whom ----------------------------------------------------------------------


def test_health_details_only_for_token_holders(tmp_path: Path) -> None:
    path = tmp_path / "revoked"
    path.write_text("")
    settings = token_settings(token_revocation_file=path, auth=["tokens", "passthrough-key"])
    with serve_in_thread(settings) as base:
        anonymous = httpx.get(f"{base}/healthz")
        with_key = httpx.get(f"{base}/healthz", headers={"X-AssemblyAI-Key": "anything"})
        forged = httpx.get(f"{base}/healthz", headers={"Authorization": "Bearer aai1.forged.token"})
        holder = httpx.get(f"{base}/healthz", headers=bearer())
    for answer in (anonymous, with_key, forged):
        assert answer.status_code == 200 and answer.json() == {"status": "ok"}
    assert holder.json()["status"] == "ok" and DETAILS <= set(holder.json())
    assert holder.json()["version"] == __version__ and holder.json()["tools"] >= 14


def test_health_details_when_open_on_loopback_only() -> None:
    with serve_in_thread(make_settings(api_key=None)) as base:
        local = httpx.get(f"{base}/healthz").json()
    assert DETAILS <= set(local) and local["simulated"] is True
    assert local["shared_state"] == "in-process", "no Redis configured"
    # Open beyond loopback (something in front authenticates): the server cannot tell who asks.
    with serve_in_thread(make_settings(api_key=None, host="0.0.0.0", insecure_no_auth=True)) as base:
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}


def test_the_instance_header_names_no_host_or_pid_unless_told() -> None:
    with serve_in_thread(token_settings()) as base:
        answers = [httpx.get(f"{base}/healthz"), list_call(base, {})]
    assert answers[1].status_code == 401
    names = {answer.headers["x-aai-mcp-instance"] for answer in answers}
    (name,) = names
    assert re.fullmatch(r"aai-mcp-[0-9a-f]{8}", name), name
    assert socket.gethostname() not in name and str(os.getpid()) not in name
    with serve_in_thread(token_settings(instance_id="pod-a")) as base:
        assert list_call(base, {}).headers["x-aai-mcp-instance"] == "pod-a"


def test_the_authenticator_reports_revocation_only_for_token_auth(tmp_path: Path) -> None:
    missing = tmp_path / "revoked"
    assert Authenticator(token_settings(token_revocation_file=missing)).problem() == "revocation file missing"
    passthrough = make_settings(auth=["passthrough-key"], token_revocation_file=missing)
    assert Authenticator(passthrough).problem() is None
