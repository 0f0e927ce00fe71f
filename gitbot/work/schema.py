"""The work database's tables, in SQLAlchemy Core, portable between SQLite and PostgreSQL.

This is the schema at the newest migration (`gitbot/work/migrations/versions/`): change both
together; `tests/work/test_migrations.py` checks that they agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
)
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every dialect.

    SQLite has no time zones: values are stored as naive UTC text in one fixed format, so that
    comparing the text compares the instants. PostgreSQL stores `timestamp with time zone`.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError(f"datetime must be timezone-aware: {value!r}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.utcoffset() is None else value.astimezone(UTC)


metadata = MetaData()

deliveries = Table(
    "deliveries",
    metadata,
    Column("guid", Text, primary_key=True),
    Column("event", Text, nullable=False),
    Column("action", Text),
    Column("status", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("repository", Text),
    Column("installation_id", BigInteger),
    Column("payload_pruned_at", UTCDateTime),  # payload emptied after GITBOT_DELIVERY_RETENTION
    Index("deliveries_received", "received_at"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", Text, nullable=False),
    Column("repository", Text, nullable=False),
    Column("promise", Text),  # None: the whole repository
    Column("commit_sha", Text),  # "commit" is an SQL keyword
    Column("payload", Text, nullable=False),  # JSON, sorted keys
    Column("delivery_guid", Text, ForeignKey("deliveries.guid", ondelete="SET NULL")),
    Column("supersedes", Boolean, nullable=False),  # enqueued with supersede=True
    Column("status", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("worker", Text),
    Column("lease_until", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
    Column("error", Text),
    Column("result", Text),  # JSON, sorted keys
    Index("jobs_status", "status", "id"),
    Index("jobs_repository", "repository", "status"),
    Index("jobs_delivery", "delivery_guid"),
    sqlite_autoincrement=True,  # ids never reused: they order the queue
)

repositories = Table(
    "repositories",
    metadata,
    Column("full_name", Text, primary_key=True),
    Column("installation_id", BigInteger, nullable=False),
    Column("default_branch", Text, nullable=False),
    Column("registered_at", UTCDateTime, nullable=False),
    Column("last_reconcile_at", UTCDateTime),
    Column("last_result", Text),
)

leases = Table(
    "leases",
    metadata,
    Column("name", Text, primary_key=True),  # what is held: "scheduler"
    Column("holder", Text, nullable=False),  # host-pid of the process holding it
    Column("expires_at", UTCDateTime, nullable=False),
)

object_statuses = Table(
    # Each object's Kratix status between runs, shared by every worker (gitbot.statusdb's
    # ObjectStatus; the SQLite status file keeps the same columns for the CLI).
    "object_statuses",
    metadata,
    Column("source", Text, primary_key=True),  # the source repository
    Column("key", Text, primary_key=True),  # the object: group/kind/namespace/name
    Column("status", Text, nullable=False),  # JSON, sorted keys
    Column("outcome", Text, nullable=False),
    Column("spec_hash", Text, nullable=False),
    Column("source_commit", Text, nullable=False),
    Column("pipelines", Text, nullable=False),  # JSON: pipeline name -> phase
    Column("updated_at", UTCDateTime, nullable=False),
    # The state repository the run wrote for; "": unknown (a status from before 0005).
    Column("state", Text, nullable=False, server_default=""),
)

TABLES = frozenset(metadata.tables)
