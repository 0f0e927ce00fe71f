"""Object statuses name the state repository they were written for.

An object's delete workflow runs for its status alone (no record on the base branch) only in the
state repository its status was written for; rows from before name none ("": unknown) and never
trigger one.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("object_statuses") as batch:
        batch.add_column(sa.Column("state", sa.Text, nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("object_statuses") as batch:
        batch.drop_column("state")
