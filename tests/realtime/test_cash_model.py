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
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from liquidation.test_invariants import _option_book, _option_market, option_accounts
from solvent.ledger.model import EXTERNAL, INSURANCE, VENUE, Reason, transfer
from solvent.ledger.store import Ledger
from solvent.liquidation.config import LiquidationConfig
from solvent.market.snapshot import MarketSnapshot, parse_market
from solvent.portfolio.account_book import AccountBook, parse_account_book
from solvent.realtime.liquidation import WaterfallLiquidator
from solvent.realtime.replay import replay, waterfall_liquidator
from solvent.realtime.seed import seed_ledger
from solvent.realtime.views import replay_json

from .conftest import MARKET

pytestmark = pytest.mark.slow

CALL_120K = "BTC-27MAR26-120000-C"
PUT_90K = "BTC-27MAR26-90000-P"
PUT_80K = "BTC-27MAR26-80000-P"
CALL = "BTC-27MAR26-110000-C"
BTC_PUT = "BTC-27MAR26-100000-P"
USDC_PUT = "BTC_USDC-27MAR26-90000-P"

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
@example(  # a cross member's call sale pays its parent's put buy-backs (booked member by member)
    drawn=[
        (
            0.0538,
            5676.15,
            [("BTC-27MAR26-80000-P", -1.752), ("BTC-PERPETUAL", 0.703), (CALL_120K, 1.685)],
            True,
        ),
        (0.4667, 6201.62, [("BTC_USDC-PERPETUAL", 1.051)], True),
        (0.4011, 0.0, [(PUT_90K, -0.752), (PUT_90K, -1.595), ("BTC_USDC-PERPETUAL", 1.011)], True),
    ],
    moves=[0.95],
)
@example(  # a bankrupt cross unit's USDC leg paid by converting BTC: rounding worth a satoshi
    drawn=[
        (
            0.0,
            0.0,
            [("BTC-27MAR26-80000-P", -1.861), (CALL_120K, 1.0), ("BTC-PERPETUAL", 0.568)],
            False,
        ),
        (
            0.0,
            0.0,
            [(CALL_120K, -1.539), ("BTC-PERPETUAL", 1.228), ("BTC_USDC-PERPETUAL", 2.0)],
            True,
        ),
        (0.005, 11205.55, [("BTC-27MAR26-80000-P", 1.345)], True),
    ],
    moves=[0.69354916],
)
@example(  # a unit whose cash is negative (its perpetual's loss unsettled) closes nothing at 0 cost
    drawn=[
        (
            0.5,
            0.0,
            [("BTC-27MAR26-80000-P", -0.347), ("BTC-PERPETUAL", 1.739), (PUT_80K, 1.259)],
            True,
        )
    ],
    moves=[0.72495201, 0.80680665],
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
    """Replay ``accounts`` along ``moves`` (the BTC and ETH indexes times each factor) with
    ``liquidator``: the audit passes, no user balance and no balance of the insurance fund is
    negative, and every asset's total over all accounts is zero (``@external`` balances what
    was deposited)."""
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
        ledger = Ledger.open(url)
        try:  # a venue deep enough for any conversion (the seeding funds it by notional)
            seed_ledger(ledger, accounts, market, "standard", insurance_fund_usd=fund)
            for asset, units in (("BTC", 10**11), ("USDC", 10**13)):
                ledger.post(transfer(EXTERNAL, VENUE, asset, units, Reason.DEPOSIT, "deep"))
        finally:
            ledger.close()
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
@example(  # a winner's long put deleveraged against one unit pays its charge for another
    drawn=[
        (1.1, 0.25, [(USDC_PUT, -4.782, 0.751)]),
        (76187.29, 0.005, [("BTC_USDC-PERPETUAL", -0.169, 0.666)]),
        (
            25578.6,
            0.1593,
            [("BTC_USDC-PERPETUAL", 5.271, 0.44), (BTC_PUT, -3.176, 0.311), (CALL, 1.058, 0.0)],
        ),
        (0.0, 0.0, [(BTC_PUT, -0.001, 0.253), (USDC_PUT, 1.349, 0.0)]),
        (0.0, 0.0358, [(CALL, 1.058, 0.0), (BTC_PUT, 1.56, 1.0), (CALL, 3.781, 0.222)]),
        (9052.33, 0.1452, [(BTC_PUT, 1.512, 0.963), (USDC_PUT, -5.413, 0.423)]),
    ],
    moves=[0.6],
    fund=0.0,
    ranking="bitmex",
    basis="profit",
)
@example(  # a socialized charge into the unit paid from the payer's ADL fill
    drawn=[
        (0.0, 0.0, [(BTC_PUT, 2.59, 0.102), (USDC_PUT, 4.814, 0.0)]),
        (3946.29, 0.2694, [(CALL, -1.651, 0.305)]),
        (
            0.0,
            0.0,
            [
                (BTC_PUT, -0.625, 0.4),
                ("BTC_USDC-PERPETUAL", 3.508, 0.333),
                (USDC_PUT, -3.479, 0.013),
            ],
        ),
        (0.4, 0.2084, [(BTC_PUT, -0.001, 0.0)]),
    ],
    moves=[0.6, 0.6],
    fund=0.0,
    ranking="hyperliquid",
    basis="profit",
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


def test_the_fund_covers_from_the_coins_it_holds_on_the_ledger() -> None:
    """``@insurance`` holds 0.1 BTC and no USDC (fees it collected in coin): a bankruptcy's
    USDC-settled loss (about 3,000 USD) is covered from that BTC, nothing is socialized over
    ``saver`` (the planner used to see only the fund's USDC: an empty fund)."""
    accounts, _ = parse_account_book(
        {
            "accounts": [
                {"account": "saver", "collateral": {"USDC": 1_000.0}, "positions": []},
                {
                    "account": "lev-usdc",
                    "collateral": {"USDC": 1_000.0},
                    "positions": [{"instrument": "BTC_USDC-PERPETUAL", "quantity": 1.0}],
                },
            ]
        }
    )
    market = parse_market(json.loads(json.dumps(MARKET)))
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'fund.db'}"
        ledger = Ledger.open(url)
        try:
            seed_ledger(ledger, accounts, market, "standard")
            ledger.post(transfer(EXTERNAL, INSURANCE, "BTC", 10_000_000, Reason.DEPOSIT, "fund"))
        finally:
            ledger.close()
        path = Path(folder) / "path.csv"
        path.write_text("time,BTC,ETH\n2026-01-05T08:01:00Z,96000,4000\n", encoding="utf-8")
        out = replay_json(
            replay(
                accounts,
                market,
                path=path,
                db=url,
                liquidator=waterfall_liquidator("partial"),
            )
        )
        assert out["audit"]["ok"] is True and out["bankrupt"] == 1
        assert out["socialized_loss_usd"] == 0.0
        ledger = Ledger.open(url)
        try:
            assert ledger.balances("saver") == {"USDC": 1_000_000_000}
            fund = ledger.balances(INSURANCE)
            assert 0 < fund["BTC"] < 10_000_000 and fund.get("USDC", 0) == 0
        finally:
            ledger.close()
