"""The README's generated tables (tools, configuration): `python -m aai_mcp.cli.readme_tables [--check]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aai_mcp.catalog import Catalog, ToolSpec
from aai_mcp.config.options import HTTP_ONLY, env_var, flag, limits
from aai_mcp.config.settings import Settings
from aai_mcp.gateway import load_default_catalog
from aai_mcp.upstream.errors import ErrorKind

README = Path(__file__).resolve().parents[3] / "README.md"


def tool_table(catalog: Catalog) -> str:
    rows = [
        "| Tool | Toolset | Upstream | Effects (`--methods`) | Read-only | What it does |",
        "|---|---|---|---|---|---|",
    ]
    for spec in catalog.tools.values():
        upstream = "<br>".join(f"`{route.shown()}`" for route in spec.upstream_calls)
        read_only = "yes" if spec.annotations.read_only else "no"
        rows.append(
            f"| `{spec.name}` | {spec.toolset} | {upstream} | {effects(spec)} | {read_only} | {spec.title} |"
        )
    return "\n".join(rows)


def effects(spec: ToolSpec) -> str:
    """The tool's own effects, then what it borrows from tools it uses (and for which arguments)."""
    text = ", ".join(spec.effects)
    for use in spec.uses:
        given = f" with {' or '.join(f'`{name}`' for name in use.when)}" if use.when else ""
        text += f"; uses `{use.tool}`{given}"
    return text


def error_table() -> str:
    rows = ["| Kind | Retryable | When |", "|---|---|---|"]
    for kind in ErrorKind:
        rows.append(f"| `{kind.value}` | {'yes' if kind.retryable else 'no'} | {kind.meaning} |")
    return "\n".join(rows)


def config_table() -> str:
    rows = ["| Flag | Environment | Default | Meaning |", "|---|---|---|---|"]
    for name, field in Settings.model_fields.items():
        cli_flag = flag(name)
        shown = f"`{cli_flag}`" if cli_flag else "(environment only)"
        if name in HTTP_ONLY and cli_flag:
            shown += " (serve)"
        default = "unset" if field.default is None else f"`{field.default}`"
        bounds = limits(name)
        meaning = f"{field.description} Must be {bounds}." if bounds else field.description
        rows.append(f"| {shown} | `{env_var(name)}` | {default} | {meaning} |")
    return "\n".join(rows)


def render(text: str, block: str, content: str) -> str:
    start, end = f"<!-- {block}:start -->", f"<!-- {block}:end -->"
    head, found, rest = text.partition(start)
    if not found or end not in rest:
        raise ValueError(f"README has no {start} ... {end} block")
    return f"{head}{start}\n{content}\n{end}{rest.partition(end)[2]}"


def rendered_readme(text: str) -> str:
    text = render(text, "tools", tool_table(load_default_catalog()))
    text = render(text, "errors", error_table())
    return render(text, "config", config_table())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate (or --check) the README's tables.")
    parser.add_argument("--check", action="store_true", help="Fail if README.md is not current.")
    args = parser.parse_args(argv)
    current = README.read_text(encoding="utf-8")
    wanted = rendered_readme(current)
    if args.check:
        if wanted != current:
            print("README.md tables are stale: run `python -m aai_mcp.cli.readme_tables`", file=sys.stderr)
            return 1
        return 0
    README.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
