"""The mcp SDK's OAuth client (OAuthClientProvider) against a served gateway, with in-memory storage,
its consent step handed to an operator (tests/support/browser_consent.BrowserOperator or a stand-in)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

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
