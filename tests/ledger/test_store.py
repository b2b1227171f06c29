"""Ledger store on SQLite and PostgreSQL: refusals write nothing, atomicity, audit, positions."""

from __future__ import annotations

from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text

from solvent.errors import SolventInputError
from solvent.instruments.terms import Settlement
from solvent.ledger import schema
from solvent.ledger.db import alembic_config
from solvent.ledger.model import (
    EXTERNAL,
    FEES,
    VENUE,
    Operation,
    Posting,
    Reason,
    TradeStyle,
    TradeTerms,
    transfer,
)
from solvent.ledger.store import Ledger, Overdraft
from solvent.portfolio.portfolio import SubAccountMode


def row_counts(ledger: Ledger) -> tuple[int, int, int]:
    with ledger.engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (schema.operations, schema.entries, schema.trades)
        )


@pytest.fixture
def ledger(db_url: str):  # type: ignore[no-untyped-def]
    led = Ledger.open(db_url)
    led.create_account("alice")
    led.create_account("bob")
    yield led
    led.close()


def test_migrations_match_the_schema_and_are_idempotent(db_url: str) -> None:
    led = Ledger.open(db_url)
    Ledger.open(db_url).close()  # a second open migrates nothing and seeds nothing twice
    with led.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), schema.metadata)
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    assert diffs == []
    script = ScriptDirectory.from_config(alembic_config(led.engine))
    assert len(script.get_heads()) == 1  # one chain
    assert version == script.get_current_head()  # the newest migration
    led.close()


def test_sqlite_is_durable_wal(tmp_path) -> None:  # type: ignore[no-untyped-def]
    led = Ledger.open(f"sqlite:///{tmp_path / 'x.db'}")
    with led.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_deposit_transfer_withdraw_and_invariant(ledger: Ledger) -> None:
    ledger.post(transfer(EXTERNAL, "alice", "BTC", 150_000_000, Reason.DEPOSIT, "d1"))
    ledger.post(transfer("alice", "bob", "BTC", 50_000_000, Reason.TRANSFER, "t1"))
    ledger.post(transfer("bob", EXTERNAL, "BTC", 20_000_000, Reason.WITHDRAWAL, "w1"))
    assert ledger.balances("alice") == {"BTC": 100_000_000}
    assert ledger.balances("bob") == {"BTC": 30_000_000}
    report = ledger.audit()
    assert report.ok, report.problems
    btc = report.assets["BTC"]
    assert (btc.deposited, btc.withdrawn, btc.held) == (150_000_000, 20_000_000, 130_000_000)


def test_refusals_write_nothing(ledger: Ledger) -> None:
    ledger.post(transfer(EXTERNAL, "alice", "USDC", 1_000_000, Reason.DEPOSIT, "d"))
    before = row_counts(ledger)
    bad = [
        transfer("alice", EXTERNAL, "USDC", 1_000_001, Reason.WITHDRAWAL, "too much"),
        transfer("alice", "nobody", "USDC", 1, Reason.TRANSFER, "unknown account"),
        transfer(EXTERNAL, "alice", "NOPE", 1, Reason.DEPOSIT, "unknown asset"),
        transfer("alice", EXTERNAL, "USDC", 1, Reason.FEE, "external only in deposits"),
        Operation(
            Reason.TRANSFER,
            "unbalanced",
            (
                Posting("alice", "USDC", -5, Reason.TRANSFER),
                Posting("bob", "USDC", 4, Reason.TRANSFER),
            ),
        ),
    ]
    for op in bad:
        with pytest.raises(SolventInputError):
            ledger.post(op)
    # a batch whose third operation overdraws lands nothing, not its first two
    batch = [
        transfer("alice", "bob", "USDC", 400_000, Reason.TRANSFER, "b1"),
        transfer("alice", "bob", "USDC", 400_000, Reason.TRANSFER, "b2"),
        transfer("alice", "bob", "USDC", 400_000, Reason.TRANSFER, "b3"),
    ]
    with pytest.raises(SolventInputError, match="insufficient"):
        ledger.post_many(batch)
    assert row_counts(ledger) == before
    assert ledger.balances("alice") == {"USDC": 1_000_000}
    with pytest.raises(SolventInputError):
        transfer("alice", "bob", "USDC", 0, Reason.TRANSFER, "zero")
    with pytest.raises(SolventInputError, match="already exists"):
        ledger.create_account("alice")
    with pytest.raises(SolventInputError, match="parent"):
        ledger.create_account("sub", parent="nobody", mode=SubAccountMode.CROSS)


def test_audit_detects_tampering(ledger: Ledger) -> None:
    ledger.post(transfer(EXTERNAL, "alice", "BTC", 10, Reason.DEPOSIT, "d"))
    assert ledger.audit().ok
    with ledger.engine.begin() as conn:
        conn.execute(
            schema.balances.update()
            .where(schema.balances.c.account_id == "alice")
            .values(amount=11)
        )
    problems = ledger.audit().problems
    assert any("cached 11, journal 10" in p for p in problems)
    assert any("held 11 != deposited 10" in p for p in problems)
    with ledger.engine.begin() as conn:
        conn.execute(
            schema.balances.update()
            .where(schema.balances.c.account_id == "alice")
            .values(amount=10)
        )
        conn.execute(schema.entries.delete().where(schema.entries.c.account_id == "alice"))
    problems = ledger.audit().problems
    assert any("entries, expected 2" in p for p in problems)
    assert any("does not balance" in p for p in problems)


def test_positions_average_price_and_realized_pnl_hand_computed(ledger: Ledger) -> None:
    linear = TradeTerms("BTC_USDC-PERPETUAL", TradeStyle.FUTURES, Settlement.LINEAR, "USDC")
    inverse = TradeTerms("BTC-PERPETUAL", TradeStyle.FUTURES, Settlement.INVERSE, "BTC")
    ledger.post(transfer(EXTERNAL, "alice", "USDC", 100_000_000_000, Reason.DEPOSIT, "d"))
    ledger.post(transfer(EXTERNAL, "alice", "BTC", 100_000_000, Reason.DEPOSIT, "d"))
    # the venue pays realized P&L from its own (funded) balance: 1,000 USDC and 1 BTC of capital
    ledger.post(transfer(EXTERNAL, VENUE, "USDC", 1_000_000_000, Reason.DEPOSIT, "capital"))
    ledger.post(transfer(EXTERNAL, VENUE, "BTC", 100_000_000, Reason.DEPOSIT, "capital"))
    with ledger.transaction() as tx:
        tx.trade("alice", linear, Decimal("1"), Decimal("60000"))
        tx.trade("alice", linear, Decimal("1"), Decimal("63000"))  # avg 61500
        r = tx.trade("alice", linear, Decimal("-1.5"), Decimal("62000"), fee_units=2_500_000)
        # realized 1.5 * (62000 - 61500) = 750 USDC; fee 2.5 USDC
        assert r.position.quantity == Decimal("0.5") and r.position.average_price == 61500
        assert r.realized_units == 750_000_000
        r = tx.trade(
            "alice", linear, Decimal("-1.5"), Decimal("61000")
        )  # flip: close 0.5, -1 @61000
        assert r.realized_units == -250_000_000  # 0.5 * (61000 - 61500)
        assert r.position.quantity == -1 and r.position.average_price == 61000
        # inverse: long 1 @ 60000, close @ 66000 -> (66000 - 60000) / 66000 BTC = 0.09090909 BTC
        tx.trade("alice", inverse, Decimal("1"), Decimal("60000"))
        r = tx.trade("alice", inverse, Decimal("-1"), Decimal("66000"))
        assert r.realized_units == 9_090_909  # floored to satoshis
        assert r.position.quantity == 0
    assert ledger.balances("alice") == {
        "USDC": 100_000_000_000 + 750_000_000 - 2_500_000 - 250_000_000,
        "BTC": 100_000_000 + 9_090_909,
    }
    assert ledger.balances(FEES) == {"USDC": 2_500_000}
    assert ledger.balances(VENUE) == {
        "USDC": 1_000_000_000 - 500_000_000,
        "BTC": 100_000_000 - 9_090_909,
    }
    report = ledger.audit()
    assert report.ok, report.problems
    assert report.assets["USDC"].held == 100_000_000_000 + 1_000_000_000


def test_concurrent_withdrawals_cannot_double_spend(db_url: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    led = Ledger.open(db_url)
    led.create_account("carol")
    led.post(transfer(EXTERNAL, "carol", "USDC", 100, Reason.DEPOSIT, "d"))

    def withdraw(i: int) -> bool:
        try:
            led.post(
                transfer("carol", EXTERNAL, "USDC", 30, Reason.WITHDRAWAL, f"w{i}"),
                Overdraft.REFUSE,
            )
            return True
        except SolventInputError:
            return False

    with ThreadPoolExecutor(8) as pool:
        done = list(pool.map(withdraw, range(16)))
    assert sum(done) == 3
    assert led.balances("carol") == {"USDC": 10}
    assert led.audit().ok
    led.close()
