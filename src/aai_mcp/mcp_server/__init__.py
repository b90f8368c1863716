"""The MCP front door: the server factory, the tool runtime, handlers, views, resources and prompts."""
