"""Code handlers for tools one forwarded request cannot serve (named by `handler:` in tool_schemas)."""
