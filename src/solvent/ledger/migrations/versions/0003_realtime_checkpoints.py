"""Checkpoints and the event log of the real-time engine (restart without applying an event twice).

Revision ID: 0003_realtime_checkpoints
Revises: 0002_client_refs
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_realtime_checkpoints"
down_revision = "0002_client_refs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "realtime_checkpoints",
        sa.Column("stream", sa.String(128), primary_key=True),
        sa.Column("sequence", sa.BigInteger, nullable=False),
        sa.Column("tick", sa.BigInteger, nullable=False),
        sa.Column("event_seq", sa.BigInteger, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "realtime_events",
        sa.Column("stream", sa.String(128), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True),
        sa.Column("tick", sa.BigInteger, nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("account", sa.String(128), nullable=True),
        sa.Column("detail", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("realtime_events")
    op.drop_table("realtime_checkpoints")
