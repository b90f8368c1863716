"""The OAuth consent page: server-rendered, no JavaScript, not frameable, readable on a phone. The
operator signs in (SignIn), sees the client's name, its redirect host and the scopes it asks for, can
narrow them (toolsets, read-only, method classes), pick the upstream account and when access ends, and
approves or denies.

CSRF: GET sets a random nonce in a SameSite=Strict cookie and puts HMAC(request id, nonce) in the
form; a POST counts only with both, so a page elsewhere can neither forge nor replay the form."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from html import escape

from mcp.server.auth.provider import AuthorizationParams
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from aai_mcp.access.oauth_provider import CONSENT_PATH, RefusedClient, StoreProvider
from aai_mcp.access.oauth_scopes import (
    ALL,
    DEFAULT_SCOPES,
    READ_ONLY,
    TOOLSET_PREFIX,
    narrowed,
    offered_methods,
)
from aai_mcp.access.operator_sign_in import SignIn
from aai_mcp.access.sign_in_attempts import Lockout, SignInAttempts
from aai_mcp.state.oauth_store import PendingRequest
from aai_mcp.transports.limits import client_network
from aai_mcp.transports.oauth_consent_form import DAY, LIFETIMES, Offer, document, form_html

COOKIE = "aai_mcp_consent"
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; "
    "base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    # The URL holds the request id: no other site learns it from a Referer. Not no-referrer: under
    # that a browser posts the form with `Origin: null`, which the Origin check rightly refuses.
    "Referrer-Policy": "same-origin",
}


class ConsentPage:
    def __init__(
        self,
        provider: StoreProvider,
        sign_in: SignIn,
        secret: bytes,
        secure_cookie: bool,
        attempts: SignInAttempts,
    ) -> None:
        self.provider = provider
        self.attempts = attempts
        self.sign_in = sign_in
        self.secret = secret
        self.secure_cookie = secure_cookie

    async def respond(self, request: Request) -> Response:
        if request.method == "POST":
            form = await request.form()
            return await self._decide(request, form)
        pending = await self.provider.pending(request.query_params.get("request", ""))
        if pending is None:
            return _message(400, "This authorization request has expired or was already decided.")
        return await self._page(pending)

    async def _decide(self, request: Request, form: FormData) -> Response:
        pending = await self.provider.pending(_field(form, "request"))
        if pending is None:
            return _message(400, "This authorization request has expired or was already decided.")
        nonce = request.cookies.get(COOKIE, "")
        if not nonce or not hmac.compare_digest(self._csrf(pending.request_id, nonce), _field(form, "csrf")):
            return _message(403, "This form did not come from this page or has expired: open the link again.")
        if _field(form, "decision") == "deny":
            return _redirect(await self.provider.deny(pending))
        locked = await self.attempts.attempt(client_network(request.scope))
        if locked is not None:
            return _locked_out(locked)
        subject = self.sign_in.subject({name: _field(form, name) for name in self.sign_in.fields})
        if subject is None:
            return await self._page(pending, "Sign-in failed: check the password.", status=401)
        return await self._approve(pending, form, subject)

    async def _approve(self, pending: PendingRequest, form: FormData, subject: str) -> Response:
        # Only what the page offered counts: a crafted form cannot widen the request.
        offer = self._offer(pending)
        ticked = [str(value) for value in form.getlist("toolset") if value in offer.toolsets]
        methods = [str(value) for value in form.getlist("method") if value in offer.methods]
        account, days = _field(form, "account"), _field(form, "expiry")
        if account not in offer.accounts or days not in LIFETIMES:
            return await self._page(pending, "Choose an account and when access ends.", status=400)
        if not methods:
            return await self._page(pending, "Choose at least one method class.", status=400)
        chosen = narrowed(_requested(pending), ticked, read_only="read_only" in form, methods=methods)
        if not any(scope.startswith(TOOLSET_PREFIX) for scope in chosen):
            return await self._page(pending, "Choose at least one toolset.", status=400)
        lifetime = int(days) * DAY
        return _redirect(
            await self.provider.approve(pending, chosen, subject, account=account, lifetime=lifetime)
        )

    async def _page(self, pending: PendingRequest, error: str = "", status: int = 200) -> Response:
        client = await self.provider.get_client(pending.client_id)
        if client is None or isinstance(client, RefusedClient):
            return _message(400, "The client that asked has been removed or its metadata document refused.")
        nonce = secrets.token_urlsafe(16)
        csrf = self._csrf(pending.request_id, nonce)
        body = form_html(client, pending, self._offer(pending), csrf, self.sign_in, error)
        response = HTMLResponse(document(body), status_code=status, headers=_HEADERS)
        response.set_cookie(
            COOKIE, nonce, max_age=600, path=CONSENT_PATH, httponly=True, samesite="strict",
            secure=self.secure_cookie,
        )  # fmt: skip
        return response

    def _offer(self, pending: PendingRequest) -> Offer:
        requested = _requested(pending)
        if ALL in requested:
            toolsets = list(self.provider.config.toolsets)
        else:
            toolsets = [s[len(TOOLSET_PREFIX) :] for s in requested if s.startswith(TOOLSET_PREFIX)]
        return Offer(
            toolsets, offered_methods(requested), self.provider.config.accounts, READ_ONLY in requested
        )

    def _csrf(self, request_id: str, nonce: str) -> str:
        message = f"consent:{request_id}:{nonce}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()


def _requested(pending: PendingRequest) -> list[str]:
    return AuthorizationParams.model_validate(pending.params).scopes or list(DEFAULT_SCOPES)


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _redirect(url: str | None) -> Response:
    if url is None:
        return _message(400, "This authorization request has expired or was already decided.")
    return RedirectResponse(url, status_code=303, headers=_HEADERS)


def _message(status: int, text: str, headers: dict[str, str] | None = None) -> HTMLResponse:
    body = document(f"<p>{escape(text)}</p>")
    return HTMLResponse(body, status_code=status, headers=_HEADERS | (headers or {}))


def _locked_out(locked: Lockout) -> HTMLResponse:
    minutes = -(-locked.retry_after // 60)
    who = "this server" if locked.overall else "your address"
    text = (
        f"Too many sign-in attempts from {who}: try again in {minutes} minute"
        f"{'' if minutes == 1 else 's'}. Open the client's link again then."
    )
    return _message(429, text, {"Retry-After": str(locked.retry_after)})
