"""One cash model for the liquidation planner and the ledger, over random books: whatever the
planner decides on a tick, the ledger books it whole (no step refused for cash the unit lacks),
no user balance goes below zero, the audit passes and nothing is created (every asset's total
over all accounts is what was deposited)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liquidation.test_invariants import _option_book, _option_market, option_accounts
from solvent.ledger.model import INSURANCE
from solvent.ledger.store import Ledger
from solvent.liquidation.config import LiquidationConfig
from solvent.market.snapshot import MarketSnapshot, parse_market
from solvent.portfolio.account_book import AccountBook, parse_account_book
from solvent.realtime.liquidation import WaterfallLiquidator
from solvent.realtime.replay import replay, waterfall_liquidator
from solvent.realtime.views import replay_json

from .conftest import MARKET

pytestmark = pytest.mark.slow

INSTRUMENTS = [
    "BTC-PERPETUAL",
    "BTC_USDC-PERPETUAL",
    "BTC-27MAR26-80000-P",
    "BTC-27MAR26-90000-P",
    "BTC-27MAR26-100000-C",
    "BTC-27MAR26-120000-C",
]

position = st.tuples(
    st.sampled_from(INSTRUMENTS),
    st.floats(-2.0, 2.0, allow_nan=False).filter(lambda q: abs(q) > 0.01),
)
unit = st.tuples(
    st.floats(0.0, 0.5),  # BTC
    st.floats(0.0, 20_000.0),  # USDC
    st.lists(position, min_size=1, max_size=3),
    st.booleans(),  # with a cross sub-account holding its last position
)


def _book(drawn: list[Any]) -> dict[str, Any]:
    accounts: list[dict[str, Any]] = [
        {"account": "saver", "collateral": {"USDC": 2_000_000.0, "BTC": 20.0}, "positions": []}
    ]
    for i, (btc, usdc, positions, cross) in enumerate(drawn):
        held = [{"instrument": n, "quantity": round(q, 3)} for n, q in positions]
        own, sub = (held[:-1], held[-1:]) if cross and len(held) > 1 else (held, [])
        accounts.append(
            {
                "account": f"u{i}",
                "collateral": {"BTC": round(btc, 4), "USDC": round(usdc, 2)},
                "positions": own,
            }
        )
        if sub:
            accounts.append(
                {
                    "account": f"u{i}-sub",
                    "parent": f"u{i}",
                    "mode": "cross",
                    "collateral": {},
                    "positions": sub,
                }
            )
    return {"accounts": accounts}


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    drawn=st.lists(unit, min_size=1, max_size=5),
    moves=st.lists(st.floats(0.5, 1.3), min_size=1, max_size=2),
)
def test_every_planned_step_books(drawn: list[Any], moves: list[float]) -> None:
    accounts, _ = parse_account_book(json.loads(json.dumps(_book(drawn))))
    market = parse_market(json.loads(json.dumps(MARKET)))
    _assert_books(accounts, market, moves, 20_000.0, waterfall_liquidator("partial"))


def _assert_books(
    accounts: AccountBook,
    market: MarketSnapshot,
    moves: list[float],
    fund: float,
    liquidator: Callable[[Ledger], Any],
) -> None:
    """Replay ``accounts`` along ``moves`` (the BTC and ETH indexes times each factor) with ``liquidator``:
    the audit passes, no user balance and no balance of the insurance fund is negative, and
    every asset's total over all accounts is zero (``@external`` balances what was deposited)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "path.csv"
        moved = [a for a in ("BTC", "ETH") if a in market.index]
        rows = [
            f"2026-01-05T08:{m + 1:02d}:00Z,"
            + ",".join(f"{market.index[a] * x:.2f}" for a in moved)
            for m, x in enumerate(moves)
        ]
        path.write_text("time," + ",".join(moved) + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
        url = f"sqlite:///{Path(folder) / 'cash.db'}"
        out = replay_json(
            replay(
                accounts,
                market,
                path=path,
                db=url,
                insurance_fund_usd=fund,
                liquidator=liquidator,
            )
        )
        assert out["audit"]["ok"] is True, out["audit"]["problems"]
        ledger = Ledger.open(url)
        try:
            balances = ledger.cached_balances()
            negative = {
                k: v
                for k, v in balances.items()
                if v < 0 and (k[0] == INSURANCE or not k[0].startswith("@"))
            }
            assert not negative
            total: dict[str, int] = {}
            for (_, asset), units in balances.items():
                total[asset] = total.get(asset, 0) + units
            assert all(v == 0 for v in total.values()), total  # @external balances the rest
        finally:
            ledger.close()


def test_a_bankrupt_unit_without_collateral_books_its_close() -> None:
    test_every_planned_step_books.hypothesis.inner_test(  # type: ignore[attr-defined]
        drawn=[(0.0, 0.0, [("BTC-PERPETUAL", -1.0)], False)], moves=[1.25]
    )


# ------------------------------------------------------------------------------------------
# books of options with entry premiums (the option strategy of tests/liquidation), booked
# ------------------------------------------------------------------------------------------


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    drawn=option_accounts,
    moves=st.lists(st.floats(0.6, 1.4), min_size=1, max_size=2),
    fund=st.one_of(st.just(0.0), st.floats(0.0, 5_000.0)),
    ranking=st.sampled_from(["bitmex", "binance", "hyperliquid"]),
    basis=st.sampled_from(["profit", "equity"]),
)
def test_every_option_outcome_books(
    drawn: list[Any], moves: list[float], fund: float, ranking: str, basis: str
) -> None:
    """Bankrupt short options bought back, the fund's covers from the fees of the same run,
    ADL fills of options and socialized charges: every step the planner makes is booked, the
    audit passes, nobody (the fund included) ends negative and nothing is created."""
    config = LiquidationConfig(adl_ranking=ranking, socialize_basis=basis)
    # one position per instrument and account (the seeding books each as a trade at its entry
    # price: a second one in the opposite direction would realize a loss before the run)
    drawn = [
        (usdc, btc, list({name: (name, q, where) for name, q, where in held[::-1]}.values()))
        for usdc, btc, held in drawn
    ]

    def liquidator(ledger: Ledger) -> WaterfallLiquidator:
        return WaterfallLiquidator(ledger, policy="partial", config=config)

    _assert_books(_option_book(drawn), _option_market(100_000.0), moves, fund, liquidator)
