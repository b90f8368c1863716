"""The SDK's OAuthAuthorizationServerProvider, backed by the store: clients registered by DCR or
described by a client metadata document (access/client_metadata_documents.py), authorization
requests held for the consent page, single-use codes, and access tokens that are this server's signed
tokens (access/tokens.py) carrying the approved scopes and bound to this server's MCP URL (RFC 8707),
so they pass through the same checks as operator-minted ones. Each code exchange starts a token
family (state/oauth_families.py): refresh tokens rotate on every use, may only narrow the scopes,
and a rotated one presented again revokes the whole family."""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from functools import cached_property
from ipaddress import ip_address
from urllib.parse import urlsplit, urlunsplit

import anyio
from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    AuthorizeError,
    OAuthAuthorizationServerProvider,
    RefreshToken,
    RegistrationError,
    TokenError,
    construct_redirect_uri,
)
from mcp.shared.auth import InvalidRedirectUriError, InvalidScopeError, OAuthClientInformationFull, OAuthToken
from pydantic import AnyUrl

from aai_mcp.access.client_metadata_documents import (
    DEFAULT_FETCH_SECONDS,
    DocumentRefused,
    MetadataDocuments,
    fetch_limits,
    is_document_client_id,
)
from aai_mcp.access.oauth_scopes import supported, to_scopes, unknown
from aai_mcp.access.scopes import Scopes
from aai_mcp.access.tokens import TokenError as AccessTokenError
from aai_mcp.access.tokens import check_signature, mint
from aai_mcp.state.oauth_families import FamilyRevoked, Issued, TokenFamilies
from aai_mcp.state.oauth_store import Grant, OAuthRecords, PendingRequest, hashed, new_secret

CODE_SECONDS = 60.0
REQUEST_SECONDS = 600.0
ACCESS_SECONDS = 3600
REFRESH_SECONDS = 30 * 86400
CONSENT_PATH = "/oauth/consent"


class LoopbackClient(OAuthClientInformationFull):
    """A registered client whose loopback redirect URIs match on any port (RFC 8252 §7.3: a native
    app listens on whatever port it got); every other redirect URI matches exactly."""

    def validate_redirect_uri(self, redirect_uri: AnyUrl | None) -> AnyUrl:
        if redirect_uri is not None and any(
            _same_loopback(str(redirect_uri), str(registered)) for registered in self.redirect_uris or []
        ):
            return redirect_uri
        return super().validate_redirect_uri(redirect_uri)


REFUSED_METHOD = "client_metadata_document_refused"


class RefusedClient(OAuthClientInformationFull):
    """Stands in for a client whose metadata document was refused. The SDK's authorize handler says
    only "not found" for a missing client; this one makes it answer invalid_request with the reason,
    without redirecting anywhere. Its auth method is one the SDK does not know, so the token endpoint's
    client authentication fails (invalid_client, "Unsupported auth method: <REFUSED_METHOD>")."""

    refusal: str = ""

    def validate_redirect_uri(self, redirect_uri: AnyUrl | None) -> AnyUrl:
        raise InvalidRedirectUriError("client metadata document refused: " + self.refusal)

    def validate_scope(self, requested_scope: str | None) -> list[str] | None:
        raise InvalidScopeError("client metadata document refused: " + self.refusal)


@dataclass(frozen=True)
class OAuthConfig:
    resource: str
    """This server's MCP URL (public_url + /mcp): the one resource its tokens are for."""
    public_url: str
    toolsets: tuple[str, ...]
    secret: bytes
    """The newest token signing secret."""
    accounts: tuple[str, ...] = ("default",)
    """The configured upstream accounts the consent page offers (a grant's tokens use one)."""
    access_seconds: int = ACCESS_SECONDS
    refresh_seconds: int = REFRESH_SECONDS


class GrantedCode(AuthorizationCode):
    """A code with what its grant fixed beyond scopes: the account and the grant's end."""

    account: str = "default"
    grant_expires_at: float | None = None


class FamilyRefreshToken(RefreshToken):
    """A refresh token with the grant (family) it belongs to, and what that grant fixed: the account
    its tokens use and its end."""

    grant_id: str
    account: str = "default"
    grant_expires_at: float | None = None


class StoreProvider(OAuthAuthorizationServerProvider[AuthorizationCode, FamilyRefreshToken, AccessToken]):
    """OAuthAuthorizationServerProvider over OAuthRecords. The records block: each call runs in a thread."""

    def __init__(
        self, records: OAuthRecords, config: OAuthConfig, documents: MetadataDocuments | None = None
    ) -> None:
        self.records = records
        self.config = config
        self.documents = documents or MetadataDocuments(fetch_limits((), DEFAULT_FETCH_SECONDS))

    @cached_property
    def families(self) -> TokenFamilies:
        """Refresh tokens and the tokens issued per grant, on the records' engine and clock."""
        return TokenFamilies(self.records.engine, self.records.clock)

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        """A DCR registration from the store, or for a URL the client its metadata document describes
        (a RefusedClient when that document is refused)."""
        if is_document_client_id(client_id):
            return await self._document_client(client_id)
        info = await anyio.to_thread.run_sync(self.records.client, client_id)
        return None if info is None else LoopbackClient.model_validate(info)

    async def _document_client(self, client_id: str) -> OAuthClientInformationFull:
        try:
            info = await self.documents.client(client_id)
            if not all(_allowed_redirect(str(uri)) for uri in info.redirect_uris or []):
                raise DocumentRefused("its redirect_uris must be https, or http on a loopback address")
        except DocumentRefused as refused:
            return RefusedClient(
                client_id=client_id, token_endpoint_auth_method=REFUSED_METHOD, refusal=refused.message
            )
        # A document without `scope` may ask for any of ours (DCR fills in the same default): the
        # operator narrows them on the consent page.
        fields = {"scope": " ".join(supported(self.config.toolsets))} | info.model_dump(exclude_none=True)
        return LoopbackClient.model_validate(fields)

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        for uri in client_info.redirect_uris or []:
            if not _allowed_redirect(str(uri)):
                raise RegistrationError(
                    "invalid_redirect_uri", "a redirect URI is https, or http on a loopback address"
                )
        stored = client_info.model_dump(mode="json", exclude_none=True)
        # The client got its secret in the registration response; the store keeps only its hash.
        secret = stored.pop("client_secret", None)
        secret_hash = None if secret is None else hashed(secret)
        client_id = str(client_info.client_id)
        await anyio.to_thread.run_sync(self.records.save_client, client_id, stored, secret_hash)

    async def client_secret_hash(self, client_id: str) -> str | None:
        return await anyio.to_thread.run_sync(self.records.client_secret_hash, client_id)

    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        if params.resource is not None and params.resource != self.config.resource:
            only = f"this server issues tokens only for {self.config.resource}"
            raise AuthorizeError("invalid_target", only)
        asked = unknown(params.scopes or [], self.config.toolsets)
        if asked:
            raise AuthorizeError("invalid_scope", "unknown scope(s): " + " ".join(asked))
        saved = params.model_dump(mode="json")
        request_id = await anyio.to_thread.run_sync(
            self.records.save_request, str(client.client_id), saved, REQUEST_SECONDS
        )
        return construct_redirect_uri(self.config.public_url + CONSENT_PATH, request=request_id)

    async def pending(self, request_id: str) -> PendingRequest | None:
        return await anyio.to_thread.run_sync(self.records.pending, request_id)

    async def approve(
        self,
        pending: PendingRequest,
        scopes: list[str],
        subject: str,
        *,
        account: str = "default",
        lifetime: float | None = None,
    ) -> str | None:
        """Issue a code for the operator's decision (scopes, account, the grant's lifetime in
        seconds); the client's redirect URL with it, or None when the request was decided already (a
        form posted twice) or expired."""
        if account not in self.config.accounts:
            raise ValueError(f"no account {account!r} is configured")
        if not await anyio.to_thread.run_sync(self.records.take_request, pending.request_id):
            return None
        params = AuthorizationParams.model_validate(pending.params)
        ends = None if lifetime is None else time.time() + lifetime
        grant = Grant(new_secret(), pending.client_id, subject, scopes, self.config.resource, account, ends)
        code = new_secret()

        def save() -> None:
            self.records.grant_with_code(
                grant,
                code,
                redirect_uri=str(params.redirect_uri),
                explicit=params.redirect_uri_provided_explicitly,
                challenge=params.code_challenge,
                ttl=CODE_SECONDS,
            )

        await anyio.to_thread.run_sync(save)
        return construct_redirect_uri(str(params.redirect_uri), code=code, state=params.state)

    async def deny(self, pending: PendingRequest) -> str | None:
        if not await anyio.to_thread.run_sync(self.records.take_request, pending.request_id):
            return None
        params = AuthorizationParams.model_validate(pending.params)
        return construct_redirect_uri(str(params.redirect_uri), error="access_denied", state=params.state)

    async def load_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: str
    ) -> GrantedCode | None:
        row = await anyio.to_thread.run_sync(self.records.code, authorization_code, str(client.client_id))
        if row is None:
            return None
        return GrantedCode(
            code=authorization_code,
            scopes=row.grant.scopes,
            expires_at=row.expires_at,
            client_id=row.grant.client_id,
            code_challenge=row.code_challenge,
            redirect_uri=AnyUrl(row.redirect_uri),
            redirect_uri_provided_explicitly=row.redirect_uri_explicit,
            resource=row.grant.resource,
            subject=row.grant.subject,
            account=row.grant.account,
            grant_expires_at=row.grant.expires_at,
        )

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: AuthorizationCode
    ) -> OAuthToken:
        # The SDK checked expiry, redirect URI and verifier; spending the code is ours, and atomic.
        grant = await anyio.to_thread.run_sync(self.families.spend_code, authorization_code.code)
        if grant is None:
            raise TokenError("invalid_grant", "authorization code was already used or has expired")
        access = self._mint(client, to_scopes(authorization_code.scopes), grant)
        # Only a client registered for the refresh grant could use a refresh token.
        refreshes = "refresh_token" in (client.grant_types or [])
        ttl = self._refresh_ttl(grant) if refreshes else None
        try:
            refresh = await anyio.to_thread.run_sync(self.families.start, grant, access, ttl)
        except FamilyRevoked:
            raise TokenError("invalid_grant", "the grant was revoked") from None
        return self._answer(access, authorization_code.scopes, refresh)

    async def load_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: str
    ) -> FamilyRefreshToken | None:
        row = await anyio.to_thread.run_sync(self.families.find, refresh_token, str(client.client_id))
        if row is None:
            return None
        if row.rotated:
            await self._revoke_reused(row.grant.grant_id)
            return None
        return FamilyRefreshToken(
            token=refresh_token,
            client_id=row.grant.client_id,
            scopes=row.grant.scopes,
            expires_at=None if row.expires_at is None else int(row.expires_at),
            resource=row.grant.resource,
            subject=row.grant.subject,
            grant_id=row.grant.grant_id,
            account=row.grant.account,
            grant_expires_at=row.grant.expires_at,
        )

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: FamilyRefreshToken, scopes: list[str]
    ) -> OAuthToken:
        # The SDK kept `scopes` among the grant's strings; the intersection also keeps every restriction
        # of the grant (read-only, say) when the client leaves its string out.
        allowed = to_scopes(refresh_token.scopes).intersect(to_scopes(scopes))
        grant = Grant(
            refresh_token.grant_id,
            refresh_token.client_id,
            refresh_token.subject or "",
            refresh_token.scopes,
            refresh_token.resource or self.config.resource,
            refresh_token.account,
            refresh_token.grant_expires_at,
        )
        access = self._mint(client, allowed, grant)

        def rotate() -> str | None:
            return self.families.rotate(refresh_token.token, grant, access, self._refresh_ttl(grant))

        fresh = await anyio.to_thread.run_sync(rotate)
        if fresh is None:
            # Lost a race with another use of the same token: that is reuse too (an expired token or a
            # revoked family is merely refused).
            row = await anyio.to_thread.run_sync(self.families.find, refresh_token.token, grant.client_id)
            if row is not None and row.rotated:
                await self._revoke_reused(grant.grant_id)
            raise TokenError("invalid_grant", "refresh token was already used or has expired")
        return self._answer(access, scopes, fresh)

    async def load_access_token(self, token: str) -> AccessToken | None:
        """An access token this server issued for its resource, with the client it was issued to (the
        revocation endpoint revokes only a client's own tokens)."""
        try:
            claims = check_signature(token, [self.config.secret])
        except AccessTokenError:
            return None
        if claims.aud != self.config.resource or claims.expired(time.time()):
            return None
        client_id = await anyio.to_thread.run_sync(self.families.issued_to, claims.jti)
        return AccessToken(
            token=token,
            client_id=client_id or "",
            scopes=[],
            expires_at=claims.exp,
            resource=claims.aud,
            claims={"jti": claims.jti},
        )

    async def revoke_token(self, token: AccessToken | FamilyRefreshToken) -> None:
        """RFC 7009: a refresh token takes its family with it; an access token goes alone."""
        if isinstance(token, FamilyRefreshToken):
            reason = "oauth: refresh token revoked by its client"
            await anyio.to_thread.run_sync(self.families.revoke_family, token.grant_id, reason)
            return
        jti = str((token.claims or {}).get("jti", ""))
        expires_at = float(token.expires_at or time.time() + self.config.access_seconds)
        reason = "oauth: access token revoked by its client"
        await anyio.to_thread.run_sync(self.families.revoke_access, jti, expires_at, reason)

    async def _revoke_reused(self, grant_id: str) -> None:
        # RFC 9700 §4.14.2: a rotated refresh token presented again means it leaked (or the client
        # lost track); either way no token of the family can be trusted any more.
        reason = "oauth: a rotated refresh token was presented again"
        await anyio.to_thread.run_sync(self.families.revoke_family, grant_id, reason)

    def _mint(self, client: OAuthClientInformationFull, scopes: Scopes, grant: Grant) -> Issued:
        """An access token for the grant's account, ending with the grant at the latest."""
        now = time.time()
        expires_at = token_end(now, grant.expires_at, self.config.access_seconds)
        if expires_at <= now + 1:
            raise TokenError("invalid_grant", "the grant has ended")
        minted = mint(
            self.config.secret,
            name=_token_name(client),
            scopes=scopes,
            expires_at=expires_at,
            account=grant.account,
            audience=grant.resource,
            family=family_id(grant.grant_id),
            issued_at=now,
        )
        return Issued(minted.jti, float(int(expires_at)), minted.token)

    def _refresh_ttl(self, grant: Grant) -> float:
        """A refresh token's lifetime: the setting's, but never past its grant's end."""
        ttl = float(self.config.refresh_seconds)
        return ttl if grant.expires_at is None else max(1.0, min(ttl, grant.expires_at - time.time()))

    def _answer(self, access: Issued, scopes: list[str], refresh: str | None) -> OAuthToken:
        return OAuthToken(
            access_token=access.token,
            # The expiry is kept in whole seconds (as in the token): round up, within the lifetime.
            expires_in=max(1, min(self.config.access_seconds, math.ceil(access.expires_at - time.time()))),
            scope=" ".join(scopes),
            refresh_token=refresh,
        )


def family_id(grant_id: str) -> str:
    """The family's id in its tokens (Claims.fam): derived, so a token does not carry the grant id."""
    return "fam_" + hashlib.sha256(grant_id.encode()).hexdigest()[:16]


def token_end(now: float, grant_ends: float | None, seconds: int = ACCESS_SECONDS) -> float:
    """An access token's expiry: `seconds` from now (an hour by default), never after its grant ends."""
    ends = now + seconds
    return ends if grant_ends is None else min(ends, grant_ends)


def _token_name(client: OAuthClientInformationFull) -> str:
    # Claims.name: printable, at most 64 characters; it shows in logs and `token list`.
    name = "".join(ch for ch in (client.client_name or "oauth client") if ch.isprintable())
    return ("oauth:" + name)[:64]


def _host_is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return host is not None and ip_address(host).is_loopback
    except ValueError:
        return False


def _allowed_redirect(uri: str) -> bool:
    parts = urlsplit(uri)
    if parts.fragment:
        return False  # RFC 6749 §3.1.2
    return parts.scheme == "https" or (parts.scheme == "http" and _host_is_loopback(parts.hostname))


def _same_loopback(requested: str, registered: str) -> bool:
    """Equal but for the port, both http on a loopback address."""
    a, b = urlsplit(requested), urlsplit(registered)
    if a.scheme != "http" or b.scheme != "http" or not _host_is_loopback(b.hostname):
        return False
    without_port = [urlunsplit((p.scheme, p.hostname or "", p.path, p.query, p.fragment)) for p in (a, b)]
    return a.hostname == b.hostname and without_port[0] == without_port[1]
