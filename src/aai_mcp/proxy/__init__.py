"""The team proxy: AssemblyAI's REST API behind /v1/assemblyai, for callers holding aai-mcp tokens."""

from aai_mcp.proxy.front_door import PROXY_PREFIX, ProxyApp

__all__ = ["PROXY_PREFIX", "ProxyApp"]
