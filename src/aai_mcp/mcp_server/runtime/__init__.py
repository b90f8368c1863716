"""One tool call from arguments to CallToolResult: validation, forwarding, results."""
