"""The book-level valuation (every account at once) equals the per-account ``value_collateral``
exactly: haircuts by class, concentration tiers and order-book liquidity, debts, many assets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from solvent.collateral.valuation import value_collateral, value_collateral_matrix
from solvent.market.snapshot import parse_market

ASSETS = ["ADA", "BCH", "BNB", "BTC", "DOGE", "ETH", "PEPE", "SOL", "TRX", "USDC", "USDT", "XRP"]
PRICES = {
    "ADA": 0.9,
    "BCH": 450.0,
    "BNB": 600.0,
    "BTC": 61_837.635,
    "DOGE": 0.2,
    "ETH": 3_000.0,
    "PEPE": 1e-5,
    "SOL": 150.0,
    "TRX": 0.12,
    "XRP": 0.6,
}
BOOK = Path(__file__).resolve().parents[1] / "data" / "orderbook"
ORDER_BOOK = json.loads((BOOK / "binance_spot_btcusdt_20240808.json").read_text())
MARKET = parse_market(
    {
        "as_of": "2024-08-08T23:54:00Z",
        "index": PRICES,
        "instruments": [],
        "order_books": {"BTC": {"bids": ORDER_BOOK["bids"], "asks": ORDER_BOOK["asks"]}},
    }
)
AMOUNT = st.one_of(
    st.just(0.0),
    st.floats(-1e3, 1e3, allow_nan=False),
    st.floats(1e3, 1e9),  # deep into the concentration tiers and past the visible book
)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_book_valuation_equals_each_account_valued_alone(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 25))
    held = data.draw(st.lists(st.sampled_from(ASSETS), min_size=1, unique=True))
    symbols = sorted(held)
    rows = [
        {a: data.draw(AMOUNT) for a in data.draw(st.lists(st.sampled_from(symbols), unique=True))}
        for _ in range(n)
    ]
    matrix = np.array([[r.get(s, 0.0) for s in symbols] for r in rows]).reshape(n, len(symbols))
    book = value_collateral_matrix(matrix, symbols, MARKET)
    for i, row in enumerate(rows):
        alone = value_collateral(row, MARKET)
        assert book.value_usd[i] == alone.value_usd
        assert book.gross_usd[i] == alone.gross_usd
        assert book.debt_usd[i] == alone.debt_usd
        listed = [symbols.index(a) for a in sorted(row)]
        assert book.valuation(i, listed) == alone


def test_liquidity_and_concentration_rules_both_appear() -> None:
    matrix = np.array([[200.0, 0.0], [1.0, 5e8], [-3.0, 10.0]])
    book = value_collateral_matrix(matrix, ["BTC", "USDC"], MARKET)
    rules = {a.rule.value for i in range(3) for a in book.valuation(i).assets}
    assert {"liquidity", "class", "concentration", "debt"} <= rules
