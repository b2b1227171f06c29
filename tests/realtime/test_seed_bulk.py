"""Seeding a replay's ledger writes the book in bulk: ``solvent replay`` of a 20,000-account book
once spent minutes before its first tick posting every deposit and position one statement at a
time (about ten SQL statements per position); the collateral and positions of many accounts now go
in one bulk statement per table, with the store's checks unchanged."""

from __future__ import annotations

import copy
import dataclasses
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import event, func, select
from tests.realtime.conftest import BOOK

from solvent.errors import SolventInputError
from solvent.ledger import schema
from solvent.ledger.model import AccountKind
from solvent.ledger.store import Ledger
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.account_book import parse_account_book
from solvent.realtime.seed import SEED_CHUNK, seed_ledger, seeded

COPIES = 50


def _big_book() -> dict[str, Any]:
    accounts = []
    for k in range(COPIES):
        for raw in copy.deepcopy(BOOK["accounts"]):
            raw["account"] = f"{raw['account']}-{k}"
            if "parent" in raw:
                raw["parent"] = f"{raw['parent']}-{k}"
            accounts.append(raw)
    return {"accounts": accounts}


def test_seeding_costs_a_few_statements_per_account_and_states_the_book(
    tmp_path: Path, market: MarketSnapshot
) -> None:
    book, _ = parse_account_book(_big_book())
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'ledger.db'}")
    statements = 0

    def count(*_: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(ledger.engine, "before_cursor_execute", count)
    try:
        seed_ledger(ledger, book, market, "standard")
        event.remove(ledger.engine, "before_cursor_execute", count)
        # creating an account takes two statements (is the id free, insert); everything else
        # is written per chunk of accounts
        assert statements <= 3 * len(book) + 100, statements
        assert ledger.audit().ok
        positions = ledger.replay_positions()
        for k in (0, COPIES - 1):
            assert positions[(f"lev-long-{k}", "BTC-PERPETUAL")].quantity == 1
            assert positions[(f"writer-{k}", "BTC-27MAR26-100000-P")].quantity == -3
            assert ledger.balances(f"lev-usdc-{k}") == {"USDC": 8_000 * 10**6}
    finally:
        ledger.close()


def test_seeded_reads_the_book_in_chunks_and_refuses_a_ledger_holding_part_of_it(
    tmp_path: Path, market: MarketSnapshot
) -> None:
    book, _ = parse_account_book(_big_book())
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        assert not seeded(ledger, book)
        seed_ledger(ledger, book, market, "standard")
        statements = 0

        def count(*_: Any) -> None:
            nonlocal statements
            statements += 1

        event.listen(ledger.engine, "before_cursor_execute", count)
        assert seeded(ledger, book)
        event.remove(ledger.engine, "before_cursor_execute", count)
        assert statements <= len(book) // SEED_CHUNK + 5, statements
        more, _ = parse_account_book(
            {"accounts": [*_big_book()["accounts"], {"account": "late", "collateral": {}}]}
        )
        with pytest.raises(SolventInputError, match="already holds account 'saver-0'"):
            seeded(ledger, more)
    finally:
        ledger.close()


def test_accounts_are_created_in_bulk(tmp_path: Path, market: MarketSnapshot) -> None:
    """The accounts are created in one bulk insert (with one read per chunk of ids for the
    checks), not two statements each: the whole seeding costs statements per chunk of accounts,
    whatever the number of accounts."""
    book, _ = parse_account_book(_big_book())
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'ledger.db'}")
    statements = 0

    def count(*_: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(ledger.engine, "before_cursor_execute", count)
    try:
        seed_ledger(ledger, book, market, "standard")
        event.remove(ledger.engine, "before_cursor_execute", count)
        assert statements <= 20 * (len(book) // SEED_CHUNK + 1) + 50, statements
        assert ledger.audit().ok
        with ledger.transaction() as tx:
            records = {r.id: r for r in tx.accounts(book.accounts)}
        assert len(records) == len(book)
        for i, name in enumerate(book.accounts):
            parent = book.parent_id[i] if book.parent[i] >= 0 else None
            assert records[name].parent == parent
            assert records[name].model == "standard"
            assert (records[name].mode is None) == (parent is None)
    finally:
        ledger.close()


def _with_entry(entry: Any, instrument: str = "BTC-PERPETUAL") -> dict[str, Any]:
    raw = copy.deepcopy(BOOK)
    raw["accounts"].append(
        {
            "account": "odd-entry",
            "collateral": {"BTC": 0.01},
            "positions": [
                {"instrument": "ETH-PERPETUAL", "quantity": 1.0},
                {"instrument": instrument, "quantity": 5.0, "entry_price": entry},
            ],
        }
    )
    return raw


@pytest.mark.parametrize(
    ("entry", "instrument"),
    [
        (1.0, "BTC-PERPETUAL"),  # 1 USD on a perpetual marked at 100,050
        (-90_000.0, "BTC-PERPETUAL"),
        (0.0, "BTC-PERPETUAL"),
        (float("inf"), "BTC-PERPETUAL"),
        (1e308, "BTC-PERPETUAL"),
        (10_005_001.0, "BTC-PERPETUAL"),  # just above 100 x the mark
        (1_000.0, "BTC-27MAR26-90000-P"),  # 1,000 BTC of premium per BTC of a 90,000 put
    ],
)
def test_seed_refuses_an_absurd_entry_price_and_writes_nothing(
    tmp_path: Path, market: MarketSnapshot, entry: float, instrument: str
) -> None:
    """An entry price is booked against @venue: one far from today's market would hand the
    account the difference. Bad or absurd ones (built through the Python API, which skips the
    file parser's checks) are refused naming the position's field; nothing is written."""
    book, _ = parse_account_book(_with_entry(90_000.0, instrument))
    assert book.position_entry_price is not None
    k = int(np.flatnonzero(~np.isnan(book.position_entry_price))[-1])
    prices = book.position_entry_price.copy()
    prices[k] = entry
    book = dataclasses.replace(book, position_entry_price=prices)
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        last = len(book) - 1
        with pytest.raises(SolventInputError) as caught:
            seed_ledger(ledger, book, market, "standard")
        assert caught.value.field == f"accounts[{last}].positions[1].entry_price"
        assert not seeded(ledger, book)
        assert ledger.audit().ok
        with ledger.transaction() as tx:
            users = select(func.count()).where(schema.accounts.c.kind == AccountKind.USER.value)
            assert tx.connection.execute(users).scalar() == 0
            assert (
                tx.connection.execute(select(func.count()).select_from(schema.entries)).scalar()
                == 0
            )
    finally:
        ledger.close()


def test_seed_books_a_historical_entry_and_marks_a_missing_one(
    tmp_path: Path, market: MarketSnapshot
) -> None:
    """Within the band an old entry (90,000 on a mark of 100,050) is booked as given; NaN (the
    Python API's 'no entry price') is booked at the mark."""
    book, _ = parse_account_book(_with_entry(90_000.0))
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        seed_ledger(ledger, book, market, "standard")
        positions = ledger.replay_positions()
        assert positions[("odd-entry", "BTC-PERPETUAL")].quantity == 5
        assert positions[("odd-entry", "BTC-PERPETUAL")].average_price == 90_000
        assert positions[("odd-entry", "ETH-PERPETUAL")].average_price == Decimal("4001")
        assert ledger.audit().ok
    finally:
        ledger.close()


@pytest.mark.parametrize("name", ["a b", "x" * 129, "-lead"])
def test_seed_names_a_book_account_the_ledger_cannot_hold(
    tmp_path: Path, market: MarketSnapshot, name: str
) -> None:
    raw = copy.deepcopy(BOOK)
    raw["accounts"].append({"account": name, "collateral": {"BTC": 1.0}, "positions": []})
    book, _ = parse_account_book(raw)
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        with pytest.raises(SolventInputError) as caught:
            seed_ledger(ledger, book, market, "standard")
        assert caught.value.field == f"accounts[{len(book) - 1}].account"
        assert not seeded(ledger, book)
    finally:
        ledger.close()


@pytest.mark.parametrize(
    ("quantity", "fund_usd", "field"),
    [(1e7, 0.0, "accounts"), (1.0, 1e15, "insurance_fund")],
)
def test_seed_refuses_amounts_beyond_the_ledger_naming_the_input(
    tmp_path: Path, market: MarketSnapshot, quantity: float, fund_usd: float, field: str
) -> None:
    """@venue's capital (10 x a 10-million-BTC book's notional) or an insurance fund of 1e15 USD
    exceed the ledger's int64 base units: refused naming the book or --insurance-fund (was the
    internal ``operation.postings[0].amount``), nothing written."""
    raw = {
        "accounts": [
            {
                "account": "whale",
                "collateral": {"BTC": 1.0},
                "positions": [{"instrument": "BTC-PERPETUAL", "quantity": quantity}],
            }
        ]
    }
    book, _ = parse_account_book(raw)
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        with pytest.raises(SolventInputError) as caught:
            seed_ledger(ledger, book, market, "standard", insurance_fund_usd=fund_usd)
        assert caught.value.field == field
        assert "beyond the ledger's limit" in caught.value.message
        assert not seeded(ledger, book)
        assert ledger.audit().ok
    finally:
        ledger.close()
