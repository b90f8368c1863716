"""`/_sim/accounts`: each key's account by its index in the configured order (never by the key,
which would then sit in URLs and logs): what it answered and refused, what it would be billed for,
and the switches that rate-limit or reject it. Guarded like every `/_sim/` route (AdminGuard)."""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .account_state import Simulator, billing_of
from .key_accounts import Account
from .routes_api import simulator_of

ACCOUNTS_PREFIX = "/_sim/accounts"


def summary(simulator: Simulator, account: Account) -> dict[str, Any]:
    limited = account.limited_until
    now = simulator.now()
    if limited is None or limited <= now:
        rate_limited: Any = None
    else:
        rate_limited = "until cleared" if math.isinf(limited) else math.ceil(limited - now)
    return {
        "index": account.index,
        "key": account.fingerprint,
        "rate_limited_for": rate_limited,
        "rejected": account.rejected,
        "answered": dict(account.answered),
        "refused": {str(status): count for status, count in account.refused.items()},
        "billing": billing_of(account, simulator.status_of).to_json(),
    }


def details(simulator: Simulator, account: Account) -> dict[str, Any]:
    """The summary plus the account's transcripts and its part of the request log (tests only:
    both grow with use)."""
    requests = [
        {"method": r.method, "path": r.path} for r in simulator.requests if r.account == account.index
    ]
    transcripts = [r.transcript_id for r in account.transcripts.newest_first()]
    return {**summary(simulator, account), "transcripts": transcripts, "requests": requests}


def addressed(request: Request) -> Account | Response:
    simulator = simulator_of(request)
    raw = request.path_params["index"]
    if not raw.isdigit() or int(raw) >= len(simulator.accounts):
        return JSONResponse({"error": f"no account {raw!r}: there are {len(simulator.accounts)}"}, 404)
    return simulator.account_at(int(raw))


def limit_seconds(raw: bytes) -> float | None:
    """`{"seconds": n}`; no body, `{}` or `{"seconds": null}`: until cleared."""
    body = json.loads(raw) if raw.strip() else {}
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    seconds = body.get("seconds")
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise ValueError("seconds must be a number >= 0 (or null: until cleared)")
    return float(seconds)


async def list_accounts(request: Request) -> Response:
    simulator = simulator_of(request)
    return JSONResponse({"accounts": [summary(simulator, a) for a in simulator.accounts.values()]})


async def show_account(request: Request) -> Response:
    account = addressed(request)
    if isinstance(account, Response):
        return account
    return JSONResponse(details(simulator_of(request), account))


async def limit_account(request: Request) -> Response:
    account = addressed(request)
    if isinstance(account, Response):
        return account
    try:
        seconds = limit_seconds(await request.body())
    except ValueError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    simulator = simulator_of(request)
    account.limit(simulator.now(), seconds)
    return JSONResponse(summary(simulator, account))


async def reject_account(request: Request) -> Response:
    account = addressed(request)
    if isinstance(account, Response):
        return account
    account.reject()
    return JSONResponse(summary(simulator_of(request), account))


async def clear_account(request: Request) -> Response:
    account = addressed(request)
    if isinstance(account, Response):
        return account
    account.clear()
    return JSONResponse(summary(simulator_of(request), account))


ACCOUNT_ROUTES = [
    Route(ACCOUNTS_PREFIX, list_accounts, methods=["GET"]),
    Route(f"{ACCOUNTS_PREFIX}/{{index}}", show_account, methods=["GET"]),
    Route(f"{ACCOUNTS_PREFIX}/{{index}}/limit", limit_account, methods=["POST"]),
    Route(f"{ACCOUNTS_PREFIX}/{{index}}/reject", reject_account, methods=["POST"]),
    Route(f"{ACCOUNTS_PREFIX}/{{index}}/clear", clear_account, methods=["POST"]),
]
