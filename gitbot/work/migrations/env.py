"""Alembic's entry point: migrate the connection that `gitbot.work.migrations` hands over.

gitbot never runs Alembic's command line or offline (`--sql`) mode: `gitbot db upgrade` passes
an open connection, inside the transaction that also holds the upgrade lock.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from gitbot.work.schema import metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("gitbot's migrations run through `gitbot db upgrade`, not Alembic's CLI")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
