"""The core never reaches into a front door: archive, catalog, upstream, access, config, state and
metrics import none of mcp_server, proxy, transports, cli or simulator, so a new front door can use
the core without the MCP one; and the MCP front door and the team proxy do not reach into each other."""

from __future__ import annotations

import ast
from pathlib import Path

import aai_mcp

PACKAGE = Path(aai_mcp.__file__).parent
CORE = (
    "archive",
    "extraction",
    "delivery",
    "catalog",
    "upstream",
    "access",
    "config",
    "state",
    "caller_input.py",
    "logs.py",
    "redaction.py",
    "metrics.py",
)
FRONT_DOORS = (
    "aai_mcp.mcp_server",
    "aai_mcp.transports",
    "aai_mcp.cli",
    "aai_mcp.proxy",
    "aai_mcp.simulator",
)


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def core_files() -> list[Path]:
    files: list[Path] = []
    for entry in CORE:
        path = PACKAGE / entry
        files.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return files


def test_the_core_imports_no_front_door() -> None:
    files = core_files()
    assert len(files) > 20, files  # the walk found the core, so silence below means something
    crossings = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in files
        for name in sorted(imported_modules(path))
        if name.startswith(FRONT_DOORS)
    ]
    assert crossings == []


def test_the_mcp_front_door_and_the_proxy_import_each_other_nowhere() -> None:
    pairs = {"mcp_server": "aai_mcp.proxy", "proxy": "aai_mcp.mcp_server"}
    crossings = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for door, other in pairs.items()
        for path in sorted((PACKAGE / door).rglob("*.py"))
        for name in sorted(imported_modules(path))
        if name.startswith(other)
    ]
    assert crossings == []


def test_the_check_sees_a_crossing(tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text("from aai_mcp.mcp_server.runtime.tool_call import ToolCall\n", encoding="utf-8")
    assert any(name.startswith(FRONT_DOORS) for name in imported_modules(planted))


# Names shared on purpose, because they are the same concept in both places.
SAME_CONCEPT = {
    "__init__": "every package has one",
    "config": "the simulator's configuration (simulator/config.py) beside the gateway's (config/)",
}


def test_no_two_modules_share_a_name_unless_they_are_the_same_concept() -> None:
    places: dict[str, list[str]] = {}
    for path in PACKAGE.rglob("*"):
        if "__pycache__" in path.parts or not (path.suffix == ".py" or path.is_dir()):
            continue
        if path.is_dir() and not (path / "__init__.py").exists():
            continue  # alembic's migrations/versions: data for alembic, not an importable module
        places.setdefault(path.stem, []).append(str(path.relative_to(PACKAGE)))
    shared = {name: sorted(where) for name, where in places.items() if len(where) > 1}
    assert len(places) > 80, places  # the walk saw the package
    assert {name: where for name, where in shared.items() if name not in SAME_CONCEPT} == {}
