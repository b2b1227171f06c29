"""Partial and full liquidation: targets, slices walking the book, fees, untouched healthy
accounts (docs/methodology/liquidation.md)."""

from __future__ import annotations

import numpy as np
import pytest

from solvent.engine.liquidation import liquidate_accounts
from solvent.errors import SolventInputError
from solvent.liquidation.config import LiquidationConfig, Target
from solvent.liquidation.outcome import Action, StepKind
from solvent.liquidation.policy import get_policy, policy_names
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.account_book import parse_account_book

from .conftest import account, liquidation_market

PERP = "BTC_USDC-PERPETUAL"


def _book(*accounts: dict[str, object]) -> object:
    return parse_account_book({"accounts": list(accounts)})[0]


def test_healthy_account_is_never_touched(market: MarketSnapshot) -> None:
    book = _book(account("lev", 11_000.0, (PERP, 10.0)), account("ok", 50_000.0, (PERP, 1.0)))
    out = liquidate_accounts(book, market)
    ok = out.accounts[1]
    assert ok.action is Action.NONE and ok.steps == ()
    np.testing.assert_array_equal(out.balances_after[1], book.collateral[1])
    assert out.accounts[0].action is Action.PARTIAL


def test_partial_reaches_the_target_and_closes_no_more_than_one_slice_beyond(
    market: MarketSnapshot,
) -> None:
    config = LiquidationConfig()
    out = liquidate_accounts(_book(account("lev", 11_000.0, (PERP, 10.0))), market, config=config)
    (acct,) = out.accounts
    assert acct.action is Action.PARTIAL
    steps = acct.steps
    assert steps and all(s.kind is StepKind.SLICE and s.quantity < 0 for s in steps)
    last = steps[-1]
    assert last.equity_after_usd >= last.maintenance_margin_after_usd * (1 + config.buffer)
    # before the last slice the account was still below its target
    before = steps[-2] if len(steps) > 1 else None
    previous_equity = acct.equity_before_usd if before is None else before.equity_after_usd
    previous_mm = (
        acct.maintenance_margin_before_usd
        if before is None
        else before.maintenance_margin_after_usd
    )
    assert previous_equity < previous_mm * (1 + config.buffer)
    # slices are a quarter of the starting position at most
    assert all(abs(s.quantity) <= 2.5 + 1e-12 for s in steps)
    assert all(s.relief_usd > 0 for s in steps)


def test_slices_walk_the_book_and_pay_the_fee(market: MarketSnapshot) -> None:
    config = LiquidationConfig(target=Target.INITIAL)
    out = liquidate_accounts(_book(account("lev", 11_000.0, (PERP, 10.0))), market, config=config)
    steps = out.accounts[0].steps
    assert len(steps) >= 2
    prices = [s.price for s in steps]
    assert all(p < 100_000.0 for p in prices)
    assert prices == sorted(prices, reverse=True)  # each slice goes deeper into the bids
    for s in steps:
        assert s.slippage_usd == pytest.approx(-s.quantity * (s.mark_price - s.price), rel=1e-9)
        assert s.fee_usd == pytest.approx(
            config.fee_rate * abs(s.quantity) * 100_000.0, rel=1e-6, abs=1e-6
        )
        assert s.cost_usd == pytest.approx(s.slippage_usd + s.fee_usd)
    assert out.insurance_fund.fees_in_usd == pytest.approx(sum(s.fee_usd for s in steps))
    assert out.insurance_fund.end_usd == pytest.approx(
        out.insurance_fund.start_usd + out.insurance_fund.fees_in_usd
    )


def test_initial_target_closes_at_least_as_much_as_maintenance(market: MarketSnapshot) -> None:
    book = _book(account("lev", 11_000.0, (PERP, 10.0)))
    closed = {
        t: sum(
            -s.quantity
            for s in liquidate_accounts(book, market, config=LiquidationConfig(target=t))
            .accounts[0]
            .steps
        )
        for t in Target
    }
    assert closed[Target.INITIAL] >= closed[Target.MAINTENANCE] > 0


def test_without_a_book_fills_are_at_the_mark() -> None:
    market = liquidation_market(books=False)
    out = liquidate_accounts(_book(account("lev", 11_000.0, (PERP, 10.0))), market)
    assert all(s.price == s.mark_price and s.slippage_usd == 0 for s in out.accounts[0].steps)


def test_full_closes_every_position(market: MarketSnapshot) -> None:
    book = _book(account("lev", 11_000.0, (PERP, 10.0), ("ETH_USDC-PERPETUAL", -5.0)))
    out = liquidate_accounts(book, market, policy="full")
    acct = out.accounts[0]
    assert acct.action is Action.FULL
    assert sorted(s.instrument for s in acct.steps) == ["BTC_USDC-PERPETUAL", "ETH_USDC-PERPETUAL"]
    assert all(s.kind is StepKind.CLOSE for s in acct.steps)
    assert acct.steps[-1].maintenance_margin_after_usd == 0.0
    assert {s.instrument: s.quantity for s in acct.steps} == {
        PERP: -10.0,
        "ETH_USDC-PERPETUAL": 5.0,
    }


def test_fee_is_never_more_than_the_equity_left(market: MarketSnapshot) -> None:
    config = LiquidationConfig(fee_rate=0.2)
    out = liquidate_accounts(_book(account("lev", 11_000.0, (PERP, 10.0))), market, config=config)
    steps = out.accounts[0].steps
    assert any(s.fee_usd > 0 for s in steps)
    for s in steps:
        # the equity left after the trade is equity_after + fee: the fee never exceeds it
        assert 0.0 <= s.fee_usd <= max(0.0, s.equity_after_usd + s.fee_usd) + 1e-6
        assert s.fee_usd < 0.2 * abs(s.quantity) * 100_000.0 or s.equity_after_usd <= 1e-6


def test_conservation_is_zero_per_asset(market: MarketSnapshot) -> None:
    book = _book(
        account("lev", 11_000.0, (PERP, 10.0)),
        account("inv", 0.0, ("BTC-PERPETUAL", 5.0)),
    )
    out = liquidate_accounts(book, market, policy="full", insurance_fund_usd=1_000.0)
    assert out.conservation and all(v == 0 for v in out.conservation.values())


def test_policies_and_bad_settings() -> None:
    assert {"partial", "full"} <= set(policy_names())
    with pytest.raises(SolventInputError, match="policy"):
        get_policy("nope")
    with pytest.raises(SolventInputError, match="buffer"):
        LiquidationConfig(buffer=float("nan"))
    with pytest.raises(SolventInputError, match="slice_fraction"):
        LiquidationConfig(slice_fraction=0.0)


def test_insurance_fund_must_be_finite_and_non_negative(market: MarketSnapshot) -> None:
    book = _book(account("lev", 11_000.0, (PERP, 10.0)))
    for bad in (float("nan"), -1.0, float("inf")):
        with pytest.raises(SolventInputError, match="insurance_fund"):
            liquidate_accounts(book, market, insurance_fund_usd=bad)


def test_a_cross_group_is_liquidated_as_one_unit_and_each_member_trades_its_share(
    market: MarketSnapshot,
) -> None:
    parent = account("p", 11_000.0, (PERP, 6.0))
    child = account("c", 0.0, (PERP, 4.0)) | {"parent": "p", "mode": "cross"}
    hedge = account("h", 0.0, (PERP, -1.0)) | {"parent": "p", "mode": "cross"}
    alone = account("lev", 11_000.0, (PERP, 9.0))
    out = liquidate_accounts(_book(parent, child, hedge, alone), market)
    by = {a.account: a for a in out.accounts}
    assert by["p"].action is by["c"].action is by["h"].action is Action.PARTIAL
    assert by["h"].steps == ()  # the other side of the netted position is not traded
    p_qty = [s.quantity for s in by["p"].steps]
    c_qty = [s.quantity for s in by["c"].steps]
    # the group (net 9 BTC) liquidates exactly as the same 9 BTC in one account
    total = [a + b for a, b in zip(p_qty, c_qty, strict=True)]
    assert total == pytest.approx([s.quantity for s in by["lev"].steps])
    assert all(c / (a + c) == pytest.approx(0.4) for a, c in zip(p_qty, c_qty, strict=True))
    assert all(s.account == "c" for s in by["c"].steps)


def test_prepared_path_on_more_instruments_equals_the_one_shot_path(
    market: MarketSnapshot,
) -> None:
    from solvent.engine.liquidation import liquidate_prepared
    from solvent.liquidation.policy import PartialPolicy
    from solvent.liquidation.units import PreparedMargin
    from solvent.margin.protocol import PricedMarket
    from solvent.margin.registry import get_model

    book = _book(account("lev", 11_000.0, (PERP, 10.0)), account("ok", 9e5, (PERP, -3.0)))
    one_shot = liquidate_accounts(book, market, "deribit-pm", insurance_fund_usd=50.0)
    model = get_model("deribit-pm")
    names = tuple(sorted(market.quotes))  # the whole market, in another order
    priced = PricedMarket.resolve(market, names)
    params = model.load_params(None)
    prepared = PreparedMargin(model, model.prepare(priced, names, params), priced, "x")
    held = liquidate_prepared(
        book, prepared, policy=PartialPolicy(), config=LiquidationConfig(), insurance_fund_usd=50.0
    )
    assert [a.steps for a in held.accounts] == [a.steps for a in one_shot.accounts]
    assert held.insurance_fund == one_shot.insurance_fund


def test_a_closed_position_outside_the_prepared_market_is_dropped_a_held_one_refused() -> None:
    """The real-time loop prepares the instruments its margin units hold; an account book may
    still list a position closed since (quantity and entry cost 0): that column is dropped, while a
    position still held outside the prepared market is refused naming it."""
    import scipy.sparse as sp

    from solvent.engine.liquidation import _on_prepared_columns
    from solvent.portfolio.book import Book, EntryCosts

    def matrix(values: list[float]) -> sp.csr_array:
        return sp.csr_array(np.asarray([values], dtype=np.float64))

    closed = Book(
        ("a",),
        ("X", "Y"),
        sp.csr_array(([2.0, 0.0], ([0, 0], [0, 1])), shape=(1, 2)),  # Y stored as an explicit 0
        EntryCosts(matrix([2.0, 0.0]), matrix([200.0, 0.0])),
    )
    moved = _on_prepared_columns(closed, ("Z", "X"))
    assert moved.instruments == ("Z", "X")
    assert moved.quantities.toarray().tolist() == [[0.0, 2.0]]
    assert moved.entry is not None and moved.entry.cost.toarray().tolist() == [[0.0, 200.0]]
    held = Book(("a",), ("X", "Y"), matrix([2.0, 1.0]), None)
    with pytest.raises(SolventInputError, match="'Y'"):
        _on_prepared_columns(held, ("X",))
