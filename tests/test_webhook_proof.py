"""The proof of webhook capture over real sockets, on SQLite and PostgreSQL: 100 transcripts submitted to
the simulator (served by uvicorn, which sends their webhooks) with the gateway's webhook, the gateway
(served by uvicorn) capturing each into the archive, with failures injected on both sides: one
delivery attempt in ten answered 503 by the simulator's fault hook (it tries again, as AssemblyAI
does), and 10 of the gateway's capture fetches answered 500 (the capture tries again). It ends with
exactly the 100 transcripts stored, none pending, every webhook answered 202."""

from __future__ import annotations

import httpx
import pytest
import uvicorn
from pydantic import SecretStr

from aai_mcp.gateway import build_gateway
from aai_mcp.simulator import SimulatorConfig, build_simulator_app
from aai_mcp.simulator.account_state import Simulator
from aai_mcp.state.archive_store import ArchiveStore
from aai_mcp.transports.connections import server_config
from aai_mcp.transports.http import build_http_app
from aai_mcp.webhooks.submission import WEBHOOK_PATH
from tests.support import make_settings
from tests.support.servers import SIM_KEY, free_port, uvicorn_in_thread, wait_until
from tests.support.stores import StoreConfig
from tests.support.webhook_rig import HEADER, SECRET

pytestmark = pytest.mark.slow
COMPLETIONS = 100
DEADLINE = 240.0  # generous: a loaded 2-core machine


def test_100_completions_with_10_percent_injected_failures_end_with_100_stored(
    store_config: StoreConfig,
) -> None:
    simulator_app = build_simulator_app(SimulatorConfig(api_key=SIM_KEY, processing_delay_seconds=0.5))
    simulator: Simulator = simulator_app.state.simulator
    simulator.webhooks.fail_every = 10
    simulator.queue_fault("500", COMPLETIONS // 10, path_prefix="/v2/transcript/", method="GET")
    sim_config = uvicorn.Config(simulator_app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    port = free_port()
    store = store_config.open(auto_upgrade=True)
    try:
        settings = make_settings(
            api_key=SecretStr(SIM_KEY),
            public_url=f"http://127.0.0.1:{port}",
            webhook_auth_header_value=SecretStr(SECRET),
            get_retries=0,
            port=port,
        )
        with uvicorn_in_thread(sim_config) as simulator_url:
            gateway = build_gateway(settings.model_copy(update={"api_base_url": simulator_url}))
            archive = ArchiveStore(store.engine)
            gateway.use_store(store, archive)
            config = server_config(build_http_app(gateway), gateway.settings, host="127.0.0.1", lifespan="on")
            with uvicorn_in_thread(config) as gateway_url:
                ids = _submit(simulator_url, f"{gateway_url}{WEBHOOK_PATH}")
                wait_until(lambda: archive.count() >= COMPLETIONS, DEADLINE, "100 captures", interval=0.2)
                wait_until(lambda: not archive.pending_ids(), DEADLINE, "no capture pending", interval=0.2)
        assert archive.count() == COMPLETIONS and set(archive.all_ids()) == set(ids)
        assert simulator.webhooks.failed_attempts >= COMPLETIONS // 10
        assert simulator.faults.pending() == []  # every injected capture failure was served
        codes = {simulator.transcripts.get(i).webhook_status_code for i in ids}  # type: ignore[union-attr]
        assert codes == {202}
    finally:
        store.close()


def _submit(simulator_url: str, webhook_url: str) -> list[str]:
    hook = {
        "webhook_url": webhook_url,
        "webhook_auth_header_name": HEADER,
        "webhook_auth_header_value": SECRET,
        "speech_models": ["universal"],
    }
    ids = []
    with httpx.Client(base_url=simulator_url, headers={"Authorization": SIM_KEY}, trust_env=False) as client:
        for n in range(COMPLETIONS):
            body = {"audio_url": f"https://calls.example.com/{n:03d}.wav", **hook}
            answer = client.post("/v2/transcript", json=body)
            answer.raise_for_status()
            ids.append(answer.json()["id"])
    return ids
