"""Temporary tokens on the streaming (`/v3/token`) and agents (`/v1/token`) hosts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.support.simulator_harness import Harness

pytestmark = pytest.mark.anyio

PATHS = ["/v3/token", "/v1/token"]


@pytest.mark.parametrize("path", PATHS)
async def test_token_is_issued_and_remembered(sim: Harness, path: str) -> None:
    response = await sim.client.get(
        path, params={"expires_in_seconds": 60, "max_session_duration_seconds": 600}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["expires_in_seconds"] == 60
    assert body["token"].count(".") == 2  # JWT-shaped like upstream's
    issued = sim.simulator.tokens[body["token"]]
    assert issued.audience == ("streaming" if path == "/v3/token" else "agents")
    assert issued.max_session_duration_seconds == 600
    assert issued.usable_at(sim.clock.now + 59)
    assert not issued.usable_at(sim.clock.now + 60)


@pytest.mark.parametrize("path", PATHS)
async def test_session_duration_defaults_to_three_hours(sim: Harness, path: str) -> None:
    token = (await sim.client.get(path, params={"expires_in_seconds": 1})).json()["token"]
    assert sim.simulator.tokens[token].max_session_duration_seconds == 10800


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({}, "expires_in_seconds"),
        ({"expires_in_seconds": 0}, "expires_in_seconds"),
        ({"expires_in_seconds": 601}, "expires_in_seconds"),
        ({"expires_in_seconds": "soon"}, "expires_in_seconds"),
        ({"expires_in_seconds": 60, "max_session_duration_seconds": 59}, "max_session_duration_seconds"),
        ({"expires_in_seconds": 60, "max_session_duration_seconds": 10801}, "max_session_duration_seconds"),
    ],
)
async def test_out_of_range_is_400_naming_the_parameter(
    sim: Harness, path: str, params: dict[str, Any], named: str
) -> None:
    response = await sim.client.get(path, params=params)
    assert response.status_code == 400
    assert named in response.json()["error"]


@pytest.mark.parametrize("path", PATHS)
async def test_bounds_are_inclusive(sim: Harness, path: str) -> None:
    for params in (
        {"expires_in_seconds": 1, "max_session_duration_seconds": 60},
        {"expires_in_seconds": 600, "max_session_duration_seconds": 10800},
    ):
        assert (await sim.client.get(path, params=params)).status_code == 200
