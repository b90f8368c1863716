"""The admin API under /admin/v1, for provisioning by program (as managed MCP platforms offer it):

    POST   /admin/v1/tokens        issue a token; the answer holds it (once) and its ready URLs
    GET    /admin/v1/tokens        the issued tokens, never their secrets (?all=1: expired ones too)
    DELETE /admin/v1/tokens/{id}   revoke one, at once on every instance (the store's revocations)
    GET    /admin/v1/grants        the OAuth grants, never a secret

Only a bearer token minted with `aai-mcp token mint --admin` gets in (none: 401, any other: 403); it
is never read from the URL. The routes exist when the server accepts tokens and has a store. Every
answer is `Cache-Control: no-store`; Host and Origin are checked in front of every route (HostCheck).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, Router

from aai_mcp.access.issuing import issue, ready_urls
from aai_mcp.access.principal import Authenticator, AuthFailure, Principal, request_headers
from aai_mcp.access.tokens import HEADER_NAME, JTI_PATTERN
from aai_mcp.catalog import Catalog
from aai_mcp.transports.admin_requests import RequestRefused, TokenRequest
from aai_mcp.transports.auth import refusal_response

if TYPE_CHECKING:
    from aai_mcp.state.issued_tokens import IssuedToken, IssuedTokens

audit = logging.getLogger("aai_mcp.audit")

ADMIN_PREFIX = "/admin/v1"
MAX_BODY_BYTES = 16 * 1024
Handler = Callable[[Request, Principal], Awaitable[Response]]
NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


class AdminApi:
    """The routes, around the authenticator (who may), the store's records and the catalog."""

    def __init__(
        self, authenticator: Authenticator, records: IssuedTokens, catalog: Catalog, public_url: str | None
    ) -> None:
        self.authenticator = authenticator
        self.records = records
        self.catalog = catalog
        self.public_url = public_url

    def router(self) -> Router:
        return Router(
            routes=[
                Route("/tokens", self.guarded(self.issue_token), methods=["POST"]),
                Route("/tokens", self.guarded(self.list_tokens), methods=["GET"]),
                Route("/tokens/{token_id}", self.guarded(self.revoke_token), methods=["DELETE"]),
                Route("/grants", self.guarded(self.list_grants), methods=["GET"]),
            ]
        )

    def guarded(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """`handler` behind the admin check, its refusals as JSON, every answer marked no-store."""

        async def endpoint(request: Request) -> Response:
            caller = "-"
            try:
                principal = self.admin(request)
            except AuthFailure as failure:
                response: Response = refusal_response(failure, self.authenticator.resource_metadata)
            else:
                caller = principal.id
                try:
                    response = await handler(request, principal)
                except RequestRefused as exc:
                    response = _error(exc.status, exc.code, str(exc))
            response.headers.update(NO_STORE)
            # One line per call, as tools and the proxy write: who, what, the answer (token ids are
            # not secrets; a token itself is never in a path).
            audit.info(
                "token=%s admin=%s %s status=%d",
                caller,
                request.method,
                request.url.path,
                response.status_code,
            )
            return response

        return endpoint

    def admin(self, request: Request) -> Principal:
        """The caller, when its bearer token grants admin; AuthFailure (401 none or bad, 403 other)."""
        headers = request_headers(request.scope["headers"])
        if not headers.get("authorization", "").strip():
            # Nothing else counts here (a key, the path): say what does.
            message = "Send an admin token as 'Authorization: Bearer <token>'."
            raise AuthFailure(401, "missing_credentials", message)
        principal = self.authenticator.authenticate(headers, None)
        if not principal.may_administer():
            message = "This credential may not use the admin API (a token minted with --admin may)."
            raise AuthFailure(403, "admin_forbidden", message)
        return principal

    async def issue_token(self, request: Request, principal: Principal) -> Response:
        body = await _bounded_json(request)
        try:
            asked = TokenRequest.model_validate(body)
        except ValidationError as exc:
            raise RequestRefused("invalid_request", _validation_message(exc)) from None
        now = time.time()
        scopes = asked.scopes(self.catalog)
        expires_at = asked.expiry(now)
        accounts = self.authenticator.accounts
        account = asked.checked_account(accounts, bool(accounts))
        minted = await anyio.to_thread.run_sync(
            lambda: issue(
                self.authenticator.secrets[0], self.records, name=asked.name, scopes=scopes,
                expires_at=expires_at, account=account, require_header=asked.require_header,
                creator=f"admin-api:{principal.id}", now=now,
            )
        )  # fmt: skip
        record = await self._record(minted.jti)
        answer: dict[str, Any] = {
            "token": minted.token,
            "id": minted.jti,
            **ready_urls(self.public_url or f"{request.url.scheme}://{request.headers['host']}", minted),
            "header": None if minted.header_secret is None else {HEADER_NAME: minted.header_secret},
            "record": None if record is None else record.as_json(now),
        }
        return JSONResponse(answer, status_code=201)

    async def _record(self, token_id: str) -> IssuedToken | None:
        return await anyio.to_thread.run_sync(self.records.get, token_id)

    async def list_tokens(self, request: Request, principal: Principal) -> Response:
        if self.authenticator.last_used is not None:
            await self.authenticator.last_used.flush()  # this instance's recent use shows at once
        every = request.query_params.get("all", "") in ("1", "true")
        found = await anyio.to_thread.run_sync(lambda: self.records.listed(include_expired=every))
        now = time.time()
        return JSONResponse({"tokens": [token.as_json(now) for token in found]})

    async def revoke_token(self, request: Request, principal: Principal) -> Response:
        token_id = request.path_params["token_id"]
        if not re.fullmatch(JTI_PATTERN, token_id):
            raise RequestRefused("invalid_request", "not a token id (they look like tok_abcdefgh2345)")
        record = await self._record(token_id)
        feed = self.authenticator.feed
        assert feed is not None  # the routes exist only with a store
        added = await anyio.to_thread.run_sync(
            lambda: feed.store.revoke_token(
                token_id,
                reason=f"admin API ({principal.id})",
                expires_at=None if record is None else record.expires_at,
            )
        )
        await anyio.to_thread.run_sync(self.records.mark_revoked, token_id)
        await feed.refresh_soon()  # refused here from the next request; elsewhere within a refresh
        return JSONResponse({"id": token_id, "revoked": True, "already_revoked": not added,
                             "recorded": record is not None})  # fmt: skip

    async def list_grants(self, request: Request, principal: Principal) -> Response:
        engine = self.records.engine
        from aai_mcp.state.oauth_store import OAuthRecords  # SQL-backed: loaded on first use

        rows = await anyio.to_thread.run_sync(lambda: OAuthRecords(engine).grants_listed())
        return JSONResponse({"grants": [_grant_view(row) for row in rows]})


def admin_routes(authenticator: Authenticator, catalog: Catalog, public_url: str | None) -> list[Mount]:
    """The admin API's mount when the server accepts its own tokens and has a store, else nothing (404)."""
    engine = None if authenticator.feed is None else getattr(authenticator.feed.store, "engine", None)
    if "tokens" not in authenticator.modes or engine is None or not authenticator.secrets:
        return []
    from aai_mcp.state.issued_tokens import IssuedTokens  # SQL-backed: loaded only with a store

    api = AdminApi(authenticator, IssuedTokens(engine), catalog, public_url)
    return [Mount(ADMIN_PREFIX, app=api.router())]


async def _bounded_json(request: Request) -> Any:
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise RequestRefused("invalid_request", "send the body as application/json")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise RequestRefused("body_too_large", f"the body is over {MAX_BODY_BYTES} bytes", status=413)
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise RequestRefused("invalid_request", "the body is not JSON") from None


def _validation_message(exc: ValidationError) -> str:
    # Field names and the rule broken only: never the input, which may be long or hostile.
    parts = [f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()[:5]]
    return "; ".join(parts)


def _grant_view(row: dict[str, Any]) -> dict[str, Any]:
    from aai_mcp.access.tokens import format_time

    return {
        "id": row["grant_id"],
        "client_id": row["client_id"],
        "client_name": row.get("client_name"),
        "subject": row["subject"],
        "scopes": list(row["scopes"]),
        "resource": row["resource"],
        "created_at": format_time(row["created_at"]),
        "revoked_at": None if row["revoked_at"] is None else format_time(row["revoked_at"]),
    }


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)
