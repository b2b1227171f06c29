"""The margin-model contract, checked for every registered model (a new model gets it for free).

For every name in :func:`solvent.margin.registry.model_names`, with its default parameter set, on
a market and book built from the test helpers (BTC and ETH, coin- and USDC-settled, futures,
perpetuals and options):

- IM >= MM >= 0, in USD and in every pool;
- each pool's components re-derive its IM and MM by the model's :class:`Composition`;
- the three :class:`Detail` levels agree, and each account's USD totals are its row of the book;
- a one-account book equals that account's row of a larger book;
- the order of the accounts changes no account's result;
- the prepared path (prepare once, margin twice, margin of a sub-book) equals the one-shot path;
- explain contributions add up to what the model's :class:`Explanation` says (the worst
  scenario's P&L, a loss component, or IM), and the worst scenario's index points at the entry
  of the pool's own scenario list that carries its label.

The same invariants are then checked with hypothesis over random books.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import cache

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import market, portfolio
from solvent.margin.protocol import Detail, MarginModel, PricedMarket, margin_book
from solvent.margin.registry import get_model, model_names
from solvent.margin.result import (
    AccountMargin,
    BookMargin,
    Composition,
    PoolMargin,
)
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.book import Book

REL = 1e-9
"""Relative tolerance of re-derived figures (sums in another order)."""

POSITIONS: dict[str, tuple[tuple[str, float], ...]] = {
    "long_perpetual": (("BTC-PERPETUAL", 1.0),),
    "covered_call": (("BTC-27MAR26-110000-C", -1.0), ("BTC-PERPETUAL", 0.25)),
    "conversion": (
        ("BTC-27MAR26", 1.00003),
        ("BTC-27MAR26-110000-P", 1.0),
        ("BTC-27MAR26-110000-C", -1.0),
    ),
    "eth_options": (("ETH-27MAR26-4000-C", -3.0), ("ETH-PERPETUAL", 2.0)),
    "mixed": (
        ("BTC_USDC-PERPETUAL", -0.5),
        ("BTC-27MAR26", 0.3),
        ("ETH-PERPETUAL", -1.0),
        ("BTC-27MAR26-90000-P", 2.0),
    ),
    "second_underlying_worst": (("BTC-PERPETUAL", 0.01), ("ETH-PERPETUAL", -40.0)),
    "flat": (),
}
"""The contract book: one account per entry (hedged, multi-pool, multi-underlying, empty)."""

INSTRUMENTS = (
    "BTC-PERPETUAL",
    "ETH-PERPETUAL",
    "BTC_USDC-PERPETUAL",
    "BTC-27MAR26",
    "BTC-27MAR26-110000-C",
    "BTC-27MAR26-110000-P",
    "BTC-27MAR26-90000-P",
    "ETH-27MAR26-4000-C",
)


@cache
def _market() -> MarketSnapshot:
    return market([{"name": "BTC-27MAR26-110000-P", "mark_iv": 0.5}])


def _book(names: tuple[str, ...] = tuple(POSITIONS)) -> Book:
    return Book.from_portfolios([portfolio(n, *POSITIONS[n]) for n in names], INSTRUMENTS)


def _composition(model: MarginModel) -> Composition:
    return model.composition(_params(model.name))


@cache
def _params(name: str) -> object:
    return get_model(name).load_params(None)


def _one_shot(name: str, book: Book, detail: Detail = Detail.EXPLAIN) -> BookMargin:
    return margin_book(get_model(name), book, _market(), detail=detail)


@cache
def _contract_result(name: str) -> BookMargin:
    return _one_shot(name, _book())


# Known violations, each a strict xfail that flips (and fails) once fixed.
XFAIL = {}


def _cases(check: str, *variants: str) -> list[object]:
    """Every model (times ``variants``), known violations marked as strict xfails."""
    cases: list[object] = []
    for name in model_names():
        for key in [(name, check, v) for v in variants] or [(name, check)]:
            args = key[:1] + key[2:]
            reason = XFAIL.get(key)
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            cases.append(pytest.param(*args, marks=marks, id="-".join(args)))
    return cases


def _close(a: float, b: float, scale: float, rel: float = REL) -> bool:
    return abs(a - b) <= rel * max(abs(a), abs(b), scale, 1e-12)


def _same_pool(x: PoolMargin, y: PoolMargin, *, index: bool = True) -> None:
    scale = max(abs(x.initial_margin), 1.0)
    assert x.currency == y.currency
    assert _close(x.initial_margin, y.initial_margin, scale)
    assert _close(x.maintenance_margin, y.maintenance_margin, scale)
    assert list(x.components) == list(y.components)
    for k in x.components:
        assert _close(x.components[k], y.components[k], scale), k
    if x.worst_scenario is None or y.worst_scenario is None:
        assert x.worst_scenario == y.worst_scenario
    else:
        assert x.worst_scenario.label == y.worst_scenario.label
        assert not index or x.worst_scenario.index == y.worst_scenario.index
    assert (x.risk_measures is None) == (y.risk_measures is None)
    for k, v in (x.risk_measures or {}).items():
        assert _close(v, (y.risk_measures or {})[k], scale), k
    assert (x.contributions is None) == (y.contributions is None)
    # listed in the book's column order, which depends on the book: compare by instrument
    by_name = sorted(x.contributions or (), key=lambda c: c.instrument)
    for cx, cy in zip(
        by_name, sorted(y.contributions or (), key=lambda c: c.instrument), strict=True
    ):
        assert (cx.instrument, cx.quantity) == (cy.instrument, cy.quantity)
        for vx, vy in ((cx.pnl, cy.pnl), (cx.initial_margin, cy.initial_margin)):
            assert (vx is None) == (vy is None)
            if vx is not None and vy is not None:
                assert _close(vx, vy, scale)


def _same_account(x: AccountMargin, y: AccountMargin, *, index: bool = True) -> None:
    scale = max(abs(x.initial_margin_usd), 1.0)
    assert (x.account, x.model, x.parameters) == (y.account, y.model, y.parameters)
    assert _close(x.initial_margin_usd, y.initial_margin_usd, scale)
    assert _close(x.maintenance_margin_usd, y.maintenance_margin_usd, scale)
    assert len(x.pools) == len(y.pools)
    for px, py in zip(x.pools, y.pools, strict=True):
        _same_pool(px, py, index=index)


def _detail(result: BookMargin) -> tuple[AccountMargin, ...]:
    assert result.detail is not None
    return result.detail


def check_requirements(result: BookMargin, composition: Composition) -> None:
    """IM >= MM >= 0 (USD and per pool); the components re-derive every pool's IM and MM."""
    im, mm = result.initial_margin_usd, result.maintenance_margin_usd
    assert im.shape == mm.shape == (len(result.accounts),)
    assert np.all(np.isfinite(im)) and np.all(np.isfinite(mm))
    assert np.all(mm >= -REL * np.maximum(im, 1.0))
    assert np.all(im >= mm - REL * np.maximum(im, 1.0))
    for a, acct in enumerate(_detail(result)):
        assert acct.account == result.accounts[a]
        assert acct.initial_margin_usd == im[a] and acct.maintenance_margin_usd == mm[a]
        for pool in acct.pools:
            scale = max(pool.initial_margin, 1.0)
            assert pool.initial_margin >= pool.maintenance_margin - REL * scale
            assert pool.maintenance_margin >= -REL * scale
            derived_im = composition.initial_margin(pool.components)
            derived_mm = composition.maintenance_margin(pool.components)
            assert _close(derived_im, pool.initial_margin, scale), (acct.account, pool.currency)
            assert _close(derived_mm, pool.maintenance_margin, scale), (
                acct.account,
                pool.currency,
            )


def check_explanations(result: BookMargin, composition: Composition) -> None:
    """Contributions add up to the model's stated target; the worst scenario lies in its list."""
    for acct in _detail(result):
        for pool in acct.pools:
            assert pool.scenarios is not None and pool.contributions is not None
            explained = composition.explained
            if explained is None:
                assert pool.contributions == ()
                continue
            values = [c.pnl if c.pnl is not None else c.initial_margin for c in pool.contributions]
            assert all(v is not None for v in values)
            total = float(sum(v for v in values if v is not None))
            target = explained.target(pool)
            scale = max(abs(target), abs(pool.initial_margin), 1e-9)
            assert _close(total, target, scale, explained.tolerance), (acct.account, pool.currency)


def check_worst_index(result: BookMargin) -> None:
    """The worst scenario's index is a position in the pool's own list, with the same label."""
    for acct in _detail(result):
        for pool in acct.pools:
            worst = pool.worst_scenario
            if worst is None:
                continue
            assert pool.scenarios, f"{acct.account}: a worst scenario but no scenario list"
            assert 0 <= worst.index < len(pool.scenarios), (acct.account, worst)
            assert pool.scenarios[worst.index][0] == worst.label, (acct.account, worst)


@pytest.mark.parametrize("name", model_names())
def test_requirements_are_ordered_and_rederived(name: str) -> None:
    result = _contract_result(name)
    assert result.model == _detail(result)[0].model
    check_requirements(result, _composition(get_model(name)))


@pytest.mark.parametrize("name", model_names())
def test_detail_levels_agree(name: str) -> None:
    explain = _contract_result(name)
    accounts = _one_shot(name, _book(), Detail.ACCOUNTS)
    totals = _one_shot(name, _book(), Detail.TOTALS)
    assert totals.detail is None
    for r in (accounts, totals):
        assert r.accounts == explain.accounts
        assert np.array_equal(r.initial_margin_usd, explain.initial_margin_usd)
        assert np.array_equal(r.maintenance_margin_usd, explain.maintenance_margin_usd)
    for x, y in zip(_detail(accounts), _detail(explain), strict=True):
        assert all(p.scenarios is None and p.contributions is None for p in x.pools)
        bare = tuple(dataclasses.replace(p, scenarios=None, contributions=None) for p in y.pools)
        assert x == dataclasses.replace(y, pools=bare)


@pytest.mark.parametrize(
    ("name", "account"), _cases("one_account", "covered_call", "mixed", "flat")
)
def test_one_account_book_equals_its_row(name: str, account: str) -> None:
    full = _detail(_contract_result(name))[list(POSITIONS).index(account)]
    alone = Book.from_portfolios([portfolio(account, *POSITIONS[account])])
    (single,) = _detail(_one_shot(name, alone))
    _same_account(single, full, index=False)


@pytest.mark.parametrize("name", model_names())
def test_account_order_changes_no_result(name: str) -> None:
    names = tuple(POSITIONS)
    shuffled = names[3:] + names[:3][::-1]
    result = {a.account: a for a in _detail(_contract_result(name))}
    for acct in _detail(_one_shot(name, _book(shuffled))):
        _same_account(acct, result[acct.account])


@pytest.mark.parametrize("name", model_names())
def test_prepared_path_equals_one_shot(name: str) -> None:
    model = get_model(name)
    book = _book()
    prepared = model.prepare(
        PricedMarket.resolve(_market(), book.instruments), book.instruments, _params(name)
    )
    first = model.margin(prepared, book, detail=Detail.EXPLAIN)
    second = model.margin(prepared, book, detail=Detail.EXPLAIN)
    for x, y, z in zip(
        _detail(first), _detail(second), _detail(_contract_result(name)), strict=True
    ):
        assert x == y
        _same_account(x, z)
    rows = [4, 1]
    sub = Book(tuple(book.accounts[r] for r in rows), book.instruments, book.quantities[rows])
    for r, acct in zip(
        rows, _detail(model.margin(prepared, sub, detail=Detail.EXPLAIN)), strict=True
    ):
        _same_account(acct, _detail(first)[r])


@pytest.mark.parametrize("name", model_names())
def test_prepare_takes_the_books_instruments_from_a_wider_market(name: str) -> None:
    model = get_model(name)
    accounts = ("covered_call", "eth_options", "flat")
    narrow = Book.from_portfolios([portfolio(a, *POSITIONS[a]) for a in accounts])
    wide = PricedMarket.resolve(_market(), INSTRUMENTS[::-1])
    prepared = model.prepare(wide, narrow.instruments, _params(name))
    result = model.margin(prepared, narrow, detail=Detail.EXPLAIN)
    for x, y in zip(_detail(result), _detail(_one_shot(name, narrow)), strict=True):
        _same_account(x, y)


@pytest.mark.parametrize("name", _cases("explanations"))
def test_explanations_add_up(name: str) -> None:
    check_explanations(_contract_result(name), _composition(get_model(name)))


@pytest.mark.parametrize("name", _cases("worst_index"))
def test_worst_scenario_points_into_its_own_list(name: str) -> None:
    check_worst_index(_contract_result(name))


# ---------------------------------------------------------------------------------------------
# the same invariants over random books (hypothesis)

_QUANTITY = st.sampled_from([-7.5, -2.0, -1.0, -0.3, -0.01, 0.01, 0.25, 1.0, 3.0, 12.0])


@st.composite
def books(draw: Callable[..., object]) -> Book:
    """1-4 accounts of 0-4 positions each, over :data:`INSTRUMENTS`."""
    n = draw(st.integers(1, 4))
    portfolios = []
    for a in range(n):
        held = draw(st.lists(st.sampled_from(INSTRUMENTS), max_size=4, unique=True))
        assert isinstance(held, list)
        portfolios.append(portfolio(f"acct-{a}", *((i, draw(_QUANTITY)) for i in held)))
    return Book.from_portfolios(portfolios, INSTRUMENTS)


@cache
def _prepared(name: str) -> object:
    model = get_model(name)
    return model.prepare(PricedMarket.resolve(_market(), INSTRUMENTS), INSTRUMENTS, _params(name))


@pytest.mark.parametrize("name", model_names())
@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(book=books())
def test_random_books_keep_the_contract(name: str, book: Book) -> None:
    model = get_model(name)
    result = model.margin(_prepared(name), book, detail=Detail.ACCOUNTS)
    check_requirements(result, _composition(model))
    order = np.arange(len(book))[::-1]
    reversed_book = Book(
        tuple(book.accounts[r] for r in order), book.instruments, book.quantities[order]
    )
    reversed_result = model.margin(_prepared(name), reversed_book, detail=Detail.ACCOUNTS)
    for r, acct in zip(order, _detail(reversed_result), strict=True):
        _same_account(acct, _detail(result)[r])
    last = Book(book.accounts[-1:], book.instruments, book.quantities[[len(book) - 1]])
    (alone,) = _detail(model.margin(_prepared(name), last, detail=Detail.ACCOUNTS))
    _same_account(alone, _detail(result)[-1])


_EXPLAINED = [
    n for n in model_names() if (n, "explanations") not in XFAIL and (n, "worst_index") not in XFAIL
]


@pytest.mark.parametrize("name", _EXPLAINED)
@settings(max_examples=8, deadline=None, derandomize=True)
@given(book=books())
def test_random_books_explain_themselves(name: str, book: Book) -> None:
    model = get_model(name)
    result = model.margin(_prepared(name), book, detail=Detail.EXPLAIN)
    check_explanations(result, _composition(model))
    check_worst_index(result)


# ---------------------------------------------------------------------------------------------
# every other built-in parameter set of every model (cross mode, PMRM v1, overlays, 10-day SIMM)


def _other_sets() -> list[object]:
    from solvent.margin.param_sets import all_schemas

    names = set(model_names())
    cases: list[object] = []
    for schema in all_schemas():
        for params in schema.sets if schema.model in names else ():
            if params == _params_name(schema.model):
                continue
            reason = XFAIL.get((schema.model, "built_in_set", params))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            cases.append(pytest.param(schema.model, params, marks=marks))
    return cases


def _params_name(model: str) -> str:
    pid = getattr(_params(model), "params_id", None)
    return "" if pid is None else str(pid.name)


@pytest.mark.parametrize(("name", "params"), _other_sets())
def test_every_built_in_set_keeps_the_contract(name: str, params: str) -> None:
    model = get_model(name)
    loaded = model.load_params(params)
    book = _book()
    prepared = model.prepare(PricedMarket.resolve(_market(), book.instruments), INSTRUMENTS, loaded)
    result = model.margin(prepared, book, detail=Detail.EXPLAIN)
    composition = model.composition(loaded)
    check_requirements(result, composition)
    check_explanations(result, composition)
    check_worst_index(result)
    again = margin_book(model, book, _market(), params, detail=Detail.EXPLAIN)
    for x, y in zip(_detail(result), _detail(again), strict=True):
        _same_account(x, y)
