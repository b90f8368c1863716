"""The consent page's HTML: plain forms (no JavaScript), escaped throughout, readable on a phone."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from urllib.parse import urlsplit

from mcp.server.auth.provider import AuthorizationParams
from mcp.shared.auth import OAuthClientInformationFull

from aai_mcp.access.client_metadata_documents import is_document_client_id
from aai_mcp.access.oauth_provider import CONSENT_PATH
from aai_mcp.access.operator_sign_in import SignIn
from aai_mcp.state.oauth_store import PendingRequest

DAY = 86400.0
LIFETIMES = {"1": "1 day", "7": "7 days", "30": "30 days", "90": "90 days"}
"""The grant lifetimes offered, by days (the form's value); the operator picks one."""
DEFAULT_LIFETIME = "30"
STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:1rem auto;padding:0 1rem}"
    "label{display:block;margin:.4rem 0}input[type=password],select{width:100%;padding:.5rem;"
    "font-size:1rem;box-sizing:border-box}fieldset{margin:.8rem 0}"
    "button{font-size:1rem;padding:.6rem 1.2rem;margin:.5rem .5rem 0 0}.error{color:#b00020}"
)


@dataclass(frozen=True)
class Offer:
    """What the page lets the operator choose from (each a subset of what the client asked)."""

    toolsets: list[str]
    methods: list[str]
    accounts: tuple[str, ...]
    read_only_forced: bool


def document(body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>Authorize access to aai-mcp</title><style>{STYLE}</style></head><body>{body}</body></html>"
    )


def form_html(
    client: OAuthClientInformationFull,
    pending: PendingRequest,
    offer: Offer,
    csrf: str,
    sign_in: SignIn,
    error: str,
) -> str:
    params = AuthorizationParams.model_validate(pending.params)
    name = escape(client.client_name or str(client.client_id))
    host = escape(urlsplit(str(params.redirect_uri)).netloc)
    notice = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    return (
        f"<h1>Allow {name}?</h1>{notice}"
        f"<p><strong>{name}</strong> asks to use this aai-mcp server; it will be sent back to "
        f"<strong>{host}</strong>.</p>{_identity(client)}"
        f'<form method="post" action="{CONSENT_PATH}">'
        f'<input type="hidden" name="request" value="{escape(pending.request_id)}">'
        f'<input type="hidden" name="csrf" value="{csrf}">'
        f"{_toolsets(offer)}{_methods(offer)}{_account_and_expiry(offer)}{_sign_in(sign_in)}"
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


def _boxes(field: str, values: list[str]) -> str:
    return "".join(
        f'<label><input type="checkbox" name="{field}" value="{escape(v)}" checked> {escape(v)}</label>'
        for v in values
    )


def _toolsets(offer: Offer) -> str:
    forced = " checked disabled" if offer.read_only_forced else ""
    read_only = (
        f'<label><input type="checkbox" name="read_only" value="1"{forced}>'
        " Read-only: only tools that change nothing</label>"
    )
    boxes = _boxes("toolset", offer.toolsets)
    return f"<fieldset><legend>Toolsets it may use</legend>{boxes}{read_only}</fieldset>"


def _methods(offer: Offer) -> str:
    return (
        "<fieldset><legend>What its calls may do (method classes)</legend>"
        f"{_boxes('method', offer.methods)}</fieldset>"
    )


def _options(values: dict[str, str], selected: str) -> str:
    return "".join(
        f'<option value="{escape(v)}"{" selected" if v == selected else ""}>{escape(label)}</option>'
        for v, label in values.items()
    )


def _account_and_expiry(offer: Offer) -> str:
    accounts = _options({a: a for a in offer.accounts}, offer.accounts[0])
    return (
        f'<label>AssemblyAI account its calls use <select name="account">{accounts}</select></label>'
        f'<label>Access ends after <select name="expiry">{_options(LIFETIMES, DEFAULT_LIFETIME)}'
        "</select></label>"
    )


def _sign_in(sign_in: SignIn) -> str:
    return (
        "".join(
            f'<label>Operator {escape(field)} <input type="password" name="{escape(field)}" '
            'autocomplete="current-password" required></label>'
            for field in sign_in.fields
        )
        or '<p class="error">No operator sign-in is configured: this server cannot approve clients.</p>'
    )
