"""The ledger's schema (SQLAlchemy 2 Core), identical on SQLite and PostgreSQL.

Money columns are ``BIGINT`` counts of an asset's base unit (signed). Quantities and prices of
positions and trades are exact decimal strings (``TEXT``), because their precision is not bounded by
an asset's decimals and a float column would round them. The Alembic migrations in
``migrations/versions`` create exactly these tables; a test checks that they agree.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

assets = Table(
    "assets",
    metadata,
    Column("symbol", String(32), primary_key=True),
    Column("decimals", Integer, nullable=False),
    Column("asset_class", String(16), nullable=False),
    CheckConstraint("decimals >= 0 AND decimals <= 18", name="ck_assets_decimals"),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("kind", String(16), nullable=False),  # user | system | external
    Column("parent_id", String(128), ForeignKey("accounts.id"), nullable=True),
    Column("mode", String(16), nullable=True),  # cross | isolated (sub-accounts only)
    Column("model", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("kind IN ('user', 'system', 'external')", name="ck_accounts_kind"),
    CheckConstraint(
        "(parent_id IS NULL AND mode IS NULL) OR (parent_id IS NOT NULL AND mode IN "
        "('cross', 'isolated'))",
        name="ck_accounts_mode",
    ),
)

operations = Table(
    "operations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("reference", String(256), nullable=False),
    Column("entry_count", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

entries = Table(
    "entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("operation_id", Integer, ForeignKey("operations.id"), nullable=False),
    Column("account_id", String(128), ForeignKey("accounts.id"), nullable=False),
    Column("asset", String(32), ForeignKey("assets.symbol"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("reason", String(16), nullable=False),
    CheckConstraint("amount <> 0", name="ck_entries_nonzero"),
    Index("ix_entries_operation", "operation_id"),
    Index("ix_entries_account_asset", "account_id", "asset"),
)

balances = Table(
    "balances",
    metadata,
    Column("account_id", String(128), ForeignKey("accounts.id"), primary_key=True),
    Column("asset", String(32), ForeignKey("assets.symbol"), primary_key=True),
    Column("amount", BigInteger, nullable=False),
)

positions = Table(
    "positions",
    metadata,
    Column("account_id", String(128), ForeignKey("accounts.id"), primary_key=True),
    Column("instrument", String(128), primary_key=True),
    Column("quantity", Text, nullable=False),
    Column("average_price", Text, nullable=False),
    Column("realized_pnl", Text, nullable=False),
    Column("settlement_asset", String(32), nullable=False),
)

trades = Table(
    "trades",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("operation_id", Integer, ForeignKey("operations.id"), nullable=False),
    Column("account_id", String(128), ForeignKey("accounts.id"), nullable=False),
    Column("instrument", String(128), nullable=False),
    Column("style", String(16), nullable=False),  # futures | premium
    Column("settlement", String(16), nullable=False),  # linear | inverse
    Column("settlement_asset", String(32), nullable=False),
    Column("contract_size", Text, nullable=False),
    Column("quantity", Text, nullable=False),
    Column("price", Text, nullable=False),
    Column("fee", BigInteger, nullable=False),
    Column("realized_pnl", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_trades_account", "account_id"),
)

client_refs = Table(
    "client_refs",
    metadata,
    # The client's idempotency key: unique (the primary key), so one key commits one operation.
    Column("ref", String(128), primary_key=True),
    Column("kind", String(16), nullable=False),  # deposit | withdrawal | trade
    Column("account_id", String(128), ForeignKey("accounts.id"), nullable=False),
    Column("request", Text, nullable=False),  # canonical JSON of the request's parameters
    Column("operation_id", Integer, ForeignKey("operations.id"), nullable=True),
    Column("result", Text, nullable=True),  # canonical JSON of the first result
    Column("created_at", DateTime(timezone=True), nullable=False),
)

realtime_checkpoints = Table(
    "realtime_checkpoints",
    metadata,
    # One row per input stream of the real-time engine (solvent.realtime.checkpoint): the last
    # market event applied and the engine state it produced, written in the same transaction as
    # that tick's ledger operations, so no event is applied twice after a restart.
    Column("stream", String(128), primary_key=True),
    Column("sequence", BigInteger, nullable=False),  # last market event applied (its seq)
    Column("tick", BigInteger, nullable=False),  # ticks completed
    Column("event_seq", BigInteger, nullable=False),  # last engine event published
    Column("state", Text, nullable=False),  # canonical JSON of the engine state
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

realtime_events = Table(
    "realtime_events",
    metadata,
    # Engine events (health changes, margin calls, liquidations, multiplier changes, feed
    # faults) in publication order, per stream.
    Column("stream", String(128), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("tick", BigInteger, nullable=False),
    Column("time", DateTime(timezone=True), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("account", String(128), nullable=True),
    Column("detail", Text, nullable=False),  # canonical JSON
)

api_keys = Table(
    "api_keys",
    metadata,
    # An HTTP API key (solvent key create), stored only as the SHA-256 of the key: the key itself
    # is shown once and never kept. ``prefix`` (the key's first characters) names it in logs.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("account_id", String(128), ForeignKey("accounts.id"), nullable=True),
    Column("operator", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint(
        "(operator AND account_id IS NULL) OR (NOT operator AND account_id IS NOT NULL)",
        name="ck_api_keys_scope",
    ),
)

liquidation_steps = Table(
    "liquidation_steps",
    metadata,
    # One row per booked step of a liquidation outcome (solvent.liquidation.booking), inserted in
    # the same transaction as the step's operation: a step id present means the step is booked.
    Column("step_id", String(128), primary_key=True),
    Column("run_id", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("kind", String(16), nullable=False),  # trade | fee | cover | socialized | adl | ...
    Column("account_id", String(128), ForeignKey("accounts.id"), nullable=False),
    Column("against_id", String(128), ForeignKey("accounts.id"), nullable=False),
    Column("operation_id", Integer, ForeignKey("operations.id"), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_liquidation_steps_run", "run_id", "seq"),
)
