"""`aai-mcp catalog diff SPEC...`: the catalog against newer AssemblyAI specs, per tool."""

from __future__ import annotations

import sys
from itertools import groupby
from pathlib import Path

from aai_mcp.catalog import default_schema_dir
from aai_mcp.catalog.spec_diff import Difference, Omissions, catalog_differences
from aai_mcp.catalog.upstream_specs import SpecFileError, load_spec_files
from aai_mcp.catalog.yaml_loader import load_yaml
from aai_mcp.config.command_options import CatalogDiffOptions
from aai_mcp.gateway import load_default_catalog

OMISSIONS_FILE = "upstream/omissions.yaml"


def load_omissions(path: Path | None = None) -> Omissions:
    path = path or default_schema_dir() / OMISSIONS_FILE
    return Omissions.from_document(load_yaml(path.read_text(encoding="utf-8")))


def run_catalog_diff(options: CatalogDiffOptions) -> int:
    """Print the report; 0 when every difference is explained, 1 when one is not, 2 on a bad file."""
    try:
        specs = load_spec_files([Path(name) for name in options.specs])
        omissions = load_omissions(Path(options.omissions) if options.omissions else None)
    except (SpecFileError, OSError) as exc:
        print(f"aai-mcp: {exc}", file=sys.stderr)
        return 2
    differences = catalog_differences(load_default_catalog(), specs, omissions)
    print(report(differences, sorted(specs.operations)))
    return 1 if any(d.reason is None for d in differences) else 0


def report(differences: list[Difference], hosts: list[str]) -> str:
    lines = [f"Compared the catalog with the specs of: {', '.join(hosts)}"]
    ordered = sorted(differences, key=lambda d: (d.tool == "", d.tool))
    for tool, group in groupby(ordered, key=lambda d: d.tool):
        lines.append(f"\n{tool or 'upstream operations no tool calls'}:")
        lines += [_line(difference) for difference in group]
    unexplained = sum(d.reason is None for d in differences)
    lines.append(f"\n{unexplained} unexplained difference(s), {len(differences) - unexplained} explained.")
    return "\n".join(lines)


def _line(difference: Difference) -> str:
    text = f"  {difference.kind:<12} {difference.name}: {difference.detail}"
    return text if difference.reason is None else f"{text} [explained: {difference.reason}]"
