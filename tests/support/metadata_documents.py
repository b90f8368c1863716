"""A client metadata document server on loopback over https (the self-signed loopback certificate of
tests/support/tls.py): one good document and one for each way a document is refused. It records every
path asked for, so a test can show that a refused host was never contacted."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import anyio.to_thread
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.support.oauth_flow import REDIRECT
from tests.support.servers import uvicorn_in_thread
from tests.support.tls import LoopbackCertificate, loopback_certificate

CLIENT_NAME = "Metadata Document Client"


@dataclass
class DocumentServer:
    base_url: str
    cert: LoopbackCertificate
    seen: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    """Each request's headers: what the gateway sends a client's server (never the AssemblyAI key)."""
    release: threading.Event = field(default_factory=threading.Event)
    """Set at teardown: the hanging document's answer waits for it (the gateway gives up first)."""

    def url(self, name: str) -> str:
        return f"{self.base_url}/{name}"


def document(client_id: str, **fields: object) -> dict[str, object]:
    return {
        "client_id": client_id, "client_name": CLIENT_NAME, "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code"], "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    } | fields  # fmt: skip


def document_app(server: DocumentServer) -> Starlette:
    async def answer(request: Request) -> Response:
        name = request.path_params["name"]
        server.seen.append(name)
        server.headers.append(dict(request.headers))
        own = server.url(name)
        if name == "missing.json":
            return JSONResponse({"error": "not here"}, status_code=404)
        if name == "hanging.json":
            await anyio.to_thread.run_sync(server.release.wait, abandon_on_cancel=True)
            return JSONResponse(document(own))
        if name == "moved.json":
            return RedirectResponse(server.url("good.json"), status_code=302)
        if name == "as-text.json":
            return Response(json.dumps(document(own)), media_type="text/plain")
        return JSONResponse(variant(name, own), headers={"Cache-Control": "max-age=600"})

    return Starlette(routes=[Route("/{name}", answer)])


def variant(name: str, own: str) -> dict[str, object]:
    if name == "other-id.json":
        return document(own.replace("other-id", "good"))
    if name == "large.json":
        return document(own, client_uri="https://example.com/" + "x" * 6000)
    if name == "secret.json":
        return document(own, client_secret="shared", token_endpoint_auth_method="client_secret_post")
    if name == "key-jwt.json":
        return document(own, token_endpoint_auth_method="private_key_jwt")
    if name == "no-redirects.json":
        return document(own, redirect_uris=[])
    if name == "web-redirect.json":
        return document(own, redirect_uris=["http://app.example.com/callback"])
    return document(own)


@contextmanager
def document_server(folder: Path) -> Iterator[DocumentServer]:
    cert = loopback_certificate(folder)
    server = DocumentServer("", cert)
    config = uvicorn.Config(
        document_app(server), host="127.0.0.1", port=0, log_level="critical", lifespan="off",
        ssl_certfile=str(cert.cert), ssl_keyfile=str(cert.key),
    )  # fmt: skip
    with uvicorn_in_thread(config) as base_url:
        server.base_url = base_url
        try:
            yield server
        finally:
            server.release.set()  # before uvicorn stops: it waits for the hanging answer
