"""Serving the simulator on a real port (`aai-mcp simulate`)."""

from __future__ import annotations

import socket
import sys

import uvicorn

from aai_mcp.transports.host_check import Authority

from .app import build_simulator_app
from .config import SimulatorConfig

EXPOSED_WARNING = """
*** WARNING: the AssemblyAI simulator is listening on {host}, beyond loopback. ***
*** Anyone who can reach this port and knows the key can read and create its fake transcripts ***
*** (/_sim/, which resets it and injects faults, answers only to this machine). The key is     ***
*** printed below. Bind 127.0.0.1 (the default) unless another machine must reach it.          ***
"""


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only when proto says TCP;
    # with proto 0, Nagle plus the client's delayed ACK add ~40 ms to every keep-alive request.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def run_simulator(
    config: SimulatorConfig, host: str = "127.0.0.1", port: int = 8765, show_keys: bool = True
) -> None:
    """Serve the simulator until interrupted. Port 0 picks a free port (printed on stderr).
    `show_keys=False` prints how many keys it accepts instead of the keys."""
    url_host = f"[{host}]" if ":" in host else host
    if not Authority(url_host).is_loopback:
        print(EXPOSED_WARNING.format(host=host), file=sys.stderr, flush=True)
    sock = bind_socket(host, port)
    bound_port = sock.getsockname()[1]
    print(
        f"AssemblyAI simulator at http://{url_host}:{bound_port} ({accepted(config, show_keys)})",
        file=sys.stderr,
        flush=True,
    )
    server = uvicorn.Server(uvicorn.Config(build_simulator_app(config), log_level="warning"))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


def accepted(config: SimulatorConfig, show_keys: bool) -> str:
    if not show_keys:
        return f"{len(config.keys)} accounts, one per API key given; keys not shown"
    if len(config.keys) == 1:
        return f"accepted API key: {config.api_key}"
    return f"accepted API keys, one account each: {', '.join(config.keys)}"
