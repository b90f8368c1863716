"""Everything that talks to AssemblyAI: hosts, auth, requests, errors and rate limits."""

from aai_mcp.upstream.client import Upstream, decode_json, decode_text
from aai_mcp.upstream.errors import UpstreamError

__all__ = ["Upstream", "UpstreamError", "decode_json", "decode_text"]
