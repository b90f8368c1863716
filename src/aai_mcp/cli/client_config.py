"""`aai-mcp config CLIENT`: a ready entry for an MCP client, built from the current settings.

The entry goes to stdout (so it can be piped into a file); where to put it and what to fill in goes
to stderr. Secrets are never printed: the AssemblyAI key and access tokens are placeholders.

Shapes, as each client documents them:
- Claude Desktop: claude_desktop_config.json, `mcpServers` -> {command, args, env}; a URL through
  the `mcp-remote` bridge, its header passed as `Authorization:${AUTH_HEADER}` from env.
- Claude Code: `claude mcp add NAME --env K=V -- COMMAND ARGS` (stdio) and
  `claude mcp add --transport http NAME URL --header "..."`.
- VS Code: .vscode/mcp.json, `servers` -> {type: stdio, command, args, env} or {type: http, url,
  headers}; secrets through `inputs` (promptString, password) referenced as `${input:ID}`.
- Cursor: ~/.cursor/mcp.json, `mcpServers` -> {command, args, env} or {url, headers}.
- ChatGPT: a connector URL that carries an access token, <public base>/mcp/t/<token>.
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from aai_mcp.config.command_options import CLIENTS as CLIENTS  # one list: the parser offers it, tests use it
from aai_mcp.config.command_options import ClientConfigOptions
from aai_mcp.config.options import ENV_ONLY, HTTP_ONLY
from aai_mcp.config.settings import Settings

Via = Literal["stdio", "url"]
KEY_PLACEHOLDER = "your-assemblyai-key"
TOKEN_PLACEHOLDER = "YOUR_TOKEN"
MINT_HINT = "aai-mcp token mint --name {name} --expires 30d"


@dataclass(frozen=True)
class Entry:
    text: str  # the ready entry, for stdout
    notes: list[str]  # where it goes and what to fill in, for stderr


@dataclass(frozen=True)
class Remote:
    url: str  # the MCP endpoint
    header: tuple[str, str] | None  # (name, value with placeholders)
    notes: list[str]


def aai_mcp_command() -> str:
    """The absolute path of this installation's `aai-mcp`: desktop apps do not see a shell's PATH."""
    beside = Path(sys.executable).parent / "aai-mcp"
    if beside.exists():
        return str(beside)
    return shutil.which("aai-mcp") or "aai-mcp"


def stdio_args(settings: Settings) -> list[str]:
    """`stdio` plus every option set explicitly that applies over stdio (region, filters, ...)."""
    args = ["stdio"]
    for name in sorted(settings.model_fields_set - HTTP_ONLY - ENV_ONLY):
        value = getattr(settings, name)
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            args.append(flag if value else "--no-" + flag[2:])
        elif isinstance(value, list):
            args += [flag, ",".join(str(item) for item in value)]
        elif value is not None:
            args += [flag, str(value)]
    return args


def public_base(settings: Settings, url: str | None) -> str:
    if url:
        return url.rstrip("/").removesuffix("/mcp")
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(settings.host, settings.host)
    return f"http://[{host}]:{settings.port}" if ":" in host else f"http://{host}:{settings.port}"


def remote(settings: Settings, url: str | None, name: str) -> Remote:
    endpoint = public_base(settings, url) + "/mcp"
    if "tokens" in settings.auth:
        mint = MINT_HINT.format(name=name)
        return Remote(
            endpoint,
            ("Authorization", f"Bearer {TOKEN_PLACEHOLDER}"),
            [f"Replace {TOKEN_PLACEHOLDER} with an access token; mint one with: {mint}"],
        )
    if "passthrough-key" in settings.auth:
        return Remote(
            endpoint,
            ("X-AssemblyAI-Key", KEY_PLACEHOLDER),
            [f"Replace {KEY_PLACEHOLDER} with your AssemblyAI API key (sent with every request)."],
        )
    return Remote(endpoint, None, ["The server runs without auth (--auth none): keep it on loopback."])


def stdio_server(settings: Settings) -> dict[str, Any]:
    return {
        "command": aai_mcp_command(),
        "args": stdio_args(settings),
        "env": {"ASSEMBLYAI_API_KEY": KEY_PLACEHOLDER},
    }


KEY_NOTE = f"Replace {KEY_PLACEHOLDER} with your AssemblyAI API key (remove it to use the simulator)."


def as_json(servers_key: str, name: str, server: dict[str, Any], extra: dict[str, Any] | None = None) -> str:
    return json.dumps({**(extra or {}), servers_key: {name: server}}, indent=2)


def claude_desktop(settings: Settings, via: Via, url: str | None, name: str) -> Entry:
    where = (
        "Add to claude_desktop_config.json (macOS: ~/Library/Application Support/Claude/, "
        "Windows: %APPDATA%\\Claude\\; Claude Desktop → Settings → Developer → Edit Config), then restart."
    )
    if via == "stdio":
        return Entry(as_json("mcpServers", name, stdio_server(settings)), [where, KEY_NOTE])
    target = remote(settings, url, name)
    args = ["-y", "mcp-remote", target.url]
    if urlsplit(target.url).scheme == "http" and urlsplit(target.url).hostname not in (
        "127.0.0.1",
        "localhost",
    ):
        args.append("--allow-http")  # mcp-remote refuses plain HTTP beyond localhost without it
    server: dict[str, Any] = {"command": "npx", "args": args}
    if target.header:
        # mcp-remote splits arguments at spaces on some platforms: the header value comes from env.
        args += ["--header", f"{target.header[0]}:${{AUTH_HEADER}}"]
        server["env"] = {"AUTH_HEADER": target.header[1]}
    notes = [where, "Needs node (npx) on the machine running Claude Desktop.", *target.notes]
    return Entry(as_json("mcpServers", name, server), notes)


def claude_code(settings: Settings, via: Via, url: str | None, name: str) -> Entry:
    if via == "stdio":
        server = stdio_server(settings)
        words = ["claude", "mcp", "add", name, "--env", f"ASSEMBLYAI_API_KEY={KEY_PLACEHOLDER}", "--"]
        return Entry(
            shlex.join([*words, server["command"], *server["args"]]), ["Run this command.", KEY_NOTE]
        )
    target = remote(settings, url, name)
    words = ["claude", "mcp", "add", "--transport", "http", name, target.url]
    if target.header:
        words += ["--header", f"{target.header[0]}: {target.header[1]}"]
    return Entry(shlex.join(words), ["Run this command.", *target.notes])


def vscode(settings: Settings, via: Via, url: str | None, name: str) -> Entry:
    where = "Save as .vscode/mcp.json in your workspace (or merge into it); VS Code asks for the secret once."
    if via == "stdio":
        server = {
            "type": "stdio",
            **stdio_server(settings),
            "env": {"ASSEMBLYAI_API_KEY": "${input:assemblyai-key}"},
        }
        prompt = {
            "type": "promptString",
            "id": "assemblyai-key",
            "description": "AssemblyAI API key",
            "password": True,
        }
        return Entry(as_json("servers", name, server, {"inputs": [prompt]}), [where])
    target = remote(settings, url, name)
    remote_server: dict[str, Any] = {"type": "http", "url": target.url}
    extra: dict[str, Any] = {}
    if target.header:
        tokens = "tokens" in settings.auth
        secret, label = (
            ("aai-mcp-token", "aai-mcp access token") if tokens else ("assemblyai-key", "AssemblyAI API key")
        )
        value = target.header[1].replace(TOKEN_PLACEHOLDER, "").replace(KEY_PLACEHOLDER, "")
        remote_server["headers"] = {target.header[0]: f"{value}${{input:{secret}}}"}
        extra["inputs"] = [{"type": "promptString", "id": secret, "description": label, "password": True}]
        if tokens:
            where += f" Mint the token with: {MINT_HINT.format(name=name)}"
    return Entry(as_json("servers", name, remote_server, extra), [where])


def cursor(settings: Settings, via: Via, url: str | None, name: str) -> Entry:
    where = "Add to ~/.cursor/mcp.json (every project) or .cursor/mcp.json (this project)."
    if via == "stdio":
        return Entry(as_json("mcpServers", name, stdio_server(settings)), [where, KEY_NOTE])
    target = remote(settings, url, name)
    server: dict[str, Any] = {"url": target.url}
    if target.header:
        server["headers"] = dict([target.header])
    return Entry(as_json("mcpServers", name, server), [where, *target.notes])


def chatgpt(settings: Settings, via: Via, url: str | None, name: str) -> Entry:
    base = public_base(settings, url)
    notes = [
        "In ChatGPT: Settings → Apps & Connectors → Developer mode → Create connector, with this URL.",
        f"Replace <token> with an access token: {MINT_HINT.format(name=name)} --methods read,custom "
        f"--base-url {base}   (prints the whole URL)",
    ]
    if not base.startswith("https://"):
        notes.append(
            "ChatGPT reaches only public HTTPS: pass --url https://YOUR-PUBLIC-HOST (your TLS proxy)."
        )
    if "tokens" not in settings.auth:
        notes.append(
            "Start the server with --auth tokens (and AAI_MCP_TOKEN_SECRETS) so the token is accepted."
        )
    return Entry(f"{base}/mcp/t/<token>", notes)


RENDERERS = {
    "claude-desktop": claude_desktop,
    "claude-code": claude_code,
    "vscode": vscode,
    "cursor": cursor,
    "chatgpt": chatgpt,
}


def client_entry(client: str, settings: Settings, via: Via | None, url: str | None, name: str) -> Entry:
    if client == "chatgpt" and via == "stdio":
        raise ValueError("ChatGPT connects only through a URL: use --via url (the default for chatgpt)")
    chosen: Via = via or ("url" if client == "chatgpt" or url else "stdio")
    return RENDERERS[client](settings, chosen, url, name)


def print_client_config(args: ClientConfigOptions, settings: Settings) -> int:
    try:
        entry = client_entry(args.client, settings, args.via, args.url, args.name)
    except ValueError as exc:
        print(f"aai-mcp: {exc}", file=sys.stderr)
        return 2
    for note in entry.notes:
        print(f"# {note}", file=sys.stderr)
    print(entry.text)
    return 0
