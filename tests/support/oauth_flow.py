"""An OAuth client's steps by hand (DCR, authorize, the consent form, the token request), for tests
that need to get each one wrong on purpose; the happy path is also run by the SDK's own client."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

REDIRECT = "http://127.0.0.1:3000/callback"
PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Pkce:
    verifier: str
    challenge: str


def new_pkce() -> Pkce:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return Pkce(verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode())


def query(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


async def register(http: httpx.AsyncClient, redirect: str = REDIRECT) -> str:
    metadata = {
        "redirect_uris": [redirect], "client_name": "Flow test", "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code"], "response_types": ["code"],
    }  # fmt: skip
    response = await http.post("/register", json=metadata)
    assert response.status_code == 201, response.text
    return str(response.json()["client_id"])


async def authorize(http: httpx.AsyncClient, client_id: str, pkce: Pkce, **overrides: str) -> httpx.Response:
    params = {
        "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT,
        "code_challenge": pkce.challenge, "code_challenge_method": "S256", "state": "state-1",
        "scope": "mcp", "resource": str(http.base_url).rstrip("/") + "/mcp",
    }  # fmt: skip
    return await http.get("/authorize", params=params | overrides)


@dataclass(frozen=True)
class ConsentForm:
    path: str
    fields: dict[str, str]
    toolsets: list[str]
    """The boxes ticked as the page comes: what a browser posts when the operator changes nothing."""
    methods: list[str]
    selected: dict[str, str]
    """Each select's preselected option (account, expiry)."""


async def open_consent(http: httpx.AsyncClient, consent_url: str) -> ConsentForm:
    page = await http.get(consent_url)
    assert page.status_code == 200, page.text
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page.text))
    ticked = re.findall(r'name="toolset" value="([^"]*)" checked', page.text)
    methods = re.findall(r'name="method" value="([^"]*)" checked', page.text)
    selects = re.findall(r'<select name="(\w+)">(.*?)</select>', page.text)
    selected = {
        name: re.findall(r'<option value="([^"]*)" selected', options)[0] for name, options in selects
    }
    return ConsentForm(urlsplit(consent_url).path, fields, ticked, methods, selected)


async def consent(http: httpx.AsyncClient, form: ConsentForm, **fields: Any) -> httpx.Response:
    as_shown = {"toolset": form.toolsets, "method": form.methods, **form.selected}
    data = form.fields | {"decision": "approve", "password": PASSWORD} | as_shown | fields
    return await http.post(form.path, data=data)


async def code_for(http: httpx.AsyncClient, client_id: str, pkce: Pkce, **consent_fields: Any) -> str:
    """A fresh authorization code, the operator approving with `consent_fields`."""
    started = await authorize(http, client_id, pkce)
    assert started.status_code == 302, started.text
    form = await open_consent(http, started.headers["location"])
    approved = await consent(http, form, **consent_fields)
    assert approved.status_code == 303, approved.text
    redirect = approved.headers["location"]
    assert redirect.startswith(REDIRECT) and query(redirect)["state"] == "state-1"
    return query(redirect)["code"]


async def exchange(
    http: httpx.AsyncClient, client_id: str, code: str, verifier: str, redirect: str = REDIRECT
) -> httpx.Response:
    data = {
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect,
        "client_id": client_id, "code_verifier": verifier,
    }  # fmt: skip
    return await http.post("/token", data=data)
