"""MCP Apps (`io.modelcontextprotocol/ui`): views a host renders beside a tool's result."""
