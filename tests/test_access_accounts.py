"""Named AssemblyAI accounts: each token's calls go out with its account's key, and nothing is shared
across accounts, neither keys nor poll loops; configuration errors are clear and never show a key."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import respx
from pydantic import SecretStr

from aai_mcp.access import Scopes, mint
from aai_mcp.access.accounts import AccountsError, load_accounts, load_key_pools
from aai_mcp.config.settings import Settings
from aai_mcp.gateway import Gateway, build_gateway
from aai_mcp.redaction import held_keys
from tests.support import CANARY_KEY, make_settings
from tests.support.servers import clean_env, free_port, serve_gateway_in_thread
from tests.test_access_http import assert_refused, post_call
from tests.test_access_matrix import connect
from tests.test_tools_upstream import completed, queued

pytestmark = pytest.mark.anyio

SECRET = "accounts-signing-secret-0123456789abcdef"
TEAM_A_KEY = "team-a-key-11111111"
TEAM_B_KEY = "team-b-key-22222222"
API = "https://api.assemblyai.com"
AGENTS = "https://agents.assemblyai.com"
TID = completed()["id"]


@pytest.fixture
def accounts_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    monkeypatch.setenv("TEAM_A_KEY", TEAM_A_KEY)
    key_file = tmp_path / "team_b.key"
    key_file.write_text(TEAM_B_KEY + "\n", encoding="utf-8")
    return make_settings(
        auth=["tokens"],
        token_secrets=SECRET,
        accounts=["team_a=env:TEAM_A_KEY", f"team_b=file:{key_file}"],
        wait_poll_initial_seconds=0.05,
        wait_poll_max_seconds=0.05,
    )


@pytest.fixture
def served(accounts_settings: Settings) -> Iterator[tuple[str, Gateway]]:
    gateway = build_gateway(accounts_settings)
    with serve_gateway_in_thread(gateway) as base:
        yield base, gateway


@pytest.fixture
def upstream() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        router.route(host="127.0.0.1").pass_through()
        router.get(f"{API}/v2/transcript").respond(200, json={"transcripts": [], "page_details": {}})
        router.get(f"{AGENTS}/v1/token").respond(200, json={"token": "agent-token", "expires_in": 60})
        yield router


def url_for(base: str, account: str) -> str:
    minted = mint(SECRET.encode(), name=f"{account} bot", scopes=Scopes(), expires_at=None, account=account)
    return f"{base}/mcp/t/{minted.token}"


def outbound(router: respx.MockRouter) -> list[tuple[str, str]]:
    return [
        (call.request.url.host, call.request.headers["authorization"])
        for call in router.calls
        if call.request.url.host != "127.0.0.1"
    ]


async def test_each_account_calls_upstream_with_its_own_key(
    served: tuple[str, Gateway], upstream: respx.MockRouter
) -> None:
    base, _ = served
    for account in ("team_a", "team_b", "default"):
        async with connect(url_for(base, account)) as client:
            assert not (await client.call_tool("list_transcripts", {})).is_error
            assert not (
                await client.call_tool("create_voice_agent_token", {"expires_in_seconds": 60})
            ).is_error
    agents = "agents.assemblyai.com"
    assert outbound(upstream) == [
        ("api.assemblyai.com", TEAM_A_KEY),
        (agents, f"Bearer {TEAM_A_KEY}"),
        ("api.assemblyai.com", TEAM_B_KEY),
        (agents, f"Bearer {TEAM_B_KEY}"),
        ("api.assemblyai.com", CANARY_KEY),  # default: the server's own ASSEMBLYAI_API_KEY
        (agents, f"Bearer {CANARY_KEY}"),
    ]


def test_a_token_for_an_unconfigured_account_is_403(served: tuple[str, Gateway]) -> None:
    base, _ = served
    response = post_call(url_for(base, "team_c"))
    assert_refused(response, 403, "unknown_account")
    assert "an account this server lacks" in response.json()["error"]["message"]
    assert TEAM_A_KEY not in response.text and TEAM_B_KEY not in response.text


# --- poll loops -------------------------------------------------------------------------------------


def team_a_owns_the_transcript(router: respx.MockRouter) -> Counter[str]:
    """team_a's key sees the job complete after a few polls; any other key sees it processing forever."""
    polls: Counter[str] = Counter()

    def answer(request: httpx.Request) -> httpx.Response:
        key = request.headers["authorization"]
        polls[key] += 1
        if key == TEAM_A_KEY and polls[key] > 3:
            return httpx.Response(200, json={**completed(), "text": "team A's confidential call"})
        return httpx.Response(200, json=queued(status="processing"))

    router.get(f"{API}/v2/transcript/{TID}").mock(side_effect=answer)
    return polls


async def waits_together(gateway: Gateway, urls: dict[str, str]) -> tuple[dict[str, Any], int]:
    """Every url waits for TID at once; returns the results and the most poll loops seen at a time."""
    results: dict[str, Any] = {}
    most = 0

    async def wait(name: str, url: str) -> None:
        async with connect(url) as client:
            results[name] = await client.call_tool(
                "wait_for_transcript", {"transcript_id": TID, "timeout_seconds": 1}
            )

    async with anyio.create_task_group() as group:
        for name, url in urls.items():
            group.start_soon(wait, name, url)
        while len(results) < len(urls):
            most = max(most, len(gateway.runner.poller.polling()))
            await anyio.sleep(0.01)
    return results, most


async def test_waits_from_two_accounts_never_share_a_poll_loop(
    served: tuple[str, Gateway], upstream: respx.MockRouter
) -> None:
    base, gateway = served
    polls = team_a_owns_the_transcript(upstream)
    results, loops = await waits_together(
        gateway, {"a": url_for(base, "team_a"), "b": url_for(base, "team_b")}
    )
    assert loops == 2
    assert polls[TEAM_A_KEY] >= 4 and polls[TEAM_B_KEY] >= 1 and set(polls) == {TEAM_A_KEY, TEAM_B_KEY}
    assert results["a"].structured_content["status"] == "completed"
    b = results["b"].structured_content
    assert b["status"] == "processing" and b["timed_out"] is True
    assert "confidential" not in results["b"].model_dump_json()


async def test_waits_from_one_account_do_share_a_poll_loop(
    served: tuple[str, Gateway], upstream: respx.MockRouter
) -> None:
    """The control for the test above: the same setup does coalesce within an account."""
    base, gateway = served
    polls = team_a_owns_the_transcript(upstream)
    results, loops = await waits_together(
        gateway, {"a1": url_for(base, "team_a"), "a2": url_for(base, "team_a")}
    )
    assert loops == 1
    assert set(polls) == {TEAM_A_KEY}
    assert all(result.structured_content["status"] == "completed" for result in results.values())


# --- configuration errors ------------------------------------------------------------------------------

A_KEY_LOOKALIKE = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("entries", "env", "expected"),
    [
        (["team_a=env:TEAM_A_KEY"], {}, "account 'team_a': environment variable TEAM_A_KEY is not set"),
        (["team_a=env:TEAM_A_KEY"], {"TEAM_A_KEY": "  "}, "environment variable TEAM_A_KEY is not set"),
        (["team_a=file:/nonexistent/team_a.key"], {}, "cannot read /nonexistent/team_a.key: No such file"),
        (
            ["team_a=env:X", "team_a=env:X"],
            {"X": A_KEY_LOOKALIKE},
            "account 'team_a' lists key team_a/X twice",
        ),
        (["team_a=env:X*0"], {"X": A_KEY_LOOKALIKE}, "account 'team_a': a weight is a whole number"),
        (["team_a=env:X*two"], {"X": A_KEY_LOOKALIKE}, "account 'team_a': a weight is a whole number"),
        # A key pasted where its source belongs is refused without being repeated back.
        ([f"team_a={A_KEY_LOOKALIKE}"], {}, "account 'team_a': the source must be env:VAR or file:/path"),
        ([A_KEY_LOOKALIKE], {}, "account entry 1 is not name=env:VAR or name=file:/path"),
        (["team_a=env:X", "=env:X"], {"X": A_KEY_LOOKALIKE}, "account entry 2 is not name=env:VAR"),
    ],
)
def test_account_errors_are_clear_and_never_show_a_key(
    entries: list[str], env: dict[str, str], expected: str
) -> None:
    with pytest.raises(AccountsError) as raised:
        load_accounts(entries, SecretStr(CANARY_KEY), env)
    assert expected in str(raised.value)
    assert A_KEY_LOOKALIKE not in str(raised.value) and CANARY_KEY not in str(raised.value)


def test_an_empty_or_unreadable_key_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.key"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(AccountsError, match=f"account 'b': {empty} is empty"):
        load_accounts([f"b=file:{empty}"], None, {})
    with pytest.raises(AccountsError, match="Is a directory"):
        load_accounts([f"b=file:{tmp_path}"], None, {})


@pytest.mark.slow
def test_the_server_refuses_to_start_with_a_bad_account(tmp_path: Path) -> None:
    command = [
        sys.executable, "-m", "aai_mcp", "serve", "--port", str(free_port()), "--auth", "tokens",
        "--accounts", f"team_a=env:TEAM_A_KEY,team_b={A_KEY_LOOKALIKE}",
    ]  # fmt: skip
    env = clean_env(AAI_MCP_TOKEN_SECRETS=SECRET, TEAM_A_KEY=TEAM_A_KEY, ASSEMBLYAI_API_KEY=CANARY_KEY)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 2, done.stderr
    assert "account 'team_b': the source must be env:VAR or file:/path" in done.stderr
    assert "Traceback" not in done.stderr
    for key in (A_KEY_LOOKALIKE, TEAM_A_KEY, CANARY_KEY):
        assert key not in done.stderr


def test_an_account_named_in_several_entries_pools_their_keys(tmp_path: Path) -> None:
    second = tmp_path / "team_a_second.key"
    second.write_text(CANARY_KEY + "\n", encoding="utf-8")
    env = {"TEAM_A_KEY": A_KEY_LOOKALIKE}
    pools = load_key_pools(["team_a=env:TEAM_A_KEY", f"team_a=file:{second}*3"], None, env)
    assert [(key.name, key.weight) for key in pools["team_a"]] == [
        ("team_a/TEAM_A_KEY", 1),
        ("team_a/team_a_second.key", 3),
    ]
    assert pools["team_a"][1].value.get_secret_value() == CANARY_KEY
    assert CANARY_KEY not in repr(pools)  # names in logs and reprs, never values
    # A principal of the account is given the pool's first key (the MCP side, until it uses the pool).
    assert load_accounts(["team_a=env:TEAM_A_KEY"], None, env)["team_a"].get_secret_value() == A_KEY_LOOKALIKE
    held = held_keys(make_settings(accounts=[f"team_a=file:{second}"]))
    assert CANARY_KEY not in held.text(f"key {CANARY_KEY}")
