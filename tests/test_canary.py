"""Each canary detector (tests/support/canary.py) catches a leak planted on purpose."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from mcp.client import Client
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

import aai_mcp.mcp_server.runtime.results as results_module
from aai_mcp.config.settings import Settings
from aai_mcp.gateway import build_gateway
from aai_mcp.mcp_server.factory import build_server
from aai_mcp.mcp_server.runtime.runner import ToolRunner
from aai_mcp.transports.http import build_http_app
from tests.support import CANARY_KEY, make_settings
from tests.support.canary import CanaryWatch, CheckedStarlette
from tests.support.servers import serve_gateway_in_thread

REPO = Path(__file__).resolve().parents[1]
API = "https://api.assemblyai.com"
TID = "tid-canary"


def echoing_transcript() -> dict[str, Any]:
    """A successful upstream answer that carries the key in its text, as a misbehaving upstream might."""
    return {"id": TID, "status": "completed", "text": f"the key is {CANARY_KEY}", "error": None}


def test_the_canary_is_the_configured_key_for_the_whole_session() -> None:
    assert os.environ["ASSEMBLYAI_API_KEY"] == CANARY_KEY
    key = Settings().api_key
    assert key is not None and key.get_secret_value() == CANARY_KEY
    assert make_settings().api_key_value() == CANARY_KEY


def test_every_gateway_http_app_and_tool_call_is_checked() -> None:
    gateway = build_gateway(make_settings())
    assert isinstance(build_http_app(gateway), CheckedStarlette)
    assert ToolRunner.call.__name__ == "call" and hasattr(ToolRunner.call, "__wrapped__")


def test_log_records_are_checked_at_every_level_and_logger(canary: CanaryWatch) -> None:
    silent = logging.getLogger("planted.silent")
    silent.propagate = False  # like uvicorn's loggers: no root handler ever sees these
    silent.setLevel(logging.WARNING)
    with canary.expect_leak() as caught:
        logging.getLogger("aai_mcp.planted").debug("configured key %s", CANARY_KEY)
        silent.warning("key in the message: " + CANARY_KEY)
        try:
            raise RuntimeError(f"upstream said {CANARY_KEY}")
        except RuntimeError:
            logging.getLogger("aai_mcp.planted").exception("only the traceback has it")
        logging.getLogger("aai_mcp.planted").info("no key here")
    assert [leak.where for leak in caught] == [
        "log record (aai_mcp.planted)",
        "log record (planted.silent)",
        "log record (aai_mcp.planted)",
    ]
    assert all(CANARY_KEY not in str(leak) and "<CANARY>" in str(leak) for leak in caught)


def without_redaction(monkeypatch: pytest.MonkeyPatch) -> None:
    """Plant a leak: the gateway redacts an echoed key itself, so its redactor has to be switched off."""
    monkeypatch.setattr(results_module, "redacted", lambda result, redactor: result)


@pytest.mark.anyio
async def test_tool_results_are_checked(
    canary: CanaryWatch, respx_mock: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    respx_mock.get(f"{API}/v2/transcript/{TID}").respond(200, json=echoing_transcript())
    without_redaction(monkeypatch)
    gateway = build_gateway(make_settings())
    with canary.expect_leak() as caught:
        async with Client(build_server(gateway)) as client:
            result = await client.call_tool("get_transcript", {"transcript_id": TID})
    await gateway.aclose()
    assert not result.is_error
    assert [leak.where for leak in caught] == ["tool result"]


@pytest.mark.anyio
async def test_exceptions_from_tool_calls_are_checked(
    canary: CanaryWatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any) -> Any:
        raise RuntimeError(f"a bug that prints {CANARY_KEY}")

    # Below the catch-all that turns a bug into an `internal` result: only cancellation gets this far.
    monkeypatch.setattr(ToolRunner, "_guarded", broken)
    gateway = build_gateway(make_settings())
    with canary.expect_leak() as caught, pytest.raises(RuntimeError):
        await gateway.runner.call("list_transcripts", {})
    await gateway.aclose()
    assert [leak.where for leak in caught] == ["exception from a tool call"]


@pytest.mark.anyio
async def test_http_responses_of_the_gateway_are_checked(
    canary: CanaryWatch, respx_mock: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    respx_mock.get(f"{API}/v2/transcript/{TID}").respond(200, json=echoing_transcript())
    without_redaction(monkeypatch)
    with canary.expect_leak() as caught:
        with serve_gateway_in_thread(build_gateway(make_settings())) as url:
            async with Client(f"{url}/mcp") as client:
                await client.call_tool("get_transcript", {"transcript_id": TID})
    assert {"tool result", "HTTP response body"} <= {leak.where for leak in caught}


@pytest.mark.anyio
async def test_a_key_split_across_chunks_or_in_a_header_is_caught(canary: CanaryWatch) -> None:
    half = len(CANARY_KEY) // 2

    async def chunks() -> AsyncIterator[bytes]:
        yield f"first half {CANARY_KEY[:half]}".encode()
        yield f"{CANARY_KEY[half:]} second half".encode()

    async def split(request: Request) -> StreamingResponse:
        return StreamingResponse(chunks(), media_type="text/plain")

    async def header(request: Request) -> StreamingResponse:
        return StreamingResponse(iter([b"clean"]), headers={"X-Debug": CANARY_KEY})

    app = CheckedStarlette(routes=[Route("/split", split), Route("/header", header)])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        with canary.expect_leak() as caught:
            await http.get("/split")
            await http.get("/header")
    assert [leak.where for leak in caught] == ["HTTP response body", "HTTP response headers"]


PLANTED_TESTS = """
import logging

import pytest

from tests.support import CANARY_KEY


def test_clean():
    pass


def test_logs_the_key():
    logging.getLogger("aai_mcp.planted").warning("key=%s", CANARY_KEY)


@pytest.mark.xfail(raises=RuntimeError, strict=True)
def test_expected_failure_naming_the_key():
    raise RuntimeError("upstream echoed " + CANARY_KEY)
"""


def run_planted(tmp_path: Path, *plugin: str) -> str:
    (tmp_path / "test_planted.py").write_text(PLANTED_TESTS, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *plugin, "-q", "-p", "no:cacheprovider", "test_planted.py"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.stdout + done.stderr


def test_the_plugin_fails_tests_that_leak_and_exceptions_that_name_the_key(tmp_path: Path) -> None:
    without = run_planted(tmp_path)
    assert "2 passed, 1 xfailed" in without, without
    with_plugin = run_planted(tmp_path, "-p", "tests.support.canary")
    # test_logs_the_key passes its call and then errors at teardown, where the canary looks.
    assert "1 failed, 2 passed, 1 error" in with_plugin, with_plugin
    assert "ERROR test_planted.py::test_logs_the_key" in with_plugin
    assert "FAILED test_planted.py::test_expected_failure_naming_the_key" in with_plugin
    assert "the canary key leaked during this test" in with_plugin
    assert "the canary key appeared in exception text" in with_plugin
