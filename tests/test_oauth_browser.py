"""The OAuth consent in a real browser (issue 15 parts 4 and 6): the mcp SDK's OAuthClientProvider
against `aai-mcp serve --auth oauth`, registering by DCR, its authorize URL opened in Debian's chromium
(Playwright); the operator signs in, unticks a toolset, picks read-only and approves; chromium follows
the redirect to the client's loopback callback; the client's tool calls then hold to that narrowing.
Also in chromium: the page works with JavaScript off, cannot be framed, and refuses a cross-site post.
Screenshots of the consent page (phone and desktop) are kept under test-artifacts/consent/."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp.shared.auth import OAuthClientMetadata
from pydantic import AnyUrl

from aai_mcp.access.operator_sign_in import hash_password
from tests.support.browser_consent import CHROMIUM, BrowserOperator, Choices, LoopbackSite, chromium_args
from tests.support.oauth_client import MemoryStorage, oauth_session
from tests.support.oauth_flow import PASSWORD, authorize, new_pkce, query, register
from tests.support.servers import ServerProcess, aai_mcp_command, clean_env, free_port, server_process

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

SECRET = "oauth-browser-secret-0123456789abcdef"
ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "consent"


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    env = clean_env(
        AAI_MCP_TOKEN_SECRETS=SECRET, AAI_MCP_OAUTH_OPERATOR_PASSWORD_HASH=hash_password(PASSWORD)
    )
    command = aai_mcp_command("serve", port, "--auth", "oauth", "--public-url", origin)
    with server_process(command, port, env) as started:
        yield started


@pytest.fixture
async def site() -> AsyncIterator[LoopbackSite]:
    async with LoopbackSite.running() as loopback:
        yield loopback


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    args = chromium_args()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
        yield launched
        await launched.close()


def metadata(site: LoopbackSite, name: str) -> OAuthClientMetadata:
    return OAuthClientMetadata(
        client_name=name, redirect_uris=[AnyUrl(site.callback_url)], grant_types=["authorization_code"],
        response_types=["code"], token_endpoint_auth_method="none",
    )  # fmt: skip


async def test_the_sdk_client_gets_a_token_narrowed_in_chromium(
    server: ServerProcess, site: LoopbackSite, browser: Any
) -> None:
    page = await browser.new_page()
    shots = {"phone": ARTIFACTS / "consent-phone.png", "desktop": ARTIFACTS / "consent-desktop.png"}
    operator = BrowserOperator(page, site, Choices(PASSWORD, untick_toolsets=("llm",), read_only=True), shots)
    storage = MemoryStorage()
    with anyio.fail_after(180):
        async with oauth_session(
            server.base_url, metadata(site, "Browser flow"), operator, storage
        ) as client:
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            listed = await client.call_tool("list_transcripts", {})
    assert site.callbacks and site.callbacks[-1]["code"]  # chromium reached the loopback callback
    assert "Signed in" in await page.title()
    assert storage.client is not None and storage.client.client_id  # registered by DCR
    assert storage.tokens is not None and storage.tokens.scope is not None
    granted = storage.tokens.scope.split()
    assert "mcp:read-only" in granted and "toolset:llm" not in granted
    assert not listed.is_error, listed
    assert tools and all(tool.annotations and tool.annotations.read_only_hint for tool in tools.values())
    assert "delete_transcript" not in tools and "list_transcripts" in tools
    for shot in shots.values():
        assert shot.stat().st_size > 5_000


async def test_with_javascript_off_the_operator_can_still_approve(
    server: ServerProcess, site: LoopbackSite, browser: Any
) -> None:
    context = await browser.new_context(java_script_enabled=False)
    page = await context.new_page()
    choices = Choices(PASSWORD, untick_methods=("delete", "credentials"), expiry_days="7")
    operator = BrowserOperator(page, site, choices)
    storage = MemoryStorage()
    with anyio.fail_after(180):
        async with oauth_session(server.base_url, metadata(site, "No script"), operator, storage) as client:
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert storage.tokens is not None and storage.tokens.scope is not None
    granted = storage.tokens.scope.split()
    assert "method:read" in granted and "method:delete" not in granted and "mcp:read-only" not in granted
    assert "delete_transcript" not in tools and "list_transcripts" in tools
    # Read-only was left unticked: a tool that changes something is there.
    assert any(tool.annotations and not tool.annotations.read_only_hint for tool in tools.values())
    await context.close()


async def pending_consent(server: ServerProcess, site: LoopbackSite) -> str:
    """A registered client's authorization request, waiting at its consent page URL."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        client_id = await register(http, redirect=site.callback_url)
        started = await authorize(http, client_id, new_pkce(), redirect_uri=site.callback_url)
    assert started.status_code == 302, started.text
    return str(started.headers["location"])


async def test_the_consent_page_shows_nothing_inside_another_sites_frame(
    server: ServerProcess, site: LoopbackSite, browser: Any
) -> None:
    consent_url = await pending_consent(server, site)
    site.pages["/hello"] = "<p>hello from the framing site</p>"
    site.pages["/frame"] = (
        f'<iframe name="consent" src="{consent_url}"></iframe>'
        f'<iframe name="control" src="http://localhost:{site.port}/hello"></iframe>'
    )
    page = await browser.new_page()
    await page.goto(f"http://localhost:{site.port}/frame")
    control = page.frame(name="control")
    assert control is not None
    # A refused frame loses its name (chromium puts its own error page there): the other child.
    others = [f for f in page.main_frame.child_frames if f is not control]
    assert len(others) == 1
    framed = others[0]
    with anyio.fail_after(60):
        while "hello from the framing site" not in await control.content():
            await control.wait_for_load_state()
    # Blocked by frame-ancestors 'none' / X-Frame-Options: the frame holds none of the page.
    assert "Operator password" not in await framed.content()
    await page.screenshot(path=str(ARTIFACTS / "consent-framed.png"))
    # The same URL, not framed, is the consent page (so the check above can fail).
    direct = await browser.new_page()
    await direct.goto(consent_url)
    assert "Operator password" in await direct.content()


async def test_a_cross_site_form_post_is_refused_and_decides_nothing(
    server: ServerProcess, site: LoopbackSite, browser: Any
) -> None:
    consent_url = await pending_consent(server, site)
    request_id = query(consent_url)["request"]
    page = await browser.new_page()
    await page.goto(consent_url)  # the operator has the page open: its cookie is in this browser
    site.pages["/attack"] = (
        f'<form method="post" action="{server.base_url}/oauth/consent">'
        f'<input type="hidden" name="request" value="{request_id}">'
        f'<input type="hidden" name="csrf" value="{"0" * 64}">'
        f'<input type="hidden" name="password" value="{PASSWORD}">'
        '<input type="hidden" name="toolset" value="transcripts">'
        '<input type="hidden" name="method" value="read">'
        '<input type="hidden" name="account" value="default">'
        '<input type="hidden" name="expiry" value="90">'
        '<button name="decision" value="approve">Win a prize</button></form>'
    )
    attacker = await browser.new_page()
    await attacker.goto(f"http://localhost:{site.port}/attack")
    async with attacker.expect_response(f"{server.base_url}/oauth/consent") as posted:
        await attacker.get_by_role("button", name="Win a prize").click()
    assert (await posted.value).status == 403
    assert site.callbacks == []  # no code went anywhere
    # The request is still the operator's to decide.
    operator = BrowserOperator(page, site, Choices(PASSWORD))
    await operator.decide()
    assert "code" in site.callbacks[-1]
