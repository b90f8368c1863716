"""The streaming proxy on real loopback sockets: the simulator served by uvicorn (AssemblyAI's
streaming host), and the gateway's whole HTTP app served by uvicorn the way `serve` runs it, its
streaming host that simulator."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.routing import WebSocketRoute

from aai_mcp.access.principal import Authenticator
from aai_mcp.gateway import Gateway
from aai_mcp.proxy.streaming import StreamProxy
from aai_mcp.simulator import SimulatorConfig, build_simulator_app
from aai_mcp.simulator.account_state import Simulator
from aai_mcp.state.store import GatewayStore
from aai_mcp.transports.http import build_http_app
from tests.support.proxy_harness import PROXY, proxy_gateway
from tests.support.servers import SIM_KEY, gateway_server_config, serve_app_in_thread, uvicorn_in_thread
from tests.support.tls import LoopbackCertificate


@dataclass
class StreamingSetup:
    gateway_url: str
    simulator: Simulator
    gateway: Gateway
    gateway_server: ExitStack
    ended: list[tuple[str, float | None, float]] = field(default_factory=list)
    """Every on_session_end call: account, audio seconds, session seconds."""

    def stop_gateway(self) -> None:
        """Shut the gateway's server down (as on SIGTERM), the simulator still running."""
        self.gateway_server.close()

    @property
    def ws_base(self) -> str:
        """What the SDK's `api_host` is set to: the proxy prefix on the gateway, ws:// (wss:// over TLS)."""
        return self.gateway_url.replace("http", "ws", 1) + PROXY

    def url(self, query: str = "sample_rate=16000") -> str:
        return f"{self.ws_base}/v3/ws?{query}"


@contextmanager
def streaming_proxy(
    authenticator: Authenticator | None = None,
    store: GatewayStore | None = None,
    simulator_keys: tuple[str, ...] = (),
    tls: LoopbackCertificate | None = None,
    **settings: Any,
) -> Iterator[StreamingSetup]:
    """The simulator (SIM_KEY's account, and one account per key of `simulator_keys`) and a
    token-auth gateway in front of it, both on loopback; with `store`, the accounts configured with
    several keys pool them; with `tls`, the gateway is served over TLS (https://, wss://)."""
    accounts = SimulatorConfig(api_key=SIM_KEY, api_keys=simulator_keys, processing_delay_seconds=0.2)
    simulator_app = build_simulator_app(accounts)
    with serve_app_in_thread(simulator_app) as simulator_url:
        values = {"api_key": SIM_KEY, "streaming_base_url": simulator_url, **settings}
        gateway = proxy_gateway(None, **values)
        if store is not None:
            gateway.use_store(store)
        app = build_http_app(gateway, authenticator)
        with ExitStack() as gateway_server:
            config = gateway_server_config(app, gateway, tls)
            gateway_url = gateway_server.enter_context(uvicorn_in_thread(config))
            setup = StreamingSetup(gateway_url, simulator_app.state.simulator, gateway, gateway_server)
            stream_proxy(app).on_session_end = lambda *end: setup.ended.append(end)
            yield setup


def stream_proxy(app: Starlette) -> StreamProxy:
    """The app's streaming door (where the usage meter's callback is attached)."""
    return next(
        route.app
        for route in app.routes
        if isinstance(route, WebSocketRoute) and isinstance(route.app, StreamProxy)
    )
