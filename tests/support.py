"""Helpers shared by test modules (fixtures live in conftest.py)."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from aai_mcp.settings import Settings

# A canary: this fake key must never show up in any result, response, log or exception text.
CANARY_KEY = "canary-KEY-4f1c9b2e-never-leak"


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"api_key": SecretStr(CANARY_KEY), "retry_backoff_seconds": 0.0}
    values.update(overrides)
    return Settings(**values)
