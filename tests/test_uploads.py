"""upload_file: raw-byte streaming from a path, a URL or base64, and what it refuses."""

from __future__ import annotations

import base64
import ipaddress
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from mcp.client import Client

from aai_mcp.gateway import build_gateway
from aai_mcp.mcp_server.factory import build_server
from aai_mcp.upstream.netguard import REFUSED
from tests.support import error_details, make_settings, text_of

pytestmark = pytest.mark.anyio

UPLOAD = "https://api.assemblyai.com/v2/upload"
CDN = "https://cdn.assemblyai.com/upload/abc"


async def call(tool_args: dict[str, Any], **settings: Any) -> Any:
    gateway = build_gateway(make_settings(**settings))
    try:
        async with Client(build_server(gateway)) as client:
            return await client.call_tool("upload_file", tool_args)
    finally:
        await gateway.aclose()


async def test_path_upload_streams_raw_bytes(tmp_path: Path, respx_mock: respx.MockRouter) -> None:
    audio = os.urandom(3 * 1024 * 1024 + 17)
    (tmp_path / "call.wav").write_bytes(audio)
    route = respx_mock.post(UPLOAD).respond(200, json={"upload_url": CDN})
    result = await call({"path": str(tmp_path / "call.wav")}, upload_roots=[tmp_path])
    assert not result.is_error, text_of(result)
    request = route.calls.last.request
    assert request.headers["content-type"] == "application/octet-stream"
    assert request.headers["content-length"] == str(len(audio))
    assert request.content == audio
    assert result.structured_content["upload_url"] == CDN
    assert result.structured_content["size_bytes"] == len(audio)
    assert "create_transcript" in result.structured_content["next_step"]


async def test_base64_upload_and_its_cap(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post(UPLOAD).respond(200, json={"upload_url": CDN})
    clip = b"RIFF" + os.urandom(1000)
    ok = await call({"data_base64": base64.b64encode(clip).decode()})
    assert not ok.is_error and route.calls.last.request.content == clip
    too_big = await call(
        {"data_base64": base64.b64encode(os.urandom(3000)).decode()}, upload_max_base64_bytes=2000
    )
    assert too_big.is_error and "2000" in text_of(too_big)
    garbage = await call({"data_base64": "not base64!!"})
    assert garbage.is_error and "base64" in text_of(garbage)
    assert route.call_count == 1


@pytest.mark.parametrize("args", [{}, {"path": "/a", "url": "https://e.com/a.mp3"}])
async def test_exactly_one_source(args: dict[str, Any], respx_mock: respx.MockRouter) -> None:
    result = await call(args)
    assert result.is_error and "exactly one" in text_of(result)
    assert not respx_mock.calls


async def test_paths_outside_the_roots_are_refused(tmp_path: Path, respx_mock: respx.MockRouter) -> None:
    root = tmp_path / "root"
    root.mkdir()
    secret = tmp_path / "secret.wav"
    secret.write_bytes(b"RIFF....")
    (root / "escape.wav").symlink_to(secret)
    for raw in [str(secret), str(root / ".." / "secret.wav"), str(root / "escape.wav"), "/etc/passwd"]:
        result = await call({"path": raw}, upload_roots=[root])
        assert result.is_error, raw
        assert "outside the allowed upload roots" in text_of(result)
    assert not respx_mock.calls


async def test_no_roots_means_path_uploads_are_off(tmp_path: Path, respx_mock: respx.MockRouter) -> None:
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    result = await call({"path": str(tmp_path / "a.wav")}, upload_roots=[])
    assert result.is_error and "AAI_MCP_UPLOAD_ROOTS" in text_of(result)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/a.mp3",
        "http://localhost:8080/a.mp3",
        "http://[::1]/a.mp3",
        "http://169.254.169.254/latest",
        "http://10.0.0.8/a.mp3",
        "http://172.16.5.4/a.mp3",
        "http://192.168.1.1/a.mp3",
        "http://2130706433/a.mp3",
        "http://0x7f000001/a.mp3",
        "http://[::ffff:127.0.0.1]/a.mp3",
        "http://0.0.0.0/a.mp3",
    ],
)
async def test_private_urls_are_refused_before_any_request(url: str, respx_mock: respx.MockRouter) -> None:
    result = await call({"url": url})
    assert result.is_error, url
    assert "Refused" in text_of(result) or "resolve" in text_of(result)
    assert not respx_mock.calls


# Fake DNS: media.example.com is public, every other name is inside the network.
FAKE_DNS = {"media.example.com": "93.184.216.34"}


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    async def resolve(hostname: str, port: int) -> list[Any]:
        return [ipaddress.ip_address(FAKE_DNS.get(hostname, "10.1.2.3"))]

    monkeypatch.setattr("aai_mcp.upstream.netguard.resolve", resolve)


@pytest.mark.usefixtures("fake_dns")
async def test_url_upload_streams_the_download_on(respx_mock: respx.MockRouter) -> None:
    audio = os.urandom(200_000)
    respx_mock.get("https://media.example.com/ep1.mp3").respond(200, content=audio)
    route = respx_mock.post(UPLOAD).respond(200, json={"upload_url": CDN})
    result = await call({"url": "https://media.example.com/ep1.mp3"})
    assert not result.is_error, text_of(result)
    assert route.calls.last.request.content == audio
    assert result.structured_content["size_bytes"] == len(audio)


@pytest.mark.usefixtures("fake_dns")
async def test_host_names_resolving_to_private_addresses_are_refused(respx_mock: respx.MockRouter) -> None:
    internal = respx_mock.get("http://internal.corp/x").respond(200, content=b"secret")
    result = await call({"url": "http://internal.corp/x"})
    assert error_details(result)["message"] == REFUSED
    assert not internal.called


@pytest.mark.usefixtures("fake_dns")
async def test_redirect_to_a_private_address_is_refused(respx_mock: respx.MockRouter) -> None:
    respx_mock.get("https://media.example.com/ep1.mp3").respond(
        302, headers={"Location": "http://internal.corp/x"}
    )
    internal = respx_mock.get("http://internal.corp/x").respond(200, content=b"secret")
    upload = respx_mock.post(UPLOAD).respond(200, json={"upload_url": CDN})
    result = await call({"url": "https://media.example.com/ep1.mp3"})
    assert error_details(result)["message"] == REFUSED
    assert not internal.called and not upload.called


@pytest.mark.usefixtures("fake_dns")
async def test_failed_download_is_reported(respx_mock: respx.MockRouter) -> None:
    respx_mock.get("https://media.example.com/gone.mp3").respond(404)
    upload = respx_mock.post(UPLOAD).respond(200, json={"upload_url": CDN})
    result = await call({"url": "https://media.example.com/gone.mp3"})
    assert result.is_error and "HTTP 404" in text_of(result)
    assert not upload.called


async def test_upload_429_is_not_retried(tmp_path: Path, respx_mock: respx.MockRouter) -> None:
    (tmp_path / "a.wav").write_bytes(b"RIFF" + b"0" * 100)
    route = respx_mock.post(UPLOAD).mock(
        return_value=httpx.Response(429, json={"error": "Too Many Requests"}, headers={"Retry-After": "3"})
    )
    result = await call({"path": str(tmp_path / "a.wav")}, upload_roots=[tmp_path])
    assert result.is_error and route.call_count == 1
    assert error_details(result)["retry_after_seconds"] == 3
