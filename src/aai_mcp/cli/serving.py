"""`aai-mcp serve`, `stdio` and `simulate`: bind, log and run a server until it is stopped."""

from __future__ import annotations

import errno
import os
import socket
import sys
from typing import TYPE_CHECKING

from aai_mcp.access.accounts import AccountsError
from aai_mcp.config.command_options import SimulateOptions
from aai_mcp.config.options import option_names, secret_fields
from aai_mcp.config.settings import Settings
from aai_mcp.gateway import build_gateway, load_default_catalog
from aai_mcp.logs import configure_logging
from aai_mcp.mcp_server.registry.filters import server_scopes
from aai_mcp.redaction import Redactor, held_keys, secret_parts

if TYPE_CHECKING:
    from aai_mcp.access.principal import Authenticator
    from aai_mcp.catalog.loader import Catalog
    from aai_mcp.state.store_sql import SqlStore


def log_secrets(settings: Settings) -> list[str]:
    """Every secret value the log redactor must blank: each field marked secret (a URL's password too),
    and every account's key, so a field added later is redacted without being listed here."""
    values: list[str] = []
    for name in sorted(secret_fields(Settings)):
        secret = getattr(settings, name)
        if secret is not None:
            values += secret_parts(secret.get_secret_value())
    return values + destination_secrets(settings) + sorted(held_keys(settings).secrets)


def destination_secrets(settings: Settings) -> list[str]:
    """Each delivery destination's URL (it may carry a token) and its signing secret, which the setting
    only points at (an environment variable or a file)."""
    from aai_mcp.delivery.deliveries import configured_destinations
    from aai_mcp.delivery.destinations import DestinationError

    try:
        found = configured_destinations(settings)
    except DestinationError:
        return []  # a command refuses such a setting before it runs anything
    return [part for d in found.values() for part in (*secret_parts(d.url), d.secret)]


class StoreUnavailable(Exception):
    """The store cannot be opened; the message names it as it may be shown, never its password."""


def open_serving_store(settings: Settings) -> SqlStore | None:
    """The durable store when this server needs one: it accepts tokens (whose revocations it holds;
    with oauth, its clients and codes too),
    captures webhooks (into the archive) or has a public URL (upload links live in the store)."""
    from aai_mcp.webhooks.submission import capture_enabled

    if (
        not {"tokens", "oauth"} & set(settings.auth)
        and not capture_enabled(settings)
        and settings.public_url is None
    ):
        return None
    from sqlalchemy.exc import SQLAlchemyError

    from aai_mcp.state.engines import StoreConfigError, store_location
    from aai_mcp.state.store import failure_reason
    from aai_mcp.state.store_migrations import SchemaMismatch
    from aai_mcp.state.store_sql import open_store

    try:
        return open_store(settings.data_dir, settings.database_url, os.environ)
    except (StoreConfigError, SchemaMismatch) as exc:
        raise StoreUnavailable(str(exc)) from None
    except SQLAlchemyError as exc:
        shown = store_location(settings.data_dir, settings.database_url, os.environ).shown
        reason = Redactor(log_secrets(settings)).text(failure_reason(exc))
        raise StoreUnavailable(f"cannot open the store {shown}: {reason}") from None


def destinations_problem(settings: Settings) -> str | None:
    from aai_mcp.delivery.deliveries import configured_destinations
    from aai_mcp.delivery.destinations import DestinationError

    try:
        configured_destinations(settings)
    except DestinationError as exc:
        return str(exc)
    return None


def serve(settings: Settings) -> int:
    from aai_mcp.transports.http import checked_authenticator

    configure_logging(settings.log_level, log_secrets(settings))
    try:
        authenticator = checked_authenticator(settings)
    except AccountsError as exc:
        print(f"aai-mcp: {option_names('accounts')}: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"aai-mcp: {exc}", file=sys.stderr)
        return 2
    if (problem := destinations_problem(settings)) is not None:
        print(f"aai-mcp: {option_names('delivery_destinations')}: {problem}", file=sys.stderr)
        return 2
    catalog = load_default_catalog()
    server_scopes(settings, catalog)  # a filter naming no toolset, tool or tag: exit 2 before binding
    try:
        listener = bind(settings.host, settings.port)
    except OSError as exc:
        print(f"aai-mcp: {bind_problem(settings.host, settings.port, exc)}", file=sys.stderr)
        return 1
    try:
        store = open_serving_store(settings)
    except StoreUnavailable as exc:
        listener.close()
        print(f"aai-mcp: {exc}", file=sys.stderr)
        return 2
    try:
        if store is not None:
            authenticator.use_store(store)
        return _run_http(settings, authenticator, listener, store, catalog)
    finally:
        listener.close()  # also when the gateway could not be built (a filter naming no toolset)
        if store is not None:
            store.close()


def _run_http(
    settings: Settings,
    authenticator: Authenticator,
    listener: socket.socket,
    store: SqlStore | None,
    catalog: Catalog,
) -> int:
    from aai_mcp.access.issuing import pruning
    from aai_mcp.delivery.deliveries import archive_store_of
    from aai_mcp.delivery.running import delivering
    from aai_mcp.state.issued_tokens import IssuedTokens
    from aai_mcp.transports.connections import server_config
    from aai_mcp.transports.draining import draining_for
    from aai_mcp.transports.http import DrainingServer, build_http_app

    gateway = build_gateway(settings, catalog=catalog)
    if store is not None:
        gateway.use_store(store, archive_store_of(store.engine, settings))
        gateway.companions.append(lambda: delivering(store.engine, settings))
        gateway.companions.append(lambda: pruning(IssuedTokens(store.engine)))
    draining = draining_for(gateway)
    app = build_http_app(gateway, authenticator, draining)
    mode = "SIMULATOR" if settings.simulated else f"AssemblyAI ({settings.region})"
    # Announced only now that the port is ours, with the port really bound (--port 0 picks one).
    origin = http_origin(settings.host, listener.getsockname()[1])
    print(
        f"aai-mcp: serving {mode} at {origin}/mcp (Streamable HTTP), /sse (legacy SSE), /healthz",
        file=sys.stderr,
    )
    if authenticator.resource is not None:
        print(f"aai-mcp: {oauth_banner(authenticator.resource, settings)}", file=sys.stderr)
    config = server_config(app, settings)
    server = DrainingServer(config, on_shutdown=draining.begin)
    server.run(sockets=[listener])
    return 0 if server.started else 1


def oauth_banner(resource: str, settings: Settings) -> str:
    """What auth oauth offers, and the one setting without which no client can be approved."""
    issuer = resource.removesuffix("/mcp")
    line = f"OAuth authorization server {issuer} for {resource} (consent at {issuer}/oauth/consent)"
    if settings.oauth_operator_password_hash is None:
        line += "; AAI_MCP_OAUTH_OPERATOR_PASSWORD_HASH is unset, so no client can be approved"
    return line


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything is announced (uvicorn's own bind would log a
    traceback-like error after our banner)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
    except OSError:
        listener.close()
        raise
    listener.set_inheritable(True)
    return listener


def bind_problem(host: str, port: int, exc: OSError) -> str:
    where = f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return (
            f"cannot listen on {where}: the port is already in use (another aai-mcp or program); "
            "stop it or choose another port with --port / AAI_MCP_PORT"
        )
    if exc.errno == errno.EACCES:
        return f"cannot listen on {where}: permission denied (ports below 1024 need privileges); use --port"
    if exc.errno == errno.EADDRNOTAVAIL or isinstance(exc, socket.gaierror):
        return (
            f"cannot listen on {where}: {host} is not an address of this machine; check --host / AAI_MCP_HOST"
        )
    return f"cannot listen on {where}: {exc.strerror or exc}"


def http_origin(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def stdio(settings: Settings) -> int:
    import anyio

    from aai_mcp.transports.stdio import run_stdio

    configure_logging(settings.log_level, log_secrets(settings))
    anyio.run(run_stdio, build_gateway(settings))
    return 0


def simulate(options: SimulateOptions, settings: Settings) -> int:
    from aai_mcp.simulator import SimulatorConfig, run_simulator

    try:
        keys = simulator_keys(options)
    except OSError as exc:
        print(
            f"aai-mcp simulate: cannot read the key file {options.key_file}: {exc.strerror}", file=sys.stderr
        )
        return 2
    configure_logging(settings.log_level, list(keys))
    config = SimulatorConfig(
        api_key=keys[0],
        api_keys=keys[1:],
        processing_delay_seconds=settings.simulator_delay_seconds,
        time_scale=settings.simulator_time_scale,
        rate_429=options.rate_429,
        rate_5xx=options.rate_5xx,
        latency_ms=options.latency_ms,
        seed=options.history_seed,
        history_count=options.history,
        history_days=options.history_days,
    )
    # Keys from the environment or a file are secrets as real keys are: counted, never printed.
    run_simulator(config, host=options.host, port=options.port, show_keys=keys == (options.key,))
    return 0


def simulator_keys(options: SimulateOptions) -> tuple[str, ...]:
    """The keys of AAI_MCP_SIMULATOR_KEYS, then of the key file, in order, each once; else --key."""
    raw = options.keys.get_secret_value() if options.keys is not None else ""
    keys = [key.strip() for key in raw.split(",")]
    if options.key_file is not None:
        lines = options.key_file.read_text(encoding="utf-8").splitlines()
        keys += [line.strip() for line in lines if not line.lstrip().startswith("#")]
    found = tuple(dict.fromkeys(key for key in keys if key))
    return found or (options.key,)
