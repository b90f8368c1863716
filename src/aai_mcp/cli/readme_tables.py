"""The README's generated tables (tools, configuration): `python -m aai_mcp.cli.readme_tables [--check]`."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

from aai_mcp.catalog import Catalog, ToolSpec
from aai_mcp.cli.main import COMMANDS
from aai_mcp.config.options import Model, env_var, file_key, flag, limits
from aai_mcp.gateway import load_default_catalog
from aai_mcp.mcp_server.registry.listing_size import (
    BYTES_PER_TOKEN,
    TOOLS_LIST_BUDGET_BYTES,
    listing_sizes,
)
from aai_mcp.upstream.errors import ErrorKind

README = Path(__file__).resolve().parents[3] / "README.md"


def tool_table(catalog: Catalog) -> str:
    rows = [
        "| Tool | Toolset | Upstream | Effects (`--methods`) | Read-only | What it does |",
        "|---|---|---|---|---|---|",
    ]
    for spec in catalog.tools.values():
        upstream = "<br>".join(f"`{route.shown()}`" for route in spec.upstream_calls) or "none (bundled data)"
        read_only = "yes" if spec.annotations.read_only else "no"
        rows.append(
            f"| `{spec.name}` | {spec.toolset} | {upstream} | {effects(spec)} | {read_only} | {spec.title} |"
        )
    return "\n".join(rows)


def size_table(catalog: Catalog) -> str:
    rows = ["| Toolset | Tools | `tools/list` bytes | ≈ tokens |", "|---|---|---|---|"]
    for size in listing_sizes(catalog):
        name = f"**{size.name}**" if size.name == "whole catalog" else f"`{size.name}`"
        rows.append(f"| {name} | {size.tools} | {size.bytes} | {size.tokens} |")
    budget = TOOLS_LIST_BUDGET_BYTES
    rows.append(f"| budget (tests/test_catalog_size.py) | | {budget} | {budget // BYTES_PER_TOKEN} |")
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


@dataclass
class ConfigRow:
    """One option as the README lists it: every flag and command that reads the same variable."""

    model: Model
    name: str
    flags: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)

    def add(self, command: str, model: Model, name: str) -> None:
        cli_flag = flag(name, model)
        if cli_flag and cli_flag not in self.flags:
            self.flags.append(cli_flag)
        self.commands.append(command)

    def render(self) -> str:
        shown = ", ".join(f"`{item}`" for item in self.flags) or "(environment only)"
        variable = env_var(self.name, self.model)
        key = file_key(self.name, self.model)
        default = self.model.model_fields[self.name].default
        bounds = limits(self.name, self.model)
        meaning = self.model.model_fields[self.name].description or ""
        if bounds:
            meaning += f" Must be {bounds}."
        cells = [
            shown,
            f"`{variable}`" if variable else "",
            f"`{key}`" if key else "(never)",
            ", ".join(self.commands),
            "unset" if default is None else f"`{default}`",
            meaning,
        ]
        return "| " + " | ".join(cells) + " |"


def config_rows() -> list[ConfigRow]:
    """Every option any command reads from the environment or the file (per-invocation arguments,
    such as what `token mint` allows, are listed by `--help` only)."""
    rows: dict[str, ConfigRow] = {}
    for command in COMMANDS:
        for group in command.groups:
            for name in group.fields():
                identity = env_var(name, group.model) or file_key(name, group.model)
                if identity is None:
                    continue
                row = rows.setdefault(identity, ConfigRow(group.model, name))
                row.add(command.name, group.model, name)
    return list(rows.values())


def config_table() -> str:
    header = [
        "| Flag | Environment | Config file key | Commands | Default | Meaning |",
        "|---|---|---|---|---|---|",
    ]
    return "\n".join(header + [row.render() for row in config_rows()])


def render(text: str, block: str, content: str) -> str:
    start, end = f"<!-- {block}:start -->", f"<!-- {block}:end -->"
    head, found, rest = text.partition(start)
    if not found or end not in rest:
        raise ValueError(f"README has no {start} ... {end} block")
    return f"{head}{start}\n{content}\n{end}{rest.partition(end)[2]}"


def rendered_readme(text: str) -> str:
    catalog = load_default_catalog()
    text = render(text, "tools", tool_table(catalog))
    text = render(text, "toolsizes", size_table(catalog))
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
