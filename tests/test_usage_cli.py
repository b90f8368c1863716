"""`aai-mcp usage` end to end: `aai-mcp serve` proxies a team's work to its simulator, then `aai-mcp
usage` in another process shows what the simulator billed, from the same store (SQLite and
PostgreSQL); /metrics shows the same per team."""

from __future__ import annotations

import calendar
import json
import subprocess
import sys

import httpx
import pytest

from aai_mcp.access import Scopes, mint
from aai_mcp.cli.usage_report import period_start
from aai_mcp.config.settings import SIMULATOR_KEY
from tests.support import wav_bytes
from tests.support.servers import clean_env, serve_in_process
from tests.support.stores import StoreConfig

SECRET = "usage-cli-secret-0123456789abcdefgh"


def run_usage(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "aai_mcp", "usage", *argv]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def team_work(base_url: str, token: str) -> tuple[int, dict[str, int]]:
    """A transcript and an LLM answer through the proxy: (audio seconds billed, the LLM's usage)."""
    auth = {"authorization": token}
    with httpx.Client(base_url=f"{base_url}/v1/assemblyai", headers=auth, timeout=60) as client:
        audio_url = client.post("/v2/upload", content=wav_bytes(2.5)).json()["upload_url"]
        body = {"audio_url": audio_url, "speech_models": ["universal-3-pro", "universal-2"]}
        transcript_id = client.post("/v2/transcript", json=body).json()["id"]
        transcript = client.get(f"/v2/transcript/{transcript_id}").json()
        assert transcript["status"] == "completed", transcript
        question = {"model": "claude-sonnet-4-6", "messages": [{"role": "user", "content": "Who spoke?"}]}
        answer = client.post("/llm-gateway/v1/chat/completions", json=question)
        assert answer.status_code == 200 and answer.headers["ratelimit-limit"] == "100"
    return transcript["audio_duration"], answer.json()["usage"]


@pytest.mark.slow
def test_usage_shows_what_the_simulator_billed(store_config: StoreConfig) -> None:
    env = clean_env(
        AAI_MCP_TOKEN_SECRETS=SECRET,
        AAI_MCP_ACCOUNTS="team=env:TEAM_KEY",
        AAI_MCP_TEAM_QUOTAS="team:rpm=100,llm_tokens=1000000",
        TEAM_KEY=SIMULATOR_KEY,
        **store_config.env(),
    )
    if store_config.database_url is not None:
        upgrade = [sys.executable, "-m", "aai_mcp", "db", "upgrade"]
        subprocess.run(upgrade, env=env, check=True, capture_output=True, timeout=120)
    token = mint(SECRET.encode(), name="usage", scopes=Scopes(proxy=True), expires_at=None, account="team")
    with serve_in_process("--auth", "tokens", "--simulator-delay-seconds", "0", env=env) as server:
        audio, llm = team_work(server.base_url, token.token)
        scrape = httpx.get(f"{server.base_url}/metrics", timeout=30).text
    assert f'aai_mcp_team_audio_seconds_total{{team="team"}} {float(audio)}' in scrape
    assert f'aai_mcp_team_llm_prompt_tokens_total{{team="team"}} {float(llm["input_tokens"])}' in scrape
    shown = run_usage(env, "--json")
    assert shown.returncode == 0, shown.stderr
    (team,) = json.loads(shown.stdout)["teams"]
    assert (team["team"], team["audio_seconds"], team["transcripts"]) == ("team", audio, 1)
    assert (team["prompt_tokens"], team["completion_tokens"]) == (llm["input_tokens"], llm["output_tokens"])
    assert team["llm_tokens"] == llm["total_tokens"]
    table = run_usage(env, "--team", "team", "--since", "7d")
    assert table.returncode == 0, table.stderr
    header, row = table.stdout.splitlines()[1:3]
    assert header.split("  ")[0].strip() == "team" and "LLM tokens" in header
    assert row.split() == ["team", f"{audio / 3600:.3f}", "1", str(llm["total_tokens"]), "0.0", "0.0", "0"]
    if store_config.database_url is not None:
        password = store_config.password()
        assert password not in shown.stdout + shown.stderr + table.stdout + table.stderr


@pytest.mark.slow
def test_usage_says_when_the_store_cannot_be_read() -> None:
    env = clean_env(AAI_MCP_DATABASE_URL="postgresql://user:hunter2-secret@127.0.0.1:9/none")
    shown = run_usage(env)
    assert shown.returncode == 1
    assert "aai-mcp usage:" in shown.stderr and "hunter2-secret" not in shown.stderr


def test_since_takes_a_month_a_date_or_a_span() -> None:
    now = float(calendar.timegm((2026, 11, 29, 12, 0, 0)))
    assert period_start("7d", now) == now - 7 * 86400
    assert period_start("12h", now) == now - 12 * 3600
    assert period_start("2026-11-02", now) == calendar.timegm((2026, 11, 2, 0, 0, 0))
    assert period_start("month", 1_795_000_000.0) == 1_793_491_200.0  # 2026-11-01T00:00:00Z
    for wrong in ("yesterday", "7w", "2026-13-01", ""):
        with pytest.raises(ValueError, match="--since"):
            period_start(wrong, now)
