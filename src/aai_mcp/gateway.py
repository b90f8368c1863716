"""The composition root: settings -> catalog -> registry -> upstream -> runner."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field

import httpx
from prometheus_client import CollectorRegistry
from starlette.types import ASGIApp

from aai_mcp.access.accounts import load_accounts, load_key_pools
from aai_mcp.access.principal import Principal
from aai_mcp.access.quota_gate import QuotaGate
from aai_mcp.access.scopes import Scopes
from aai_mcp.access.team_quotas import TeamQuotas, parse_team_quotas
from aai_mcp.catalog import Catalog, default_schema_dir, load_catalog
from aai_mcp.config.settings import SIMULATOR_KEY, Settings
from aai_mcp.extraction.kits import available_kits
from aai_mcp.mcp_server.handlers.handler_table import HANDLER_CALLS
from aai_mcp.mcp_server.registry import Registry
from aai_mcp.mcp_server.registry.filters import server_scopes
from aai_mcp.mcp_server.runtime.runner import ToolRunner
from aai_mcp.mcp_server.tasks.task_work import TaskWork
from aai_mcp.mcp_server.views.view_table import VIEWS
from aai_mcp.metrics import Metrics
from aai_mcp.state.archive_store import ArchiveStore
from aai_mcp.state.shared import SharedState, build_shared_state
from aai_mcp.state.store import GatewayStore
from aai_mcp.state.task_store import TaskRecords
from aai_mcp.state.upload_link_store import UploadLinks
from aai_mcp.uplink.link_service import LinkUploads
from aai_mcp.upstream import Upstream
from aai_mcp.upstream.key_pool import KeyPool
from aai_mcp.upstream.usage import UsageMeter, team_names
from aai_mcp.webhooks.background_capture import WebhookCapture
from aai_mcp.webhooks.submission import capture_enabled
from aai_mcp.webhooks.wakeups import waking_waiters

log = logging.getLogger("aai_mcp")

SIMULATION_WARNING = (
    "*** ASSEMBLYAI_API_KEY is not set: aai-mcp is serving its built-in AssemblyAI SIMULATOR. "
    "Every result is fake and marked [SIMULATED]. Set ASSEMBLYAI_API_KEY to use the real API. ***"
)


@dataclass
class Gateway:
    settings: Settings
    catalog: Catalog
    registry: Registry
    upstream: Upstream
    runner: ToolRunner
    quotas: TeamQuotas
    """Each team's quotas (`quotas.stream_session_seconds(account)` for the WebSocket proxy)."""
    usage: UsageMeter
    """Where every front door counts usage (`usage.record_stream` for the WebSocket proxy)."""
    quota_gate: QuotaGate
    key_pool: KeyPool | None = field(default=None)
    """Set by `use_store` when an account has several upstream keys."""
    in_process_app: ASGIApp | None = field(default=None)
    """The ASGI app that stands in for AssemblyAI when the transport is one (the built-in simulator):
    the streaming proxy opens its WebSocket sessions on it instead of the network."""
    webhook_capture: WebhookCapture | None = field(default=None)
    """Set by `use_store` when webhook capture is configured (public_url and the webhook secret)."""
    companions: list[Callable[[], AbstractAsyncContextManager[None]]] = field(default_factory=list)
    tasks: TaskWork | None = field(default=None)
    """Set by `use_store`: tool calls run as MCP Tasks, their state in the store."""
    """Background work that runs while the server runs (the delivery worker, when the store is open)."""

    @property
    def metrics(self) -> Metrics:
        """What every front door counts into, and what /metrics shows."""
        return self.runner.metrics

    @property
    def shared(self) -> SharedState:
        """Ephemeral state shared with the other instances (in-process when there is no Redis)."""
        return self.runner.shared

    def use_store(self, store: GatewayStore, archive: ArchiveStore | None = None) -> None:
        """Pool the keys of every account configured with several (their state kept in `store`);
        an account with one key keeps using it as before. Usage is counted into `store` from now on.
        With `archive` (the store's transcript archive), tools that read transcripts read it first."""
        self.usage.store = store
        self.runner.archive = archive
        pools = load_key_pools(self.settings.accounts, self.settings.api_key)
        several = {account: keys for account, keys in pools.items() if len(keys) > 1}
        self.key_pool = KeyPool(several, store, shared=self.shared, metrics=self.metrics) if several else None
        self.runner.key_pool = self.key_pool
        if archive is not None and capture_enabled(self.settings):
            self.webhook_capture = WebhookCapture(self.upstream, archive)
        self.runner.links = self._link_service(store)
        engine = getattr(store, "engine", None)
        if engine is not None:
            beat, stale = self.settings.task_heartbeat_seconds, self.settings.task_stale_seconds
            self.tasks = TaskWork(TaskRecords(engine), self.runner, beat, max(stale, 2 * beat))

    def _link_service(self, store: GatewayStore) -> LinkUploads | None:
        """Upload links, kept in the store (an SqlStore: the one store kind that has an engine)."""
        engine = getattr(store, "engine", None)
        if engine is None or "create_upload_link" not in self.catalog.tools:
            return None
        accounts = load_accounts(self.settings.accounts, self.settings.api_key)

        def upstream_for(account: str) -> Upstream:
            # The link's creator is not on the line when the file arrives: its account stands in.
            principal = Principal(
                id="upload-link", scopes=Scopes(), account=account, api_key=accounts.get(account)
            )
            return self.runner.upstream_for(principal)

        return LinkUploads(
            UploadLinks(engine),
            self.shared,
            upstream_for,
            self.catalog.tools["create_upload_link"].call("upload"),
            self.settings.public_url,
            self.settings.upload_link_max_bytes,
        )

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """What runs beside the server: shared state upkeep, hearing the key pool's news, waking
        waiters on webhooks, capturing the transcripts webhooks announce, and the companions."""
        async with self.shared.running(), AsyncExitStack() as beside:
            if self.key_pool is not None:
                await beside.enter_async_context(self.key_pool.following())
            if capture_enabled(self.settings):
                await beside.enter_async_context(waking_waiters(self.shared, self.runner.poller))
            if self.webhook_capture is not None:
                await beside.enter_async_context(self.webhook_capture.running())
            sender = self._built_in_simulator_webhooks()
            if sender is not None:
                await beside.enter_async_context(sender)
            for companion in self.companions:
                await beside.enter_async_context(companion())
            if self.tasks is not None:
                await beside.enter_async_context(self.tasks)
            yield

    def _built_in_simulator_webhooks(self) -> AbstractAsyncContextManager[None] | None:
        """The built-in simulator (no API key) runs in this process without a lifespan of its own: its
        webhooks are sent from here, over loopback to the public URL, as AssemblyAI would."""
        if not (self.settings.simulated and capture_enabled(self.settings)):
            return None
        from aai_mcp.simulator.account_state import Simulator
        from aai_mcp.simulator.webhook_sender import WebhookSender

        simulator = getattr(getattr(self.in_process_app, "state", None), "simulator", None)
        if not isinstance(simulator, Simulator):
            return None
        return WebhookSender(simulator.webhooks, simulator.status_of).running()

    def upstream_for(self, principal: Principal) -> Upstream:
        return self.runner.upstream_for(principal)

    async def aclose(self) -> None:
        await self.upstream.aclose()
        await self.shared.aclose()


def load_default_catalog() -> Catalog:
    return load_catalog(default_schema_dir(), handlers=HANDLER_CALLS, views=VIEWS.keys())


def build_gateway(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None, catalog: Catalog | None = None
) -> Gateway:
    """Everything a transport needs. `transport` replaces the network (tests, the simulator);
    `catalog` replaces the tool_schemas/ shipped with the package (a catalog loaded from elsewhere)."""
    if catalog is None:
        catalog = load_default_catalog()
    available_kits(settings.extraction_kits_dir)  # a bad extraction kit fails at start, naming its file
    registry = Registry(catalog, server_scopes(settings, catalog))
    if transport is None and settings.simulated:
        transport = simulator_transport(settings)
    # Per gateway, not prometheus_client's global registry: one process may build many (tests).
    metrics = Metrics(CollectorRegistry(), catalog.tools)
    upstream = Upstream(settings, transport=transport, metrics=metrics)
    shared = build_shared_state(settings)
    runner = ToolRunner(registry, upstream, settings, shared, metrics)
    metrics.gauge("aai_mcp_waits_in_flight", "Waits for a transcript in flight.", runner.poller.waiting)
    metrics.gauge(
        "aai_mcp_poll_loops",
        "Transcripts this instance has a poll loop for (each shared by all its waiters).",
        lambda: len(runner.poller.polling()),
    )
    metrics.teams = team_names(settings.accounts)
    usage = UsageMeter(metrics)
    runner.usage = usage
    quotas = TeamQuotas(parse_team_quotas(settings.team_quotas))
    gate = QuotaGate(quotas, shared, usage)
    in_process = transport.app if isinstance(transport, httpx.ASGITransport) else None
    return Gateway(
        settings, catalog, registry, upstream, runner, quotas, usage, gate, in_process_app=in_process
    )


def simulator_transport(settings: Settings) -> httpx.AsyncBaseTransport:
    from aai_mcp.simulator import SimulatorConfig, build_simulator_app

    log.warning(SIMULATION_WARNING)
    # Nothing reads this simulator's request log, which would grow by ~300 bytes per upstream call forever.
    config = SimulatorConfig(
        api_key=SIMULATOR_KEY,
        processing_delay_seconds=settings.simulator_delay_seconds,
        time_scale=settings.simulator_time_scale,
        record_requests=False,
    )
    return httpx.ASGITransport(app=build_simulator_app(config))
