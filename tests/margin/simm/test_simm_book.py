"""simm over a whole book equals one CRIF aggregation per account, and its Euler shares add up to
the margin, on hedged books too."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from helpers import market, portfolio
from solvent.margin.protocol import Detail, margin_book
from solvent.margin.simm import reference
from solvent.margin.simm.margin_model import MODEL
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.book import Book

EXTRA = [
    {"name": "BTC-27MAR26-100000-C", "mark_iv": 0.5},
    {"name": "BTC-27MAR26-100000-P", "mark_iv": 0.5},
    {"name": "BTC-30JAN26-95000-P", "mark_iv": 0.5, "forward": 100_200.0},
    {"name": "SOL-PERPETUAL", "mark_price": 200.0},
    {"name": "DOGE-PERPETUAL", "mark_price": 0.3},
]


def rich_market() -> MarketSnapshot:
    return market(EXTRA, SOL=200.0, DOGE=0.3)


def random_book(snapshot: MarketSnapshot, n_accounts: int, seed: int, scale: float) -> Book:
    names = tuple(snapshot.quotes)
    rng = np.random.default_rng(seed)
    per = rng.integers(0, 7, n_accounts)
    rows = np.repeat(np.arange(n_accounts), per)
    cols = rng.integers(0, len(names), rows.size)
    qty = np.round(rng.normal(0.0, scale, rows.size), 1)
    return Book.from_arrays(tuple(f"a{i}" for i in range(n_accounts)), names, rows, cols, qty)


@pytest.fixture
def standard_26(tmp_path: Path) -> str:
    """ISDA's own v2.6 10-day calibration: concentration thresholds enabled (they bind for
    the books of 1e6-unit positions below: 1 % of 1e6 BTC is 1e9 USD, threshold 3.1e8)."""
    f = tmp_path / "simm-26.toml"
    f.write_text('simm_version = "2.6"\nmpor_days = 10\n')
    return str(f)


@pytest.mark.parametrize("params", [None, "simm-crypto-10d", "standard"])
def test_book_equals_one_crif_per_account(params: str | None, standard_26: str) -> None:
    spec = standard_26 if params == "standard" else params
    snapshot = rich_market()
    book = random_book(snapshot, 60, seed=21, scale=1e6 if params == "standard" else 2.0)
    new = margin_book(MODEL, book, snapshot, spec, detail=Detail.ACCOUNTS)
    old = reference.margin_book(book, snapshot, spec, True, False)
    assert (new.model, new.parameters) == (old.model, old.parameters)
    np.testing.assert_allclose(new.initial_margin_usd, old.initial_margin_usd, rtol=1e-12)
    np.testing.assert_allclose(new.maintenance_margin_usd, old.maintenance_margin_usd, rtol=1e-12)
    assert new.detail is not None and old.detail is not None
    for a, b in zip(new.detail, old.detail, strict=True):
        assert len(a.pools) == len(b.pools)
        for p, q in zip(a.pools, b.pools, strict=True):
            assert list(p.components) == list(q.components)
            np.testing.assert_allclose(
                list(p.components.values()), list(q.components.values()), rtol=1e-12, atol=1e-9
            )


def test_conversion_shares_add_up_to_its_small_margin() -> None:
    """Long call, short put, short perpetual: about 1.2 USD of SIMM. Finite-difference Euler
    shares summed to 121 USD (the bump crosses the kink of |net delta|); the analytic ones add
    up to the margin."""
    snapshot = rich_market()
    pf = portfolio(
        "a",
        ("BTC-27MAR26-100000-C", 1.0),
        ("BTC-27MAR26-100000-P", -1.0),
        ("BTC-PERPETUAL", -1.0099),
    )
    result = margin_book(MODEL, Book.from_portfolios([pf]), snapshot, detail=Detail.EXPLAIN)
    assert result.detail is not None
    (pool,) = result.detail[0].pools
    assert 0.5 < pool.initial_margin < 2.0
    shares = [c.initial_margin or 0.0 for c in pool.contributions or ()]
    assert len(shares) == 3 and max(abs(s) for s in shares) > 1_000.0  # hedged legs
    assert sum(shares) == pytest.approx(pool.initial_margin, rel=1e-9)


@pytest.mark.parametrize("params", [None, "standard"])
def test_shares_add_up_on_random_books(params: str | None, standard_26: str) -> None:
    spec = standard_26 if params == "standard" else params
    snapshot = rich_market()
    book = random_book(snapshot, 40, seed=22, scale=1e6 if params == "standard" else 2.0)
    result = margin_book(MODEL, book, snapshot, spec, detail=Detail.EXPLAIN)
    assert result.detail is not None
    for account in result.detail:
        for pool in account.pools:
            total = sum(c.initial_margin or 0.0 for c in pool.contributions or ())
            assert total == pytest.approx(pool.initial_margin, rel=1e-9, abs=1e-9)


def test_shares_equal_finite_differences_away_from_kinks() -> None:
    snapshot = rich_market()
    book = random_book(snapshot, 10, seed=23, scale=2.0)
    new = margin_book(MODEL, book, snapshot, detail=Detail.EXPLAIN)
    old = reference.margin_book(book, snapshot, None, True, True)
    assert new.detail is not None and old.detail is not None
    for a, b in zip(new.detail, old.detail, strict=True):
        for p, q in zip(a.pools, b.pools, strict=True):
            x = [c.initial_margin or 0.0 for c in p.contributions or ()]
            y = [c.initial_margin or 0.0 for c in q.contributions or ()]
            np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6 * p.initial_margin)
