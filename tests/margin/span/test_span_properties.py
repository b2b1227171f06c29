"""Invariants of the SPAN calculation (hypothesis)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from span_helpers import future, option

from solvent.margin.span import parse_span_params, parse_span_portfolio, span_book, span_margin

_finite = st.floats(-5000, 5000, allow_nan=False, allow_infinity=False)
_arrays = st.lists(_finite, min_size=16, max_size=16)


def _params(arrays: list[list[float]], som: float = 0.0):  # type: ignore[no-untyped-def]
    products_a = [
        option(f"A-O{i}", arr, delta=0.1 * (i + 1), som=som, tier=1 + i % 2)
        for i, arr in enumerate(arrays)
    ]
    products_a.append(future("A-F1", 1000, tier=1))
    products_a.append(future("A-F2", 1200, tier=2))
    return parse_span_params(
        {
            "currency": "USD",
            "combined_commodities": [
                {
                    "code": "A",
                    "products": products_a,
                    "intra_spreads": [{"tier_a": 1, "tier_b": 2, "charge": 75.0}],
                },
                {"code": "B", "products": [future("B-F", 1500)]},
            ],
            "inter_spreads": [
                {
                    "priority": 1,
                    "credit_rate": 0.6,
                    "legs": [{"cc": "A", "delta_ratio": 1.5}, {"cc": "B", "delta_ratio": 1}],
                }
            ],
        }
    )


_qty = st.floats(-20, 20, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(
    arrays=st.lists(_arrays, min_size=1, max_size=3),
    data=st.data(),
    k=st.floats(0.01, 100.0),
)
def test_scaling_the_portfolio_scales_every_component(arrays, data, k) -> None:  # type: ignore[no-untyped-def]
    params = _params(arrays, som=0.0)
    q = np.array(data.draw(st.lists(_qty, min_size=len(arrays) + 3, max_size=len(arrays) + 3)))
    base, scaled = span_book(params, q), span_book(params, k * q)
    np.testing.assert_allclose(scaled.scan_risk, k * base.scan_risk, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(scaled.requirement, k * base.requirement, rtol=1e-9, atol=1e-6)


@settings(max_examples=60, deadline=None)
@given(arrays=st.lists(_arrays, min_size=1, max_size=3), data=st.data())
def test_requirement_bounds(arrays, data) -> None:  # type: ignore[no-untyped-def]
    params = _params(arrays, som=3.0)
    q = np.array(data.draw(st.lists(_qty, min_size=len(arrays) + 3, max_size=len(arrays) + 3)))
    r = span_book(params, q)
    assert np.all(r.requirement >= r.short_option_minimum - 1e-9)
    assert np.all(r.requirement >= 0.0)
    assert np.all(r.inter_spread_credit >= 0.0)
    assert np.all(
        r.requirement <= r.scan_risk + r.intra_spread_charge + r.short_option_minimum + 1e-6
    )


@settings(max_examples=40, deadline=None)
@given(arrays=st.lists(_arrays, min_size=1, max_size=3), q=_qty, which=st.integers(0, 4))
def test_a_perfectly_hedged_pair_has_zero_scan_risk(arrays, q, which) -> None:  # type: ignore[no-untyped-def]
    params = _params(arrays)
    name = params.table.names[which % len(params.table.names)]
    positions = [{"instrument": name, "quantity": q}, {"instrument": name, "quantity": -q}]
    result = span_margin(params, parse_span_portfolio({"positions": positions}, params).quantities)
    assert all(cc.scan_risk == 0.0 for cc in result.combined_commodities)
    assert result.requirement == 0.0


@settings(max_examples=40, deadline=None)
@given(arrays=st.lists(_arrays, min_size=1, max_size=3), data=st.data())
def test_adding_a_zero_quantity_position_changes_nothing(arrays, data) -> None:  # type: ignore[no-untyped-def]
    params = _params(arrays, som=2.0)
    names = params.table.names
    positions = [
        {"instrument": data.draw(st.sampled_from(names)), "quantity": data.draw(_qty)}
        for _ in range(data.draw(st.integers(0, 5)))
    ]
    extra = {"instrument": data.draw(st.sampled_from(names)), "quantity": 0.0}
    at = data.draw(st.integers(0, len(positions)))
    with_zero = [*positions[:at], extra, *positions[at:]]
    before = span_margin(params, parse_span_portfolio({"positions": positions}, params).quantities)
    after = span_margin(params, parse_span_portfolio({"positions": with_zero}, params).quantities)
    assert after == before


@settings(max_examples=60, deadline=None)
@given(
    arrays=st.lists(_arrays, min_size=1, max_size=3),
    data=st.data(),
    dust=st.booleans(),
)
def test_a_one_account_book_is_its_row_of_a_larger_book_bit_for_bit(arrays, data, dust) -> None:  # type: ignore[no-untyped-def]
    """One account (summed term by term in Python, as a vector, a 1-row array or a 1-row csr)
    gives exactly its row of a book of several (scipy's sparse products), zeros and rounding
    dust included."""
    params = _params(arrays, som=25.0)
    n = len(arrays) + 3
    rows = [data.draw(st.lists(_qty | st.just(0.0), min_size=n, max_size=n)) for _ in range(3)]
    if dust:
        rows[0][0] = 1e-13
    book = span_book(params, sp.csr_array(np.array(rows)))
    for a, row in enumerate(rows):
        for one in (np.array(row), np.array([row]), sp.csr_array(np.array([row]))):
            alone = span_book(params, one)
            for field in (
                "scenario_losses",
                "scan_risk",
                "net_delta",
                "intra_spread_charge",
                "inter_spread_credit",
                "short_option_minimum",
                "requirement",
                "initial_requirement",
                "held",
            ):
                got, want = getattr(alone, field)[0], getattr(book, field)[a]
                assert np.array_equal(got, want, equal_nan=got.dtype.kind == "f"), field
