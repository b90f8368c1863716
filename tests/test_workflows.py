"""The three agent workflows over real HTTP with a real client: at most 3 tool calls, small outputs.

Tool output is counted as the JSON of each whole result (content, structuredContent, _meta), in
tokens of 4 bytes each: the rule of thumb the issue's figures use (9.6 KB ~ 2 400 tokens), not a
tokenizer's count. Run with `-s` to see the figures (calls, bytes and tokens per workflow, and the
raw-tool path for comparison).

Measured 2026-11-30 (issue 17 target 4): before `include`, 2 calls and 9 741-9 749 bytes (~2 437
tokens) per prompt, 8.8 kB of it the transcript transcribe returned; with the prompts' include=[],
2 033-2 041 bytes (~511 tokens); 2 940-2 948 bytes (~737 tokens) in 3 calls when transcribe times
out; 2 070-2 078 bytes (~520 tokens) for a one-hour recording, whose compact transcript alone is
81 962 bytes (~20 491 tokens). The raw tools: 5 calls, 19 545 bytes (~4 887 tokens).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
import pytest
from mcp.client import Client

from aai_mcp.gateway import Gateway, build_gateway
from aai_mcp.simulator import Simulator, SimulatorConfig, build_simulator_app
from tests.support import CANARY_KEY, ManualClock, error_details, make_settings
from tests.support.long_recordings import HOUR_MS, calls_filling_the_audio, hour_wav
from tests.support.servers import serve_gateway_in_thread

pytestmark = pytest.mark.anyio

AUDIO = "https://example.com/calls/escalation-0142.mp3"
ID_PLACEHOLDER = "<the id from step 1>"
MAX_CALLS = 3
BYTES_PER_TOKEN = 4
MAX_OUTPUT_TOKENS = 2_000
WORKFLOWS = {
    "call_phases": {"phases": "greeting, problem, resolution, closing"},
    "podcast_show_notes": {},
    "support_escalation_audit": {},
}


@dataclass
class Live:
    url: str
    gateway: Gateway
    sim: Simulator
    upstream: httpx.AsyncBaseTransport

    def gets(self, transcript_id: str) -> int:
        return sum(
            1 for r in self.sim.requests if r.method == "GET" and r.path == f"/v2/transcript/{transcript_id}"
        )


def live_server(delay: float, clock: Callable[[], float] = time.monotonic, **more: Any) -> Iterator[Live]:
    config = SimulatorConfig(api_key=CANARY_KEY, processing_delay_seconds=delay, clock=clock)
    app = build_simulator_app(config)
    settings = make_settings(wait_poll_initial_seconds=0.05, wait_poll_max_seconds=0.2, **more)
    upstream = httpx.ASGITransport(app=app)
    gateway = build_gateway(settings, transport=upstream)
    with serve_gateway_in_thread(gateway) as url:
        yield Live(f"{url}/mcp", gateway, app.state.simulator, upstream)


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    """Jobs finish 0.6 s after they are created."""
    yield from live_server(0.6)


@pytest.fixture(scope="module")
def slow_live() -> Iterator[Live]:
    """Jobs take a minute: for timeouts, cancellation and failures part-way."""
    yield from live_server(60.0)


@dataclass
class Agent:
    """A scripted agent: makes the calls a prompt names and keeps count of what came back."""

    client: Client
    calls: list[str] = field(default_factory=list)
    output_bytes: int = 0
    transcript_id: str = ""
    last: Any = None

    async def call(self, tool: str, args: dict[str, Any]) -> Any:
        result = await self.client.call_tool(tool, args)
        self.calls.append(tool)
        self.output_bytes += len(result.model_dump_json(by_alias=True, exclude_none=True))
        assert not result.is_error, result.content
        self.last = result
        return result

    @property
    def output_tokens(self) -> int:
        return -(-self.output_bytes // BYTES_PER_TOKEN)

    def figures(self) -> str:
        tokens = f"{self.output_bytes} bytes ~ {self.output_tokens} tokens"
        return f"{len(self.calls)} calls {self.calls}, {tokens}"


def planned_calls(prompt_text: str) -> list[tuple[str, dict[str, Any]]]:
    """Every "`tool` with {json}" in the prompt, in order, with the JSON arguments parsed."""
    decoder = json.JSONDecoder()
    found = []
    for match in re.finditer(r"`(\w+)` with (?=\{)", prompt_text):
        args, _ = decoder.raw_decode(prompt_text, match.end())
        found.append((match.group(1), args))
    return found


def with_id(args: dict[str, Any], transcript_id: str) -> dict[str, Any]:
    filled: dict[str, Any] = json.loads(json.dumps(args).replace(ID_PLACEHOLDER, transcript_id))
    return filled


async def run_workflow(
    client: Client,
    name: str,
    arguments: dict[str, str],
    before_wait: Callable[[], None] = lambda: None,
    audio_url: str = AUDIO,
) -> Agent:
    """The calls the prompt plans, as a model following it makes them; `before_wait` runs when
    transcribe timed out, before wait_for_transcript."""
    prompt = await client.get_prompt(name, {"audio_url": audio_url, **arguments})
    text = "\n".join(m.content.text for m in prompt.messages)  # type: ignore[union-attr]
    plan = dict(planned_calls(text))
    assert {"transcribe", "wait_for_transcript", "ask_transcript"} <= set(plan), text
    agent = Agent(client)
    transcribed = await agent.call("transcribe", plan["transcribe"])
    transcript_id = agent.transcript_id = transcribed.structured_content["id"]
    if transcribed.structured_content.get("timed_out"):
        before_wait()
        waited = await agent.call("wait_for_transcript", with_id(plan["wait_for_transcript"], transcript_id))
        assert waited.structured_content["status"] == "completed"
    answer = await agent.call("ask_transcript", with_id(plan["ask_transcript"], transcript_id))
    assert answer.structured_content["answer"]
    assert answer.structured_content["transcript_ids"] == [transcript_id]
    return agent


def assert_within_budget(agent: Agent) -> None:
    assert len(agent.calls) <= MAX_CALLS
    assert agent.output_tokens <= MAX_OUTPUT_TOKENS, agent.figures()


@pytest.mark.parametrize("name", list(WORKFLOWS))
async def test_each_workflow_takes_at_most_three_small_calls(live: Live, name: str) -> None:
    async with Client(live.url) as client:
        agent = await run_workflow(client, name, WORKFLOWS[name])
    print(f"\n{name}: {agent.figures()}")
    assert agent.calls == ["transcribe", "ask_transcript"]
    assert_within_budget(agent)


@pytest.mark.parametrize("name", list(WORKFLOWS))
async def test_from_a_transcript_id_each_workflow_is_as_small(live: Live, name: str) -> None:
    async with Client(live.url) as client:
        created = await client.call_tool("create_transcript", {"audio_url": AUDIO, "speaker_labels": True})
        transcript_id = created.structured_content["id"]
        prompt = await client.get_prompt(name, {"transcript_id": transcript_id, **WORKFLOWS[name]})
        plan = planned_calls("\n".join(m.content.text for m in prompt.messages))  # type: ignore[union-attr]
        assert [tool for tool, _ in plan] == ["wait_for_transcript", "ask_transcript"]
        agent = Agent(client)
        for tool, args in plan:
            await agent.call(tool, args)
    print(f"\n{name} from a transcript id: {agent.figures()}")
    assert agent.last.structured_content["transcript_ids"] == [transcript_id]
    assert_within_budget(agent)


@pytest.fixture(scope="module")
def stalled() -> Iterator[tuple[Live, ManualClock]]:
    """Jobs finish only when the test moves the clock, and transcribe gives up waiting after 1 s."""
    clock = ManualClock()
    with contextmanager(live_server)(0.6, clock, wait_default_seconds=1.0) as live:
        yield live, clock


@pytest.mark.parametrize("name", list(WORKFLOWS))
async def test_a_transcribe_that_times_out_adds_one_small_wait(
    stalled: tuple[Live, ManualClock], name: str
) -> None:
    live, clock = stalled
    async with Client(live.url) as client:
        agent = await run_workflow(client, name, WORKFLOWS[name], before_wait=lambda: clock.advance(1.0))
    print(f"\n{name} after a timeout: {agent.figures()}")
    assert agent.calls == ["transcribe", "wait_for_transcript", "ask_transcript"]
    assert_within_budget(agent)


@pytest.fixture(scope="module")
def hour_live() -> Iterator[Live]:
    # Patched until the module's tests end; shorter audio keeps the simulator's own content meanwhile.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("aai_mcp.simulator.jobs.build_call", calls_filling_the_audio)
        yield from live_server(0.6)


async def uploaded_hour(live: Live) -> str:
    """The recording is already at AssemblyAI (uploaded before the workflow): its upload URL."""
    async with httpx.AsyncClient(transport=live.upstream, base_url="https://api.assemblyai.com") as upstream:
        answer = await upstream.post("/v2/upload", content=hour_wav(), headers={"authorization": CANARY_KEY})
    answer.raise_for_status()
    return str(answer.json()["upload_url"])


@pytest.mark.parametrize("name", list(WORKFLOWS))
async def test_a_one_hour_transcript_costs_the_same_small_budget(hour_live: Live, name: str) -> None:
    audio_url = await uploaded_hour(hour_live)
    async with Client(hour_live.url) as client:
        agent = await run_workflow(client, name, WORKFLOWS[name], audio_url=audio_url)
        whole = Agent(client)
        await whole.call("wait_for_transcript", {"transcript_id": agent.transcript_id})
    record = hour_live.sim.transcripts.get(agent.transcript_id)
    assert record is not None
    print(f"\n{name}, one hour: {agent.figures()}; the whole compact transcript alone: {whole.figures()}")
    # 22 rounds of the 160 s script: some 42 000 characters, 7 500 words, 480 utterances.
    assert record.content.audio_duration == HOUR_MS // 1000 and len(record.content.text) > 40_000
    assert agent.last.structured_content["context_chars"] > 40_000  # the LLM saw the whole hour
    assert_within_budget(agent)
    # Without include the transcript itself would blow the budget many times over.
    assert whole.output_tokens > 5 * MAX_OUTPUT_TOKENS


async def test_the_raw_tools_need_more_calls_and_bytes(live: Live) -> None:
    """The same audit with the plain API tools, for comparison (what the workflow tools save)."""
    async with Client(live.url) as client:
        agent = Agent(client)
        created = await agent.call("create_transcript", {"audio_url": AUDIO, "speaker_labels": True})
        transcript_id = created.structured_content["id"]
        status = "queued"
        while status != "completed":
            await anyio.sleep(0.3)  # an agent's pace between status checks, not a wait for an event
            got = await agent.call("get_transcript", {"transcript_id": transcript_id})
            status = got.structured_content["status"]
        await agent.call("get_sentences", {"transcript_id": transcript_id})
        await agent.call(
            "llm_chat_completion",
            {
                "model": "claude-sonnet-4-6",
                "transcript_id": transcript_id,
                "messages": [{"role": "user", "content": "Audit this support call: {{ transcript }}"}],
            },
        )
    print(f"\nraw tools: {agent.figures()}")
    assert len(agent.calls) > MAX_CALLS


async def test_progress_notifications_reach_the_client_over_http(stalled: tuple[Live, ManualClock]) -> None:
    # The job finishes when the first progress report arrives, not 0.6 s of wall clock after it was
    # created: on a loaded machine the first poll could come later than that and be the only one.
    live, clock = stalled
    messages: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        messages.append(message or "")
        clock.advance(1.0)

    async with Client(live.url, mode="legacy") as client:
        created = await client.call_tool("create_transcript", {"audio_url": AUDIO})
        transcript_id = created.structured_content["id"]
        done = await client.call_tool(
            "wait_for_transcript",
            {"transcript_id": transcript_id, "timeout_seconds": 120},
            progress_callback=on_progress,
        )
    assert done.structured_content["status"] == "completed"
    assert len(messages) == live.gets(transcript_id) >= 2
    assert all(message.startswith("status ") for message in messages)


async def test_concurrent_waiters_over_http_share_one_poll_loop() -> None:
    # The job's clock stands still until all eight waiters are attached, so the count below is what
    # coalescing guarantees, not a race between eight HTTP handshakes and a 0.6 s job: a waiter that
    # arrived after the job finished would rightly poll once on its own.
    clock = ManualClock()
    with contextmanager(live_server)(0.6, clock) as live:
        async with Client(live.url) as client:
            created = await client.call_tool("create_transcript", {"audio_url": AUDIO})
            shared = created.structured_content["id"]
            poller = live.gateway.runner.poller
            waiters = 8

            async def wait_one() -> None:
                async with Client(live.url) as own:
                    result = await own.call_tool("wait_for_transcript", {"transcript_id": shared})
                    assert result.structured_content["status"] == "completed"

            async with anyio.create_task_group() as group:
                for _ in range(waiters):
                    group.start_soon(wait_one)
                with anyio.fail_after(30):  # server-side attachment has no event to await
                    while poller.waiters(shared) < waiters:
                        await anyio.sleep(0.01)
                before = live.gets(shared)
                clock.advance(1.0)
        after = live.gets(shared)
        print(f"\ncoalescing: {waiters} waiters, {before} polls while queued, {after - before} after")
        # One loop: only its leader polls, so the finish costs one poll (none if a poll was already
        # in flight when the clock moved), where eight independent waiters would cost eight.
        assert after - before <= 1
        assert poller.polling() == []


async def test_cancelling_a_wait_over_http_stops_polling(slow_live: Live) -> None:
    async with Client(slow_live.url) as client:
        created = await client.call_tool("transcribe", {"audio_url": AUDIO, "wait": False})
        transcript_id = created.structured_content["id"]
        polled = anyio.Event()

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            polled.set()

        async with anyio.create_task_group() as group:
            group.start_soon(
                lambda: client.call_tool(
                    "wait_for_transcript",
                    {"transcript_id": transcript_id, "timeout_seconds": 30},
                    progress_callback=on_progress,
                )
            )
            await polled.wait()
            assert transcript_id in slow_live.gateway.runner.poller.polling()
            group.cancel_scope.cancel()
        # The server learns of the cancellation over the wire; give it a bounded moment.
        with anyio.fail_after(10):
            while transcript_id in slow_live.gateway.runner.poller.polling():
                await anyio.sleep(0.01)
        polls = slow_live.gets(transcript_id)
        # The same client keeps working, and nothing polls the cancelled transcript meanwhile.
        other = (
            await client.call_tool("transcribe", {"audio_url": AUDIO, "timeout_seconds": 1})
        ).structured_content
        assert other["timed_out"] is True
    assert slow_live.gets(transcript_id) == polls


async def test_transcribe_timeout_over_http_returns_the_id(slow_live: Live) -> None:
    async with Client(slow_live.url) as client:
        result = await client.call_tool("transcribe", {"audio_url": AUDIO, "timeout_seconds": 1})
    assert not result.is_error
    data = result.structured_content
    assert data["id"] and data["timed_out"] is True and slow_live.gets(data["id"]) >= 1
    assert "wait_for_transcript" in data["next_step"]


async def test_transcribe_failures_over_http_say_exactly_what_happened(slow_live: Live) -> None:
    clip = "UklGRiQAAABXQVZFZm10IBAAAAABAAEAgD4AAAB9AAACABAAZGF0YQAAAAA="  # an empty WAV
    before = dict(slow_live.sim.stats()["requests"])
    async with Client(slow_live.url) as client:
        slow_live.sim.queue_fault("500", path_prefix="/v2/upload")
        upload_failed = await client.call_tool("transcribe", {"data_base64": clip})
        slow_live.sim.queue_fault("503", path_prefix="/v2/transcript", method="POST")
        create_failed = await client.call_tool("transcribe", {"data_base64": clip})
    after = slow_live.sim.stats()["requests"]
    assert upload_failed.is_error and create_failed.is_error
    assert error_details(upload_failed)["message"].startswith("Upload failed, so no transcript")
    create_error = error_details(create_failed)
    assert create_error["message"].startswith("Creating the transcript failed") and create_error["upload_url"]
    assert after.get("POST /v2/upload", 0) - before.get("POST /v2/upload", 0) == 2
    assert after.get("POST /v2/transcript", 0) - before.get("POST /v2/transcript", 0) == 1
