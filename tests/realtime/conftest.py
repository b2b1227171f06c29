"""Fixtures of the real-time engine's tests: a small market and book, a price path, a ledger."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from solvent.ledger.store import Ledger
from solvent.market.snapshot import MarketSnapshot, parse_market
from solvent.portfolio.account_book import AccountBook, parse_account_book

AS_OF = "2026-01-05T08:00:00Z"
MARKET: dict[str, Any] = {
    "as_of": AS_OF,
    "index": {"BTC": 100_000.0, "ETH": 4_000.0, "USDC": 1.0},
    "instruments": [
        {"name": "BTC-PERPETUAL", "mark_price": 100_050.0},
        {"name": "ETH-PERPETUAL", "mark_price": 4_001.0},
        {"name": "BTC_USDC-PERPETUAL", "mark_price": 100_020.0},
        {"name": "BTC-27MAR26-110000-C", "mark_iv": 0.5},
        {"name": "BTC-27MAR26-90000-P", "mark_iv": 0.55},
        {"name": "BTC-27MAR26-100000-C", "mark_iv": 0.52},
        {"name": "BTC-27MAR26-100000-P", "mark_iv": 0.52},
        {"name": "BTC-27MAR26-120000-C", "mark_iv": 0.5},
        {"name": "BTC-27MAR26-80000-P", "mark_iv": 0.6},
    ],
}
BOOK: dict[str, Any] = {
    "accounts": [
        {"account": "saver", "collateral": {"USDC": 100_000.0}, "positions": []},
        {
            "account": "hedged",
            "collateral": {"BTC": 2.0},
            "positions": [
                {"instrument": "BTC-PERPETUAL", "quantity": -1.0},
                {"instrument": "BTC-27MAR26-90000-P", "quantity": 1.0},
            ],
        },
        {
            "account": "lev-long",
            "collateral": {"BTC": 0.05},
            "positions": [
                {"instrument": "BTC-PERPETUAL", "quantity": 1.0, "entry_price": 100_000.0}
            ],
        },
        {
            "account": "lev-usdc",
            "collateral": {"USDC": 8_000.0},
            "positions": [
                {"instrument": "BTC_USDC-PERPETUAL", "quantity": 1.0, "entry_price": 100_000.0}
            ],
        },
        {
            "account": "writer",
            "collateral": {"BTC": 1.0},
            "positions": [{"instrument": "BTC-27MAR26-100000-P", "quantity": -3.0}],
        },
        {
            "account": "writer-hedge",
            "parent": "writer",
            "mode": "cross",
            "collateral": {},
            "positions": [{"instrument": "BTC-PERPETUAL", "quantity": 0.5}],
        },
    ]
}
PATH_CSV = """time,BTC,ETH
2026-01-05T08:01:00Z,99000,3990
2026-01-05T08:02:00Z,96000,3900
2026-01-05T08:03:00Z,90000,3700
2026-01-05T08:04:00Z,85000,3500
2026-01-05T08:05:00Z,88000,3600
2026-01-05T08:06:00Z,92000,3800
"""


@pytest.fixture
def market() -> MarketSnapshot:
    return parse_market(json.loads(json.dumps(MARKET)))


@pytest.fixture
def book() -> AccountBook:
    accounts, _ = parse_account_book(json.loads(json.dumps(BOOK)))
    return accounts


@pytest.fixture
def price_path(tmp_path: Path) -> Path:
    path = tmp_path / "path.csv"
    path.write_text(PATH_CSV, encoding="utf-8")
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """The market, the book and the path as files (for the CLI)."""
    out = {"market": tmp_path / "market.json", "book": tmp_path / "book.json"}
    out["market"].write_text(json.dumps(MARKET), encoding="utf-8")
    out["book"].write_text(json.dumps(BOOK), encoding="utf-8")
    out["path"] = tmp_path / "path.csv"
    out["path"].write_text(PATH_CSV, encoding="utf-8")
    return out


@pytest.fixture
def ledger_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture
def seeded_ledger(ledger_url: str, book: AccountBook, market: MarketSnapshot) -> Ledger:
    from solvent.realtime.seed import seed_ledger

    ledger = Ledger.open(ledger_url)
    seed_ledger(ledger, book, market, "standard")
    return ledger
