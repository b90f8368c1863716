"""The consent step of an OAuth flow done in a real browser (Debian's chromium, driven by Playwright),
for the mcp SDK's OAuthClientProvider: its redirect handler opens the authorize URL in chromium, the
operator signs in, narrows and approves on the page, chromium follows the redirect to the client's
loopback callback (a real listener, LoopbackSite), and the callback handler hands the code back.

Flow-agnostic: the DCR test and a client-metadata-document variant use the same BrowserOperator."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
from anyio.abc import SocketStream
from anyio.streams.stapled import MultiListener
from mcp.shared.auth import AuthorizationCodeResult

CHROMIUM = Path("/usr/bin/chromium")
MISSING_CHROMIUM = "chromium is missing: apt-get install -y --no-install-recommends chromium"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


def chromium_args() -> list[str]:
    assert CHROMIUM.exists(), MISSING_CHROMIUM
    return ["--no-sandbox"] if os.geteuid() == 0 else []


@dataclass
class LoopbackSite:
    """A tiny HTTP server on 127.0.0.1: `/callback` is a native client's redirect target (RFC 8252),
    any other path answers `pages[path]` (a page on another origin, e.g. one that frames or posts)."""

    port: int = 0
    pages: dict[str, str] = field(default_factory=dict)
    callbacks: list[dict[str, str]] = field(default_factory=list)
    arrived: anyio.Event = field(default_factory=anyio.Event)

    @property
    def callback_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/callback"

    @classmethod
    @asynccontextmanager
    async def running(cls) -> AsyncIterator[LoopbackSite]:
        site = cls()
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        site.port = _port(listener)
        async with listener, anyio.create_task_group() as tasks:
            tasks.start_soon(listener.serve, site._serve)
            try:
                yield site
            finally:
                tasks.cancel_scope.cancel()

    async def _serve(self, stream: SocketStream) -> None:
        async with stream:
            head = b""
            try:
                while b"\r\n\r\n" not in head and len(head) < 65536:
                    head += await stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                return  # a browser's speculative connection, closed unused
            target = head.split(b" ", 2)[1].decode()
            parts = urlsplit(target)
            if parts.path == "/callback":
                self.callbacks.append({k: v[0] for k, v in parse_qs(parts.query).items()})
                self.arrived.set()
                body = "<!doctype html><title>Signed in</title><p>You can close this window.</p>"
            else:
                body = self.pages.get(parts.path, "not here")
            data = body.encode()
            await stream.send(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\nconnection: close\r\n"
                + f"content-length: {len(data)}\r\n\r\n".encode()
                + data
            )


def _port(listener: MultiListener[Any]) -> int:
    from anyio.abc import SocketAttribute

    return int(listener.extra(SocketAttribute.local_port))


@dataclass(frozen=True)
class Choices:
    """What the operator does on the consent page."""

    password: str
    untick_toolsets: tuple[str, ...] = ()
    read_only: bool = False
    untick_methods: tuple[str, ...] = ()
    account: str | None = None
    expiry_days: str | None = None


@dataclass
class BrowserOperator:
    """The SDK's redirect and callback handlers, the consent done by a person in chromium."""

    page: Any
    """A Playwright page (JavaScript on or off: the consent page needs none)."""
    site: LoopbackSite
    choices: Choices
    screenshots: dict[str, Path] = field(default_factory=dict)
    """Viewport name (PHONE, DESKTOP) -> where to save the consent page as first shown."""
    consent_url: str = ""
    shown: str = ""
    """The consent page's text as the operator read it."""

    async def redirect(self, authorize_url: str) -> None:
        await self.page.goto(authorize_url)
        self.consent_url = self.page.url
        assert "/oauth/consent" in self.consent_url, self.consent_url
        self.shown = await self.page.locator("body").inner_text()
        await self._screenshots()
        await self.decide()

    async def decide(self) -> None:
        page, choices = self.page, self.choices
        await page.get_by_label("Operator password").fill(choices.password)
        for toolset in choices.untick_toolsets:
            await page.locator(f'input[name="toolset"][value="{toolset}"]').uncheck()
        for method in choices.untick_methods:
            await page.locator(f'input[name="method"][value="{method}"]').uncheck()
        if choices.read_only:
            await page.locator('input[name="read_only"]').check()
        if choices.account is not None:
            await page.locator('select[name="account"]').select_option(choices.account)
        if choices.expiry_days is not None:
            await page.locator('select[name="expiry"]').select_option(choices.expiry_days)
        await page.get_by_role("button", name="Approve").click()
        with anyio.fail_after(60):
            await self.site.arrived.wait()
        await page.wait_for_url(self.site.callback_url + "*")

    async def callback(self) -> AuthorizationCodeResult:
        assert self.site.callbacks, "chromium never reached the loopback callback"
        back = self.site.callbacks[-1]
        assert "code" in back, back
        return AuthorizationCodeResult(code=back["code"], state=back.get("state"), iss=back.get("iss"))

    async def _screenshots(self) -> None:
        for name, path in self.screenshots.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            await self.page.set_viewport_size(PHONE if name == "phone" else DESKTOP)
            await self.page.screenshot(path=str(path), full_page=True)
