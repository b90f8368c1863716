"""deploy/: the compose file and the Kubernetes manifest run the gateway with Redis and PostgreSQL,
passwords only from secrets, and a command line `aai-mcp` accepts. (The gateway's own Kubernetes
checks are in tests/test_scale_out.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from aai_mcp.cli.main import build_parser, load_command
from aai_mcp.config.settings import Settings
from tests.test_scale_out import manifests

ROOT = Path(__file__).resolve().parents[1]
GATEWAYS = ("gateway-a", "gateway-b")


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    return loaded


def known_variables() -> set[str]:
    return {f"AAI_MCP_{name.upper()}" for name in Settings.model_fields} | {"ASSEMBLYAI_API_KEY"}


def test_compose_runs_two_stateless_gateways_behind_a_proxy() -> None:
    services = compose()["services"]
    assert set(services) == {*GATEWAYS, "proxy", "redis", "postgres", "migrate"}
    for name in GATEWAYS:
        command = services[name]["command"]
        args = build_parser().parse_args(command[1:])
        assert (args.command, args.stateless, args.host, args.auth) == ("serve", True, "0.0.0.0", "tokens")
        assert {"redis", "postgres"} <= set(services[name]["depends_on"])
    instance_ids = {services[name]["environment"]["AAI_MCP_INSTANCE_ID"] for name in GATEWAYS}
    assert instance_ids == set(GATEWAYS)
    proxy = services["proxy"]["command"]
    assert [proxy[i + 1] for i, word in enumerate(proxy) if word == "--to"] == [f"{g}:8000" for g in GATEWAYS]


def test_compose_takes_every_secret_from_the_environment() -> None:
    services = compose()["services"]
    for name in GATEWAYS:
        env = services[name]["environment"]
        assert set(env) <= known_variables(), set(env) - known_variables()
        for secret in ("ASSEMBLYAI_API_KEY", "AAI_MCP_TOKEN_SECRETS"):
            assert env[secret].startswith("${") and ":?" in env[secret], f"{secret} must be required"
        assert env["AAI_MCP_REDIS_URL"] == "redis://:${REDIS_PASSWORD:?set REDIS_PASSWORD}@redis:6379/0"
        assert "${POSTGRES_PASSWORD:?" in env["AAI_MCP_DATABASE_URL"]
    assert "${POSTGRES_PASSWORD:?" in services["postgres"]["environment"]["POSTGRES_PASSWORD"]


def test_redis_keeps_nothing_on_disk_and_needs_a_password() -> None:
    compose_redis = compose()["services"]["redis"]["command"]
    (pod,) = manifests("aai-mcp-redis")["Deployment"]["spec"]["template"]["spec"]["containers"]
    for args in (compose_redis[1:], pod["args"]):
        options = dict(zip(args[::2], args[1::2], strict=True))
        assert options["--save"] == "" and options["--appendonly"] == "no"
        assert "PASSWORD" in options["--requirepass"]
    (variable,) = pod["env"]
    assert variable["valueFrom"]["secretKeyRef"] == {"name": "aai-mcp", "key": "redis-password"}


def test_kubernetes_runs_redis_and_postgres_beside_the_gateway() -> None:
    redis, postgres = manifests("aai-mcp-redis"), manifests("aai-mcp-postgres")
    assert {"Deployment", "Service"} <= set(redis) and {"StatefulSet", "Service"} <= set(postgres)
    assert redis["Service"]["spec"]["ports"][0]["port"] == 6379
    assert postgres["Service"]["spec"]["ports"][0]["port"] == 5432
    (container,) = postgres["StatefulSet"]["spec"]["template"]["spec"]["containers"]
    env = {item["name"]: item for item in container["env"]}
    assert "secretKeyRef" in env["POSTGRES_PASSWORD"]["valueFrom"]
    assert postgres["StatefulSet"]["spec"]["volumeClaimTemplates"], "durable state needs a volume"


def test_the_store_schema_is_upgraded_before_any_gateway_serves() -> None:
    services = compose()["services"]
    migrate = services["migrate"]
    assert load_command(migrate["command"][1:], {}).command == "db upgrade"
    assert migrate["depends_on"]["postgres"] == {"condition": "service_healthy"}
    url = migrate["environment"]["AAI_MCP_DATABASE_URL"]
    assert url == services["gateway-a"]["environment"]["AAI_MCP_DATABASE_URL"]
    for name in GATEWAYS:
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    (gateway,) = manifests("aai-mcp")["Deployment"]["spec"]["template"]["spec"]["initContainers"]
    assert load_command(gateway["args"], {}).command == "db upgrade"
    (variable,) = gateway["env"]
    assert variable["valueFrom"]["secretKeyRef"] == {"name": "aai-mcp", "key": "database-url"}
