"""stdio, Streamable HTTP and SSE around the one server factory."""
