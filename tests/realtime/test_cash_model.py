"""One cash model for the liquidation planner and the ledger, over random books: whatever the
planner decides on a tick, the ledger books it whole (no step refused for cash the unit lacks),
no user balance goes below zero, the audit passes and nothing is created (every asset's total
over all accounts is what was deposited)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solvent.ledger.store import Ledger
from solvent.market.snapshot import parse_market
from solvent.portfolio.account_book import parse_account_book
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
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    drawn=st.lists(unit, min_size=1, max_size=5),
    moves=st.lists(st.floats(0.5, 1.3), min_size=1, max_size=2),
)
def test_every_planned_step_books(drawn: list[Any], moves: list[float]) -> None:
    accounts, _ = parse_account_book(json.loads(json.dumps(_book(drawn))))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "path.csv"
        rows = [
            f"2026-01-05T08:{m + 1:02d}:00Z,{100_000.0 * x:.2f},{4_000.0 * x:.2f}"
            for m, x in enumerate(moves)
        ]
        path.write_text("time,BTC,ETH\n" + "\n".join(rows) + "\n", encoding="utf-8")
        url = f"sqlite:///{Path(folder) / 'cash.db'}"
        out = replay_json(
            replay(
                accounts,
                parse_market(json.loads(json.dumps(MARKET))),
                path=path,
                db=url,
                insurance_fund_usd=20_000.0,
                liquidator=waterfall_liquidator("partial"),
            )
        )
        assert out["audit"]["ok"] is True, out["audit"]["problems"]
        ledger = Ledger.open(url)
        try:
            balances = ledger.cached_balances()
            negative = {k: v for k, v in balances.items() if v < 0 and not k[0].startswith("@")}
            assert not negative
            total: dict[str, int] = {}
            for (_, asset), units in balances.items():
                total[asset] = total.get(asset, 0) + units
            assert all(v == 0 for v in total.values()), total  # @external balances the rest
        finally:
            ledger.close()


@pytest.mark.xfail(
    strict=True,
    reason=(
        "known hole (issue 10): a bankrupt unit with no collateral, short 1 BTC-PERPETUAL, "
        "is closed at a bankruptcy price (100,062.5) the ledger values against the position's "
        "average price, asking 0.00012493 BTC it does not hold; found by a random run of the test "
        "above"
    ),
)
def test_a_bankrupt_unit_without_collateral_books_its_close() -> None:
    test_every_planned_step_books.hypothesis.inner_test(  # type: ignore[attr-defined]
        drawn=[(0.0, 0.0, [("BTC-PERPETUAL", -1.0)], False)], moves=[1.25]
    )
