"""SIMM v2.6 pieces checked by hand against ISDA's published formulas and numbers.

Every expected value is computed here from the ISDA SIMM v2.6 methodology's formulas with the
published parameters typed in this file (risk weights, correlations, thresholds), not read from
the shipped calibration, so a wrong number in the data file or a wrong formula fails a test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solvent.margin.simm import compute_simm, load_calibration, parse_crif
from solvent.margin.simm.kernels import pair_sum_min_max

HEADER = "ProductClass,RiskType,Qualifier,Bucket,Label1,Label2,Amount,AmountCurrency,AmountUSD\n"
CAL10 = load_calibration("2.6", 10)
CAL1 = load_calibration("2.6", 1)
LAMBDA0 = 5.634896601  # Phi^-1(0.995)^2 - 1
SIGMA10 = 2.19486471232815  # sqrt(365/14) / Phi^-1(0.99)


def crif(*rows: tuple[str, str, str, str, str, str, float]) -> str:
    return HEADER + "".join(
        f"{p},{r},{q},{b},{a},{c},{x},USD,{x}\n" for p, r, q, b, a, c, x in rows
    )


def simm(text: str, cal: object = CAL10) -> dict:  # type: ignore[type-arg]
    return compute_simm(parse_crif(text), cal).to_json()  # type: ignore[arg-type]


def equity(text: str, cal: object = CAL10) -> dict:  # type: ignore[type-arg]
    return simm(text, cal)["product_classes"]["Equity"]["risk_classes"]["Equity"]  # type: ignore[no-any-return]


def test_constants() -> None:
    assert CAL10.sigma_multiplier == pytest.approx(SIGMA10, rel=1e-12)
    assert CAL1.sigma_multiplier == pytest.approx(SIGMA10 * math.sqrt(10), rel=1e-12)
    assert CAL10.curvature_lambda_base == pytest.approx(LAMBDA0, rel=1e-9)
    # SF(t) = 0.5 min(1, 14 days / t): 2w -> 0.5, 1y -> 0.5 * 14 / 365
    assert CAL10.curvature_scale("2w") == 0.5
    assert CAL10.curvature_scale("1y") == pytest.approx(0.5 * 14 / 365)
    assert CAL1.curvature_scale("1m") == pytest.approx(0.5 * 1.4 / (365 / 12))


def test_single_bucket_equity_delta_by_hand() -> None:
    # bucket 1: RW 30, rho 0.18, threshold 3 USD mm; both names under the threshold
    s1, s2 = 1.0e6, -5.0e5
    ws1, ws2 = 30 * s1, 30 * s2
    expected = math.sqrt(ws1**2 + ws2**2 + 2 * 0.18 * ws1 * ws2)
    got = equity(
        crif(
            ("Equity", "Risk_Equity", "A", "1", "", "", s1),
            ("Equity", "Risk_Equity", "B", "1", "", "", s2),
        )
    )
    assert got["delta"] == pytest.approx(expected, rel=1e-12)
    assert got["total"] == got["delta"]


def test_concentration_threshold_and_f_factor() -> None:
    # bucket 1 threshold 3e6 USD: CR_A = sqrt(1e8 / 3e6); B under threshold, CR_B = 1
    s_a, s_b = 1.0e8, 2.0e6
    cr_a = math.sqrt(s_a / 3e6)
    ws_a, ws_b = 30 * s_a * cr_a, 30 * s_b
    f = 1.0 / cr_a
    expected = math.sqrt(ws_a**2 + ws_b**2 + 2 * 0.18 * f * ws_a * ws_b)
    got = equity(
        crif(
            ("Equity", "Risk_Equity", "A", "1", "", "", s_a),
            ("Equity", "Risk_Equity", "B", "1", "", "", s_b),
        )
    )
    assert got["delta"] == pytest.approx(expected, rel=1e-12)
    # the 1-day calibration has no concentration factor (SIMM technical paper, section I.4)
    got1 = equity(crif(("Equity", "Risk_Equity", "A", "1", "", "", s_a)), CAL1)
    assert got1["delta"] == pytest.approx(8.8 * s_a, rel=1e-12)


def test_two_buckets_gamma_and_residual() -> None:
    # buckets 1 (RW 30) and 5 (RW 26), gamma(1,5) = 0.14; Residual (RW 50) added on top
    k1, k5, kr = 30 * 1e6, 26 * 2e6, 50 * 1e5
    s1, s5 = k1, -k5
    expected = math.sqrt(k1**2 + k5**2 + 2 * 0.14 * s1 * s5) + kr
    got = equity(
        crif(
            ("Equity", "Risk_Equity", "A", "1", "", "", 1e6),
            ("Equity", "Risk_Equity", "B", "5", "", "", -2e6),
            ("Equity", "Risk_Equity", "R", "Residual", "", "", 1e5),
        )
    )
    assert got["delta"] == pytest.approx(expected, rel=1e-12)


def test_equity_vega_and_curvature_single_name() -> None:
    # vega 1e5 USD per vol point at 1y, bucket 1: sigma = RW_delta 30 x 2.19486
    v = 1.0e5
    sigma = 30 * SIGMA10
    vr = 0.6 * 0.45 * sigma * v  # HVR_EQ 0.6, vega RW 0.45 (under the 210mm threshold)
    cvr = 0.5 * 14 / 365 * sigma * v
    got = equity(crif(("Equity", "Risk_EquityVol", "A", "1", "1y", "", v)))
    assert got["vega"] == pytest.approx(vr, rel=1e-12)
    # theta = 0 for a positive CVR: curvature = CVR + lambda(0) |CVR|
    assert got["curvature"] == pytest.approx(cvr * (1 + LAMBDA0), rel=1e-9)
    # a short option (negative CVR): theta = -1, lambda = 1, curvature = max(CVR + |CVR|, 0) = 0
    short = equity(crif(("Equity", "Risk_EquityVol", "A", "1", "1y", "", -v)))
    assert short["curvature"] == 0.0
    assert short["vega"] == pytest.approx(vr, rel=1e-12)


def test_interest_rate_curvature_scaled_by_hvr() -> None:
    # one IR vega at 2w (SF 0.5): curvature = CVR (1 + lambda) / HVR_IR^2, HVR_IR = 0.47
    v = 1.0e6
    out = simm(crif(("RatesFX", "Risk_IRVol", "USD", "", "2w", "", v)))
    ir = out["product_classes"]["RatesFX"]["risk_classes"]["InterestRate"]
    assert ir["curvature"] == pytest.approx(0.5 * v * (1 + LAMBDA0) / 0.47**2, rel=1e-9)
    assert ir["vega"] == pytest.approx(0.23 * v, rel=1e-12)


def test_interest_rate_delta_tenors_and_subcurves() -> None:
    # USD (regular vol): RW 5y 60, 10y 60; tenor corr(5y,10y) 0.95; sub-curve corr 0.993
    a, b = 1.0e4, -2.0e4
    wa, wb = 60 * a, 60 * b
    expected = math.sqrt(wa**2 + wb**2 + 2 * 0.95 * 0.993 * wa * wb)
    out = simm(
        crif(
            ("RatesFX", "Risk_IRCurve", "USD", "1", "5y", "OIS", a),
            ("RatesFX", "Risk_IRCurve", "USD", "1", "10y", "Libor3m", b),
        )
    )
    ir = out["product_classes"]["RatesFX"]["risk_classes"]["InterestRate"]
    assert ir["delta"] == pytest.approx(expected, rel=1e-12)


def test_psi_within_a_product_class_and_sum_across() -> None:
    # RatesFX holds IR (60 x 1e4) and equity (30 x 1e6): psi(IR, EQ) = 0.07
    ir, eq = 60 * 1e4, 30 * 1e6
    out = simm(
        crif(
            ("RatesFX", "Risk_IRCurve", "USD", "1", "5y", "OIS", 1e4),
            ("RatesFX", "Risk_Equity", "A", "1", "", "", 1e6),
            ("Commodity", "Risk_Commodity", "Gold", "12", "", "", 1e6),
        )
    )
    rates = math.sqrt(ir**2 + eq**2 + 2 * 0.07 * ir * eq)
    assert out["product_classes"]["RatesFX"]["total"] == pytest.approx(rates, rel=1e-12)
    assert out["product_classes"]["Commodity"]["total"] == pytest.approx(21 * 1e6, rel=1e-12)
    assert out["simm"] == pytest.approx(rates + 21e6, rel=1e-12)


def test_fx_delta_ignores_calculation_currency() -> None:
    out = simm(
        crif(
            ("RatesFX", "Risk_FX", "USD", "", "", "", 1e9),
            ("RatesFX", "Risk_FX", "EUR", "", "", "", 1e6),
            ("RatesFX", "Risk_FX", "BRL", "", "", "", -1e6),
        )
    )
    fx = out["product_classes"]["RatesFX"]["risk_classes"]["FX"]
    w_eur, w_brl = 7.4 * 1e6, -14.7 * 1e6  # regular / high-vol RW vs USD
    assert fx["delta"] == pytest.approx(
        math.sqrt(w_eur**2 + w_brl**2 + 2 * 0.25 * w_eur * w_brl), rel=1e-12
    )


# --- invariants -----------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 3),
            st.floats(-1e6, 1e6, allow_nan=False),
            st.floats(1.0, 20.0, allow_nan=False),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_pair_sum_kernel_matches_double_sum(items: list[tuple[int, float, float]]) -> None:
    g = np.array([i[0] for i in items], dtype=np.int64)
    w = np.array([i[1] for i in items])
    cr = np.array([i[2] for i in items])
    got = pair_sum_min_max(g, w, cr, 4)
    want = np.zeros(4)
    for k in range(len(items)):
        for m in range(len(items)):
            if k != m and g[k] == g[m]:
                want[g[k]] += min(cr[k], cr[m]) / max(cr[k], cr[m]) * w[k] * w[m]
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-6 * float(np.sum(w * w)) + 1e-9)


LINES = [
    ("Equity", "Risk_Equity", "A", "1", "", "", 3e6),
    ("Equity", "Risk_Equity", "B", "5", "", "", -8e6),
    ("Equity", "Risk_EquityVol", "A", "1", "6m", "", 2e5),
    ("Commodity", "Risk_Commodity", "Oil", "1", "", "", 1e8),
    ("Commodity", "Risk_CommodityVol", "Gas", "2", "1y", "", -3e6),
    ("RatesFX", "Risk_IRCurve", "EUR", "1", "2y", "OIS", 5e4),
    ("RatesFX", "Risk_IRVol", "EUR", "", "5y", "", 1e6),
    ("RatesFX", "Risk_FX", "JPY", "", "", "", -4e7),
    ("Credit", "Risk_CreditQ", "XS1", "3", "5y", "", 2e4),
]


@settings(max_examples=25, deadline=None)
@given(st.floats(0.01, 100.0), st.permutations(list(range(len(LINES)))))
def test_one_day_margin_is_homogeneous_and_order_free(c: float, order: list[int]) -> None:
    """Without concentration (1-day), SIMM(c x CRIF) = c x SIMM(CRIF) for c > 0, in any order."""
    base = simm(crif(*LINES), CAL1)["simm"]
    scaled = [(*LINES[i][:6], c * LINES[i][6]) for i in order]
    assert simm(crif(*scaled), CAL1)["simm"] == pytest.approx(c * base, rel=1e-9)


def test_splitting_a_line_changes_nothing() -> None:
    halves = [h for line in LINES for h in ((*line[:6], line[6] / 2), (*line[:6], line[6] / 2))]
    assert simm(crif(*halves))["simm"] == pytest.approx(simm(crif(*LINES))["simm"], rel=1e-12)


def test_concentration_only_raises_margin() -> None:
    ten, one_scaled = simm(crif(*LINES)), simm(crif(*LINES), CAL1)
    assert ten["simm"] > 0 and one_scaled["simm"] > 0
    # delta of a breaching name grows faster than linearly (10-day, concentration on)
    big = equity(crif(("Equity", "Risk_Equity", "A", "10", "", "", 1e8)))["delta"]
    small = equity(crif(("Equity", "Risk_Equity", "A", "10", "", "", 1e7)))["delta"]
    assert big / small == pytest.approx(10 * math.sqrt(10), rel=1e-12)
