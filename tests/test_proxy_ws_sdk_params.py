"""The team proxy's streaming front door takes the v3 parameters the SDK 1.8.2 adds: they reach
upstream unchanged and the session opens; a bad value gets upstream's own refusal (3006)."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlencode

import pytest

from tests.simulator.test_sim_streaming_sdk_params import NEW_PARAMS
from tests.support.proxy_harness import proxy_token
from tests.support.stream_proxy import streaming_proxy
from tests.test_proxy_ws import DEADLINE, browser, messages_until_close

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def test_the_new_parameters_reach_upstream_and_the_session_opens() -> None:
    query = urlencode({"sample_rate": "16000", **NEW_PARAMS})
    with streaming_proxy() as setup, browser(setup, proxy_token(), query) as ws:
        assert json.loads(ws.recv(timeout=DEADLINE))["type"] == "Begin"
        ws.send(json.dumps({"type": "Terminate"}))
        assert messages_until_close(ws)[-1]["type"] == "Termination"
        requests = [r for r in setup.simulator.requests if r.path == "/v3/ws"]
    # The simulator records the query decoded; every name and value arrived as sent.
    assert [dict(parse_qsl(r.query)) for r in requests] == [{"sample_rate": "16000", **NEW_PARAMS}]


def test_a_bad_new_parameter_is_refused_by_upstream_through_the_proxy() -> None:
    with streaming_proxy() as setup, browser(setup, proxy_token(), "sample_rate=16000&mode=fastest") as ws:
        received = messages_until_close(ws)
    assert ws.close_code == 3006 and "mode must be one of" in (ws.close_reason or json.dumps(received))
