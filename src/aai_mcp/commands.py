"""What each CLI command does once its settings are built."""

from __future__ import annotations

import argparse
import json
import sys

import uvicorn

from aai_mcp.gateway import build_gateway, load_default_catalog
from aai_mcp.logs import configure_logging
from aai_mcp.settings import Settings


def _secrets(settings: Settings) -> list[str]:
    secrets = [settings.api_key] if settings.api_key else []
    if settings.token_secrets:
        secrets.append(settings.token_secrets)
    return [secret.get_secret_value() for secret in secrets]


def serve(settings: Settings) -> int:
    from aai_mcp.transports.http import DrainingServer, build_http_app, checked_authenticator

    configure_logging(settings.log_level, _secrets(settings))
    try:
        authenticator = checked_authenticator(settings)
    except ValueError as exc:
        print(f"aai-mcp: {exc}", file=sys.stderr)
        return 2
    gateway = build_gateway(settings)
    app = build_http_app(gateway, authenticator)
    mode = "SIMULATOR" if settings.simulated else f"AssemblyAI ({settings.region})"
    print(
        f"aai-mcp: serving {mode} at http://{settings.host}:{settings.port}/mcp (Streamable HTTP), "
        f"/sse (legacy SSE), /healthz",
        file=sys.stderr,
    )
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=False,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )
    server = DrainingServer(config, on_shutdown=lambda: gateway.runner.drain(settings.shutdown_grace_seconds))
    server.run()
    return 0 if server.started else 1


def stdio(settings: Settings) -> int:
    import anyio

    from aai_mcp.transports.stdio import run_stdio

    configure_logging(settings.log_level, _secrets(settings))
    anyio.run(run_stdio, build_gateway(settings))
    return 0


def simulate(args: argparse.Namespace, settings: Settings) -> int:
    from aai_mcp.simulator import SimulatorConfig, run_simulator

    configure_logging(settings.log_level, [])
    config = SimulatorConfig(
        api_key=args.key,
        processing_delay_seconds=settings.simulator_delay_seconds,
        rate_429=args.rate_429,
        rate_5xx=args.rate_5xx,
        latency_ms=args.latency_ms,
    )
    run_simulator(config, host=args.bind_host, port=args.bind_port)
    return 0


def list_tools(as_json: bool) -> int:
    catalog = load_default_catalog()
    specs = list(catalog.tools.values())
    if as_json:
        rows = [
            {"name": s.name, "toolset": s.toolset, "read_only": s.annotations.read_only, "title": s.title}
            for s in specs
        ]
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(spec.name) for spec in specs)
    print(f"{'TOOL':<{width}}  {'TOOLSET':<11}  READ-ONLY  TITLE")
    for spec in specs:
        flag = "yes" if spec.annotations.read_only else "no"
        print(f"{spec.name:<{width}}  {spec.toolset:<11}  {flag:<9}  {spec.title}")
    return 0
