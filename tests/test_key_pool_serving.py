"""The key pool end to end: `aai-mcp serve --auth tokens` with an account of two keys, both of which
the built-in simulator rejects (it only knows its own key): the proxy takes each out, answers 503
`no_usable_key`, and `aai-mcp keys list` (another process, the same store) shows both disabled."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from aai_mcp.access import Scopes, mint
from tests.support.servers import clean_env, serve_in_process
from tests.support.stores import StoreConfig
from tests.support.two_accounts import KEY_A, KEY_B

pytestmark = pytest.mark.slow
SECRET = "pool-serving-secret-0123456789abcdef"


def test_serve_pools_an_accounts_keys_in_the_store(store_config: StoreConfig) -> None:
    env = clean_env(
        AAI_MCP_TOKEN_SECRETS=SECRET,
        AAI_MCP_ACCOUNTS="team=env:POOL_KEY_A,team=env:POOL_KEY_B",
        POOL_KEY_A=KEY_A,
        POOL_KEY_B=KEY_B,
        **store_config.env(),
    )
    if store_config.database_url is not None:
        upgrade = [sys.executable, "-m", "aai_mcp", "db", "upgrade"]
        subprocess.run(upgrade, env=env, check=True, capture_output=True, timeout=120)
    token = mint(SECRET.encode(), name="e2e", scopes=Scopes(proxy=True), expires_at=None, account="team")
    with serve_in_process("--auth", "tokens", "--simulator-delay-seconds", "0", env=env) as server:
        url = f"{server.base_url}/v1/assemblyai/v2/transcript"
        body = {"audio_url": "https://example.com/a.mp3"}
        answer = httpx.post(url, json=body, headers={"authorization": token.token}, timeout=60)
    assert answer.status_code == 503, answer.text
    assert answer.json()["code"] == "no_usable_key"
    assert "retry-after" not in answer.headers  # disabled keys come back only by an operator
    listed = subprocess.run(
        [sys.executable, "-m", "aai_mcp", "keys", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    assert "team/POOL_KEY_A\tweight 1\tdisabled (upstream answered 401)" in listed.stdout
    assert "team/POOL_KEY_B\tweight 1\tdisabled (upstream answered 401)" in listed.stdout
    assert KEY_A not in listed.stdout + listed.stderr
