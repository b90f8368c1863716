"""The official JavaScript SDK's streaming client through the team proxy's WebSocket door.

The SDK takes the WebSocket URL whole and only as wss://, so the gateway is served over TLS on
loopback (a throwaway certificate node is told to trust), `websocketBaseUrl` is
`wss://127.0.0.1:PORT/v1/assemblyai/v3/ws` and the API key is a team token, which Node sends raw in
the upgrade's Authorization header. Upstream is the simulator, on its own loopback socket.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from aai_mcp.access import Scopes
from tests.support import wav_bytes
from tests.support.proxy_harness import PROXY, proxy_token
from tests.support.servers import wait_until
from tests.support.stream_proxy import StreamingSetup, streaming_proxy
from tests.support.tls import loopback_certificate
from tests.test_js_sdk_streaming import TWO_SECONDS, finals, run_script, upgrades
from tests.test_proxy_js_sdk import SDK

pytestmark = pytest.mark.slow
# Generous: a loaded 2-core machine ends a session in milliseconds; only a broken proxy waits this long.
DEADLINE = 30.0


@dataclass
class Proxied:
    record: dict[str, Any]
    setup: StreamingSetup


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxied]:
    folder = tmp_path_factory.mktemp("tls")
    tls = loopback_certificate(folder)
    audio = folder / "call.wav"
    audio.write_bytes(wav_bytes(2.0))
    with streaming_proxy(tls=tls) as setup:
        assert setup.gateway_url.startswith("https://127.0.0.1:")
        plan = {
            "sdk": str(SDK),
            "httpsUrl": setup.gateway_url + PROXY,
            "wsUrl": f"{setup.ws_base}/v3/ws",
            "apiKey": proxy_token(),
            "refusedKey": proxy_token(Scopes()),
            "wavPath": str(audio),
            "sessions": ["withKey", "refused"],
        }
        record = run_script(plan, tls.cert)
        # The gateway reports a session's end after the caller's close: wait for it, not a fixed time.
        wait_until(lambda: setup.ended, DEADLINE, "the proxied session's end")
        yield Proxied(record, setup)


def test_js_sdk_streams_through_the_proxy_with_a_team_token(proxied: Proxied) -> None:
    assert finals(proxied.record["withKey"]) == [TWO_SECONDS]
    simulator = proxied.setup.simulator
    # One session upstream, all 2 s of audio, ended by the SDK's Terminate (1000 after Termination).
    assert [(stream.audio_ms, stream.close_code) for stream in simulator.streams] == [(2000, 1000)]
    # Upstream saw the gateway's own key (its account), never the team token.
    (upgrade,) = upgrades(simulator)
    assert upgrade.account == 0 and "token=" not in upgrade.query
    # The gateway billed one session of 2 s of audio to the token's account.
    assert [(account, audio) for account, audio, _ in proxied.setup.ended] == [("default", 2.0)]


def test_js_sdk_streaming_with_a_token_lacking_the_proxy_scope_is_refused(proxied: Proxied) -> None:
    """Refused at the upgrade (403), before anything reaches upstream: the SDK's connect() throws."""
    thrown = proxied.record["refused"].get("thrown")
    assert thrown is not None, proxied.record["refused"]
    assert "403" in thrown["message"], thrown
    assert len(upgrades(proxied.setup.simulator)) == 1  # only the scoped session's
    assert len(proxied.setup.ended) == 1
