"""wait_for_transcript and transcribe: bounded waits, progress, shared polling, and nothing lost."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import pytest
from mcp.client import Client

from aai_mcp.gateway import Gateway, build_gateway
from aai_mcp.mcp_server.factory import build_server
from aai_mcp.simulator import Simulator, SimulatorConfig, build_simulator_app
from tests.support import CANARY_KEY, ManualClock, error_details, make_settings, wav_bytes

pytestmark = pytest.mark.anyio

URL = "https://example.com/support-call.mp3"


@dataclass
class Rig:
    gateway: Gateway
    sim: Simulator
    client: Client

    def gets(self, transcript_id: str) -> int:
        return sum(
            1 for r in self.sim.requests if r.method == "GET" and r.path == f"/v2/transcript/{transcript_id}"
        )

    def posts(self, path: str) -> int:
        return sum(1 for r in self.sim.requests if r.method == "POST" and r.path == path)

    async def create(self) -> str:
        created = await self.client.call_tool("create_transcript", {"audio_url": URL, "speaker_labels": True})
        return str(created.structured_content["id"])


async def rig_with(
    delay: float, clock: Callable[[], float] = time.monotonic, **settings: Any
) -> AsyncIterator[Rig]:
    config = SimulatorConfig(api_key=CANARY_KEY, processing_delay_seconds=delay, clock=clock)
    app = build_simulator_app(config)
    values = {"wait_poll_initial_seconds": 0.01, "wait_poll_max_seconds": 0.03, **settings}
    gateway = build_gateway(make_settings(**values), transport=httpx.ASGITransport(app=app))
    try:
        async with Client(build_server(gateway)) as client:
            yield Rig(gateway, app.state.simulator, client)
    finally:
        await gateway.aclose()


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async for made in rig_with(0.3):
        yield made


@pytest.fixture
async def slow_rig() -> AsyncIterator[Rig]:
    async for made in rig_with(60.0):
        yield made


async def test_wait_reports_progress_and_returns_the_compact_transcript() -> None:
    # The job finishes when the first progress report arrives, not 0.3 s of wall clock after it was
    # created: on a loaded machine the first poll could come later than that and be the only one.
    clock = ManualClock()
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))
        clock.advance(1.0)

    async with asynccontextmanager(rig_with)(0.3, clock) as rig:
        transcript_id = await rig.create()
        result = await rig.client.call_tool(
            "wait_for_transcript",
            {"transcript_id": transcript_id, "timeout_seconds": 20},
            progress_callback=on_progress,
        )
        assert not result.is_error
        data = result.structured_content
        assert data["status"] == "completed" and data["text"] and data["timed_out"] is False
        assert "words" not in data
        assert len(seen) == rig.gets(transcript_id) >= 2
        assert [p for p, _, _ in seen] == sorted(p for p, _, _ in seen)
        assert all(total == 20 and message and "status" in message for _, total, message in seen)
        assert seen[0][2] is not None and "queued" in seen[0][2]
        assert seen[-1][2] is not None and "completed" in seen[-1][2]


async def test_timeout_is_not_an_error_and_gives_the_id(slow_rig: Rig) -> None:
    transcript_id = await slow_rig.create()
    result = await slow_rig.client.call_tool(
        "wait_for_transcript", {"transcript_id": transcript_id, "timeout_seconds": 1}
    )
    assert not result.is_error
    data = result.structured_content
    assert data["id"] == transcript_id and data["timed_out"] is True
    assert data["status"] in ("queued", "processing") and "text" not in data
    assert "wait_for_transcript" in data["next_step"]
    assert 0.9 <= data["waited_seconds"] <= 5
    assert slow_rig.gateway.runner.poller.polling() == []


async def test_timeout_is_capped_by_the_server_maximum(slow_rig: Rig) -> None:
    transcript_id = await slow_rig.create()
    slow_rig.gateway.settings.__dict__["wait_max_seconds"] = 0.2
    result = await slow_rig.client.call_tool(
        "wait_for_transcript", {"transcript_id": transcript_id, "timeout_seconds": 3600}
    )
    assert result.structured_content["timed_out"] is True
    assert result.structured_content["waited_seconds"] < 2


async def test_a_failed_job_ends_the_wait_as_an_error(rig: Rig) -> None:
    text = base64.b64encode(b"plain text, not audio").decode()
    uploaded = await rig.client.call_tool("upload_file", {"data_base64": text})
    created = await rig.client.call_tool(
        "create_transcript", {"audio_url": uploaded.structured_content["upload_url"]}
    )
    result = await rig.client.call_tool(
        "wait_for_transcript", {"transcript_id": created.structured_content["id"]}
    )
    assert result.is_error
    assert result.structured_content["status"] == "error" and result.structured_content["error"]


async def test_concurrent_waiters_share_one_poll_loop() -> None:
    # Comparing with one waiter's poll count raced the jittered poll schedule against a 0.3 s job
    # (11 polls against 8 + 2 under load). The job's clock now moves only once all ten are attached,
    # so the bound is what coalescing guarantees: the finish costs the one loop at most one poll.
    clock = ManualClock()
    async with asynccontextmanager(rig_with)(0.3, clock) as rig:
        shared = await rig.create()
        poller = rig.gateway.runner.poller
        results: list[Any] = []
        waiters = 10

        async def wait_one() -> None:
            results.append(await rig.client.call_tool("wait_for_transcript", {"transcript_id": shared}))

        async with anyio.create_task_group() as group:
            for _ in range(waiters):
                group.start_soon(wait_one)
            with anyio.fail_after(30):  # attachment happens inside the server: no event to await
                while poller.waiters(shared) < waiters:
                    await anyio.sleep(0.01)
            before = rig.gets(shared)
            clock.advance(1.0)
        assert [r.structured_content["status"] for r in results] == ["completed"] * waiters
        assert rig.gets(shared) - before <= 1, (rig.gets(shared), before)
        assert poller.polling() == []


async def test_cancelling_the_call_stops_polling(slow_rig: Rig) -> None:
    transcript_id = await slow_rig.create()
    polled = anyio.Event()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        polled.set()

    async with anyio.create_task_group() as group:
        group.start_soon(
            lambda: slow_rig.client.call_tool(
                "wait_for_transcript",
                {"transcript_id": transcript_id, "timeout_seconds": 30},
                progress_callback=on_progress,
            )
        )
        await polled.wait()
        assert slow_rig.gateway.runner.poller.polling() == [transcript_id]
        group.cancel_scope.cancel()
    with anyio.fail_after(5):
        while slow_rig.gateway.runner.poller.polling():
            await anyio.lowlevel.checkpoint()
    count = slow_rig.gets(transcript_id)
    # While another wait runs for a second, nothing polls the cancelled transcript any more.
    other = await slow_rig.create()
    waited = await slow_rig.client.call_tool(
        "wait_for_transcript", {"transcript_id": other, "timeout_seconds": 1}
    )
    assert waited.structured_content["timed_out"] is True and slow_rig.gets(other) > 3
    assert slow_rig.gets(transcript_id) == count


async def test_a_429_while_polling_ends_the_wait_and_passes_through(rig: Rig) -> None:
    transcript_id = await rig.create()
    rig.sim.queue_fault("429", count=1, path_prefix=f"/v2/transcript/{transcript_id}", method="GET")
    result = await rig.client.call_tool("wait_for_transcript", {"transcript_id": transcript_id})
    assert result.is_error
    error = error_details(result)
    assert error["status"] == 429 and error["retry_after_seconds"] >= 0 and "ratelimit-reset" in error
    assert rig.gets(transcript_id) == 1


async def test_transcribe_a_url_in_one_call(rig: Rig) -> None:
    result = await rig.client.call_tool("transcribe", {"audio_url": URL, "speaker_labels": True})
    assert not result.is_error
    data = result.structured_content
    assert data["status"] == "completed" and data["utterances"] and data["id"]
    assert rig.posts("/v2/upload") == 0 and rig.posts("/v2/transcript") == 1


async def test_transcribe_uploads_local_audio_first(rig: Rig) -> None:
    clip = base64.b64encode(wav_bytes()).decode()
    result = await rig.client.call_tool("transcribe", {"data_base64": clip})
    assert not result.is_error, result.content
    assert result.structured_content["upload_url"].startswith("https://cdn.assemblyai.com/upload/")
    assert result.structured_content["status"] == "completed"


async def test_transcribe_without_waiting(slow_rig: Rig) -> None:
    result = await slow_rig.client.call_tool("transcribe", {"audio_url": URL, "wait": False})
    assert result.structured_content["status"] == "queued" and result.structured_content["id"]
    assert slow_rig.gets(result.structured_content["id"]) == 0


async def test_transcribe_timeout_still_returns_the_id(slow_rig: Rig) -> None:
    result = await slow_rig.client.call_tool("transcribe", {"audio_url": URL, "timeout_seconds": 1})
    assert not result.is_error
    assert result.structured_content["id"] and result.structured_content["timed_out"] is True


async def test_transcribe_upload_failure_creates_nothing(rig: Rig) -> None:
    rig.sim.queue_fault("500", path_prefix="/v2/upload")
    clip = base64.b64encode(wav_bytes()).decode()
    result = await rig.client.call_tool("transcribe", {"data_base64": clip})
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert text.startswith("Upload failed, so no transcript was created")
    assert rig.posts("/v2/upload") == 1 and rig.posts("/v2/transcript") == 0


async def test_transcribe_create_failure_is_reported_and_not_repeated(rig: Rig) -> None:
    rig.sim.queue_fault("503", path_prefix="/v2/transcript", method="POST")
    clip = base64.b64encode(wav_bytes()).decode()
    result = await rig.client.call_tool("transcribe", {"data_base64": clip})
    assert result.is_error
    error = error_details(result)
    assert error["message"].startswith("Creating the transcript failed") and error["status"] == 503
    assert error["upload_url"].startswith("https://cdn.assemblyai.com/upload/")
    assert "transcript_id" not in error
    assert rig.posts("/v2/upload") == 1 and rig.posts("/v2/transcript") == 1


async def test_transcribe_wait_failure_keeps_the_transcript_id(rig: Rig) -> None:
    rig.sim.queue_fault("429", path_prefix="/v2/transcript/", method="GET")
    result = await rig.client.call_tool("transcribe", {"audio_url": URL})
    assert result.is_error
    error = error_details(result)
    assert error["transcript_id"] and error["transcript_id"] in result.content[0].text  # type: ignore[union-attr]
    assert "wait_for_transcript" in error["message"] and error["status"] == 429
    assert rig.posts("/v2/transcript") == 1


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ({}, "exactly one"),
        ({"audio_url": URL, "data_base64": "AAAA"}, "exactly one"),
        ({"audio_url": URL, "summarization": True}, "llm_chat_completion"),
    ],
)
async def test_transcribe_input_errors_reach_nothing(rig: Rig, args: dict[str, Any], needle: str) -> None:
    result = await rig.client.call_tool("transcribe", args)
    assert result.is_error and needle in result.content[0].text  # type: ignore[union-attr]
    assert not rig.sim.requests
