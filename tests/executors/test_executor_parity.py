"""Every job the Ray executor runs gives the in-process result, bit for bit, for every model:
the margin pipeline at every detail level (and its JSON), the resident book of the real-time
shape, stress tests and backtests. Shard counts that do not divide the book are used on purpose."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import numpy as np
import pytest

from helpers import market, portfolio
from solvent.engine.margin import margin_accounts
from solvent.engine.views import margin_json
from solvent.executors import LocalExecutor
from solvent.margin.protocol import Detail, PricedMarket
from solvent.margin.registry import get_model, model_names
from solvent.margin.result import BookMargin
from solvent.margin.sharded import ResidentBook
from solvent.market.history import embedded_price_history
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.account_book import AccountBook
from solvent.portfolio.book import Book
from solvent.portfolio.portfolio import Portfolio, Position, SubAccountMode
from solvent.stress.apply import stress_book
from solvent.stress.backtest import Side, run_backtest
from solvent.stress.library import stress_library

pytestmark = pytest.mark.xdist_group("ray")

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
N_ACCOUNTS = 23


@cache
def _market() -> MarketSnapshot:
    return market([{"name": "BTC-27MAR26-110000-P", "mark_iv": 0.5}])


@cache
def _portfolios() -> tuple[Portfolio, ...]:
    """Random accounts (seed 7): 0 to 4 positions, BTC/ETH/USDC collateral, every fifth a cross
    sub-account of the one before and every seventh an isolated one; one empty account."""
    rng = np.random.default_rng(7)
    out: list[Portfolio] = []
    for i in range(N_ACCOUNTS):
        picks = rng.choice(len(INSTRUMENTS), int(rng.integers(0, 5)), replace=False)
        positions = tuple(
            Position(INSTRUMENTS[j], float(np.round(rng.normal(0.0, 3.0), 2))) for j in picks
        )
        collateral = {"BTC": float(np.round(rng.uniform(0, 3), 3)), "USDC": 25_000.0}
        if i % 5 == 1:
            out.append(Portfolio(f"a{i}", collateral, positions, f"a{i - 1}", SubAccountMode.CROSS))
        elif i % 7 == 3:
            out.append(
                Portfolio(f"a{i}", collateral, positions, f"a{i - 3}", SubAccountMode.ISOLATED)
            )
        else:
            out.append(Portfolio(f"a{i}", collateral, positions))
    return tuple(out)


def _accounts() -> AccountBook:
    return AccountBook.from_portfolios(_portfolios())


def _same(x: BookMargin, y: BookMargin) -> None:
    assert x.accounts == y.accounts
    assert x.model == y.model and x.parameters == y.parameters
    assert np.array_equal(x.initial_margin_usd, y.initial_margin_usd)
    assert np.array_equal(x.maintenance_margin_usd, y.maintenance_margin_usd)
    assert x.detail == y.detail  # every float of every pool, scenario and contribution


@pytest.mark.parametrize("name", model_names())
def test_margin_pipeline_on_ray_equals_in_process(name: str, ray_executor: Any) -> None:
    local = margin_accounts(_accounts(), _market(), name, detail=Detail.EXPLAIN)
    remote = margin_accounts(
        _accounts(), _market(), name, detail=Detail.EXPLAIN, executor=ray_executor, shards=3
    )
    _same(remote.result, local.result)
    assert json.dumps(margin_json(remote, True)) == json.dumps(margin_json(local, True))
    totals = margin_accounts(_accounts(), _market(), name, detail=Detail.TOTALS)
    remote = margin_accounts(
        _accounts(), _market(), name, detail=Detail.TOTALS, executor=ray_executor, shards=4
    )
    _same(remote.result, totals.result)


def test_local_executor_shards_equal_the_plain_path() -> None:
    for name in model_names():
        local = margin_accounts(_accounts(), _market(), name, detail=Detail.EXPLAIN)
        sharded = margin_accounts(
            _accounts(),
            _market(),
            name,
            detail=Detail.EXPLAIN,
            executor=LocalExecutor(),
            shards=5,
        )
        _same(sharded.result, local.result)


def _book() -> Book:
    return Book.from_portfolios(list(_portfolios()), INSTRUMENTS)


def _prepared(name: str, book: Book) -> Any:
    model = get_model(name)
    priced = PricedMarket.resolve(_market(), book.instruments)
    return model.prepare(priced, book.instruments, model.load_params(None))


def _by_account(result: BookMargin) -> dict[str, tuple[float, float]]:
    return {
        a: (float(im), float(mm))
        for a, im, mm in zip(
            result.accounts, result.initial_margin_usd, result.maintenance_margin_usd, strict=True
        )
    }


def test_resident_book_on_ray_follows_account_changes(ray_executor: Any) -> None:
    """One resident book (three actors) re-margined under every model, before and after a few
    accounts change: each account's result is the in-process one."""
    book = _book()
    changes = Book.from_portfolios(
        [
            portfolio("a4", ("BTC-PERPETUAL", -2.0), ("BTC-27MAR26-90000-P", 1.0)),
            portfolio("a0"),
            portfolio("new", ("ETH-27MAR26-4000-C", -5.0)),
        ],
        INSTRUMENTS,
    )
    rows = {a: i for i, a in enumerate(book.accounts)}
    kept = [a for a in book.accounts if a not in changes.accounts]
    changed = Book(
        (*kept, *changes.accounts),
        INSTRUMENTS,
        sp_vstack(book.quantities[[rows[a] for a in kept]], changes.quantities),
    )
    resident = ResidentBook(ray_executor, book, shards=3)
    try:
        for whole in (book, changed):
            if whole is changed:
                resident.update(changes)  # only the shards of a4, a0 and new receive them
                assert sorted(resident.book().accounts) == sorted(changed.accounts)
            for name in model_names():
                model, prepared = get_model(name), _prepared(name, book)
                result = resident.margin(resident.share(model, prepared, Detail.ACCOUNTS))
                expected = model.margin(prepared, whole, detail=Detail.ACCOUNTS)
                assert _by_account(result) == _by_account(expected), name
                assert {a.account: a for a in result.detail or ()} == {
                    a.account: a for a in expected.detail or ()
                }, name
                im, mm = resident.totals(resident.share(model, prepared))
                assert resident.accounts() == result.accounts
                assert np.array_equal(im, result.initial_margin_usd), name
                assert np.array_equal(mm, result.maintenance_margin_usd), name
    finally:
        resident.close()


def sp_vstack(a: Any, b: Any) -> Any:
    import scipy.sparse as sp

    return sp.csr_array(sp.vstack([a, b], format="csr"))


def test_resident_book_refuses_other_instruments(ray_executor: Any) -> None:
    from solvent.errors import SolventInputError

    resident = ResidentBook(LocalExecutor(), _book(), shards=2)
    with pytest.raises(SolventInputError, match="instruments"):
        resident.update(Book.from_portfolios([portfolio("x", ("BTC-PERPETUAL", 1.0))]))


def test_stress_on_ray_equals_in_process(ray_executor: Any) -> None:
    scenarios = list(stress_library(embedded_price_history()).values())
    local = stress_book(_accounts(), _market(), scenarios)
    remote = stress_book(_accounts(), _market(), scenarios, executor=ray_executor, shards=3)
    assert [r.to_json() for r in remote] == [r.to_json() for r in local]
    for x, y in zip(remote, local, strict=True):
        assert np.array_equal(x.loss_usd, y.loss_usd)
        assert np.array_equal(x.position_pnl_usd, y.position_pnl_usd)


@pytest.mark.parametrize("name", model_names())
def test_backtest_on_ray_equals_in_process(name: str, ray_executor: Any) -> None:
    history = embedded_price_history().window("2023-06-01", "2024-12-31")
    args = (name, history, "BTC", Side.SHORT, 0.99, 1, None, 480)
    local = run_backtest(*args)
    remote = run_backtest(*args, executor=ray_executor, shards=3)
    assert np.array_equal(remote.margin, local.margin)
    assert remote.to_json("c.png") == local.to_json("c.png")
