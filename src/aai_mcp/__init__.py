"""aai-mcp: the AssemblyAI speech API as MCP tools."""

__version__ = "0.1.0"
