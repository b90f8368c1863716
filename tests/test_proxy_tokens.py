"""Who may use the proxy: an aai-mcp token with the proxy scope (raw or Bearer), never a raw
AssemblyAI key unless passthrough mode says so; refusals in one JSON shape, nothing sent upstream."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from aai_mcp.access import Scopes, append_revocation
from aai_mcp.access.principal import Authenticator
from aai_mcp.cli.main import load_command
from aai_mcp.cli.token import scopes_from_args
from aai_mcp.config.command_options import MintOptions
from aai_mcp.gateway import load_default_catalog
from tests.support import CANARY_KEY
from tests.support.proxy_harness import (
    PROXY,
    RecordingUpstream,
    proxy_client,
    proxy_gateway,
    proxy_minted,
    proxy_token,
)
from tests.support.stores import StoreConfig

pytestmark = pytest.mark.anyio
LIST = PROXY + "/v2/transcript"
CALLER_KEY = "caller-own-assemblyai-key-123"


async def get_list(
    upstream: RecordingUpstream, authorization: str | None, **settings: object
) -> httpx.Response:
    headers = {} if authorization is None else {"Authorization": authorization}
    async with proxy_client(proxy_gateway(upstream, **settings)) as client:
        return await client.get(LIST, headers=headers)


def assert_refused(response: httpx.Response, status: int, code: str, upstream: RecordingUpstream) -> None:
    assert response.status_code == status, response.text
    # AssemblyAI's shape (a string `error`, which both SDKs show), the proxy's code beside it.
    assert set(response.json()) == {"error", "code"} and isinstance(response.json()["error"], str)
    assert response.json()["code"] == code
    assert upstream.seen == []
    if status == 401:
        assert response.headers["www-authenticate"] == 'Bearer realm="aai-mcp"'


@pytest.mark.parametrize("form", ["{}", "Bearer {}", "bearer {}"])
async def test_a_proxy_token_raw_or_bearer_is_accepted(form: str) -> None:
    upstream = RecordingUpstream()
    response = await get_list(upstream, form.format(proxy_token()))
    assert response.status_code == 200
    assert upstream.seen[0].request.headers["authorization"] == CANARY_KEY


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        (None, "missing_credentials"),
        ("aai1.not-a-token", "malformed"),
        (CALLER_KEY, "missing_credentials"),
        (f"Bearer {CALLER_KEY}", "missing_credentials"),
    ],
)
async def test_missing_bad_or_raw_keys_are_401(authorization: str | None, code: str) -> None:
    upstream = RecordingUpstream()
    response = await get_list(upstream, authorization)
    assert_refused(response, 401, code, upstream)


async def test_a_token_without_the_proxy_scope_is_403() -> None:
    upstream = RecordingUpstream()
    # An unrestricted MCP token, as `token mint` makes without --proxy.
    response = await get_list(upstream, proxy_token(Scopes()))
    assert_refused(response, 403, "proxy_not_allowed", upstream)


@pytest.mark.parametrize(
    ("scopes", "method", "path", "status"),
    [
        (Scopes(proxy=True, read_only=True), "GET", "/v2/transcript/abc", 200),
        (Scopes(proxy=True, read_only=True), "POST", "/v2/transcript", 403),
        (Scopes(proxy=True, read_only=True), "DELETE", "/v2/transcript/abc", 403),
        (Scopes(proxy=True, methods=frozenset({"upload"})), "POST", "/v2/upload", 200),
        (Scopes(proxy=True, methods=frozenset({"upload"})), "POST", "/llm-gateway/v1/chat/completions", 403),
        (Scopes(proxy=True, methods=frozenset({"read"})), "GET", "/v3/token", 403),
        (Scopes(proxy=True, methods=frozenset({"credentials"})), "GET", "/agents/v1/token", 200),
    ],
)
async def test_a_proxy_call_needs_the_effect_its_method_class_names(
    scopes: Scopes, method: str, path: str, status: int
) -> None:
    upstream = RecordingUpstream()
    async with proxy_client(proxy_gateway(upstream)) as client:
        response = await client.request(method, PROXY + path, headers={"Authorization": proxy_token(scopes)})
    assert response.status_code == status, response.text
    assert len(upstream.seen) == (1 if status == 200 else 0)
    if status == 403:
        assert response.json()["code"] == "proxy_not_allowed"


async def test_a_token_revoked_in_the_file_is_401(tmp_path: Path) -> None:
    upstream = RecordingUpstream()
    minted = proxy_minted()
    revocations = tmp_path / "revoked.txt"
    append_revocation(revocations, minted.claims.jti)
    response = await get_list(upstream, minted.token, token_revocation_file=revocations)
    assert_refused(response, 401, "revoked", upstream)


async def test_a_token_revoked_in_the_store_is_401(tmp_path: Path) -> None:
    upstream = RecordingUpstream()
    minted = proxy_minted()
    store = StoreConfig(tmp_path / "data", None).open(auto_upgrade=True)
    try:
        store.revoke_token(minted.claims.jti)
        gateway = proxy_gateway(upstream)
        authenticator = Authenticator(gateway.settings)
        authenticator.use_store(store)
        async with proxy_client(gateway, authenticator) as client:
            response = await client.get(LIST, headers={"Authorization": minted.token})
    finally:
        store.close()
    assert_refused(response, 401, "revoked", upstream)


@pytest.mark.parametrize("form", ["{}", "Bearer {}"])
async def test_passthrough_mode_forwards_the_callers_own_key(form: str) -> None:
    upstream = RecordingUpstream()
    response = await get_list(upstream, form.format(CALLER_KEY), auth=["passthrough-key"])
    assert response.status_code == 200
    assert upstream.seen[0].request.headers["authorization"] == CALLER_KEY


def test_token_mint_grants_the_proxy_only_with_the_flag() -> None:
    catalog = load_default_catalog()

    def minted_scopes(*flags: str) -> Scopes:
        loaded = load_command(["token", "mint", "--name", "someone", *flags], {})
        return scopes_from_args(loaded.of(MintOptions), catalog)

    assert minted_scopes().allows_proxy() is not None
    assert minted_scopes("--proxy").allows_proxy() is None


async def test_every_proxied_call_writes_one_audit_line_without_ids(caplog: pytest.LogCaptureFixture) -> None:
    gateway = proxy_gateway(RecordingUpstream())
    caplog.set_level(logging.INFO, logger="aai_mcp.audit")
    async with proxy_client(gateway) as client:
        await client.get(f"{PROXY}/v2/transcript/tid-secret-123", headers={"authorization": proxy_token()})
        await client.get(f"{PROXY}/v2/transcript/tid-secret-123", headers={"authorization": "Bearer nope"})
        await client.request("BREW", f"{PROXY}/v2/transcript", headers={"authorization": proxy_token()})
    lines = [r.getMessage() for r in caplog.records if r.name == "aai_mcp.audit"]
    assert len(lines) == 3, lines
    assert "proxy=GET api:/v2/transcript/{} status=200" in lines[0] and "token=" in lines[0]
    assert "token=unauthenticated proxy=unknown status=401" in lines[1]
    assert "proxy=unknown status=404" in lines[2] and "BREW" not in lines[2]
    assert not any("tid-secret-123" in line for line in lines)
