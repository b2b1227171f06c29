"""HTTP API keys, stored hashed (``solvent key create``).

Revision ID: 0004_api_keys
Revises: 0003_realtime_checkpoints
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_api_keys"
down_revision = "0003_realtime_checkpoints"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("account_id", sa.String(128), sa.ForeignKey("accounts.id"), nullable=True),
        sa.Column("operator", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(operator AND account_id IS NULL) OR (NOT operator AND account_id IS NOT NULL)",
            name="ck_api_keys_scope",
        ),
    )


def downgrade() -> None:
    op.drop_table("api_keys")
