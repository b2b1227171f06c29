"""derive-pm and derive-srm over a whole book equal the per-account reference path, and their
explanations add up and point inside themselves."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import market, portfolio
from solvent.margin.derive import book_pm, reference
from solvent.margin.derive.model import MODEL as PM
from solvent.margin.derive.srm_model import MODEL as SRM
from solvent.margin.protocol import Detail, PricedMarket, margin_book
from solvent.margin.registry import get_model, resolve_alias
from solvent.margin.result import BookMargin
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.book import Book

EXTRA = [
    {"name": "BTC-27MAR26-100000-C", "mark_iv": 0.5},
    {"name": "BTC-27MAR26-100000-P", "mark_iv": 0.52},
    {"name": "BTC-27MAR26-120000-C", "mark_iv": 0.48},
    {"name": "BTC-27MAR26-80000-P", "mark_iv": 0.6},
    {"name": "BTC-30JAN26-100000-C", "mark_iv": 0.45, "forward": 100_200.0},
    {"name": "BTC-30JAN26-100000-P", "mark_iv": 0.47, "forward": 100_200.0},
    {"name": "BTC-30JAN26-95000-P", "mark_iv": 0.5, "forward": 100_200.0},
    # one expiry whose options disagree on the forward: priced on the first one an account holds
    {"name": "ETH-27MAR26-3500-P", "mark_iv": 0.65, "forward": 4_010.0},
    {"name": "ETH-27MAR26-4500-C", "mark_iv": 0.62, "forward": 4_000.0},
    {"name": "ETH_USDC-PERPETUAL", "mark_price": 4_000.0},
]


@cache
def rich_market() -> MarketSnapshot:
    return market(EXTRA)


def random_book(snapshot: MarketSnapshot, n_accounts: int, seed: int, spot: bool = False) -> Book:
    names = tuple(
        n for n in snapshot.quotes if spot or snapshot.quotes[n].instrument.kind != "spot"
    )
    rng = np.random.default_rng(seed)
    per = rng.integers(0, 7, n_accounts)  # some accounts empty
    rows = np.repeat(np.arange(n_accounts), per)
    cols = rng.integers(0, len(names), rows.size)
    qty = np.round(rng.normal(0.0, 2.0, rows.size), 1)
    return Book.from_arrays(tuple(f"a{i}" for i in range(n_accounts)), names, rows, cols, qty)


def _same(new: BookMargin, old: BookMargin) -> None:
    assert new.model == old.model and new.parameters == old.parameters
    np.testing.assert_allclose(
        new.initial_margin_usd, old.initial_margin_usd, rtol=1e-12, atol=1e-9
    )
    np.testing.assert_allclose(
        new.maintenance_margin_usd, old.maintenance_margin_usd, rtol=1e-12, atol=1e-9
    )
    assert new.detail is not None and old.detail is not None
    for a, b in zip(new.detail, old.detail, strict=True):
        assert (a.account, a.model, a.parameters) == (b.account, b.model, b.parameters)
        assert len(a.pools) == len(b.pools)
        for p, q in zip(a.pools, b.pools, strict=True):
            assert list(p.components) == list(q.components)
            np.testing.assert_allclose(
                list(p.components.values()), list(q.components.values()), rtol=1e-12, atol=1e-9
            )
            if q.worst_scenario is not None:
                assert p.worst_scenario is not None
                assert p.worst_scenario.label == q.worst_scenario.label


@pytest.mark.parametrize("params", [None, "derive-pm-mainnet", "derive-pmrm1"])
def test_derive_pm_book_equals_the_per_account_reference(params: str | None) -> None:
    snapshot = rich_market()
    book = random_book(snapshot, 40, seed=11)
    new = margin_book(PM, book, snapshot, params, detail=Detail.ACCOUNTS)
    old = reference.pm_margin_book(book, snapshot, params, True, False)
    _same(new, old)


@pytest.mark.parametrize("params", [None, "derive-srm-mainnet"])
def test_derive_srm_book_equals_the_per_account_reference(params: str | None) -> None:
    snapshot = rich_market()
    book = random_book(snapshot, 60, seed=12)
    new = margin_book(SRM, book, snapshot, params, detail=Detail.ACCOUNTS)
    old = reference.srm_margin_book(book, snapshot, params, True, False)
    _same(new, old)
    assert new.model == "standard"  # the published name, also through --model derive-srm


def test_the_public_alias_is_the_same_model() -> None:
    assert resolve_alias("standard", "derive-srm-mainnet") == "derive-srm"
    assert get_model(resolve_alias("standard", "derive-srm")) is SRM


def test_chunks_give_the_figures_of_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    snapshot = rich_market()
    book = random_book(snapshot, 50, seed=13)
    whole = margin_book(PM, book, snapshot, detail=Detail.EXPLAIN)
    monkeypatch.setattr(book_pm, "CHUNK_POSITIONS", 7)
    chunked = margin_book(PM, book, snapshot, detail=Detail.EXPLAIN)
    np.testing.assert_array_equal(chunked.initial_margin_usd, whole.initial_margin_usd)
    assert chunked.detail == whole.detail


def test_spot_is_refused_naming_the_account() -> None:
    snapshot = market([{"name": "BTC_USDC", "mark_price": 100_000.0}])
    book = Book.from_portfolios(
        [portfolio("a", ("BTC-PERPETUAL", 1.0)), portfolio("b", ("BTC_USDC", 0.5))]
    )
    with pytest.raises(Exception, match=r"accounts\[1\]\.positions.*spot BTC"):
        margin_book(PM, book, snapshot)


CONVERSION = (
    ("BTC-27MAR26-100000-C", 1.0),
    ("BTC-27MAR26-100000-P", -1.0),
    ("BTC-27MAR26", -1.0),
)


def test_worst_scenario_points_inside_its_own_list_when_the_basis_is_worst() -> None:
    """A conversion's worst case is the basis contingency: the per-account path named index 31
    of a 31-entry list; now each underlying's basis contingency is an entry of the list."""
    snapshot = rich_market()
    book = Book.from_portfolios(
        [portfolio("a", *CONVERSION), portfolio("b", *CONVERSION, ("ETH-PERPETUAL", 3.0))]
    )
    result = margin_book(PM, book, snapshot, detail=Detail.EXPLAIN)
    assert result.detail is not None
    for account in result.detail:
        (pool,) = account.pools
        assert pool.worst_scenario is not None and pool.scenarios is not None
        assert 0 <= pool.worst_scenario.index < len(pool.scenarios)
        label, pnl = pool.scenarios[pool.worst_scenario.index]
        assert label == pool.worst_scenario.label == "BTC basis contingency"
        assert pnl == min(p for lab, p in pool.scenarios if lab.startswith("BTC"))
    assert len(result.detail[1].pools[0].scenarios or ()) == 2 * 32  # BTC block, ETH block


@pytest.mark.parametrize("params", [None, "derive-pmrm1"])
def test_explain_shares_add_up_to_the_margin(params: str | None) -> None:
    snapshot = rich_market()
    book = Book.from_portfolios(
        [
            portfolio("hedged", *CONVERSION),
            portfolio("mixed", *CONVERSION, ("ETH-27MAR26-4000-C", -3.0), ("ETH-PERPETUAL", 1.0)),
        ]
    )
    result = margin_book(PM, book, snapshot, params, detail=Detail.EXPLAIN)
    assert result.detail is not None
    for account in result.detail:
        (pool,) = account.pools
        shares = [c.initial_margin for c in pool.contributions or ()]
        assert len(shares) == len(book.row(book.accounts.index(account.account))[0])
        assert sum(s or 0.0 for s in shares) == pytest.approx(pool.initial_margin, rel=1e-10)


def test_prepared_state_remargins_any_book() -> None:
    snapshot = rich_market()
    book = random_book(snapshot, 30, seed=14)
    params = PM.load_params(None)
    prepared = PM.prepare(
        PricedMarket.resolve(snapshot, book.instruments), book.instruments, params
    )
    full = PM.margin(prepared, book, detail=Detail.TOTALS)
    part = PM.margin(prepared, book.slice(10, 20), detail=Detail.TOTALS)
    np.testing.assert_array_equal(part.initial_margin_usd, full.initial_margin_usd[10:20])


def test_a_params_file_with_a_pmrm1_base_selects_pmrm_v1(tmp_path: Path) -> None:
    f = tmp_path / "p.toml"
    f.write_text('base_set = "derive-pmrm1"\n')
    assert PM.load_params(str(f)).params_id.name.startswith("derive-pmrm1")


@st.composite
def small_books(draw: st.DrawFn) -> Book:
    """1-4 accounts of 0-6 positions over the rich market's instruments (any signs, repeats)."""
    names = tuple(rich_market().quotes)
    n_acc = draw(st.integers(1, 4))
    rows, cols, qty = [], [], []
    for a in range(n_acc):
        for _ in range(draw(st.integers(0, 6))):
            rows.append(a)
            cols.append(draw(st.integers(0, len(names) - 1)))
            qty.append(draw(st.sampled_from([-3.0, -1.0, -0.5, 0.1, 1.0, 2.5])))
    return Book.from_arrays(
        tuple(f"a{i}" for i in range(n_acc)),
        names,
        np.array(rows, dtype=np.intp),
        np.array(cols, dtype=np.intp),
        np.array(qty, dtype=np.float64),
    )


@settings(max_examples=15, deadline=None)
@given(book=small_books(), v1=st.booleans())
def test_random_books_equal_the_reference(book: Book, v1: bool) -> None:
    snapshot = rich_market()
    params = "derive-pmrm1" if v1 else None
    _same(
        margin_book(PM, book, snapshot, params, detail=Detail.ACCOUNTS),
        reference.pm_margin_book(book, snapshot, params, True, False),
    )
    _same(
        margin_book(SRM, book, snapshot, detail=Detail.ACCOUNTS),
        reference.srm_margin_book(book, snapshot, None, True, False),
    )
