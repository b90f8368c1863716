"""`aai-mcp tools`: the tool catalog as a table or JSON."""

from __future__ import annotations

import json

from aai_mcp.gateway import load_default_catalog


def list_tools(as_json: bool) -> int:
    catalog = load_default_catalog()
    specs = list(catalog.tools.values())
    if as_json:
        rows = [
            {"name": s.name, "toolset": s.toolset, "read_only": s.annotations.read_only, "title": s.title}
            for s in specs
        ]
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(spec.name) for spec in specs)
    print(f"{'TOOL':<{width}}  {'TOOLSET':<11}  READ-ONLY  TITLE")
    for spec in specs:
        flag = "yes" if spec.annotations.read_only else "no"
        print(f"{spec.name:<{width}}  {spec.toolset:<11}  {flag:<9}  {spec.title}")
    return 0
