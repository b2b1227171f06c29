"""Hand-computed SPAN cases, one component at a time (amounts in USD)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from span_helpers import FUTURE_SHAPE, future, option

from solvent.margin.span import parse_span_params, span_book, span_margin


def _params(ccs: list[dict[str, Any]], inter: list[dict[str, Any]] | None = None) -> Any:
    return parse_span_params(
        {"currency": "USD", "combined_commodities": ccs, "inter_spreads": inter or []}
    )


def _cc(result: Any, code: str) -> Any:
    return next(cc for cc in result.combined_commodities if cc.code == code)


# ---- scan risk ------------------------------------------------------------------------------


def test_scan_risk_is_the_largest_loss_and_zero_when_every_scenario_gains() -> None:
    gains = [-1.0 - i for i in range(16)]
    params = _params([{"code": "O", "products": [option("O-C", gains, delta=0.3)]}])
    result = span_margin(params, np.array([2.0]))
    assert _cc(result, "O").scan_risk == 0.0
    assert result.requirement == 0.0
    short = span_margin(params, np.array([-2.0]))
    assert _cc(short, "O").scan_risk == pytest.approx(2 * 16.0)  # scenario 16 is the worst
    assert _cc(short, "O").worst_scenario == 15


# ---- intra-commodity (tier) spreads --------------------------------------------------------


def _tiers(spreads: list[dict[str, Any]]) -> Any:
    products = [future("T1", 1000, tier=1), future("T2", 1000, tier=2), future("T3", 1000, tier=3)]
    return _params([{"code": "T", "products": products, "intra_spreads": spreads}])


def test_intra_spreads_follow_the_listed_priority() -> None:
    qty = np.array([3.0, -1.0, -4.0])  # tier deltas +3, -1, -4
    first_12 = _tiers(
        [{"tier_a": 1, "tier_b": 2, "charge": 100}, {"tier_a": 1, "tier_b": 3, "charge": 40}]
    )
    # (1,2): 1 spread -> 100, tier 1 left +2; (1,3): 2 spreads -> 80
    assert _cc(span_margin(first_12, qty), "T").intra_spread_charge == pytest.approx(180.0)
    first_13 = _tiers(
        [{"tier_a": 1, "tier_b": 3, "charge": 40}, {"tier_a": 1, "tier_b": 2, "charge": 100}]
    )
    # (1,3): 3 spreads -> 120, tier 1 exhausted; (1,2): none
    assert _cc(span_margin(first_13, qty), "T").intra_spread_charge == pytest.approx(120.0)


def test_intra_spread_forms_either_way_round_and_never_between_same_signs() -> None:
    params = _tiers([{"tier_a": 1, "tier_b": 2, "charge": 100}])
    assert _cc(span_margin(params, np.array([-2.0, 5.0, 0.0])), "T").intra_spread_charge == 200.0
    assert _cc(span_margin(params, np.array([2.0, -5.0, 0.0])), "T").intra_spread_charge == 200.0
    assert _cc(span_margin(params, np.array([1.0, 1.0, 0.0])), "T").intra_spread_charge == 0.0


def test_intra_spread_with_fractional_option_deltas() -> None:
    arr = [10.0] * 16
    products = [option("T1-C", arr, delta=0.5, tier=1), future("T2", 1000, tier=2)]
    params = _params(
        [
            {
                "code": "T",
                "products": products,
                "intra_spreads": [{"tier_a": 1, "tier_b": 2, "charge": 60}],
            }
        ]
    )
    # tier 1 delta 4 x 0.5 = +2, tier 2 delta -1.5: 1.5 spreads x 60
    result = _cc(span_margin(params, np.array([4.0, -1.5])), "T")
    assert result.intra_spread_charge == pytest.approx(90.0)


# ---- inter-commodity spreads ---------------------------------------------------------------


def _abc(prio_ab: int, prio_ac: int) -> Any:
    ccs = [
        {"code": "A", "products": [future("A1", 1000)]},
        {"code": "B", "products": [future("B1", 2000)]},
        {"code": "C", "products": [future("C1", 500)]},
    ]
    inter = [
        {
            "priority": prio_ab,
            "credit_rate": 0.5,
            "legs": [{"cc": "A", "delta_ratio": 1}, {"cc": "B", "delta_ratio": 1}],
        },
        {
            "priority": prio_ac,
            "credit_rate": 0.6,
            "legs": [{"cc": "A", "delta_ratio": 1}, {"cc": "C", "delta_ratio": 1}],
        },
    ]
    return _params(ccs, inter)


def test_inter_spreads_by_priority() -> None:
    qty = np.array([2.0, -1.0, -2.0])  # WPR: A 1000, B 2000, C 500
    ab_first = span_margin(_abc(1, 2), qty)
    # A-B: 1 spread: A 1 x 1000 x .5 = 500, B 2000 x .5 = 1000; A-C: 1 spread: A 600, C 300
    assert _cc(ab_first, "A").inter_spread_credit == pytest.approx(1100.0)
    assert _cc(ab_first, "B").inter_spread_credit == pytest.approx(1000.0)
    assert _cc(ab_first, "C").inter_spread_credit == pytest.approx(300.0)
    assert ab_first.requirement == pytest.approx(2000 - 1100 + 2000 - 1000 + 1000 - 300)
    ac_first = span_margin(_abc(2, 1), qty)
    # A-C: 2 spreads: A 2 x 1000 x .6 = 1200, C 2 x 500 x .6 = 600; A exhausted, no A-B
    assert _cc(ac_first, "A").inter_spread_credit == pytest.approx(1200.0)
    assert _cc(ac_first, "B").inter_spread_credit == 0.0
    assert _cc(ac_first, "C").inter_spread_credit == pytest.approx(600.0)


def test_inter_spread_delta_ratios_and_signs() -> None:
    ccs = [
        {"code": "A", "products": [future("A1", 1000)]},
        {"code": "B", "products": [future("B1", 3000)]},
    ]
    inter = [
        {
            "priority": 1,
            "credit_rate": 0.4,
            "legs": [{"cc": "A", "delta_ratio": 2}, {"cc": "B", "delta_ratio": 1}],
        }
    ]
    params = _params(ccs, inter)
    # A +5, B -3: spreads = min(5/2, 3/1) = 2.5; A uses 5, B uses 2.5
    res = span_margin(params, np.array([5.0, -3.0]))
    assert _cc(res, "A").inter_spread_credit == pytest.approx(2.5 * 2 * 1000 * 0.4)
    assert _cc(res, "B").inter_spread_credit == pytest.approx(2.5 * 1 * 3000 * 0.4)
    # reversed signs form the same spreads; equal signs none
    rev = span_margin(params, np.array([-5.0, 3.0]))
    assert rev.requirement == pytest.approx(res.requirement)
    same = span_margin(params, np.array([5.0, 3.0]))
    assert same.requirement == pytest.approx(5 * 1000 + 3 * 3000)


def test_three_leg_spread_with_sides_and_leg_rates() -> None:
    # Series 3 crush (Solomon Exam Prep 3.4.4.1): soybeans $2100 at 55 %, meal $1800 and oil
    # $725 at 70 %, 1:1:1, long beans vs short products: 2100 x .45 + (1800 + 725) x .30
    ccs = [
        {"code": "S", "products": [future("S1", 2100)]},
        {"code": "SM", "products": [future("SM1", 1800)]},
        {"code": "BO", "products": [future("BO1", 725)]},
    ]
    inter = [
        {
            "priority": 1,
            "credit_rate": 0.70,
            "legs": [
                {"cc": "S", "delta_ratio": 1, "side": "A", "credit_rate": 0.55},
                {"cc": "SM", "delta_ratio": 1, "side": "B"},
                {"cc": "BO", "delta_ratio": 1, "side": "B"},
            ],
        }
    ]
    params = _params(ccs, inter)
    assert span_margin(params, np.array([1.0, -1.0, -1.0])).requirement == pytest.approx(1702.5)
    # a B leg on the wrong side: no spread
    assert span_margin(params, np.array([1.0, -1.0, 1.0])).requirement == pytest.approx(4625.0)


def test_weighted_price_risk_removes_time_risk() -> None:
    # an option CC: scenarios 1/2 lose 30 and 10 per unit (time risk 20), worst loss 520
    arr = [30.0, 10.0] + [500.0 * x for x in FUTURE_SHAPE[2:14]] + [20.0, 520.0]
    ccs = [
        {"code": "O", "products": [option("O1", arr, delta=0.5)]},
        {"code": "F", "products": [future("F1", 1000)]},
    ]
    inter = [
        {
            "priority": 1,
            "credit_rate": 0.5,
            "legs": [{"cc": "O", "delta_ratio": 1}, {"cc": "F", "delta_ratio": 1}],
        }
    ]
    res = _cc(span_margin(_params(ccs, inter), np.array([2.0, -1.0])), "O")
    assert res.scan_risk == pytest.approx(1040.0)
    assert res.time_risk == pytest.approx(40.0)
    assert res.weighted_price_risk == pytest.approx((1040.0 - 40.0) / 1.0)
    assert res.inter_spread_credit == pytest.approx(1 * 1 * 1000.0 * 0.5)


def test_zero_net_delta_gets_no_credit() -> None:
    ccs = [
        {"code": "A", "products": [future("A1", 1000, tier=1), future("A2", 1200, tier=2)]},
        {"code": "B", "products": [future("B1", 1000)]},
    ]
    inter = [
        {
            "priority": 1,
            "credit_rate": 0.9,
            "legs": [{"cc": "A", "delta_ratio": 1}, {"cc": "B", "delta_ratio": 1}],
        }
    ]
    res = span_margin(_params(ccs, inter), np.array([1.0, -1.0, -1.0]))
    assert _cc(res, "A").weighted_price_risk == 0.0
    assert _cc(res, "A").inter_spread_credit == 0.0


# ---- short option minimum, requirement, initial, net option value --------------------------


def test_short_option_minimum_binds_for_far_out_of_the_money_shorts() -> None:
    tiny = [0.5, 1.0] + [0.0] * 12 + [2.0, 0.0]
    products = [option("P-OTM", tiny, delta=-0.01, som=20.0), future("F", 1000)]
    params = _params([{"code": "X", "products": products}])
    res = _cc(span_margin(params, np.array([-10.0, 0.0])), "X")
    assert res.scan_risk == pytest.approx(0.0)  # the short never loses: scan risk 0
    assert res.short_option_minimum == pytest.approx(200.0)
    assert res.requirement == pytest.approx(200.0)
    # long options and short futures carry no SOM
    long_side = _cc(span_margin(params, np.array([10.0, -1.0])), "X")
    assert long_side.short_option_minimum == 0.0


def test_requirement_formula_and_initial_ratio() -> None:
    products = [future("Z1", 1000, tier=1), future("Z2", 1100, tier=2)]
    ccs = [
        {
            "code": "Z",
            "products": products,
            "intra_spreads": [{"tier_a": 1, "tier_b": 2, "charge": 150}],
            "maintenance_to_initial": 1.25,
        },
        {"code": "Y", "products": [future("Y1", 800)]},
    ]
    inter = [
        {
            "priority": 1,
            "credit_rate": 0.5,
            "legs": [{"cc": "Z", "delta_ratio": 1}, {"cc": "Y", "delta_ratio": 1}],
        }
    ]
    res = span_margin(_params(ccs, inter), np.array([3.0, -1.0, -2.0]))
    z = _cc(res, "Z")
    # scan: 3 x 1000 - 1100 = 1900 (down full); intra 1 x 150; net delta +2, WPR 950;
    # 2 spreads with Y: credit 2 x 950 x .5 = 950
    assert (z.scan_risk, z.intra_spread_charge) == pytest.approx((1900.0, 150.0))
    assert z.inter_spread_credit == pytest.approx(950.0)
    assert z.requirement == pytest.approx(1900 + 150 - 950)
    assert z.initial_requirement == pytest.approx(1.25 * (1900 + 150 - 950))
    assert res.initial_requirement == pytest.approx(1.25 * 1100 + (1600 - 800))


def test_net_option_value_needs_every_held_option_priced() -> None:
    a = option("A-C", [1.0] * 16, delta=0.4) | {"price": 10.0}
    b = option("A-P", [1.0] * 16, delta=-0.4) | {"price": 4.0}
    c = option("A-X", [1.0] * 16, delta=0.1)
    params = _params([{"code": "A", "products": [a, b, c, future("A-F", 100)]}])
    res = span_margin(params, np.array([2.0, -1.0, 0.0, 5.0]))
    assert res.net_option_value == pytest.approx(2 * 10.0 - 4.0)
    assert span_margin(params, np.array([2.0, -1.0, 1.0, 0.0])).net_option_value is None


def test_book_rows_equal_one_account_at_a_time() -> None:
    params = _abc(1, 2)
    rng = np.random.default_rng(7)
    quantities = rng.integers(-5, 6, size=(40, 3)).astype(float)
    book = span_book(params, quantities)
    for row in range(quantities.shape[0]):
        single = span_book(params, quantities[row])
        np.testing.assert_allclose(book.requirement[row], single.requirement[0])
        np.testing.assert_allclose(book.inter_spread_credit[row], single.inter_spread_credit[0])
