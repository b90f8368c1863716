"""Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document): a client whose
client_id is an https URL is described by the JSON document at that URL, fetched here instead of a
registration being looked up.

The fetch goes through the upload URLs' address guard (upstream/netguard.py: the host is resolved
once, refused if any address is internal, and only the checked addresses are dialled), follows no
redirect, stops at MAX_DOCUMENT_BYTES and at a deadline, and wants a JSON content type. A document
that passes is cached in this process (Cache-Control max-age, clamped to CACHE_SECONDS); a refusal
is not cached, so a fixed document counts on the next attempt."""

from __future__ import annotations

import json
import re
import ssl
import time
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio
import anyio.to_thread
import httpcore
import httpx
from anyio.lowlevel import RunVar
from mcp.shared.auth import OAuthClientInformationFull
from pydantic import ValidationError

from aai_mcp.caller_input import ToolInputError
from aai_mcp.upstream import UpstreamError
from aai_mcp.upstream.netguard import PinnedBackend, PinnedTransport, Pins

MAX_DOCUMENT_BYTES = 5 * 1024  # the draft's suggested limit; a client's metadata is a few hundred bytes
CACHE_SECONDS = (60.0, 24 * 3600.0)
"""Bounds on how long a fetched document is trusted: at least a minute, so one authorization
(authorize, consent, token) fetches once; at most a day, so a changed document counts by tomorrow."""
DEFAULT_CACHE_SECONDS = 300.0
DEFAULT_FETCH_SECONDS = 5.0
# /authorize is unauthenticated, so anyone can make this server fetch a URL: at most this many at once
# per process (the rest wait, within their deadline), so it cannot be turned into a request cannon.
FETCHES_AT_ONCE = 8
MAX_CLIENT_ID_CHARS = 200  # the store's client_id columns (requests, grants, codes) hold 200
CACHED_CLIENTS = 1000
SECRET_METHODS = ("client_secret_post", "client_secret_basic", "client_secret_jwt")
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d{1,9})\"?\s*(?:,|$)", re.IGNORECASE)


class DocumentRefused(Exception):
    """Why a client metadata document was not accepted; the text is shown to the OAuth client."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def is_document_client_id(client_id: str) -> bool:
    """Whether `client_id` names a metadata document (a URL) rather than a registration."""
    return client_id.lower().startswith(("https://", "http://"))


def checked_client_id_url(client_id: str) -> httpx.URL:
    """The URL to fetch, or DocumentRefused when the draft's rules for a client_id URL fail."""
    if len(client_id) > MAX_CLIENT_ID_CHARS:
        raise DocumentRefused(f"a client_id URL is at most {MAX_CLIENT_ID_CHARS} characters")
    try:
        url = httpx.URL(client_id)
    except (httpx.InvalidURL, ValueError):
        raise DocumentRefused("the client_id is not a valid URL") from None
    if url.scheme != "https":
        raise DocumentRefused("a client_id URL must be https (a client metadata document)")
    if not url.raw_host or url.userinfo or url.fragment:
        raise DocumentRefused("a client_id URL has a host, and no credentials or fragment")
    segments = urlsplit(client_id).path.split("/")  # httpx.URL has resolved them already
    if url.path in ("", "/") or "." in segments or ".." in segments:
        raise DocumentRefused("a client_id URL has a path, without '.' or '..' segments")
    return url


@dataclass(frozen=True)
class FetchLimits:
    private_hosts: frozenset[str]
    """Hosts fetched even though they resolve to internal addresses (tests, intranet clients)."""
    timeout_seconds: float


class MetadataDocuments:
    """Fetches, checks and caches client metadata documents for the OAuth provider."""

    def __init__(
        self,
        limits: FetchLimits,
        tls: Callable[[], ssl.SSLContext] = httpx.create_ssl_context,
        dialer: Callable[[], httpcore.AsyncNetworkBackend] = httpcore.AnyIOBackend,
    ) -> None:
        self.limits = limits
        self.tls = tls
        self.dialer = dialer
        self.cached: OrderedDict[str, tuple[float, OAuthClientInformationFull]] = OrderedDict()

    async def client(self, client_id: str) -> OAuthClientInformationFull:
        """The client the document at `client_id` describes, or DocumentRefused saying why not."""
        hit = self.cached.get(client_id)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        url = checked_client_id_url(client_id)
        body, max_age = await self._fetch(url)
        info = parsed_document(body, client_id)
        self._remember(client_id, info, max_age)
        return info

    def _remember(self, client_id: str, info: OAuthClientInformationFull, max_age: float | None) -> None:
        low, high = CACHE_SECONDS
        seconds = min(max(DEFAULT_CACHE_SECONDS if max_age is None else max_age, low), high)
        self.cached[client_id] = (time.monotonic() + seconds, info)
        self.cached.move_to_end(client_id)
        while len(self.cached) > CACHED_CLIENTS:
            self.cached.popitem(last=False)

    async def _fetch(self, url: httpx.URL) -> tuple[bytes, float | None]:
        with anyio.move_on_after(self.limits.timeout_seconds):
            async with fetch_limiter():
                return await self._get(url)
        raise DocumentRefused(
            f"the client metadata document did not arrive within {self.limits.timeout_seconds:g} s"
        )

    async def _get(self, url: httpx.URL) -> tuple[bytes, float | None]:
        host = url.raw_host.decode("ascii").lower()
        pins = Pins(allow_private=host in self.limits.private_hosts)
        try:
            await pins.check(str(url))
        except (UpstreamError, ToolInputError):
            raise DocumentRefused(REFUSED_HOST) from None
        tls = await anyio.to_thread.run_sync(self.tls)  # loading a CA bundle is disk and CPU work
        transport = PinnedTransport(PinnedBackend(pins, self.dialer()), tls)
        headers = {"Accept": "application/json", "Accept-Encoding": "identity"}
        async with httpx.AsyncClient(transport=transport, follow_redirects=False, trust_env=False) as http:
            try:
                async with http.stream("GET", url, headers=headers) as response:
                    checked_response(response)
                    return await capped_body(response), max_age(response.headers)
            except httpx.HTTPError:
                raise DocumentRefused(UNREACHABLE) from None


_fetches: RunVar[anyio.CapacityLimiter] = RunVar("aai_mcp_client_metadata_fetches")


def fetch_limiter() -> anyio.CapacityLimiter:
    """This event loop's cap on document fetches (a limiter belongs to one loop)."""
    try:
        return _fetches.get()
    except LookupError:
        _fetches.set(anyio.CapacityLimiter(FETCHES_AT_ONCE))
        return _fetches.get()


# One text for every refused host: which check failed would map the server's inside network.
REFUSED_HOST = (
    "the client_id URL's host is unknown or resolves to a private, loopback, link-local or otherwise "
    "internal address; client metadata documents are fetched only from public hosts (nothing was sent)"
)
UNREACHABLE = "the client metadata document's server could not be reached or broke off"


def checked_response(response: httpx.Response) -> None:
    if response.is_redirect:
        raise DocumentRefused("the client_id URL answered with a redirect; redirects are not followed")
    if response.status_code != 200:
        raise DocumentRefused(f"the client_id URL answered HTTP {response.status_code}, not 200")
    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json" and not kind.endswith("+json"):
        raise DocumentRefused("the client metadata document is not served as application/json")


async def capped_body(response: httpx.Response) -> bytes:
    """The body, or DocumentRefused once it passes MAX_DOCUMENT_BYTES (counted, not trusted)."""
    body = bytearray()
    async for chunk in response.aiter_raw():
        body += chunk
        if len(body) > MAX_DOCUMENT_BYTES:
            raise DocumentRefused(f"the client metadata document is larger than {MAX_DOCUMENT_BYTES} bytes")
    return bytes(body)


def max_age(headers: httpx.Headers) -> float | None:
    """Seconds from Cache-Control (no-store and no-cache count as 0: the floor then applies)."""
    control = headers.get("cache-control", "")
    if re.search(r"no-store|no-cache", control, re.IGNORECASE):
        return 0.0
    found = _MAX_AGE.search(control)
    return float(found.group(1)) if found else None


def parsed_document(body: bytes, client_id: str) -> OAuthClientInformationFull:
    """The document as a public client's record, or DocumentRefused for what the draft forbids."""
    try:
        document: Any = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise DocumentRefused("the client metadata document is not valid JSON") from None
    if not isinstance(document, dict):
        raise DocumentRefused("the client metadata document is not a JSON object")
    if document.get("client_id") != client_id:
        raise DocumentRefused("the document's client_id is not exactly the URL it was fetched from")
    refuse_secrets(document)
    uris = document.get("redirect_uris")
    if not isinstance(uris, list) or not uris or not all(isinstance(uri, str) for uri in uris):
        raise DocumentRefused("the client metadata document lists no redirect_uris")
    try:
        return OAuthClientInformationFull.model_validate(document | {"token_endpoint_auth_method": "none"})
    except ValidationError as exc:
        fields = ", ".join(sorted({str(error["loc"][0]) for error in exc.errors() if error["loc"]}))
        raise DocumentRefused(f"the client metadata document has invalid fields: {fields}") from None


def refuse_secrets(document: dict[str, Any]) -> None:
    method = document.get("token_endpoint_auth_method", "none")
    if "client_secret" in document or "client_secret_expires_at" in document or method in SECRET_METHODS:
        raise DocumentRefused("a client metadata document cannot carry or use a client secret")
    if method == "private_key_jwt":
        raise DocumentRefused(
            "token_endpoint_auth_method private_key_jwt is not supported here; use none (with PKCE)"
        )
    if method != "none":
        raise DocumentRefused("the document's token_endpoint_auth_method must be none")


def fetch_limits(private_hosts: Collection[str], timeout_seconds: float) -> FetchLimits:
    return FetchLimits(frozenset(host.lower().strip("[]") for host in private_hosts), timeout_seconds)
