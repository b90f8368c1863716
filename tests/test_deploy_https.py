"""deploy/https/: aai-mcp with OAuth behind Caddy on public HTTPS (docs/oauth.md). Offline checks: the
compose file parses, its aai-mcp settings are real ones and name the host the Caddyfile serves and
proxies to, secrets come only from the environment; and caddy itself finds the Caddyfile valid."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from aai_mcp.cli.main import build_parser
from tests.test_deploy import known_variables
from tests.test_scale_out import caddy_binary

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "deploy" / "https"
DOMAIN = "${AAI_MCP_DOMAIN:?set AAI_MCP_DOMAIN}"
SECRETS = ("ASSEMBLYAI_API_KEY", "AAI_MCP_TOKEN_SECRETS", "AAI_MCP_OAUTH_OPERATOR_PASSWORD_HASH")


def services() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((HERE / "compose.yaml").read_text())
    return dict(loaded["services"])


def caddy_site() -> tuple[str, str]:
    """The Caddyfile's site address and its reverse_proxy upstream."""
    text = (HERE / "Caddyfile").read_text()
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    site = lines[0].removesuffix("{").strip()
    upstream = re.search(r"reverse_proxy\s+(\S+)", text)
    assert upstream is not None, "the Caddyfile proxies nowhere"
    return site, upstream.group(1)


def test_the_gateway_serves_oauth_for_the_caddy_host() -> None:
    gateway = services()["aai-mcp"]
    args = build_parser().parse_args(gateway["command"][1:])
    assert (args.command, args.host, args.port, args.auth) == ("serve", "0.0.0.0", 8000, "oauth")
    env = gateway["environment"]
    assert env["AAI_MCP_PUBLIC_URL"] == f"https://{DOMAIN}"
    assert env["AAI_MCP_ALLOWED_HOSTS"] == DOMAIN
    site, upstream = caddy_site()
    # Caddy serves the same variable the gateway's public URL is built from, and proxies to it.
    assert site == "{$AAI_MCP_DOMAIN}"
    assert services()["caddy"]["environment"]["AAI_MCP_DOMAIN"] == DOMAIN
    assert upstream == f"aai-mcp:{args.port}"
    assert "8000" in gateway["expose"] and "ports" not in gateway  # reached only through Caddy


def test_every_setting_is_real_and_secrets_come_from_the_environment() -> None:
    env = services()["aai-mcp"]["environment"]
    unknown = {name for name in env if name not in known_variables() and name != "FORWARDED_ALLOW_IPS"}
    assert unknown == set()
    for name in SECRETS:
        assert env[name] == f"${{{name}:?set {name}}}", name
    commented = (HERE / "compose.yaml").read_text()
    assert "AAI_MCP_DATABASE_URL" in commented and "AAI_MCP_REDIS_URL" in commented


@pytest.mark.slow
def test_caddy_finds_the_caddyfile_valid(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path), "AAI_MCP_DOMAIN": "mcp.example.com",
    }  # fmt: skip
    command = [caddy_binary(), "validate", "--config", str(HERE / "Caddyfile"), "--adapter", "caddyfile"]
    checked = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stderr[-2000:]
    assert "Valid configuration" in checked.stdout + checked.stderr
