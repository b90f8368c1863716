"""`aai-mcp config CLIENT`: each client's documented shape, from the current settings, never a secret."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Any

import pytest
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters

from aai_mcp.cli.client_config import CLIENTS, KEY_PLACEHOLDER, TOKEN_PLACEHOLDER
from aai_mcp.cli.main import main
from tests.support import CANARY_KEY
from tests.support.servers import clean_env

SECRET = "s" * 48


@pytest.fixture(autouse=True)
def canary_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A real-looking key and token secret in the environment: neither may appear in any entry."""
    for name in [name for name in os.environ if name.startswith("AAI_MCP_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", CANARY_KEY)
    monkeypatch.setenv("AAI_MCP_TOKEN_SECRETS", SECRET)


def config(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[str, str]:
    assert main(["config", *argv]) == 0
    out, err = capsys.readouterr()
    assert CANARY_KEY not in out + err and SECRET not in out + err
    return out, err


def server_of(document: dict[str, Any], key: str = "mcpServers") -> dict[str, Any]:
    assert list(document[key]) == ["assemblyai"]
    return dict(document[key]["assemblyai"])


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("via", [[], ["--via", "url"], ["--via", "url", "--auth", "tokens"]])
def test_no_entry_ever_carries_the_key_or_the_token_secret(
    capsys: pytest.CaptureFixture[str], client: str, via: list[str]
) -> None:
    out, err = config(capsys, client, *via)
    assert out.strip() and err.startswith("# ")


def test_claude_desktop_stdio_starts_this_installation_with_a_key_placeholder(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out, err = config(capsys, "claude-desktop", "--region", "eu", "--toolsets", "transcripts")
    server = server_of(json.loads(out))
    assert server["command"].endswith("aai-mcp")
    assert server["args"] == ["stdio", "--region", "eu", "--toolsets", "transcripts"]
    assert server["env"] == {"ASSEMBLYAI_API_KEY": KEY_PLACEHOLDER}
    assert "claude_desktop_config.json" in err


@pytest.mark.anyio
async def test_the_claude_desktop_stdio_entry_really_starts_a_server() -> None:
    """Run the printed command as Claude Desktop would (key removed: the simulator answers)."""
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert main(["config", "claude-desktop", "--toolsets", "transcripts"]) == 0
    server = server_of(json.loads(out.getvalue()))
    params = StdioServerParameters(command=server["command"], args=server["args"], env=clean_env())
    async with Client(params) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
    assert "get_transcript" in names and "ask_transcript" not in names


def test_claude_desktop_url_goes_through_mcp_remote_with_the_header_from_env(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out, err = config(capsys, "claude-desktop", "--via", "url", "--auth", "tokens", "--port", "9100")
    server = server_of(json.loads(out))
    assert server["command"] == "npx"
    assert server["args"] == [
        "-y",
        "mcp-remote",
        "http://127.0.0.1:9100/mcp",
        "--header",
        "Authorization:${AUTH_HEADER}",
    ]
    assert server["env"] == {"AUTH_HEADER": f"Bearer {TOKEN_PLACEHOLDER}"}
    assert "aai-mcp token mint" in err


def test_mcp_remote_gets_allow_http_for_plain_http_beyond_localhost(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out, _ = config(capsys, "claude-desktop", "--url", "http://10.0.0.5:8000/mcp")
    args = server_of(json.loads(out))["args"]
    assert args == ["-y", "mcp-remote", "http://10.0.0.5:8000/mcp", "--allow-http"]
    out, _ = config(capsys, "claude-desktop", "--url", "https://mcp.example.com")
    assert "--allow-http" not in server_of(json.loads(out))["args"]


def test_claude_code_command_lines(capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = config(capsys, "claude-code")
    words = shlex.split(out)
    assert words[:4] == ["claude", "mcp", "add", "assemblyai"]
    assert words[4:7] == ["--env", f"ASSEMBLYAI_API_KEY={KEY_PLACEHOLDER}", "--"]
    assert words[7].endswith("aai-mcp") and words[8:] == ["stdio"]

    out, _ = config(capsys, "claude-code", "--url", "https://mcp.example.com", "--auth", "tokens")
    assert shlex.split(out) == [
        "claude",
        "mcp",
        "add",
        "--transport",
        "http",
        "assemblyai",
        "https://mcp.example.com/mcp",
        "--header",
        f"Authorization: Bearer {TOKEN_PLACEHOLDER}",
    ]


def test_vscode_uses_servers_with_type_and_an_input_for_the_secret(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out, err = config(capsys, "vscode")
    document = json.loads(out)
    server = server_of(document, "servers")
    assert server["type"] == "stdio" and server["args"] == ["stdio"]
    assert server["env"] == {"ASSEMBLYAI_API_KEY": "${input:assemblyai-key}"}
    assert document["inputs"] == [
        {
            "type": "promptString",
            "id": "assemblyai-key",
            "description": "AssemblyAI API key",
            "password": True,
        }
    ]
    assert ".vscode/mcp.json" in err

    out, _ = config(capsys, "vscode", "--via", "url", "--auth", "passthrough-key", "--port", "9200")
    document = json.loads(out)
    server = server_of(document, "servers")
    assert server == {
        "type": "http",
        "url": "http://127.0.0.1:9200/mcp",
        "headers": {"X-AssemblyAI-Key": "${input:assemblyai-key}"},
    }
    assert document["inputs"][0]["password"] is True


def test_cursor_uses_mcp_servers_with_command_or_url(capsys: pytest.CaptureFixture[str]) -> None:
    out, err = config(capsys, "cursor")
    assert set(server_of(json.loads(out))) == {"command", "args", "env"}
    assert "~/.cursor/mcp.json" in err
    out, _ = config(capsys, "cursor", "--via", "url", "--host", "0.0.0.0", "--port", "9300")
    assert server_of(json.loads(out)) == {"url": "http://127.0.0.1:9300/mcp"}


def test_chatgpt_gets_the_token_url_and_how_to_mint_it(capsys: pytest.CaptureFixture[str]) -> None:
    out, err = config(capsys, "chatgpt", "--url", "https://mcp.example.com/", "--auth", "tokens")
    assert out.strip() == "https://mcp.example.com/mcp/t/<token>"
    assert "aai-mcp token mint --name assemblyai" in err and "--base-url https://mcp.example.com" in err
    assert "public HTTPS" not in err and "Start the server with --auth tokens" not in err

    out, err = config(capsys, "chatgpt")
    assert out.strip() == "http://127.0.0.1:8000/mcp/t/<token>"
    assert "public HTTPS" in err and "--auth tokens" in err


def test_chatgpt_over_stdio_is_refused_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "chatgpt", "--via", "stdio"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "aai-mcp: ChatGPT connects only through a URL: use --via url (the default for chatgpt)"
    ]


def test_every_config_command_in_the_readme_runs(capsys: pytest.CaptureFixture[str]) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    commands = [
        line.split("#")[0].split(">")[0] for line in readme.splitlines() if line.startswith("aai-mcp config ")
    ]
    assert {shlex.split(command)[2] for command in commands} == set(CLIENTS)
    for command in commands:
        config(capsys, *shlex.split(command)[2:])
