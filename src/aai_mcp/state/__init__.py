"""State beyond one call: the durable store (SQLite, PostgreSQL) and shared state (in-process, Redis)."""
