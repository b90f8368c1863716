"""Alembic's entry point: migrations run on the connection the caller passes in (never a URL from
a config file), so `aai-mcp db upgrade` and the automatic upgrade at start share one code path."""

from __future__ import annotations

from alembic import context

from aai_mcp.state.store_schema import include_name, include_object, metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,
    include_name=include_name,
    include_object=include_object,
)
with context.begin_transaction():
    context.run_migrations()
