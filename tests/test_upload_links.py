"""Upload links (issue 14 parts 1-3), on SQLite and PostgreSQL, the gateway's HTTP app in process
against the simulator: a link takes one audio file and hands its upload_url to wait_for_upload and
transcribe; expired, used, oversize, empty and non-audio uploads are refused with the reason; a wrong
secret finds nothing; a waiter hears the bytes as they arrive; two gateways on one store share a link."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from aai_mcp.access.principal import Principal
from aai_mcp.access.scopes import Scopes
from aai_mcp.gateway import Gateway, build_gateway
from aai_mcp.simulator import Simulator, SimulatorConfig, build_simulator_app
from aai_mcp.simulator.faults import FAULT_KINDS
from aai_mcp.state.store_schema import upload_links
from aai_mcp.state.store_sql import SqlStore
from aai_mcp.state.upload_link_store import LinkCredential, UploadLinks
from aai_mcp.transports.http import build_http_app
from aai_mcp.uplink import link_service
from tests.support import CANARY_KEY, error_details, make_settings, wav_bytes
from tests.support.redis import RedisServer
from tests.support.stores import StoreConfig

pytestmark = pytest.mark.anyio

PUBLIC_URL = "https://aai.example.test"
ORIGIN = "http://127.0.0.1:8000"
TEAM = Principal(id="team-token", scopes=Scopes())
OTHER_TEAM = Principal(id="other-token", scopes=Scopes(), account="other-team")


@dataclass
class Rig:
    gateway: Gateway
    http: httpx.AsyncClient
    simulator: Simulator
    store: SqlStore

    async def call(self, tool: str, args: dict[str, Any], principal: Principal = TEAM, **kw: Any) -> Any:
        return await self.gateway.runner.call(tool, args, principal=principal, **kw)

    async def new_link(self, **args: Any) -> str:
        result = await self.call("create_upload_link", args)
        assert not result.is_error, result
        return str(result.structured_content["url"])

    async def put(self, url: str, content: Any, **headers: str) -> httpx.Response:
        return await self.http.put(_local(url), content=content, headers=headers)


def _local(url: str) -> str:
    """The link as the in-process app serves it (the public URL is what people's browsers see)."""
    assert url.startswith(PUBLIC_URL + "/u/"), url
    return url.removeprefix(PUBLIC_URL)


@asynccontextmanager
async def rig_on(store: SqlStore, simulator_app: Any, **settings: Any) -> AsyncIterator[Rig]:
    options: dict[str, Any] = {"public_url": PUBLIC_URL, "accounts": ["other-team=env:AAI_TEST_OTHER_KEY"]}
    gateway = build_gateway(
        make_settings(**(options | settings)), transport=httpx.ASGITransport(app=simulator_app)
    )
    gateway.use_store(store)
    app = build_http_app(gateway)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ORIGIN) as http:
            yield Rig(gateway, http, simulator_app.state.simulator, store)
    finally:
        await gateway.aclose()


@pytest.fixture
def simulator_app(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AAI_TEST_OTHER_KEY", CANARY_KEY + "-other")
    return build_simulator_app(SimulatorConfig(api_key=CANARY_KEY, processing_delay_seconds=0.0))


@pytest.fixture
async def rig(store: SqlStore, simulator_app: Any) -> AsyncIterator[Rig]:
    async with rig_on(store, simulator_app) as opened:
        yield opened


def expire(store: SqlStore) -> None:
    with store.engine.begin() as connection:
        connection.execute(upload_links.update().values(expires_at=0.0))


async def test_a_link_takes_one_file_and_hands_its_upload_url_to_the_agent(rig: Rig) -> None:
    created = await rig.call("create_upload_link", {"expires_in_minutes": 10})
    answer = created.structured_content
    url = answer["url"]
    token = url.rsplit("/", 1)[1]
    link_id, secret = token.split(".")
    assert len(link_id) == 22 and len(secret) == 43  # 128 and 256 random bits, base64url
    assert answer["curl"] == f"curl -T recording.mp3 '{url}'"
    assert answer["max_bytes"] == 2_000_000_000

    audio = wav_bytes(1.0)
    uploaded = await rig.put(url, audio)
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.text == f"Uploaded {len(audio)} bytes. Go back to your chat.\n"

    waited = (await rig.call("wait_for_upload", {"link": url})).structured_content
    assert waited["state"] == "done" and waited["bytes_received"] == len(audio)
    upload_id = waited["upload_url"].rsplit("/", 1)[1]
    assert rig.simulator.uploads[upload_id].size == len(audio)
    # The secret is kept hashed: the row holds nothing that opens the link.
    with rig.store.engine.connect() as connection:
        row = connection.execute(sa.select(upload_links)).mappings().one()
    assert secret not in str(dict(row))

    again = await rig.put(url, audio)
    assert again.status_code == 409 and "already used" in again.text
    page = await rig.http.get(_local(url))
    assert 'data-state="done"' in page.text and "Go back to your chat" in page.text


async def test_transcribe_takes_an_upload_link(rig: Rig) -> None:
    url = await rig.new_link()
    assert (await rig.put(url, wav_bytes(2.0))).status_code == 200
    result = await rig.call("transcribe", {"upload_link": url, "timeout_seconds": 30})
    assert not result.is_error, result
    transcript = result.structured_content
    assert transcript["status"] == "completed"
    assert transcript["upload_url"].startswith("https://cdn.assemblyai.com/upload/")


async def test_transcribe_waits_for_the_upload_still_to_come(rig: Rig) -> None:
    url = await rig.new_link()
    async with anyio.create_task_group() as group:
        outcome: dict[str, Any] = {}

        async def transcribe() -> None:
            outcome["result"] = await rig.call("transcribe", {"upload_link": url, "timeout_seconds": 60})

        group.start_soon(transcribe)
        assert (await rig.put(url, wav_bytes(1.0))).status_code == 200
    assert outcome["result"].structured_content["status"] == "completed"


async def test_the_page_is_self_contained_under_a_strict_policy(rig: Rig) -> None:
    url = await rig.new_link()
    page = await rig.http.get(_local(url))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    nonce = re.search(r"script-src 'nonce-([^']+)'", policy)
    assert nonce and f"style-src 'nonce-{nonce.group(1)}'" in policy
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    # Every script and style carries this response's nonce, and nothing is loaded from elsewhere.
    assert page.text.count(f'nonce="{nonce.group(1)}"') == 2
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=\"(?!data:)", page.text)
    assert 'name="viewport"' in page.text and 'type="file"' in page.text
    assert f"curl -T recording.mp3 '{url}'" in page.text
    again = await rig.http.get(_local(url))
    assert again.headers["content-security-policy"] != policy  # a fresh nonce per response


async def test_an_expired_link_is_refused_everywhere(rig: Rig) -> None:
    url = await rig.new_link()
    expire(rig.store)
    refused = await rig.put(url, wav_bytes(), accept="application/json")
    assert refused.status_code == 410
    assert refused.json()["error"]["code"] == "expired"
    assert 'data-state="expired"' in (await rig.http.get(_local(url))).text
    waited = (await rig.call("wait_for_upload", {"link": url, "timeout_seconds": 30})).structured_content
    assert waited["state"] == "expired" and waited["timed_out"] is False
    failed = await rig.call("transcribe", {"upload_link": url})
    assert "expired" in error_details(failed)["message"]
    assert not rig.simulator.uploads


async def test_a_file_over_the_cap_is_refused_before_and_while_it_arrives(
    store: SqlStore, simulator_app: Any
) -> None:
    async with rig_on(store, simulator_app, upload_link_max_bytes=10_000) as rig:
        url = await rig.new_link()
        declared = await rig.put(url, wav_bytes(1.0))  # 32 kB, its Content-Length says so up front
        assert declared.status_code == 413 and "larger than" in declared.text
        state = (await rig.call("wait_for_upload", {"link": url, "timeout_seconds": 1})).structured_content
        assert state["state"] == "waiting"  # refused before it started: the link is not used up

        async def undeclared() -> AsyncIterator[bytes]:
            audio = wav_bytes(1.0)
            for start in range(0, len(audio), 4096):
                yield audio[start : start + 4096]

        streamed = await rig.put(url, undeclared())
        assert streamed.status_code == 413
        state = (await rig.call("wait_for_upload", {"link": url})).structured_content
        assert state["state"] == "failed" and "larger than" in state["error"]
        assert state["bytes_received"] <= 10_000 + 4096  # stopped at the cap, not read to the end
        assert not rig.simulator.uploads


async def test_what_is_not_audio_or_video_is_refused_and_the_link_kept(rig: Rig) -> None:
    url = await rig.new_link()
    for content in (b"%PDF-1.7 not a recording at all, just a document" * 4, b""):
        refused = await rig.put(url, content, accept="application/json")
        assert refused.status_code in (400, 415), refused.text
        assert refused.json()["error"]["code"] in ("not_media", "empty")
    assert (await rig.put(url, wav_bytes())).status_code == 200  # the right file still goes through


async def test_a_wrong_secret_or_another_team_finds_no_link(rig: Rig) -> None:
    url = await rig.new_link()
    forged = url[:-4] + ("AAAA" if not url.endswith("AAAA") else "BBBB")
    assert (await rig.put(forged, wav_bytes())).status_code == 404
    assert (await rig.http.get(_local(forged))).status_code == 404
    for link, who in ((forged, TEAM), (url, OTHER_TEAM), ("not a link at all", TEAM)):
        result = await rig.call("wait_for_upload", {"link": link, "timeout_seconds": 1}, principal=who)
        assert error_details(result)["kind"] == "invalid_arguments"
    assert not rig.simulator.uploads


async def test_a_waiter_hears_the_bytes_as_they_arrive(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(link_service, "PROGRESS_EVERY_SECONDS", 0.0)
    url = await rig.new_link()
    audio = wav_bytes(4.0)
    seen: list[float] = []
    heard = anyio.Event()

    async def progress(done: float, total: float | None, message: str | None) -> None:
        seen.append(done)
        if done > 0:
            heard.set()

    async def body() -> AsyncIterator[bytes]:
        yield audio[:65536]
        await heard.wait()  # the rest only once the waiter has heard of the first part
        yield audio[65536:]

    async with anyio.create_task_group() as group:
        result: dict[str, Any] = {}

        async def wait() -> None:
            result["r"] = await rig.call(
                "wait_for_upload", {"link": url, "timeout_seconds": 60}, progress=progress
            )

        group.start_soon(wait)
        assert (await rig.put(url, body())).status_code == 200
    assert result["r"].structured_content["state"] == "done"
    # The rest was sent only after the waiter heard of part of the file: it heard of it mid-way.
    assert any(0 < done < len(audio) for done in seen), seen
    assert seen == sorted(seen) and max(seen) <= len(audio)


async def test_two_gateways_on_one_store_share_a_link(store_config: StoreConfig, simulator_app: Any) -> None:
    first, second = store_config.open(auto_upgrade=True), store_config.open(auto_upgrade=True)
    try:
        async with rig_on(first, simulator_app) as a, rig_on(second, simulator_app) as b:
            url = await a.new_link()
            async with anyio.create_task_group() as group:
                result: dict[str, Any] = {}

                async def wait_on_b() -> None:
                    result["r"] = await b.call("wait_for_upload", {"link": url, "timeout_seconds": 60})

                group.start_soon(wait_on_b)
                # A serves the upload; B, which shares no memory with A, answers the waiter from the store.
                assert (await a.put(url, wav_bytes())).status_code == 200
            on_b = result["r"].structured_content
            assert on_b["state"] == "done" and on_b["upload_url"].startswith("https://cdn.assemblyai.com/")
            assert (await b.put(url, wav_bytes())).status_code == 409  # used, whichever instance is asked
    finally:
        first.close()
        second.close()


async def test_with_redis_a_waiter_on_another_gateway_wakes_on_the_news(
    store_config: StoreConfig, simulator_app: Any, shared_redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The store is never re-read without news: only what A publishes through Redis can wake B's waiter.
    monkeypatch.setattr(link_service, "RECHECK_SECONDS", 3600.0)
    first, second = store_config.open(auto_upgrade=True), store_config.open(auto_upgrade=True)
    redis = {"redis_url": SecretStr(shared_redis.url)}
    try:
        async with rig_on(first, simulator_app, **redis) as a, rig_on(second, simulator_app, **redis) as b:
            url = await a.new_link()
            async with anyio.create_task_group() as group:
                result: dict[str, Any] = {}

                waiting = anyio.Event()

                async def heard(done: float, total: float | None, message: str | None) -> None:
                    waiting.set()  # B read the store (nothing yet) and now waits for news

                async def wait_on_b() -> None:
                    args = {"link": url, "timeout_seconds": 120}
                    result["r"] = await b.call("wait_for_upload", args, progress=heard)

                group.start_soon(wait_on_b)
                await waiting.wait()
                assert (await a.put(url, wav_bytes())).status_code == 200
            on_b = result["r"].structured_content
            assert on_b["state"] == "done" and on_b["timed_out"] is False
    finally:
        first.close()
        second.close()


async def test_link_pages_are_rate_limited_per_client(store: SqlStore, simulator_app: Any) -> None:
    async with rig_on(store, simulator_app, upload_link_requests_per_minute=3) as rig:
        url = await rig.new_link()
        answers = [(await rig.http.get(_local(url))).status_code for _ in range(4)]
        assert answers == [200, 200, 200, 429]
        refused = await rig.put(url, wav_bytes())
        assert refused.status_code == 429 and not rig.simulator.uploads


def test_a_link_is_claimed_once_and_never_after_it_expires(store: SqlStore) -> None:
    now = [1000.0]
    links = UploadLinks(store.engine, clock=lambda: now[0])
    first, _ = links.create("default", 100, ttl_seconds=60)
    second, _ = links.create("default", 100, ttl_seconds=60)
    assert links.claim(first.link_id) is True
    assert links.claim(first.link_id) is False  # one conditional UPDATE: a second claimant loses
    now[0] += 60
    assert links.claim(second.link_id) is False
    found = links.find(second)
    assert found is not None and found.state(now[0]) == "expired"
    assert links.find(LinkCredential(second.link_id, first.secret)) is None  # another link's secret


async def test_an_upload_cut_off_midway_leaves_the_link_failed_with_why(rig: Rig) -> None:
    url = await rig.new_link()
    audio = wav_bytes(1.0)

    async def cut_off() -> AsyncIterator[bytes]:
        yield audio[:4096]
        raise ConnectionResetError("the browser went away")

    with pytest.raises(ConnectionResetError):
        await rig.put(url, cut_off())
    state = (await rig.call("wait_for_upload", {"link": url})).structured_content
    assert state["state"] == "failed" and "interrupted" in state["error"]
    assert (await rig.put(url, audio)).status_code == 409  # a link takes one upload, even a failed one


async def test_the_page_answers_by_the_public_name_and_takes_its_own_origin(rig: Rig) -> None:
    url = await rig.new_link()
    public = {"host": "aai.example.test", "origin": PUBLIC_URL}
    assert (await rig.http.get(_local(url), headers={"host": "aai.example.test"})).status_code == 200
    uploaded = await rig.http.put(_local(url), content=wav_bytes(), headers=public)
    assert uploaded.status_code == 200, uploaded.text  # a browser's upload request sends its Origin
    # Another origin is the link's business, not the Origin check's (the upload widget sends from
    # the chat's sandbox: tests/test_upload_widget.py): the used link refuses; a foreign Host still 421.
    elsewhere = {"host": "aai.example.test", "origin": "https://evil.example"}
    assert (await rig.http.put(_local(url), content=wav_bytes(), headers=elsewhere)).status_code == 409
    rebound = {"host": "evil.example", "origin": "https://evil.example"}
    assert (await rig.http.put(_local(url), content=wav_bytes(), headers=rebound)).status_code == 421


async def test_without_a_public_url_the_tool_says_what_it_needs(store: SqlStore) -> None:
    gateway = build_gateway(make_settings())
    gateway.use_store(store)
    result = await gateway.runner.call("create_upload_link", {}, principal=TEAM)
    assert "AAI_MCP_PUBLIC_URL" in error_details(result)["message"]


@pytest.mark.parametrize("fault", [kind for kind in FAULT_KINDS if kind != "slow-body"])
async def test_an_upstream_fault_during_a_link_upload_fails_the_link_with_why(rig: Rig, fault: str) -> None:
    """The link tools' declared call is the person's upload (tests/test_fault_matrix.py leaves them to
    this test): each upstream fault answers the uploader 502, leaves the link failed saying AssemblyAI
    did not take the file, is sent once (an upload is never retried blindly), never shows the key,
    and the next link works."""
    url = await rig.new_link()
    rig.simulator.queue_fault(fault, 1, path_prefix="/v2/upload", method="POST")
    answer = await rig.put(url, wav_bytes(1.0))
    assert answer.status_code == 502 and "did not take the file" in answer.text, answer.text
    state = (await rig.call("wait_for_upload", {"link": url})).structured_content
    assert state["state"] == "failed" and state["error"].startswith("AssemblyAI refused the upload"), state
    sent = [r for r in rig.simulator.requests if r.method == "POST" and r.path == "/v2/upload"]
    assert len(sent) == 1
    assert CANARY_KEY not in answer.text and CANARY_KEY not in str(state)
    healthy = await rig.new_link()
    assert (await rig.put(healthy, wav_bytes(1.0))).status_code == 200
    done = (await rig.call("wait_for_upload", {"link": healthy})).structured_content
    assert done["upload_url"].rsplit("/", 1)[1] in rig.simulator.uploads
