"""Webhook capture as `aai-mcp serve` runs it: the store opened for it (also without --auth tokens),
the route present only while capture is on, and end to end with real processes: a transcript made at
the standalone simulator with the gateway's webhook ends in the gateway's archive."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from aai_mcp.cli.serving import open_serving_store
from aai_mcp.gateway import build_gateway
from aai_mcp.state.archive_store import ArchiveStore
from aai_mcp.transports.http import build_http_app
from aai_mcp.webhooks.submission import WEBHOOK_PATH
from tests.support import make_settings
from tests.support.raw_mcp import Session, call
from tests.support.servers import (
    SIM_KEY,
    clean_env,
    free_port,
    server_process,
    simulator_env,
    standalone_simulator,
    upstream_args,
    wait_until,
)
from tests.support.stores import StoreConfig
from tests.support.webhook_rig import HEADER, SECRET

CAPTURE = {"public_url": "http://127.0.0.1:8799", "webhook_auth_header_value": SecretStr(SECRET)}


@pytest.mark.parametrize(("capture", "opened"), [(CAPTURE, True), ({}, False)])
def test_serve_opens_the_store_for_webhook_capture(
    tmp_path: Path, capture: dict[str, object], opened: bool
) -> None:
    store = open_serving_store(make_settings(data_dir=tmp_path, **capture))
    try:
        assert (store is not None) is opened
    finally:
        if store is not None:
            store.close()


@pytest.mark.anyio
@pytest.mark.parametrize(("capture", "status"), [(CAPTURE, 401), ({}, 404)])
async def test_the_webhook_route_exists_only_while_capture_is_on(
    tmp_path: Path, capture: dict[str, object], status: int
) -> None:
    store = StoreConfig(tmp_path / "data", None).open(auto_upgrade=True)
    try:
        gateway = build_gateway(make_settings(**capture))
        gateway.use_store(store, ArchiveStore(store.engine))
        app = build_http_app(gateway)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
        ) as client:
            answer = await client.post(WEBHOOK_PATH, json={"transcript_id": "abc", "status": "completed"})
        assert answer.status_code == status
        await gateway.aclose()
    finally:
        store.close()


@pytest.mark.slow
def test_serve_captures_a_transcript_the_simulator_announces(tmp_path: Path) -> None:
    port = free_port()
    env = simulator_env(AAI_MCP_WEBHOOK_AUTH_HEADER_VALUE=SECRET, AAI_MCP_DATA_DIR=str(tmp_path))
    with standalone_simulator("--simulator-delay-seconds", "0.3") as simulator:
        flags = [*upstream_args(simulator.base_url), "--public-url", f"http://127.0.0.1:{port}"]
        command = [sys.executable, "-m", "aai_mcp", "serve", "--port", str(port), *flags]
        with server_process(command, port, env) as gateway:
            body = {
                "audio_url": "https://calls.example.com/one.wav",
                "speech_models": ["universal"],
                "webhook_url": f"{gateway.base_url}{WEBHOOK_PATH}",
                "webhook_auth_header_name": HEADER,
                "webhook_auth_header_value": SECRET,
            }
            headers = {"Authorization": SIM_KEY}
            created = httpx.post(
                f"{simulator.base_url}/v2/transcript", json=body, headers=headers, timeout=30
            )
            transcript_id = created.raise_for_status().json()["id"]
            store = StoreConfig(tmp_path, None).open()
            try:
                archive = ArchiveStore(store.engine)
                wait_until(lambda: archive.archived_ids([transcript_id]), 120, "the capture", interval=0.1)
            finally:
                store.close()
            log = gateway.stderr()
    assert f"webhook transcript={transcript_id} status=completed answer=202" in log
    assert SECRET not in log


@pytest.mark.slow
def test_serve_with_its_built_in_simulator_wakes_transcribe_on_the_webhook(tmp_path: Path) -> None:
    """No API key: the in-process simulator sends the webhook to the gateway's own public URL; with a
    safety-net poll of 600 s, transcribe returns only because the webhook woke it."""
    port = free_port()
    env = clean_env(
        AAI_MCP_WEBHOOK_AUTH_HEADER_VALUE=SECRET,
        AAI_MCP_DATA_DIR=str(tmp_path),
        AAI_MCP_SIMULATOR_DELAY_SECONDS="0.5",
        AAI_MCP_WEBHOOK_WAIT_POLL_SECONDS="600",
    )
    command = [
        sys.executable,
        "-m",
        "aai_mcp",
        "serve",
        "--port",
        str(port),
        "--public-url",
        f"http://127.0.0.1:{port}",
    ]
    with server_process(command, port, env) as gateway, httpx.Client(timeout=120) as http:
        session = Session(http, f"{gateway.base_url}/mcp", {})
        args = {"audio_url": "https://calls.example.com/one.wav", "timeout_seconds": 90}
        answer = session.result(call(1, "transcribe", **args))["result"]
        log = gateway.stderr()
    content = answer["structuredContent"]
    assert not answer.get("isError") and content["status"] == "completed" and content["waited_seconds"] < 60
    assert f"webhook transcript={content['id']} status=completed answer=202" in log
    store = StoreConfig(tmp_path, None).open()
    try:
        assert ArchiveStore(store.engine).archived_ids([content["id"]]) == {content["id"]}
    finally:
        store.close()
