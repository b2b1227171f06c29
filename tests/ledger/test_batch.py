"""The ledger batch (solvent.ledger.batch.LedgerBatch): writes held in memory, read back by the
batch, checked exactly as the store checks them, dropped whole by a failed step, and written in
bulk by the flush with the same result as posting one by one."""

from __future__ import annotations

from decimal import Decimal

import pytest

from solvent.instruments.terms import Settlement
from solvent.ledger.batch import LedgerBatch
from solvent.ledger.model import EXTERNAL, VENUE, Operation, Posting, Reason, TradeStyle, TradeTerms
from solvent.ledger.model import transfer as make_transfer
from solvent.ledger.store import InsufficientFundsError, Ledger, LedgerTransaction

PERP = TradeTerms("BTC_USDC-PERPETUAL", TradeStyle.FUTURES, Settlement.LINEAR, "USDC")
USDC = 10**6


def _ledger(url: str) -> Ledger:
    ledger = Ledger.open(url)
    with ledger.transaction() as tx:
        for name in ("a", "b"):
            tx.create_account(name)
        tx.post(
            Operation(
                Reason.DEPOSIT,
                "seed",
                (
                    Posting(EXTERNAL, "USDC", -1_101_000 * USDC, Reason.DEPOSIT),
                    Posting("a", "USDC", 1_000 * USDC, Reason.DEPOSIT),
                    Posting(VENUE, "USDC", 1_100_000 * USDC, Reason.DEPOSIT),
                ),
            )
        )
    return ledger


def _work(tx: LedgerTransaction) -> list[int]:
    """a pays b 300, buys 1 BTC perpetual at 100,000, sells it at 100,400 (+400), pays b 100."""
    return [
        tx.post(make_transfer("a", "b", "USDC", 300 * USDC, Reason.TRANSFER, "x1")),
        tx.trade("a", PERP, Decimal(1), Decimal(100_000), 0, "x2").operation_id,
        tx.trade("a", PERP, Decimal(-1), Decimal(100_400), 0, "x3").operation_id,
        tx.post(make_transfer("a", "b", "USDC", 100 * USDC, Reason.TRANSFER, "x4")),
    ]


def _written(ledger: Ledger) -> tuple[object, ...]:
    from sqlalchemy import select

    from solvent.ledger import schema

    with ledger.engine.connect() as conn:
        ops = conn.execute(
            select(schema.operations.c.kind, schema.operations.c.reference).order_by(
                schema.operations.c.id
            )
        ).all()
        trades = conn.execute(
            select(schema.trades.c.quantity, schema.trades.c.realized_pnl).order_by(
                schema.trades.c.id
            )
        ).all()
    return (
        [tuple(r) for r in ops],
        [tuple(r) for r in trades],
        ledger.cached_balances(),
        ledger.replay_positions(),
    )


def test_a_batch_reads_its_held_writes_and_flushes_what_posting_one_by_one_writes(
    db_url: str, tmp_path: object
) -> None:
    ledger = _ledger(db_url)
    with ledger.transaction() as tx:
        batch = LedgerBatch(tx)
        batch.load(["a", "b"])
        handles = _work(batch)
        assert all(h < 0 for h in handles) and batch.pending == 4
        assert batch.balances(["a"])["a"]["USDC"] == 1_000 * USDC
        assert batch.balances(["b"])["b"]["USDC"] == 400 * USDC
        assert batch.position("a", PERP.instrument, "USDC").quantity == 0
        # nothing reached the database yet
        assert LedgerTransaction(tx.connection, tx.assets).balances(["b"])["b"] == {}
        with pytest.raises(RuntimeError):
            batch.operation_id(handles[0])
        batch.flush()
        ids = [batch.operation_id(h) for h in handles]
    assert ids == sorted(ids) and len(set(ids)) == 4
    assert ledger.audit().ok
    reference = _ledger(f"sqlite:///{tmp_path}/one-by-one.db")
    with reference.transaction() as tx:
        _work(tx)
    assert _written(ledger) == _written(reference)
    ledger.close()
    reference.close()


def test_a_failed_step_drops_what_it_held_and_a_refusal_is_the_stores(db_url: str) -> None:
    ledger = _ledger(db_url)
    with ledger.transaction() as tx:
        batch = LedgerBatch(tx)
        with batch.step():
            batch.post(make_transfer("a", "b", "USDC", 10 * USDC, Reason.TRANSFER, "kept"))
        with pytest.raises(KeyError), batch.step():
            batch.trade("a", PERP, Decimal(2), Decimal(100_000), 0, "dropped")
            batch.post(make_transfer("a", "b", "USDC", 5 * USDC, Reason.TRANSFER, "dropped"))
            raise KeyError("the step fails after writing")
        assert batch.pending == 1
        assert batch.balances(["a", "b"]) == {"a": {"USDC": 990 * USDC}, "b": {"USDC": 10 * USDC}}
        assert batch.positions(["a"]) == {"a": []}
        with pytest.raises(InsufficientFundsError) as held:
            batch.post(make_transfer("b", "a", "USDC", 11 * USDC, Reason.TRANSFER, "too much"))
        batch.flush()
    with pytest.raises(InsufficientFundsError) as direct:
        ledger.post(make_transfer("b", "a", "USDC", 11 * USDC, Reason.TRANSFER, "too much"))
    assert (held.value.field, held.value.message) == (direct.value.field, direct.value.message)
    assert ledger.balances("b") == {"USDC": 10 * USDC}
    assert ledger.replay_positions() == {}
    assert ledger.audit().ok
    with ledger.transaction() as tx, pytest.raises(NotImplementedError):
        LedgerBatch(tx).create_account("c")
    ledger.close()
