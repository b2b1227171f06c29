"""Seeding a replay's ledger writes the book in bulk: ``solvent replay`` of a 20,000-account book
once spent minutes before its first tick posting every deposit and position one statement at a
time (about ten SQL statements per position); the collateral and positions of many accounts now go
in one bulk statement per table, with the store's checks unchanged."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from tests.realtime.conftest import BOOK

from solvent.errors import SolventInputError
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
