"""A key that cannot be sent in an HTTP header (a pasted non-breaking space, a curly quote, an
accent) is a one-line configuration error at start, naming where it came from and never the key;
it used to crash `serve` and `doctor` with a traceback from deep inside httpx."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from aai_mcp.cli.main import main

CANARY = "canary0123456789"
BAD_KEYS = [f"{CANARY}\u00a0x", f"{CANARY}\u00e9x", f"\u201c{CANARY}\u201d", f"{CANARY} x", f"{CANARY}\x01"]


@pytest.fixture
def busy_port() -> Iterator[str]:
    """A port already taken: a `serve` that wrongly gets past its checks fails instead of serving."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield str(taken.getsockname()[1])


@pytest.mark.parametrize("key", BAD_KEYS)
@pytest.mark.parametrize("command", ["serve", "doctor"])
def test_a_server_key_that_is_not_header_text_is_one_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    key: str,
    command: str,
    busy_port: str,
) -> None:
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", key)
    assert main([command, "--port", busy_port]) == 2
    err = capsys.readouterr().err
    assert "ASSEMBLYAI_API_KEY" in err and "Traceback" not in err and CANARY not in err, err
    assert len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("key", BAD_KEYS)
def test_an_account_key_that_is_not_header_text_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], key: str, busy_port: str
) -> None:
    monkeypatch.setenv("TEAM_KEY", key)
    monkeypatch.setenv("AAI_MCP_TOKEN_SECRETS", "s" * 40)
    serve = ["serve", "--port", busy_port, "--auth", "tokens", "--accounts", "team=env:TEAM_KEY"]
    assert main(serve) == 2
    err = capsys.readouterr().err
    assert "account 'team'" in err and "Traceback" not in err and CANARY not in err, err


def test_surrounding_whitespace_is_not_part_of_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from aai_mcp.config.settings import Settings

    monkeypatch.setenv("ASSEMBLYAI_API_KEY", f"  {CANARY}\u00a0\n")  # as pasted from a web page
    key = Settings().api_key
    assert key is not None and key.get_secret_value() == CANARY
