"""Invariants of a liquidation run, with hypothesis over random books and market moves:
conservation per asset, a fund that never goes negative, healthy accounts never liquidated,
fees within the equity left, and partial liquidations that stop at their target."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solvent.engine.liquidation import liquidate_accounts
from solvent.liquidation.config import LiquidationConfig, Target
from solvent.liquidation.outcome import Action, StepKind
from solvent.portfolio.account_book import parse_account_book

from .conftest import liquidation_market

INSTRUMENTS = ["BTC_USDC-PERPETUAL", "BTC-PERPETUAL", "ETH_USDC-PERPETUAL", "BTC-27MAR26-110000-C"]

position = st.tuples(
    st.sampled_from(INSTRUMENTS),
    st.floats(-8.0, 8.0, allow_nan=False).filter(lambda q: abs(q) > 1e-3),
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


def _book(drawn: list[tuple[float, float, list[tuple[str, float]]]]) -> Any:
    raw = {
        "accounts": [
            {
                "account": f"a{i}",
                "collateral": {"USDC": round(usdc, 2), "BTC": round(btc, 4)},
                "positions": [{"instrument": n, "quantity": round(q, 3)} for n, q in positions],
            }
            for i, (usdc, btc, positions) in enumerate(drawn)
        ]
    }
    return parse_account_book(raw)[0]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    drawn=accounts,
    btc=st.floats(70_000.0, 130_000.0),
    policy=st.sampled_from(["partial", "full"]),
    target=st.sampled_from(list(Target)),
    fund=st.floats(0.0, 20_000.0),
    books=st.booleans(),
)
def test_liquidation_invariants(
    drawn: list[tuple[float, float, list[tuple[str, float]]]],
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
            assert covered <= a.deficit_usd + 1e-6
