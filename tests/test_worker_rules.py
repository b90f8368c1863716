"""`serve --workers N`: the one configuration path, what is refused and why, and what a worker's app
offers; no process or socket (tests/test_serve_workers.py runs real workers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from aai_mcp.cli.doctor import check_workers
from aai_mcp.cli.main import load_command, main
from aai_mcp.cli.worker_pool import worker_settings
from aai_mcp.cli.worker_rules import workers_refusal
from aai_mcp.config.settings import Settings
from aai_mcp.gateway import build_gateway
from aai_mcp.transports.http import build_http_app
from tests.support import CANARY_KEY, make_settings

pytestmark = pytest.mark.anyio

STATELESS_WITH_KEY: dict[str, Any] = {"workers": 2, "stateless": True}
SECRET = "worker-rules-signing-secret-0123456789"


def test_workers_come_from_the_flag_the_environment_and_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "aai-mcp.toml"
    config.write_text("workers = 3\n")

    def workers(argv: list[str], env: dict[str, str]) -> int:
        return load_command(["serve", *argv], env).of(Settings).workers

    assert workers([], {}) == 1
    assert workers(["--config", str(config)], {}) == 3
    assert workers(["--config", str(config)], {"AAI_MCP_WORKERS": "4"}) == 4
    assert workers(["--workers", "5"], {"AAI_MCP_WORKERS": "4"}) == 5


@pytest.mark.parametrize("value", ["0", "65"])
def test_a_worker_count_out_of_bounds_is_refused_naming_the_option(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--workers", value]) == 2
    assert "--workers / AAI_MCP_WORKERS must be a whole number, from 1 to 64" in capsys.readouterr().err


def test_one_worker_is_never_refused() -> None:
    assert workers_refusal(make_settings(api_key=None, auth=["tokens"], token_secrets=SECRET)) is None


def test_stateful_sessions_need_one_process() -> None:
    refusal = workers_refusal(make_settings(workers=2))
    assert refusal is not None
    assert refusal.startswith("2 workers (--workers / AAI_MCP_WORKERS) need --stateless / AAI_MCP_STATELESS")
    assert "a session's next request would reach a worker that does not know it" in refusal


def test_the_built_in_simulator_needs_one_process() -> None:
    refusal = workers_refusal(make_settings(api_key=None, **STATELESS_WITH_KEY))
    assert refusal is not None
    assert "need ASSEMBLYAI_API_KEY" in refusal and "`aai-mcp simulate`" in refusal
    assert "--api-base-url / AAI_MCP_API_BASE_URL" in refusal


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"auth": ["tokens"], "token_secrets": SECRET}, "--max-concurrent-calls-per-token"),
        ({"auth": ["passthrough-key"]}, "calls per token"),
        ({"team_quotas": ["default:rpm=10"]}, "--team-quotas / AAI_MCP_TEAM_QUOTAS"),
        ({"public_url": "https://aai.example.com"}, "--upload-link-requests-per-minute"),
    ],
    ids=["tokens", "passthrough", "team-quotas", "upload-links"],
)
def test_limits_counted_in_memory_need_redis(overrides: dict[str, Any], named: str) -> None:
    refusal = workers_refusal(make_settings(**STATELESS_WITH_KEY, **overrides))
    assert refusal is not None
    assert "need AAI_MCP_REDIS_URL" in refusal and named in refusal
    assert "the workers would allow 2 times as much" in refusal
    with_redis = make_settings(**STATELESS_WITH_KEY, **overrides, redis_url="redis://127.0.0.1:1/0")
    assert workers_refusal(with_redis) is None


def test_stateless_with_a_key_and_no_counted_limit_runs_in_workers() -> None:
    assert workers_refusal(make_settings(**STATELESS_WITH_KEY)) is None


def test_serve_refuses_before_it_binds_and_never_prints_the_key(capsys: pytest.CaptureFixture[str]) -> None:
    # Port 1 would need privileges: a refusal that got as far as binding would say so instead.
    assert main(["serve", "--workers", "2", "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert "need --stateless" in err and "permission denied" not in err
    assert CANARY_KEY not in err


def test_each_worker_is_named_apart_when_the_instance_is_named() -> None:
    settings = make_settings(instance_id="pod-a", **STATELESS_WITH_KEY)
    assert [worker_settings(settings, index).instance_id for index in (0, 1)] == ["pod-a-0", "pod-a-1"]
    unnamed = make_settings(**STATELESS_WITH_KEY)
    assert worker_settings(unnamed, 1).instance_id is None  # a random name per process already differs


async def test_a_worker_answers_legacy_sse_with_404_saying_why() -> None:
    gateway = build_gateway(make_settings(api_key=None, stateless=True))
    app = build_http_app(gateway, legacy_sse=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        stream = await http.get("/sse")
        post = await http.post("/messages/?session_id=00000000000000000000000000000000", json={})
    for answer in (stream, post):
        assert answer.status_code == 404
        assert answer.json()["error"] == "not_offered"
        assert "several worker processes" in answer.json()["message"]


def test_doctor_says_whether_serve_would_run_the_workers_and_why_not() -> None:
    assert check_workers(make_settings()) == []
    (refused,) = check_workers(make_settings(workers=3))
    assert not refused.ok and refused.subject == "workers"
    expected = "problem  workers: 3 workers (--workers / AAI_MCP_WORKERS) need --stateless"
    assert refused.line().startswith(expected)
    assert "Fix: an MCP session lives in the memory of the process that opened it" in refused.line()
    (fine,) = check_workers(make_settings(workers=3, stateless=True))
    assert fine.ok and "3 worker processes can share the port" in fine.line()
