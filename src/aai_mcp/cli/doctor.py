"""`aai-mcp doctor`: check the setup and say in plain words what is wrong, one line per check.

Each line is `ok` or `problem`, what was found and, for a problem, how to fix it. The key is sent only
to the AssemblyAI API host it belongs to (one cheap authenticated GET) and is never printed, nor is a
Redis password.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from aai_mcp.access.secrets import GENERATE_HINT, SecretsError, load_signing_secrets
from aai_mcp.config.settings import Settings
from aai_mcp.upstream.hosts import base_urls

if TYPE_CHECKING:
    from aai_mcp.state.engines import StoreLocation

KEY_PROBE = "/v2/transcript?limit=1"
OVERRIDE_FLAGS = {
    "api": "--api-base-url",
    "llm_gateway": "--llm-gateway-base-url",
    "streaming": "--streaming-base-url",
    "agents": "--agents-base-url",
    "sync": "--sync-base-url",
    "dictation": "--dictation-base-url",
    "tts": "--tts-base-url",
    "token": "--token-base-url",
}


@dataclass(frozen=True)
class Check:
    ok: bool
    subject: str
    found: str
    fix: str = ""

    def line(self) -> str:
        if self.ok:
            return f"ok       {self.subject}: {self.found}"
        return f"problem  {self.subject}: {self.found}. Fix: {self.fix}"


def upstream_urls(settings: Settings) -> dict[str, str]:
    """The hosts `serve` would use with a key: without one it would use the simulator instead."""
    with_key = settings if settings.api_key else settings.model_copy(update={"api_key": SecretStr("unset")})
    return {str(host): url for host, url in base_urls(with_key).items()}


def reason(exc: httpx.HTTPError) -> str:
    """The transport error in plain words."""
    text = str(exc).lower()
    if isinstance(exc, httpx.TimeoutException):
        return "no answer in time"
    if "refused" in text:
        return "connection refused: nothing listens there"
    if "name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text:
        return "its name does not resolve: no DNS or no network"
    return str(exc) or type(exc).__name__


def check_key(settings: Settings, client: httpx.Client, api: str) -> Check:
    if settings.api_key is None:
        return Check(
            False,
            "API key",
            "ASSEMBLYAI_API_KEY is not set, so aai-mcp serves its simulator (fake results)",
            "export ASSEMBLYAI_API_KEY=... with the key from your AssemblyAI dashboard",
        )
    try:
        response = client.get(api + KEY_PROBE, headers={"Authorization": settings.api_key.get_secret_value()})
    except httpx.HTTPError as exc:
        return Check(
            False,
            "API key",
            f"could not be checked: cannot reach {api} ({reason(exc)})",
            "see the api host line below",
        )
    if response.status_code in (401, 403):
        return Check(
            False,
            "API key",
            f"AssemblyAI rejected ASSEMBLYAI_API_KEY (HTTP {response.status_code} from {api})",
            "copy the key again from your AssemblyAI dashboard; a key of an EU account needs --region eu",
        )
    if response.is_success:
        return Check(True, "API key", f"set, and AssemblyAI accepts it ({api})")
    return Check(
        False,
        "API key",
        f"could not be checked: {api} answered HTTP {response.status_code}",
        "try again later; if it persists, check AssemblyAI's status page",
    )


def check_host(host: str, url: str, client: httpx.Client, settings: Settings) -> Check:
    subject = f"{host.replace('_', '-')} host"
    flag = OVERRIDE_FLAGS[host]
    if urlsplit(url).path not in ("", "/"):
        return Check(
            False,
            subject,
            f"{url} has a path ({urlsplit(url).path}); the tools add their own",
            f"give {flag} the bare origin, {urlsplit(url).scheme}://{urlsplit(url).netloc}",
        )
    try:
        client.get(url + "/")
    except httpx.HTTPError as exc:
        return Check(
            False,
            subject,
            f"cannot reach {url} ({reason(exc)})",
            f"check the network, firewall or proxy; or point {flag} at the right address",
        )
    where = f"set by {flag}" if getattr(settings, flag[2:].replace("-", "_")) else f"region {settings.region}"
    return Check(True, subject, f"{url} is reachable ({where})")


def check_auth(settings: Settings) -> Check:
    from aai_mcp.transports.http import checked_authenticator

    modes = ",".join(settings.auth)
    if _signs_tokens(settings):
        try:
            secrets = load_signing_secrets(settings.token_secrets, settings.token_secret_file)
        except SecretsError as exc:
            return Check(False, "token secret", str(exc), f"set AAI_MCP_TOKEN_SECRETS from: {GENERATE_HINT}")
        if not secrets:
            return Check(
                False,
                "token secret",
                "--auth tokens needs a signing secret, and none is set",
                f'export AAI_MCP_TOKEN_SECRETS="$({GENERATE_HINT})" (or --token-secret-file)',
            )
    try:
        checked_authenticator(settings)
    except ValueError as exc:
        return Check(False, "auth", str(exc), "see the message; --auth tokens is the usual choice")
    detail = "token signing secret set" if _signs_tokens(settings) else "no token secret needed"
    return Check(True, "auth", f"{modes} ({detail})")


def _signs_tokens(settings: Settings) -> bool:
    """tokens and oauth both use the signing secret and the store (revocations; OAuth clients, codes)."""
    return bool({"tokens", "oauth"} & set(settings.auth))


def check_upload_roots(settings: Settings) -> list[Check]:
    roots = settings.upload_roots or []
    if not roots:
        return [Check(True, "upload roots", "none: upload_file(path) reads no local files over HTTP")]
    fix = "create it, or correct --upload-roots / AAI_MCP_UPLOAD_ROOTS"
    checks = []
    for root in roots:
        if not root.exists():
            checks.append(Check(False, "upload root", f"{root} does not exist", fix))
        elif not root.is_dir():
            checks.append(Check(False, "upload root", f"{root} is not a directory", fix))
        else:
            checks.append(Check(True, "upload root", f"{root} is a directory"))
    return checks


def check_port(settings: Settings) -> Check:
    from aai_mcp.cli.serving import bind, bind_problem

    try:
        bind(settings.host, settings.port).close()
    except OSError as exc:
        return Check(
            False,
            "port",
            bind_problem(settings.host, settings.port, exc).removeprefix("cannot listen on "),
            "if aai-mcp is already running there, that is fine; otherwise stop the other program",
        )
    return Check(True, "port", f"{settings.host}:{settings.port} is free for `aai-mcp serve`")


def check_workers(settings: Settings) -> list[Check]:
    """With `--workers` above 1: whether `serve` would run them, and if not, why (its own words)."""
    from aai_mcp.cli.worker_rules import workers_refusal

    if settings.workers == 1:
        return []
    refusal = workers_refusal(settings)
    if refusal is not None:
        subject, _, why = refusal.partition(": ")
        return [Check(False, "workers", subject, why)]
    return [Check(True, "workers", f"{settings.workers} worker processes can share the port (stateless)")]


def check_store(settings: Settings, env: Mapping[str, str]) -> Check:
    """Where the durable store is, whether it can be reached and its schema version; creates nothing."""
    from sqlalchemy.exc import SQLAlchemyError

    from aai_mcp.state.engines import StoreConfigError, store_location
    from aai_mcp.state.store import failure_reason

    try:
        location = store_location(settings.data_dir, settings.database_url, env)
    except StoreConfigError as exc:
        return Check(False, "store", str(exc), "correct AAI_MCP_DATABASE_URL")
    if not _signs_tokens(settings):
        return Check(True, "store", f"not used without --auth tokens (it would be {location.shown})")
    try:
        return _store_schema(location)
    except SQLAlchemyError as exc:
        return Check(
            False,
            "store",
            f"cannot reach {location.shown} ({failure_reason(exc)})",
            "start the database, or correct AAI_MCP_DATABASE_URL (host, port, user, password)",
        )


def _store_schema(location: StoreLocation) -> Check:
    from aai_mcp.state.engines import create_engine
    from aai_mcp.state.store_migrations import current_version, head_version, known_versions

    newest = head_version()
    if location.sqlite_path is not None and not location.sqlite_path.exists():
        return _new_sqlite(location.sqlite_path)
    engine = create_engine(location)
    try:
        version = current_version(engine)
    finally:
        engine.dispose()
    found = f"{location.engine} {location.shown}, reachable, schema {version or '(empty)'}"
    if version == newest:
        return Check(True, "store", f"{found} (the newest)")
    if version is not None and version not in known_versions():
        return Check(False, "store", f"{found}, newer than this aai-mcp ({newest})", "run the newer release")
    if location.engine == "sqlite":
        return Check(True, "store", f"{found}; upgraded to {newest} when serve starts")
    return Check(False, "store", f"{found}; this aai-mcp needs {newest}", "run `aai-mcp db upgrade` once")


def _new_sqlite(path: Path) -> Check:
    existing = next((parent for parent in (path, *path.parents) if parent.exists()), path.anchor)
    if not os.access(existing, os.W_OK):
        return Check(
            False, "store", f"{path} cannot be created ({existing} is not writable)", "set --data-dir"
        )
    return Check(True, "store", f"sqlite {path}: created when serve starts")


def check_shared_state(settings: Settings) -> list[Check]:
    """Redis answers PING with the configured password; no line when none is configured."""
    if settings.redis_url is None:
        return []
    import redis

    from aai_mcp.state.shared_redis_breaker import redacted_url

    url = settings.redis_url.get_secret_value()
    shown = redacted_url(url)
    fix = (
        "check AAI_MCP_REDIS_URL (host, port, password) and that Redis runs; until then every instance "
        "limits calls and polls transcripts on its own"
    )
    client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
    try:
        client.ping()
    except redis.AuthenticationError:
        return [Check(False, "shared state", f"Redis at {shown} refused the password", fix)]
    except (redis.RedisError, OSError) as exc:  # the type only: error texts name the host and port
        return [Check(False, "shared state", f"Redis at {shown} does not answer ({type(exc).__name__})", fix)]
    finally:
        client.close()
    return [Check(True, "shared state", f"Redis at {shown} answers: instances share polling and limits")]


def diagnose(settings: Settings) -> list[Check]:
    urls = upstream_urls(settings)
    timeout = httpx.Timeout(15.0, connect=min(settings.connect_timeout_seconds, 10.0))
    with httpx.Client(timeout=timeout, follow_redirects=False) as client:
        checks = [check_key(settings, client, urls["api"])]
        checks += [check_host(host, url, client, settings) for host, url in urls.items()]
    return [
        *checks,
        check_auth(settings),
        check_store(settings, os.environ),
        *check_upload_roots(settings),
        *check_shared_state(settings),
        *check_workers(settings),
        check_port(settings),
    ]


def run_doctor(settings: Settings) -> int:
    checks = diagnose(settings)
    for check in checks:
        print(check.line())
    problems = sum(not check.ok for check in checks)
    summary = "all good" if not problems else f"{problems} problem{'s' if problems > 1 else ''} found"
    print(f"aai-mcp doctor: {summary}", file=sys.stderr)
    return 1 if problems else 0
