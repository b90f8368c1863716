"""AssemblyAI's public API specs and the project's notes, bundled for agents to look up offline."""

from aai_mcp.api_reference.lookup import ApiReference, load_reference, notes_text

__all__ = ["ApiReference", "load_reference", "notes_text"]
