"""Initial ledger schema: assets, accounts, operations, entries, balances, positions, trades.

Revision ID: 0001_initial
Revises:
Create Date: 2026-02-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assets",
        sa.Column("symbol", sa.String(32), primary_key=True),
        sa.Column("decimals", sa.Integer, nullable=False),
        sa.Column("asset_class", sa.String(16), nullable=False),
        sa.CheckConstraint("decimals >= 0 AND decimals <= 18", name="ck_assets_decimals"),
    )
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("parent_id", sa.String(128), sa.ForeignKey("accounts.id"), nullable=True),
        sa.Column("mode", sa.String(16), nullable=True),
        sa.Column("model", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('user', 'system', 'external')", name="ck_accounts_kind"),
        sa.CheckConstraint(
            "(parent_id IS NULL AND mode IS NULL) OR (parent_id IS NOT NULL AND mode IN "
            "('cross', 'isolated'))",
            name="ck_accounts_mode",
        ),
    )
    op.create_table(
        "operations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reference", sa.String(256), nullable=False),
        sa.Column("entry_count", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "entries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("operation_id", sa.Integer, sa.ForeignKey("operations.id"), nullable=False),
        sa.Column("account_id", sa.String(128), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("asset", sa.String(32), sa.ForeignKey("assets.symbol"), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.CheckConstraint("amount <> 0", name="ck_entries_nonzero"),
    )
    op.create_index("ix_entries_operation", "entries", ["operation_id"])
    op.create_index("ix_entries_account_asset", "entries", ["account_id", "asset"])
    op.create_table(
        "balances",
        sa.Column("account_id", sa.String(128), sa.ForeignKey("accounts.id"), primary_key=True),
        sa.Column("asset", sa.String(32), sa.ForeignKey("assets.symbol"), primary_key=True),
        sa.Column("amount", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "positions",
        sa.Column("account_id", sa.String(128), sa.ForeignKey("accounts.id"), primary_key=True),
        sa.Column("instrument", sa.String(128), primary_key=True),
        sa.Column("quantity", sa.Text, nullable=False),
        sa.Column("average_price", sa.Text, nullable=False),
        sa.Column("realized_pnl", sa.Text, nullable=False),
        sa.Column("settlement_asset", sa.String(32), nullable=False),
    )
    op.create_table(
        "trades",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("operation_id", sa.Integer, sa.ForeignKey("operations.id"), nullable=False),
        sa.Column("account_id", sa.String(128), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("instrument", sa.String(128), nullable=False),
        sa.Column("style", sa.String(16), nullable=False),
        sa.Column("settlement", sa.String(16), nullable=False),
        sa.Column("settlement_asset", sa.String(32), nullable=False),
        sa.Column("contract_size", sa.Text, nullable=False),
        sa.Column("quantity", sa.Text, nullable=False),
        sa.Column("price", sa.Text, nullable=False),
        sa.Column("fee", sa.BigInteger, nullable=False),
        sa.Column("realized_pnl", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_trades_account", "trades", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_trades_account", "trades")
    op.drop_table("trades")
    op.drop_table("positions")
    op.drop_table("balances")
    op.drop_index("ix_entries_account_asset", "entries")
    op.drop_index("ix_entries_operation", "entries")
    op.drop_table("entries")
    op.drop_table("operations")
    op.drop_table("accounts")
    op.drop_table("assets")
