"""Every form of every key the server holds is redacted in every result and log line.

A misbehaving upstream echoes a key lower-cased, cut to a prefix, base64-encoded inside an
Authorization header, percent-encoded into a URL, and in 200 bodies as well as in errors.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any
from urllib.parse import quote

import mcp_types as types
import pytest
import respx
from mcp.client import Client
from mcp.shared.exceptions import MCPError
from pydantic import SecretStr

from aai_mcp.access.principal import LOCAL, Principal
from aai_mcp.gateway import build_gateway
from aai_mcp.logs import RedactingFilter, redacting
from aai_mcp.mcp_server.factory import build_server
from aai_mcp.redaction import REDACTED, Redactor, held_keys
from tests.support import CANARY_KEY, make_settings

API = "https://api.assemblyai.com"
TID = "tid-echo"
# Keys as AssemblyAI issues them (32 hex digits), and one with characters URLs and JSON escape.
ACCOUNT_KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
CALLER_KEY = "ab12cd34ef56ab78cd90ef12ab34cd56"
ODD_KEY = 'k3y/with+odd=chars"and\\slash-0123'


def echoes(key: str) -> dict[str, str]:
    """The ways an upstream has been seen to give a key back."""
    return {
        "exact": key,
        "lower": key.lower(),
        "upper": key.upper(),
        "prefix": key[:10] + "...",
        "middle": "…" + key[7:19] + "…",
        "basic": "Basic " + base64.b64encode(f"api:{key}".encode()).decode(),
        "bearer-urlsafe": base64.urlsafe_b64encode(f"Bearer {key}".encode()).decode(),
        "base64-alone": base64.b64encode(key.encode()).decode(),
        "percent": "https://cdn.example/a.wav?key=" + quote(key, safe=""),
        "json-in-a-string": json.dumps({"authorization": key}),
    }


def leaked(text: str, key: str) -> list[str]:
    """The forms of `key` still readable in `text`: any 8 characters of it in any case, or its base64."""
    folded = text.lower()
    found = [form for form, echo in echoes(key).items() if form != "middle" and echo in text]
    pieces = {key.lower()[i : i + 8] for i in range(len(key) - 7)}
    found += ["fragment"] if any(piece in folded for piece in pieces) else []
    return found


@pytest.mark.parametrize("key", [CANARY_KEY, ACCOUNT_KEY, ODD_KEY], ids=["canary", "hex", "odd"])
@pytest.mark.parametrize("form", list(echoes(CANARY_KEY)))
def test_the_redactor_finds_every_form(key: str, form: str) -> None:
    text = f"upstream said: {echoes(key)[form]} (end)"
    redacted = Redactor([key]).text(text)
    assert REDACTED in redacted and not leaked(redacted, key), redacted
    assert redacted.startswith("upstream said: ") and redacted.endswith(" (end)")


def test_the_redactor_leaves_ordinary_text_alone() -> None:
    redactor = Redactor([ACCOUNT_KEY, CANARY_KEY, "short-key"])
    text = (
        "The simulator transcript 6a9d1c2e-0b3f-4e5d-8c7b-1a2b3c4d5e6f is completed: never leave a "
        "canary in the mine. Basic authentication, deadbeef, 0f1e2d3c (8 hex digits of nothing)."
    )
    assert redactor.text(text) == text.replace("0f1e2d3c", REDACTED)  # any 8 characters of a key count
    assert Redactor(["abc"]).text("abc") == "abc"  # too short to be a secret: never blanks words


def transcript_echoing(key: str) -> dict[str, Any]:
    forms = echoes(key)
    return {
        "id": TID,
        "status": "completed",
        "text": " | ".join(forms.values()),
        "audio_url": forms["percent"],
        "words": [],
        "error": None,
    }


def gateway_with(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AAI_TEST_OTHER_ACCOUNT_KEY", ACCOUNT_KEY)
    return build_gateway(make_settings(accounts=["other=env:AAI_TEST_OTHER_ACCOUNT_KEY"]))


CALLERS = {
    "server key": (LOCAL, CANARY_KEY),
    "another account's key": (LOCAL, ACCOUNT_KEY),
    "the caller's passthrough key": (Principal(id="p", api_key=SecretStr(CALLER_KEY)), CALLER_KEY),
    "the caller's odd key": (Principal(id="q", api_key=SecretStr(ODD_KEY)), ODD_KEY),
}


@pytest.mark.anyio
@pytest.mark.parametrize("caller", list(CALLERS))
async def test_a_200_body_echoing_a_key_is_redacted(
    caller: str, respx_mock: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    principal, key = CALLERS[caller]
    respx_mock.get(f"{API}/v2/transcript/{TID}").respond(200, json=transcript_echoing(key))
    gateway = gateway_with(monkeypatch)
    result = await gateway.runner.call("get_transcript", {"transcript_id": TID}, principal=principal)
    await gateway.aclose()
    assert not result.is_error
    dumped = result.model_dump_json(by_alias=True)
    assert not leaked(dumped, key) and not leaked(json.loads(dumped)["content"][0]["text"], key), dumped
    assert REDACTED in result.structured_content["text"] and result.structured_content["id"] == TID


@pytest.mark.anyio
@pytest.mark.parametrize("caller", list(CALLERS))
@pytest.mark.parametrize("status", [401, 429])
async def test_an_error_echoing_a_key_is_redacted(
    caller: str, status: int, respx_mock: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    principal, key = CALLERS[caller]
    echoed = " ".join(echoes(key).values())
    respx_mock.get(f"{API}/v2/transcript/{TID}").respond(status, json={"error": f"Invalid API key {echoed}"})
    gateway = gateway_with(monkeypatch)
    result = await gateway.runner.call("get_transcript", {"transcript_id": TID}, principal=principal)
    await gateway.aclose()
    assert result.is_error
    dumped = result.model_dump_json(by_alias=True)
    assert not leaked(dumped, key) and REDACTED in dumped, dumped


def test_log_lines_are_redacted_with_the_servers_and_the_callers_keys(
    caplog: pytest.LogCaptureFixture,
) -> None:
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    handler.addFilter(RedactingFilter([ACCOUNT_KEY]))
    logger = logging.getLogger("aai_mcp.test_redaction")
    logger.addHandler(handler)
    try:
        logger.warning("server key upper-cased: %s", ACCOUNT_KEY.upper())
        with redacting(Redactor([CALLER_KEY])):
            logger.warning("caller key as a prefix: %s...", CALLER_KEY[:12])
        logger.warning("outside a call the caller's key is unknown: %s", CALLER_KEY[:4])
    finally:
        logger.removeHandler(handler)
    assert lines == [
        f"server key upper-cased: {REDACTED}",
        f"caller key as a prefix: {REDACTED}...",
        f"outside a call the caller's key is unknown: {CALLER_KEY[:4]}",
    ]


@pytest.mark.anyio
async def test_resources_are_redacted_like_tool_results(respx_mock: respx.MockRouter) -> None:
    respx_mock.get(f"{API}/v2/transcript/{TID}").respond(200, json=transcript_echoing(CANARY_KEY))
    respx_mock.get(f"{API}/v2/transcript/{TID}/sentences").respond(
        404, json={"error": f"no sentences for key {CANARY_KEY.lower()}"}
    )
    gateway = build_gateway(make_settings())
    async with Client(build_server(gateway)) as client:
        read = await client.read_resource(f"assemblyai://transcripts/{TID}/text")
        with pytest.raises(MCPError) as refused:
            await client.read_resource(f"assemblyai://transcripts/{TID}/sentences")
    await gateway.aclose()
    assert REDACTED in read.contents[0].text and not leaked(read.model_dump_json(), CANARY_KEY)  # type: ignore[union-attr]
    assert not leaked(str(refused.value) + repr(refused.value.data), CANARY_KEY)


def test_a_result_holding_an_integer_beyond_64_bits_is_still_scanned() -> None:
    # orjson refuses integers past 64 bits; the scan falls back to the standard encoder instead of
    # letting the call crash (a view can carry such a number from an upstream answer).
    from aai_mcp.mcp_server.runtime import results

    result = types.CallToolResult(
        content=[types.TextContent(text="ok")],
        structured_content={"n": 2**70, "echo": CANARY_KEY},
    )
    clean = results.redacted(result, held_keys(make_settings()))
    assert clean.structured_content is not None and clean.structured_content["n"] == 2**70
    assert CANARY_KEY not in str(clean.structured_content)
