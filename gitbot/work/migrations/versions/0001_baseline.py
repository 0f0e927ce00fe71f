"""The schema gitbot wrote before it had migrations (marked by schema_version = 1).

Revision ID: 0001
Revises:
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gitbot.work.schema import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    version = op.create_table("schema_version", sa.Column("version", sa.Integer, nullable=False))
    op.bulk_insert(version, [{"version": 1}])
    op.create_table(
        "deliveries",
        sa.Column("guid", sa.Text, primary_key=True),
        sa.Column("event", sa.Text, nullable=False),
        sa.Column("action", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("repository", sa.Text),
        sa.Column("installation_id", sa.BigInteger),
    )
    op.create_index("deliveries_received", "deliveries", ["received_at"])
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("repository", sa.Text, nullable=False),
        sa.Column("promise", sa.Text),
        sa.Column("commit_sha", sa.Text),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("delivery_guid", sa.Text, sa.ForeignKey("deliveries.guid", ondelete="SET NULL")),
        sa.Column("supersedes", sa.Boolean, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("worker", sa.Text),
        sa.Column("lease_until", UTCDateTime),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("started_at", UTCDateTime),
        sa.Column("finished_at", UTCDateTime),
        sa.Column("error", sa.Text),
        sa.Column("result", sa.Text),
        sqlite_autoincrement=True,
    )
    op.create_index("jobs_status", "jobs", ["status", "id"])
    op.create_index("jobs_repository", "jobs", ["repository", "status"])
    op.create_index("jobs_delivery", "jobs", ["delivery_guid"])
    op.create_table(
        "repositories",
        sa.Column("full_name", sa.Text, primary_key=True),
        sa.Column("installation_id", sa.BigInteger, nullable=False),
        sa.Column("default_branch", sa.Text, nullable=False),
        sa.Column("registered_at", UTCDateTime, nullable=False),
        sa.Column("last_reconcile_at", UTCDateTime),
        sa.Column("last_result", sa.Text),
    )


def downgrade() -> None:
    for table in ("repositories", "jobs", "deliveries", "schema_version"):
        op.drop_table(table)
