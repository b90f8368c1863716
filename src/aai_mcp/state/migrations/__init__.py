"""Alembic migrations of the durable store, oldest first (versions/)."""
