"""The mcp SDK's OAuth client (OAuthClientProvider) against a served gateway, with in-memory storage,
its consent step handed to an operator (tests/support/browser_consent.BrowserOperator or a stand-in)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

import httpx
import httpx2
from mcp.client import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)

from tests.support.oauth_flow import consent, open_consent, query


class MemoryStorage:
    """The SDK client's token storage, in memory."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


class Operator(Protocol):
    async def redirect(self, authorize_url: str) -> None: ...

    async def callback(self) -> AuthorizationCodeResult: ...


@asynccontextmanager
async def oauth_session(
    base_url: str,
    metadata: OAuthClientMetadata,
    operator: Operator,
    storage: MemoryStorage,
    client_metadata_url: str | None = None,
) -> AsyncIterator[Client]:
    """An MCP session to `base_url`/mcp, authorized by the SDK's flow (discovery, registration by
    DCR or, with `client_metadata_url`, a client metadata document, PKCE, the operator's consent, the
    code exchange)."""
    auth = OAuthClientProvider(
        f"{base_url}/mcp",
        metadata,
        storage,
        operator.redirect,
        operator.callback,
        client_metadata_url=client_metadata_url,
    )
    async with httpx2.AsyncClient(auth=auth, timeout=httpx2.Timeout(30, read=120)) as http:
        async with Client(streamable_http_client(f"{base_url}/mcp", http_client=http)) as client:
            yield client


class FormOperator:
    """Stands in for the operator's browser: follows the authorize URL to the consent page and approves
    with everything offered (an HTTP client posting the form; tests/support/browser_consent.py is the
    real browser)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.result: AuthorizationCodeResult | None = None
        self.consent_status = 0

    async def redirect(self, authorize_url: str) -> None:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=30) as http:
            started = await http.get(authorize_url)
            assert started.status_code == 302, started.text
            form = await open_consent(http, started.headers["location"])
            approved = await consent(http, form)
            self.consent_status = approved.status_code
            assert approved.status_code == 303, approved.text
            back = query(approved.headers["location"])
            self.result = AuthorizationCodeResult(code=back["code"], state=back.get("state"))

    async def callback(self) -> AuthorizationCodeResult:
        assert self.result is not None, "the consent step did not run"
        return self.result
