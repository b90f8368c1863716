"""The gateway's webhook on the transcripts its tools create, and waiters woken by it: set only when
capture is configured (public_url and the secret) and webhook_auto is on, never over the caller's
webhook_url, its secret never in a result or a log; a waiter whose transcript carries the gateway's
webhook polls once, then again only when the webhook arrives (not at its next poll)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from pydantic import SecretStr

from aai_mcp.gateway import build_gateway
from aai_mcp.mcp_server.runtime.runner import ToolRunner
from aai_mcp.simulator.webhook_sender import WebhookSender
from aai_mcp.webhooks.submission import WEBHOOK_PATH
from tests.support import text_of
from tests.support.archive_runs import fetches
from tests.support.archive_sync import PROCESSING_SECONDS
from tests.support.redis import RedisServer
from tests.support.stores import StoreConfig
from tests.support.webhook_rig import HEADER, PUBLIC_URL, SECRET, Rig, webhook_rig, webhook_settings

pytestmark = pytest.mark.anyio
AUDIO = "https://calls.example.com/call.wav"
CALLERS_HOOK = {
    "webhook_url": "https://hooks.example.com/mine",
    "webhook_auth_header_name": "X-Mine",
    "webhook_auth_header_value": "my-own-value",
}


@asynccontextmanager
async def sqlite_rig(tmp_path: Path, **overrides: Any) -> AsyncIterator[Rig]:
    store = StoreConfig(tmp_path / "data", None).open(auto_upgrade=True)
    try:
        async with webhook_rig(store, **overrides) as rig:
            yield rig
    finally:
        store.close()


def newest_params(rig: Rig) -> dict[str, Any]:
    return rig.simulator.transcripts.newest_first()[0].params


GATEWAY_HOOK = {
    "webhook_url": PUBLIC_URL + WEBHOOK_PATH,
    "webhook_auth_header_name": HEADER,
    "webhook_auth_header_value": SECRET,
}
NO_HOOK: dict[str, Any] = dict.fromkeys(GATEWAY_HOOK)


@pytest.mark.parametrize("tool", ["create_transcript", "transcribe"])
@pytest.mark.parametrize(
    ("overrides", "given", "sent"),
    [
        ({}, {}, GATEWAY_HOOK),
        ({}, CALLERS_HOOK, CALLERS_HOOK),
        ({"public_url": None}, {}, NO_HOOK),
        ({"webhook_auth_header_value": None}, {}, NO_HOOK),
        ({"webhook_auto": False}, {}, NO_HOOK),
    ],
    ids=["capture-on", "callers-own", "no-public-url", "no-secret", "auto-off"],
)
async def test_the_gateways_webhook_is_set_only_when_configured_and_never_over_the_callers(
    tmp_path: Path,
    tool: str,
    overrides: dict[str, Any],
    given: dict[str, Any],
    sent: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with sqlite_rig(tmp_path, **overrides) as rig:
        args = {"audio_url": AUDIO, **given} | ({"wait": False} if tool == "transcribe" else {})
        result = await rig.gateway.runner.call(tool, args)
        assert not result.is_error, text_of(result)
        params = newest_params(rig)
        assert {name: params.get(name) for name in sent} == sent
        shown = result.model_dump_json()
    assert SECRET not in shown and SECRET not in caplog.text


# A safety-net interval far past the tests' deadline: only the webhook can end the wait in time.
NEVER = {"webhook_wait_poll_seconds": 3000, "wait_max_seconds": 3000}


async def polls_until_woken(rig: Rig, runner: ToolRunner) -> int:
    """Create a transcript through `runner`, wait for it there, let it complete (the simulator sends
    its webhook to `rig`'s gateway); the wait's upstream polls."""
    created = await runner.call("create_transcript", {"audio_url": AUDIO})
    assert not created.is_error
    transcript_id = rig.simulator.transcripts.newest_first()[0].transcript_id
    polled, done = anyio.Event(), anyio.Event()
    outcome: dict[str, Any] = {}
    polls = 0

    async def progress(value: float, total: float | None, message: str | None) -> None:
        nonlocal polls
        polls += 1  # the wait reports after each of its polls
        polled.set()

    async def wait() -> None:
        args = {"transcript_id": transcript_id, "timeout_seconds": 3000}
        outcome["result"] = await runner.call("wait_for_transcript", args, progress)
        done.set()

    sender = WebhookSender(rig.simulator.webhooks, rig.simulator.status_of, httpx.ASGITransport(rig.app))
    with anyio.fail_after(60):
        async with anyio.create_task_group() as group, sender.running():
            group.start_soon(wait)
            await polled.wait()  # the first poll saw it queued
            rig.clock.now += PROCESSING_SECONDS + 1  # it completes; the simulator sends the webhook
            await done.wait()
    result = outcome["result"]
    assert not result.is_error and (result.structured_content or {}).get("status") == "completed"
    record = rig.simulator.transcripts.get(transcript_id)
    assert record is not None and record.webhook_status_code == 202
    return polls


async def test_a_waiter_wakes_on_the_webhook_instead_of_the_next_poll(tmp_path: Path) -> None:
    async with sqlite_rig(tmp_path, **NEVER) as rig:
        assert await polls_until_woken(rig, rig.gateway.runner) == 2  # the first, and the woken one
        await rig.until_stored(1)
        [transcript_id] = rig.archive.all_ids()
        assert fetches(rig.simulator)[transcript_id] == 3  # the wait's two, and the capture's


async def test_a_webhook_received_by_one_instance_wakes_a_waiter_on_another(
    tmp_path: Path, shared_redis: RedisServer
) -> None:
    shared = {"redis_url": SecretStr(shared_redis.url), **NEVER}
    async with sqlite_rig(tmp_path, **shared) as rig:
        other = build_gateway(webhook_settings(**shared), transport=httpx.ASGITransport(rig.seeded.app))
        try:
            async with other.running():
                assert await polls_until_woken(rig, other.runner) == 2
        finally:
            await other.aclose()


async def test_without_the_webhook_the_same_waiter_polls_on_its_interval(tmp_path: Path) -> None:
    """The counterpart: with auto webhooks off, nothing wakes the waiter; it polls on its own."""
    overrides = {"webhook_auto": False, "wait_poll_initial_seconds": 0.05, "wait_poll_max_seconds": 0.05}
    async with sqlite_rig(tmp_path, **overrides) as rig:
        await rig.gateway.runner.call("create_transcript", {"audio_url": AUDIO})
        transcript_id = rig.simulator.transcripts.newest_first()[0].transcript_id
        polls = anyio.Event()
        seen = 0

        async def progress(value: float, total: float | None, message: str | None) -> None:
            nonlocal seen
            seen += 1
            if seen == 3:
                polls.set()

        async def wait() -> None:
            args = {"transcript_id": transcript_id, "timeout_seconds": 120}
            await rig.gateway.runner.call("wait_for_transcript", args, progress)

        with anyio.fail_after(60):
            async with anyio.create_task_group() as group:
                group.start_soon(wait)
                await polls.wait()
                rig.clock.now += PROCESSING_SECONDS + 1
        assert seen >= 4 and fetches(rig.simulator)[transcript_id] == seen
        assert "webhook_url" not in newest_params(rig)


def test_a_short_webhook_secret_is_refused_without_being_quoted() -> None:
    with pytest.raises(ValueError, match="at least 16 characters") as refused:
        webhook_settings(webhook_auth_header_value=SecretStr("short-secret-15"))
    assert "short-secret-15" not in str(refused.value)
