"""Invariants of the Derive models, hand-computed components, input errors and the array builder."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solvent.errors import SolventInputError
from solvent.margin.derive import (
    DeriveCollateral,
    DeriveOptions,
    DerivePortfolio,
    load_pmrm2_params,
    market_from_arrays,
    pmrm1_margin,
    pmrm2_margin,
    srm_margin,
)
from solvent.margin.derive._core import naked_shorts
from solvent.margin.derive.portfolio import DeriveMarket, DeriveSRMPortfolio
from solvent.margin.derive.vectors import pmrm1_case, pmrm2_case, srm_case

DATA = Path(__file__).resolve().parents[2] / "data" / "derive"


def _records(name: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (DATA / name).read_text().splitlines() if x.strip()]


PM2 = {r["id"]: r for r in _records("derive_pmrm2_portfolio_cases.jsonl")}
PM1 = _records("derive_pmrm1_cases.jsonl")
SRM = _records("derive_srm_cases.jsonl")
# Rich PMRM_2 cases: options over several expiries, perps, collaterals, low confidences.
RICH = ["derive-pmrm2-016", "derive-pmrm2-033", "derive-pmrm2-061", "derive-pmrm2-062"]


def _scale_market(m: DeriveMarket, k: float) -> DeriveMarket:
    o = m.options
    return dataclasses.replace(
        m,
        perp_position=m.perp_position * k,
        perp_value=m.perp_value * k,
        base_position=m.base_position * k,
        options=dataclasses.replace(o, amount=o.amount * k),
    )


def _scale(p: DerivePortfolio, k: float) -> DerivePortfolio:
    return dataclasses.replace(
        p,
        market=_scale_market(p.market, k),
        cash=p.cash * k,
        collaterals=tuple(dataclasses.replace(c, amount=c.amount * k) for c in p.collaterals),
    )


@settings(max_examples=15, deadline=None)
@given(case=st.sampled_from(RICH), k=st.floats(0.05, 20.0))
def test_pmrm2_is_positively_homogeneous(case: str, k: float) -> None:
    """Scaling every balance by k > 0 scales every scenario P&L, IM, MM and MtM by k."""
    portfolio, params = pmrm2_case(PM2[case])
    a = pmrm2_margin(portfolio, params)
    b = pmrm2_margin(_scale(portfolio, k), params)
    np.testing.assert_allclose(b.scenario_pnl, k * a.scenario_pnl, rtol=1e-9, atol=1e-9)
    for x, y in ((a.im, b.im), (a.mm, b.mm), (a.mtm, b.mtm)):
        assert y == pytest.approx(k * x, rel=1e-9, abs=1e-9)
    assert a.worst_index == b.worst_index


@settings(max_examples=10, deadline=None)
@given(idx=st.integers(0, len(SRM) - 1), k=st.floats(0.05, 20.0))
def test_srm_is_positively_homogeneous(idx: int, k: float) -> None:
    portfolio, params = srm_case(SRM[idx])
    scaled = DeriveSRMPortfolio(
        markets=tuple(_scale_market(m, k) for m in portfolio.markets),
        cash=portfolio.cash * k,
        stable_price=portfolio.stable_price,
    )
    a, b = srm_margin(portfolio, params), srm_margin(scaled, params)
    assert b.im == pytest.approx(k * a.im, rel=1e-9, abs=1e-9)
    assert b.mm == pytest.approx(k * a.mm, rel=1e-9, abs=1e-9)


@settings(max_examples=15, deadline=None)
@given(
    case=st.sampled_from(RICH),
    strike=st.floats(100.0, 300_000.0),
    is_call=st.booleans(),
    existing_expiry=st.booleans(),
)
def test_zero_amount_option_changes_nothing(
    case: str, strike: float, is_call: bool, existing_expiry: bool
) -> None:
    portfolio, params = pmrm2_case(PM2[case])
    m = portfolio.market
    o = m.options
    e = int(o.expiry_index[0])
    k = float(o.strike[0]) if existing_expiry else strike
    opts = DeriveOptions.from_columns(
        np.append(o.expiry_index, e),
        np.append(o.strike, k),
        np.append(o.is_call, is_call),
        np.append(o.amount, 0.0),
        np.append(o.vol, 0.6),
    )
    a = pmrm2_margin(portfolio, params)
    b = pmrm2_margin(
        dataclasses.replace(portfolio, market=dataclasses.replace(m, options=opts)), params
    )
    np.testing.assert_allclose(b.scenario_pnl, a.scenario_pnl, rtol=1e-12, atol=1e-9)
    assert (b.im, b.mm) == pytest.approx((a.im, a.mm), rel=1e-12, abs=1e-9)


def test_naked_shorts_net_calls_and_puts_by_strike() -> None:
    # expiry 0: K=100 short 2 calls + long 1 put -> 1; K=200 two shorts (1 + 3) -> 4;
    # K=300 long only -> 0. expiry 1: K=100 short put 5 -> 5.
    opts = DeriveOptions.from_columns(
        [0, 0, 0, 0, 0, 1],
        [100.0, 100.0, 200.0, 200.0, 300.0, 100.0],
        [True, False, True, False, True, False],
        [-2.0, 1.0, -1.0, -3.0, 4.0, -5.0],
        [0.5] * 6,
    )
    np.testing.assert_array_equal(naked_shorts(opts, 2), [5.0, 5.0])


def test_perp_only_closed_form() -> None:
    """A lone perp: worst = min over scenarios of pos (s - 1) perp_price d, by hand."""
    params = load_pmrm2_params("derive-pm")
    pos, price, spot = -2.0, 3050.0, 3000.0
    market = DeriveMarket(spot=spot, perp_position=pos, perp_price=price, perp_value=25.0)
    res = pmrm2_margin(DerivePortfolio(market=market, cash=100.0), params)
    pnl = [pos * (s.spot_shock - 1) * price * s.dampening for s in params.scenarios]
    worst = min(pnl)
    mm_cont = abs(pos) * spot * params.other.mm_perp_percent
    im_add = abs(pos) * spot * params.other.im_perp_percent
    assert res.mm == pytest.approx(0.8 * worst - mm_cont + 125.0, rel=1e-12)
    assert res.im == pytest.approx(worst - mm_cont - im_add + 125.0, rel=1e-12)
    assert res.worst_index == pnl.index(worst)
    assert res.im_requirement == pytest.approx(125.0 - res.im)


def test_builder_reproduces_fixture_case() -> None:
    """market_from_arrays gives the same market (and margins) as the fixture adapter."""
    rec = PM2["derive-pmrm2-062"]
    portfolio, params = pmrm2_case(rec)
    inputs = rec["inputs"]
    exp_by_sec = {e["sec_to_expiry"]: e for e in inputs["expiries"]}
    rows = inputs["options_sec_strike_type_amount_vol"]
    kind = ["option"] * len(rows) + ["perpetual"]
    sec = [r[0] for r in rows] + [0.0]
    market = market_from_arrays(
        spot=inputs["spot"],
        kind=kind,
        expiry_sec=sec,
        strike=[r[1] for r in rows] + [0.0],
        is_call=[r[2] == "C" for r in rows] + [False],
        quantity=[r[3] for r in rows] + [inputs["perp_position"]],
        forward=[exp_by_sec[r[0]]["forward"] for r in rows] + [0.0],
        iv=[r[4] for r in rows] + [0.0],
        rate=[exp_by_sec[r[0]]["rate"] for r in rows] + [0.0],
        forward_confidence=[exp_by_sec[r[0]]["forward_conf"] for r in rows] + [1.0],
        vol_confidence=[exp_by_sec[r[0]]["vol_conf"] for r in rows] + [1.0],
        perp_mark=inputs["perp_price"],
        perp_value=inputs["perp_value_unsettled"],
        spot_confidence=inputs["spot_conf"],
        perp_confidence=inputs["perp_conf"],
    )
    res = pmrm2_margin(dataclasses.replace(portfolio, market=market), params)
    assert res.im == pytest.approx(rec["expected"]["IM"], rel=1e-8)
    assert res.mm == pytest.approx(rec["expected"]["MM"], rel=1e-8)
    np.testing.assert_allclose(res.scenario_pnl, rec["expected"]["scenario_pnls"], rtol=1e-8)


def test_builder_splits_the_forward_in_the_settlement_window() -> None:
    m = market_from_arrays(
        spot=1500.0,
        kind=["option"],
        expiry_sec=[900.0],
        strike=[1500.0],
        is_call=[True],
        quantity=[-1.0],
        forward=[1500.0],
        iv=[1.0],
    )
    e = m.expiries[0]
    assert (e.forward_fixed, e.forward_variable) == (750.0, 750.0)
    with pytest.raises(SolventInputError) as err:
        market_from_arrays(
            spot=1.0,
            kind=["future"],
            expiry_sec=[1.0],
            strike=[1.0],
            is_call=[True],
            quantity=[1.0],
            forward=[1.0],
            iv=[1.0],
        )
    assert err.value.field == "kind[0]"


def test_input_errors_name_the_field() -> None:
    portfolio, params = pmrm2_case(PM2["derive-pmrm2-005"])
    bad = dataclasses.replace(portfolio, collaterals=(DeriveCollateral("DOGE", 1.0, 0.1),))
    with pytest.raises(SolventInputError) as err:
        pmrm2_margin(bad, params)
    assert err.value.field == "collaterals[0].name"
    with pytest.raises(SolventInputError) as err:
        pmrm2_margin(dataclasses.replace(portfolio, market=DeriveMarket(spot=-1.0)), params)
    assert err.value.field == "market.spot"
    with pytest.raises(SolventInputError) as err:
        pmrm2_margin(
            dataclasses.replace(portfolio, market=DeriveMarket(spot=1.0, base_position=1.0)),
            params,
        )
    assert err.value.field == "market.base_position"
    opts = DeriveOptions.from_columns([3], [100.0], [True], [1.0], [0.5])
    with pytest.raises(SolventInputError) as err:
        pmrm2_margin(
            dataclasses.replace(portfolio, market=DeriveMarket(spot=1.0, options=opts)), params
        )
    assert err.value.field == "market.options[0].expiry_index"
    with pytest.raises(SolventInputError) as err:
        pmrm2_margin(dataclasses.replace(portfolio, stable_price=0.0), params)
    assert err.value.field == "stable_price"


def test_pmrm1_and_pmrm2_agree_on_the_pieces_they_share() -> None:
    """A lone short call: PMRM v1 (discount 1) and PMRM_2 both start from Black-76 MtM."""
    portfolio, params = pmrm1_case(PM1[44])
    res = pmrm1_margin(portfolio, params)
    assert res.components["option_mtm"] == pytest.approx(-79.37158518905994, rel=1e-12)
    assert res.mtm == pytest.approx(PM1[44]["expected"]["portfolio_mtm_incl_cash"], abs=1e-10)
