"""Invariants of a liquidation run, with hypothesis over random books and market moves:
conservation per asset, a fund that never goes negative, healthy accounts never liquidated,
fees within the equity left, and partial liquidations that stop at their target."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from solvent.engine.liquidation import liquidate_accounts
from solvent.engine.margin import margin_accounts
from solvent.liquidation.config import LiquidationConfig, Target
from solvent.liquidation.outcome import Action, StepKind
from solvent.portfolio.account_book import parse_account_book

from .conftest import liquidation_market

INSTRUMENTS = ["BTC_USDC-PERPETUAL", "BTC-PERPETUAL", "ETH_USDC-PERPETUAL", "BTC-27MAR26-110000-C"]

position = st.tuples(
    st.sampled_from(INSTRUMENTS),
    st.floats(-8.0, 8.0, allow_nan=False).filter(lambda q: abs(q) > 1e-3),
    st.one_of(st.none(), st.floats(0.8, 1.25)),  # entry price / 100,000 (delta-one only)
)
accounts = st.lists(
    st.tuples(
        st.floats(-5_000.0, 60_000.0, allow_nan=False),
        st.floats(0.0, 0.5, allow_nan=False),
        st.lists(position, min_size=0, max_size=3),
    ),
    min_size=1,
    max_size=6,
)


def _position(name: str, q: float, entry: float | None) -> dict[str, Any]:
    out: dict[str, Any] = {"instrument": name, "quantity": round(q, 3)}
    if entry is not None and not name.endswith("-C"):
        out["entry_price"] = round(entry * (4_000.0 if name.startswith("ETH") else 100_000.0), 2)
    return out


def _raw(drawn: list[Any]) -> dict[str, Any]:
    return {
        "accounts": [
            {
                "account": f"a{i}",
                "collateral": {"USDC": round(usdc, 2), "BTC": round(btc, 4)},
                "positions": [_position(*p) for p in positions],
            }
            for i, (usdc, btc, positions) in enumerate(drawn)
        ]
    }


def _book(drawn: list[Any]) -> Any:
    return parse_account_book(_raw(drawn))[0]


def _after(book: Any, out: Any) -> Any:
    """The book after the run: every account's positions plus its steps and ADL fills (marked
    at the mark: the outcome's balances carry the P&L since entry) and its balances after."""
    trades: dict[str, dict[str, float]] = {}
    for a in out.accounts:
        for s in a.steps:
            trades.setdefault(a.account, {}).setdefault(s.instrument, 0.0)
            trades[a.account][s.instrument] += s.quantity
    for f in out.adl:
        trades.setdefault(f.account, {}).setdefault(f.instrument, 0.0)
        trades[f.account][f.instrument] += f.quantity
    accounts = []
    for i, p in enumerate(book.portfolios()):
        held: dict[str, float] = {}
        for pos in p.positions:
            held[pos.instrument] = held.get(pos.instrument, 0.0) + pos.quantity
        for name, q in trades.get(p.account, {}).items():
            held[name] = held.get(name, 0.0) + q
        accounts.append(
            {
                "account": p.account,
                "collateral": {
                    a: float(out.balances_after[i, j]) for j, a in enumerate(out.assets)
                },
                "positions": [
                    {"instrument": n, "quantity": q} for n, q in held.items() if abs(q) > 1e-9
                ],
            }
        )
    return parse_account_book({"accounts": accounts})[0]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    drawn=accounts,
    btc=st.floats(70_000.0, 130_000.0),
    policy=st.sampled_from(["partial", "full"]),
    target=st.sampled_from(list(Target)),
    fund=st.one_of(st.just(0.0), st.floats(0.0, 20_000.0)),
    books=st.booleans(),
)
@example(  # a position without an entry price netted with one that has it: not in profit
    drawn=[
        (0.0, 0.0, [("ETH_USDC-PERPETUAL", -1.0, None), ("BTC_USDC-PERPETUAL", 1.0, 1.0)]),
        (0.0, 0.5, [("ETH_USDC-PERPETUAL", 2.0, None), ("ETH_USDC-PERPETUAL", -1.0, 0.875)]),
    ],
    btc=70_000.0,
    policy="partial",
    target=Target.MAINTENANCE,
    fund=0.0,
    books=False,
)
def test_liquidation_invariants(
    drawn: list[Any],
    btc: float,
    policy: str,
    target: Target,
    fund: float,
    books: bool,
) -> None:
    market = liquidation_market(books=books, btc=btc)
    book = _book(drawn)
    config = LiquidationConfig(target=target)
    out = liquidate_accounts(
        book, market, "standard", policy=policy, config=config, insurance_fund_usd=fund
    )
    # nothing created or lost, asset by asset
    assert all(v == 0 for v in out.conservation.values())
    flow = out.insurance_fund
    assert flow.end_usd >= -1e-9
    assert flow.end_usd == np.float64(flow.end_usd)
    assert (
        abs(flow.end_usd - (flow.start_usd + flow.fees_in_usd - flow.deficits_covered_usd)) < 1e-3
    )
    assert [a.account for a in out.accounts] == list(book.accounts)
    for a in out.accounts:
        healthy = a.equity_before_usd >= a.maintenance_margin_before_usd
        if healthy:
            assert a.action is Action.NONE and a.steps == ()
            continue
        assert a.action is not Action.NONE or not a.steps
        for s in a.steps:
            assert 0.0 <= s.fee_usd <= max(0.0, s.equity_after_usd + s.fee_usd) + 1e-6
            if s.kind is StepKind.SLICE:
                assert np.sign(s.quantity) != 0
        if a.action is Action.PARTIAL and a.steps and a.steps[-1].kind is StepKind.SLICE:
            # a partial liquidation that reached its target took no slice after reaching it
            reached = [
                s.equity_after_usd
                >= (
                    s.maintenance_margin_after_usd * (1 + config.buffer)
                    if target is Target.MAINTENANCE
                    else s.maintenance_margin_after_usd
                )
                - 1e-6
                for s in a.steps
            ]
            if target is Target.MAINTENANCE and True in reached:
                first = reached.index(True)
                # only the rest of a pro-rata slice may follow the step that reached the target
                assert all("pro-rata" in s.reason for s in a.steps[first + 1 :])
        if a.action is Action.BANKRUPT:
            covered = a.insurance_covered_usd + a.adl_covered_usd + a.socialized_usd
            assert covered <= a.deficit_usd + 0.01  # rounded up to base units
    # after the waterfall: nobody negative; ADL touched only healthy opposite positions in
    # profit, and left each at or above its maintenance margin
    after = margin_accounts(_after(book, out), market, "standard")
    index = {name: i for i, name in enumerate(book.accounts)}
    by = {a.account: a for a in out.accounts}
    for i, name in enumerate(book.accounts):
        assert after.equity.equity_usd[after.groups.group_of[i]] >= -1e-4 * max(
            1.0, abs(by[name].equity_before_usd)
        )
    start = {p.account: p for p in book.portfolios()}
    for f in out.adl:
        assert by[f.account].action is Action.NONE
        pos = [p for p in start[f.account].positions if p.instrument == f.instrument]
        held = sum(p.quantity for p in pos)
        assert np.sign(f.quantity) == -np.sign(held) and abs(f.quantity) <= abs(held) + 1e-9
        mark = market.quote(f.instrument).mark_price
        pnl = [p.quantity * (mark - p.entry_price) for p in pos if p.entry_price is not None]
        assert pnl and sum(pnl) > 0  # in profit since entry
        closes = [s for s in by[f.against].steps if s.instrument == f.instrument]
        assert closes and np.sign(closes[-1].quantity) == -np.sign(f.quantity)
        g = after.groups.group_of[index[f.account]]
        assert after.equity.equity_usd[g] >= after.maintenance_margin_usd[g] - 1e-6


# ------------------------------------------------------------------------------------------
# books that hold options: ADL of option positions
# ------------------------------------------------------------------------------------------

OPTIONS = {
    # name: (mark IV, entry premium range at BTC 100,000 in the settlement asset)
    "BTC-27MAR26-100000-P": (0.6, (0.01, 0.2)),
    "BTC-27MAR26-110000-C": (0.5, (0.005, 0.1)),
    "BTC_USDC-27MAR26-90000-P": (0.7, (500.0, 15_000.0)),
}
OPTION_BOOK = [*OPTIONS, "BTC_USDC-PERPETUAL"]

option_position = st.tuples(
    st.sampled_from(OPTION_BOOK),
    st.builds(lambda sign, size: sign * size, st.sampled_from([-1.0, 1.0]), st.floats(1e-3, 6.0)),
    st.floats(0.0, 1.0),  # where the entry lies in the instrument's range
)
option_accounts = st.lists(
    st.tuples(
        st.floats(0.0, 80_000.0, allow_nan=False),
        st.floats(0.0, 0.3, allow_nan=False),
        st.lists(option_position, min_size=1, max_size=3),
    ),
    min_size=2,
    max_size=7,
)


def _option_market(btc: float) -> Any:
    from solvent.market.snapshot import parse_market

    return parse_market(
        {
            "as_of": "2026-01-05T08:00:00Z",
            "index": {"BTC": btc, "USDC": 1.0},
            "instruments": [
                {"name": "BTC_USDC-PERPETUAL", "mark_price": btc},
                *({"name": n, "mark_iv": iv} for n, (iv, _) in OPTIONS.items()),
            ],
        }
    )


def _option_book(drawn: list[Any]) -> Any:
    accounts = []
    for i, (usdc, btc, positions) in enumerate(drawn):
        rows = []
        for name, q, where in positions:
            lo, hi = OPTIONS[name][1] if name in OPTIONS else (80_000.0, 120_000.0)
            entry = lo + where * (hi - lo)
            rows.append({"instrument": name, "quantity": round(q, 3), "entry_price": entry})
        accounts.append(
            {
                "account": f"a{i}",
                "collateral": {"USDC": round(usdc, 2), "BTC": round(btc, 4)},
                "positions": rows,
            }
        )
    return parse_account_book({"accounts": accounts})[0]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    drawn=option_accounts,
    btc=st.floats(70_000.0, 130_000.0),
    fund=st.one_of(st.just(0.0), st.floats(0.0, 5_000.0)),
    ranking=st.sampled_from(["bitmex", "binance", "hyperliquid"]),
)
def test_option_adl_invariants(drawn: list[Any], btc: float, fund: float, ranking: str) -> None:
    """Conservation per asset, a fund that never goes negative (per asset), nobody negative
    after the waterfall, and ADL fills of options (as of futures) only on the opposite side of
    the bankrupt close, on positions in profit since entry, at the bankruptcy price, leaving
    each counterparty at or above its maintenance margin."""
    market = _option_market(btc)
    book = _option_book(drawn)
    config = LiquidationConfig(adl_ranking=ranking)
    out = liquidate_accounts(book, market, "standard", config=config, insurance_fund_usd=fund)
    assert all(v == 0 for v in out.conservation.values())
    # the fund per asset: its start plus every transfer in and out never below zero
    held: dict[str, int] = {"USDC": round(fund * 1e6)}
    for t in out.transfers:
        if t.destination == "@insurance":
            held[t.asset] = held.get(t.asset, 0) + t.units
        if t.source == "@insurance":
            held[t.asset] = held.get(t.asset, 0) - t.units
            assert held[t.asset] >= 0
    assert out.insurance_fund.end_usd >= -1e-9
    after = margin_accounts(_after(book, out), market, "standard")
    index = {name: i for i, name in enumerate(book.accounts)}
    by = {a.account: a for a in out.accounts}
    for i, name in enumerate(book.accounts):
        g = after.groups.group_of[i]
        assert after.equity.equity_usd[g] >= -1e-4 * max(1.0, abs(by[name].equity_before_usd))
    start = {p.account: p for p in book.portfolios()}
    event("option ADL fills" if any(f.instrument in OPTIONS for f in out.adl) else "no option fill")
    for f in out.adl:
        assert by[f.account].action is Action.NONE
        pos = [p for p in start[f.account].positions if p.instrument == f.instrument]
        q = sum(p.quantity for p in pos)
        assert np.sign(f.quantity) == -np.sign(q) and abs(f.quantity) <= abs(q) + 1e-9
        mark = market.quote(f.instrument).mark_price
        assert sum(p.quantity * (mark - (p.entry_price or mark)) for p in pos) > 0
        closes = [
            s
            for s in by[f.against].steps
            if s.instrument == f.instrument and s.kind is StepKind.BANKRUPTCY
        ]
        assert closes and np.sign(closes[-1].quantity) == -np.sign(f.quantity)
        assert f.price == closes[-1].price
        g = after.groups.group_of[index[f.account]]
        assert after.equity.equity_usd[g] >= after.maintenance_margin_usd[g] - 1e-6
