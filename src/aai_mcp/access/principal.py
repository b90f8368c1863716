"""Who is calling, and what they may do: resolved once per HTTP request from its credentials."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator, Container, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio
from pydantic import SecretStr

from aai_mcp.access.accounts import DEFAULT_ACCOUNT, load_accounts
from aai_mcp.access.last_used import LastUsed
from aai_mcp.access.revocation import RevocationList, RevocationUnavailable
from aai_mcp.access.revocation_feed import RevocationFeed
from aai_mcp.access.scopes import Scopes
from aai_mcp.access.secrets import load_signing_secrets
from aai_mcp.access.tokens import HEADER_NAME, TokenError, verify
from aai_mcp.config.settings import Settings, is_key_text
from aai_mcp.state.store import Store

if TYPE_CHECKING:
    import sqlalchemy as sa

TOKEN_PREFIX = "aai1."
PASSTHROUGH_HEADER = "x-assemblyai-key"
AUTH_MODES = frozenset({"none", "tokens", "passthrough-key", "oauth"})
# Modes whose callers present this server's signed tokens (operator-minted, or issued by OAuth).
SIGNED_TOKEN_MODES = frozenset({"tokens", "oauth"})
MCP_PATH = "/mcp"
SCOPE_KEY = "aai_mcp.principal"
# Sent twice, which copy counts differs between proxies and servers: refused instead of picking one.
# The session id too: it names whose session a request joins.
CREDENTIAL_HEADERS = frozenset({"authorization", PASSTHROUGH_HEADER, HEADER_NAME.lower(), "mcp-session-id"})


@dataclass(frozen=True)
class Principal:
    """A caller: its id for logs and limits, its scopes, and the AssemblyAI key its calls use."""

    id: str
    scopes: Scopes | None = None
    account: str = DEFAULT_ACCOUNT
    api_key: SecretStr | None = field(default=None, repr=False)
    """None: the server's own key for `account`."""
    family: str | None = None
    """An OAuth token's family (Claims.fam)."""

    @property
    def session_owner(self) -> str:
        """Whom its MCP sessions belong to: the OAuth token family, so a refreshed token (a new id)
        keeps the sessions of the one it replaced; else the token id or key fingerprint."""
        return self.family or self.id

    def may_administer(self) -> bool:
        """Only a signed token minted with --admin (the admin API)."""
        return self.scopes is not None and self.scopes.admin is True

    def may_read_metrics(self) -> bool:
        """Only a signed token that grants it (a passthrough principal has no scopes)."""
        return self.scopes is not None and self.scopes.metrics is True

    @property
    def bills_own_key(self) -> bool:
        """A passthrough caller: its calls go out with its own AssemblyAI key, on its own bill, so they
        count as no team's usage."""
        return self.scopes is None and self.api_key is not None

    def partition(self) -> str:
        """Separates shared state (poll loops) between callers with different AssemblyAI keys."""
        if self.api_key is None:
            return f"account:{self.account}"
        return "key:" + hashlib.sha256(self.api_key.get_secret_value().encode()).hexdigest()[:16]


LOCAL = Principal(id="local")


class AuthFailure(Exception):
    """The request is refused before it reaches MCP; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Authenticator:
    """Checks a request's credentials against the configured auth modes.

    A token is refused when its id is in the revocation file or, after `use_store`, in the store's
    revocations (followed while `following()` runs)."""

    def __init__(self, settings: Settings) -> None:
        unknown = set(settings.auth) - AUTH_MODES
        if unknown or not settings.auth:
            raise ValueError(f"auth modes must be among {sorted(AUTH_MODES)}, not {sorted(unknown)}")
        if "none" in settings.auth and len(settings.auth) > 1:
            raise ValueError("auth mode 'none' cannot be combined with other modes")
        self.modes = frozenset(settings.auth)
        self.secrets = load_signing_secrets(settings.token_secrets, settings.token_secret_file)
        for mode in sorted(self.modes & SIGNED_TOKEN_MODES):
            if not self.secrets:
                raise ValueError(f"auth mode '{mode}' needs AAI_MCP_TOKEN_SECRETS or --token-secret-file")
        self.resource = _oauth_resource(self.modes, settings.public_url)
        """This server's MCP URL with auth oauth (what its OAuth tokens are bound to), else None."""
        self.revoked = (
            RevocationList(settings.token_revocation_file) if settings.token_revocation_file else None
        )
        self.feed: RevocationFeed | None = None
        self.oauth_engine: sa.Engine | None = None
        """The store's engine with auth oauth (after `use_store`): clients, consents and codes live there."""
        self.revocations = _AnyOf(self.revoked)
        self.last_used: LastUsed | None = None
        """Notes when each token was used, into the store's issued-token records (after `use_store`)."""
        self.accounts = load_accounts(settings.accounts, settings.api_key)
        self.problem()  # logs a missing or unreadable revocation file at start, not at the first request

    def use_store(self, store: Store) -> None:
        """Refuse the tokens revoked in the store too (with tokens or oauth on); the ids revoked so far
        are read now, so they are refused from the first request."""
        if not self.modes & SIGNED_TOKEN_MODES:
            return
        if "oauth" in self.modes:
            self.oauth_engine = getattr(store, "engine", None)
        self.feed = RevocationFeed(store)
        self.feed.refresh()
        engine = getattr(store, "engine", None)
        if engine is not None:
            from aai_mcp.state.issued_tokens import IssuedTokens

            self.last_used = LastUsed(IssuedTokens(engine))
        self.revocations = _AnyOf(self.revoked, self.feed)

    @property
    def open(self) -> bool:
        return "none" in self.modes

    def problem(self) -> str | None:
        """Why every token is refused right now (the revocation file is missing or unreadable, or the
        store has not been read for too long), or None."""
        if not self.modes & SIGNED_TOKEN_MODES:
            return None
        sources = [source for source in (self.revoked, self.feed) if source is not None]
        return next((problem for source in sources if (problem := source.problem())), None)

    @asynccontextmanager
    async def following(self) -> AsyncIterator[None]:
        """Keeps the store's revoked ids current while the block runs (the HTTP app's lifespan)."""
        if self.feed is None:
            yield
            return
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(self.feed.follow)
            if self.last_used is not None:
                tasks.start_soon(self.last_used.follow)
            try:
                yield
            finally:
                tasks.cancel_scope.cancel()

    def authenticate(self, headers: Mapping[str, str], path_token: str | None) -> Principal:
        if self.open:
            return LOCAL
        bearer = _bearer(headers.get("authorization", ""))
        header_key = headers.get(PASSTHROUGH_HEADER, "").strip()
        _one_credential(path_token, bearer, header_key)
        token = path_token or (bearer if bearer.startswith(TOKEN_PREFIX) else None)
        if token is not None:
            if not self.modes & SIGNED_TOKEN_MODES:
                raise AuthFailure(401, "tokens_disabled", "This server does not accept access tokens.")
            return self._token_principal(token, headers.get(HEADER_NAME.lower()), in_path=bool(path_token))
        if "passthrough-key" in self.modes:
            key = header_key or bearer
            if key and not _plausible_key(key):
                # Refused here: httpx cannot put such a key in a header, and never echoed (it is a secret).
                raise AuthFailure(401, "malformed_key", "An AssemblyAI key is printable ASCII, no spaces.")
            if key:
                # Its own id per key: limits and audit lines must tell callers apart.
                return Principal(id=f"passthrough:{_fingerprint(key)}", api_key=SecretStr(key))
        raise AuthFailure(401, "missing_credentials", self._how_to_authenticate())

    def _token_principal(self, token: str, header_secret: str | None, *, in_path: bool = False) -> Principal:
        try:
            claims = verify(token, self.secrets, time.time(), self.revocations, header_secret)
        except RevocationUnavailable as exc:
            raise AuthFailure(503, exc.code, exc.reason) from None
        except TokenError as exc:
            raise AuthFailure(401, exc.code, exc.reason) from None
        self._check_audience(claims.jti, claims.aud, in_path)
        if claims.scopes.admin and in_path:
            # A URL ends up in logs and browser histories: the token that issues tokens never goes there.
            raise AuthFailure(401, "admin_token_in_path", "Send an admin token as a bearer, not in the URL.")
        if claims.account not in self.accounts and not (
            claims.account == DEFAULT_ACCOUNT and not self.accounts
        ):
            raise AuthFailure(
                403, "unknown_account", f"token {claims.jti} is for an account this server lacks"
            )
        if self.last_used is not None:
            self.last_used.note(claims.jti)
        return Principal(
            id=claims.jti,
            scopes=claims.scopes,
            account=claims.account,
            api_key=self.accounts.get(claims.account),
            family=claims.fam,
        )

    @property
    def resource_metadata(self) -> str | None:
        """The RFC 9728 metadata URL of the MCP endpoint (auth oauth): 401s point clients at it."""
        from mcp.server.auth.routes import build_resource_metadata_url
        from pydantic import AnyHttpUrl

        if self.resource is None:
            return None
        return str(build_resource_metadata_url(AnyHttpUrl(self.resource)))

    def _check_audience(self, jti: str, audience: str | None, in_path: bool) -> None:
        """An OAuth token is valid only for the resource it was issued for (RFC 8707), and only as a
        bearer (the MCP authorization spec: never in the URL, where logs and histories keep it); an
        operator's token (no audience) only while tokens mode is on."""
        if audience is None and "tokens" not in self.modes:
            raise AuthFailure(401, "tokens_disabled", "This server accepts only tokens issued by OAuth.")
        if audience is not None and audience != self.resource:
            raise AuthFailure(401, "wrong_resource", f"token {jti} was issued for another resource")
        if audience is not None and in_path:
            raise AuthFailure(401, "token_in_path", "Send an OAuth access token as a bearer, not in the URL.")

    def _how_to_authenticate(self) -> str:
        ways = []
        if "oauth" in self.modes:
            ways.append("an OAuth access token as 'Authorization: Bearer <token>' (see resource_metadata)")
        if "tokens" in self.modes:
            ways.append("an access token in the URL (/mcp/t/<token>) or as 'Authorization: Bearer <token>'")
        if "passthrough-key" in self.modes:
            ways.append("your AssemblyAI key in 'X-AssemblyAI-Key' or as 'Authorization: Bearer <key>'")
        return "Authentication required: send " + " or ".join(ways) + "."


class _AnyOf:
    """Revoked when any source (the file, the store) says so; a source that cannot tell raises."""

    def __init__(self, *sources: Container[str] | None) -> None:
        self.sources = [source for source in sources if source is not None]

    def __contains__(self, jti: object) -> bool:
        return any(jti in source for source in self.sources)


def _oauth_resource(modes: frozenset[str], public_url: str | None) -> str | None:
    if "oauth" not in modes:
        return None
    if public_url is None:
        raise ValueError("auth mode 'oauth' needs public_url (AAI_MCP_PUBLIC_URL): its metadata names it")
    from mcp.server.auth.routes import validate_issuer_url
    from pydantic import AnyHttpUrl

    # RFC 8414: the issuer is https (plain http only on loopback, for trying it out).
    validate_issuer_url(AnyHttpUrl(public_url))
    return public_url.rstrip("/") + MCP_PATH


def request_headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """An ASGI request's headers by lower-case name; AuthFailure (400) when a credential header repeats."""
    headers: dict[str, str] = {}
    for key, value in raw:
        name = key.decode("latin-1").lower()
        if name in headers and name in CREDENTIAL_HEADERS:
            raise AuthFailure(400, "duplicate_header", f"Send the {name} header once.")
        headers[name] = value.decode("latin-1")
    return headers


def _one_credential(*presented: str | None) -> None:
    """AuthFailure (400) when a request carries two different credentials (path token, bearer, key).

    Whichever one won, a proxy in front that checked the other would be vouching for a different
    caller; the same credential sent twice is one caller."""
    if len({credential for credential in presented if credential}) > 1:
        raise AuthFailure(
            400,
            "conflicting_credentials",
            "Send one credential (a token in the URL, a bearer, or an AssemblyAI key), not two.",
        )


def _plausible_key(key: str) -> bool:
    return is_key_text(key)  # the same rule as for the server's own keys


def _fingerprint(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def _bearer(value: str) -> str:
    scheme, _, credential = value.partition(" ")
    return credential.strip() if scheme.lower() == "bearer" else ""
