"""JSON views: a whole run rendered from arrays equals each account's report rendered alone, in
the docs/formats.md 3 shape; ``solvent price``'s view keeps its shape."""

from __future__ import annotations

import json

import pytest

from helpers import market, portfolio
from solvent.engine.margin import margin_portfolios
from solvent.engine.pricing import price_instruments
from solvent.engine.views import margin_json, pool_json, priced_to_json, report_to_json
from solvent.portfolio.portfolio import Portfolio, Position, SubAccountMode

CALL = ("BTC-27MAR26-110000-C", -1.0)


def _book() -> list[Portfolio]:
    return [
        portfolio("p", CALL, ("BTC-PERPETUAL", 0.3), USDC=50_000.0, BTC=0.2),
        Portfolio(
            "c", {"BTC": 0.1}, (Position("BTC-27MAR26-90000-P", 1.0),), "p", SubAccountMode.CROSS
        ),
        Portfolio(
            "i", {"USDC": 100.0}, (Position("ETH-PERPETUAL", 1.0),), "p", SubAccountMode.ISOLATED
        ),
        portfolio("flat", USDC=1_000.0),
        portfolio("broke", CALL, USDC=-10.0),
    ]


@pytest.mark.parametrize("explain", [False, True])
@pytest.mark.parametrize("model", ["standard", "deribit-pm"])
def test_run_view_equals_account_views(model: str, explain: bool) -> None:
    run = margin_portfolios(_book(), market(), model, explain=explain)
    whole = margin_json(run, explain)
    assert whole == {"accounts": [report_to_json(r, explain) for r in run]}
    json.dumps(whole, allow_nan=False)  # plain JSON, no numpy objects needed
    p, c, i, flat, broke = whole["accounts"]
    assert p["group_members"] == c["group_members"] == ["p", "c"]
    assert c["margin_group"] == "p" and c["equity_usd"] == p["equity_usd"]
    assert "margin_group" not in i and "margin_group" not in flat
    assert broke["margin_ratio"] is None and broke["equity_usd"] < 0
    assert flat["margin_ratio"] == 0.0
    if explain:
        assert all("scenarios" in pool for pool in p["pools"])
    single = margin_json(margin_portfolios(_book()[3:4], market(), model), is_book=False)
    assert single["account"] == "flat" and "accounts" not in single


def test_pool_view_optional_fields() -> None:
    (report,) = margin_portfolios([portfolio("a", CALL)], market(), "standard")
    pool = report.margin.pools[0]
    assert set(pool_json(pool)) >= {"currency", "initial_margin", "maintenance_margin"}
    assert {"scenarios", "contributions", "worst_scenario"} <= set(pool_json(pool, explain=True))


def test_price_view_shape() -> None:
    m = market()
    out = priced_to_json("2026-01-05T08:00:00Z", price_instruments(m))
    assert out["as_of"] == "2026-01-05T08:00:00Z"
    assert {r["name"] for r in out["instruments"]} == set(m.quotes)
    perp = next(r for r in out["instruments"] if r["name"] == "BTC-PERPETUAL")
    assert perp["mark_iv"] is None
