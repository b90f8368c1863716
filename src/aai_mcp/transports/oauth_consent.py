"""The OAuth consent page: server-rendered, no JavaScript, not frameable, readable on a phone. The
operator signs in (SignIn), sees the client's name, its redirect host and the scopes it asks for, can
narrow them to some toolsets and read-only, and approves or denies.

CSRF: GET sets a random nonce in a SameSite=Strict cookie and puts HMAC(request id, nonce) in the
form; a POST counts only with both, so a page elsewhere can neither forge nor replay the form."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from html import escape
from urllib.parse import urlsplit

from mcp.server.auth.provider import AuthorizationParams
from mcp.shared.auth import OAuthClientInformationFull
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from aai_mcp.access.client_metadata_documents import is_document_client_id
from aai_mcp.access.oauth_provider import CONSENT_PATH, RefusedClient, StoreProvider
from aai_mcp.access.oauth_scopes import ALL, DEFAULT_SCOPES, READ_ONLY, TOOLSET_PREFIX, narrowed
from aai_mcp.access.operator_sign_in import SignIn
from aai_mcp.state.oauth_store import PendingRequest

COOKIE = "aai_mcp_consent"
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; "
    "base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    # The URL holds the request id: no other site learns it from a Referer.
    "Referrer-Policy": "no-referrer",
}
_STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:1rem auto;padding:0 1rem}"
    "label{display:block;margin:.4rem 0}input[type=password]{width:100%;padding:.5rem;font-size:1rem}"
    "button{font-size:1rem;padding:.6rem 1.2rem;margin:.5rem .5rem 0 0}.error{color:#b00020}"
)


class ConsentPage:
    def __init__(self, provider: StoreProvider, sign_in: SignIn, secret: bytes, secure_cookie: bool) -> None:
        self.provider = provider
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
        subject = self.sign_in.subject({name: _field(form, name) for name in self.sign_in.fields})
        if subject is None:
            return await self._page(pending, "Sign-in failed: check the password.", status=401)
        # Only toolsets the page offered count: a crafted form cannot widen the request.
        offered = self._offered(pending)
        ticked = [str(value) for value in form.getlist("toolset") if value in offered]
        chosen = narrowed(_requested(pending), ticked, read_only="read_only" in form)
        if not any(scope.startswith(TOOLSET_PREFIX) for scope in chosen):
            return await self._page(pending, "Choose at least one toolset.", status=400)
        return _redirect(await self.provider.approve(pending, chosen, subject))

    async def _page(self, pending: PendingRequest, error: str = "", status: int = 200) -> Response:
        client = await self.provider.get_client(pending.client_id)
        if client is None or isinstance(client, RefusedClient):
            return _message(400, "The client that asked has been removed or its metadata document refused.")
        nonce = secrets.token_urlsafe(16)
        body = _form_html(
            client,
            pending,
            self._offered(pending),
            self._csrf(pending.request_id, nonce),
            self.sign_in,
            error,
        )
        response = HTMLResponse(_document(body), status_code=status, headers=_HEADERS)
        response.set_cookie(
            COOKIE, nonce, max_age=600, path=CONSENT_PATH, httponly=True, samesite="strict",
            secure=self.secure_cookie,
        )  # fmt: skip
        return response

    def _offered(self, pending: PendingRequest) -> list[str]:
        requested = _requested(pending)
        if ALL in requested:
            return list(self.provider.config.toolsets)
        return [s[len(TOOLSET_PREFIX) :] for s in requested if s.startswith(TOOLSET_PREFIX)]

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


def _message(status: int, text: str) -> HTMLResponse:
    return HTMLResponse(_document(f"<p>{escape(text)}</p>"), status_code=status, headers=_HEADERS)


def _document(body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>Authorize access to aai-mcp</title><style>{_STYLE}</style></head><body>{body}</body></html>"
    )


def _form_html(
    client: OAuthClientInformationFull,
    pending: PendingRequest,
    toolsets: list[str],
    csrf: str,
    sign_in: SignIn,
    error: str,
) -> str:
    params = AuthorizationParams.model_validate(pending.params)
    name = escape(client.client_name or str(client.client_id))
    host = escape(urlsplit(str(params.redirect_uri)).netloc)
    boxes = "".join(
        f'<label><input type="checkbox" name="toolset" value="{escape(t)}" checked> {escape(t)}</label>'
        for t in toolsets
    )
    forced = READ_ONLY in _requested(pending)
    read_only = (
        f'<label><input type="checkbox" name="read_only" value="1"{" checked disabled" if forced else ""}>'
        " Read-only: only tools that change nothing</label>"
    )
    inputs = (
        "".join(
            f'<label>Operator {escape(field)} <input type="password" name="{escape(field)}" '
            'autocomplete="current-password" required></label>'
            for field in sign_in.fields
        )
        or '<p class="error">No operator sign-in is configured: this server cannot approve clients.</p>'
    )
    notice = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    return (
        f"<h1>Allow {name}?</h1>{notice}"
        f"<p><strong>{name}</strong> asks to use this aai-mcp server; it will be sent back to "
        f"<strong>{host}</strong>.</p>{_identity(client)}"
        f'<form method="post" action="{CONSENT_PATH}">'
        f'<input type="hidden" name="request" value="{escape(pending.request_id)}">'
        f'<input type="hidden" name="csrf" value="{csrf}">'
        f"<fieldset><legend>Toolsets it may use</legend>{boxes}{read_only}</fieldset>{inputs}"
        '<button type="submit" name="decision" value="approve">Approve</button>'
        '<button type="submit" name="decision" value="deny" formnovalidate>Deny</button></form>'
    )


def _identity(client: OAuthClientInformationFull) -> str:
    """For a client metadata document: whose word the name above is (anyone can claim any name)."""
    if not is_document_client_id(client.client_id):
        return ""
    return (
        f"<p>This client is identified by its URL host <strong>{escape(urlsplit(client.client_id).netloc)}"
        "</strong>: the name above is what the metadata document there says.</p>"
    )
