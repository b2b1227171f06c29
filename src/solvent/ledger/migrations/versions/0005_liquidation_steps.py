"""Liquidation steps booked on the ledger: one row per step id, committed with its operation.

Revision ID: 0005_liquidation_steps
Revises: 0004_api_keys
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_liquidation_steps"
down_revision = "0004_api_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "liquidation_steps",
        sa.Column("step_id", sa.String(128), primary_key=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("account_id", sa.String(128), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("against_id", sa.String(128), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("operation_id", sa.Integer, sa.ForeignKey("operations.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_liquidation_steps_run", "liquidation_steps", ["run_id", "seq"])


def downgrade() -> None:
    op.drop_index("ix_liquidation_steps_run", table_name="liquidation_steps")
    op.drop_table("liquidation_steps")
