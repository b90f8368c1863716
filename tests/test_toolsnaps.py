"""Every generated MCP tool definition matches its reviewed snapshot in tests/toolsnaps/.

Run with UPDATE_TOOLSNAPS=1 to rewrite the snapshots, then review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from aai_mcp.gateway import load_default_catalog
from aai_mcp.mcp_server.registry import tool_definition

SNAP_DIR = Path(__file__).resolve().parent / "toolsnaps"
UPDATE_ENV = "UPDATE_TOOLSNAPS"
CATALOG = load_default_catalog()


def updating() -> bool:
    return os.environ.get(UPDATE_ENV) == "1"


def definition(name: str) -> dict[str, Any]:
    dumped: dict[str, Any] = tool_definition(CATALOG.tools[name], CATALOG).model_dump(
        mode="json", by_alias=True, exclude_none=True
    )
    return dumped


def render(snapshot: dict[str, Any]) -> str:
    return json.dumps(snapshot, indent=2, sort_keys=True) + "\n"


@pytest.mark.parametrize("name", sorted(CATALOG.tools))
def test_tool_definition_matches_snapshot(name: str) -> None:
    path = SNAP_DIR / f"{name}.json"
    current = render(definition(name))
    if updating():
        SNAP_DIR.mkdir(exist_ok=True)
        path.write_text(current, encoding="utf-8")
        return
    if not path.is_file():
        pytest.fail(
            f"no snapshot for {name}: run `{UPDATE_ENV}=1 pytest tests/test_toolsnaps.py`, review, commit"
        )
    assert json.loads(path.read_text(encoding="utf-8")) == json.loads(current), (
        f"{name}'s definition changed; if intended run `{UPDATE_ENV}=1 pytest tests/test_toolsnaps.py`"
    )
    assert path.read_text(encoding="utf-8") == current, f"{path.name} is not in canonical form; regenerate it"


def test_no_snapshot_without_a_tool() -> None:
    stale = sorted(path.stem for path in SNAP_DIR.glob("*.json") if path.stem not in CATALOG.tools)
    if stale and updating():
        for name in stale:
            (SNAP_DIR / f"{name}.json").unlink()
        return
    assert stale == [], f"snapshots for tools no longer in the catalog: {stale}; delete them"
