"""MCP Tasks (issue 18): long tool calls as durable tasks, in both protocol generations."""
