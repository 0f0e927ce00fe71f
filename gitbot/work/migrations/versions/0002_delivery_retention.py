"""Delivery payloads can be pruned (GITBOT_DELIVERY_RETENTION); Alembic replaces schema_version.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gitbot.work.schema import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # When the payload was dropped; the row stays, so a redelivery is still recognised.
    op.add_column("deliveries", sa.Column("payload_pruned_at", UTCDateTime))
    op.drop_table("schema_version")


def downgrade() -> None:
    version = op.create_table("schema_version", sa.Column("version", sa.Integer, nullable=False))
    op.bulk_insert(version, [{"version": 1}])
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("payload_pruned_at")
