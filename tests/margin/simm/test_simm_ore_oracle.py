"""Solvent's SIMM v2.6 against the ORE (Open Source Risk Engine) SIMM calculator as an oracle.

ORE's Python package (``open-source-risk-engine==1.8.17.0``) is an independent implementation of
ISDA SIMM; each case writes CRIF lines, runs both, and requires every reported figure (total,
product-class totals, and each risk class's delta / vega / curvature / base-correlation margin) to
agree to 1e-8 relative.
"""

from __future__ import annotations

import pytest
from simm_ore_oracle import (
    Line,
    crif_csv,
    ore_simm,
    random_crif,
    relative_differences,
    solvent_simm,
)

from solvent.margin.simm import compute_simm, load_calibration, parse_crif

pytest.importorskip(
    "ORE", reason="ORE oracle not installed (pip install open-source-risk-engine==1.8.17.0)"
)

EQ, EQV = "Risk_Equity", "Risk_EquityVol"
CO, COV = "Risk_Commodity", "Risk_CommodityVol"

CASES: dict[str, list[Line]] = {
    "equity_delta_multi_bucket": [
        ("Equity", EQ, "ABC", "1", "", "", 1e6),
        ("Equity", EQ, "DEF", "1", "", "", -5e6),
        ("Equity", EQ, "ABC", "1", "", "", 2.5e5),  # same qualifier: nets with line 1
        ("Equity", EQ, "GHI", "5", "", "", 2e7),
        ("Equity", EQ, "JKL", "11", "", "", -4e7),
        ("Equity", EQ, "RES1", "Residual", "", "", 2e5),
        ("Equity", EQ, "RES2", "Residual", "", "", -1e5),
    ],
    "equity_concentration_breach": [
        ("Equity", EQ, "BIG", "10", "", "", 5e7),  # threshold 0.37mm: CR ~ 11.6
        ("Equity", EQ, "SMALL", "10", "", "", -1e5),
        ("Equity", EQ, "OTHER", "9", "", "", 3e6),
    ],
    "equity_vega_curvature": [
        ("Equity", EQV, "ABC", "1", "1y", "", 3e5),
        ("Equity", EQV, "ABC", "1", "5y", "", -1e5),
        ("Equity", EQV, "DEF", "1", "2w", "", 2e6),
        ("Equity", EQV, "XYZ", "12", "1m", "", 4e6),  # bucket 12: no curvature
        ("Equity", EQV, "RES", "Residual", "3m", "", 1e5),
        ("Equity", EQV, "BIG", "10", "6m", "", -9e6),  # vega concentration
    ],
    "curvature_negative_theta": [
        ("Equity", EQV, "A", "3", "3m", "", -1.4e5),
        ("Equity", EQV, "B", "11", "6m", "", -1.5e5),
        ("Equity", EQV, "C", "10", "1m", "", 1.1e4),
    ],
    "commodity": [
        ("Commodity", CO, "Oil", "1", "", "", 1e8),
        ("Commodity", CO, "Brent", "1", "", "", -8e7),
        ("Commodity", CO, "Gas", "2", "", "", -3e8),
        ("Commodity", CO, "Gold", "12", "", "", 5e9),  # threshold 1300mm
        ("Commodity", COV, "Oil", "1", "6m", "", 1e6),
        ("Commodity", COV, "Gold", "12", "2y", "", -2e6),
        ("Commodity", COV, "Power", "10", "6m", "", 5e6),  # vega concentration
    ],
    "fx": [
        ("RatesFX", "Risk_FX", "EUR", "", "", "", 1e8),
        ("RatesFX", "Risk_FX", "JPY", "", "", "", -5e9),  # concentration
        ("RatesFX", "Risk_FX", "BRL", "", "", "", 3e7),  # high-vol currency
        ("RatesFX", "Risk_FX", "USD", "", "", "", 3e7),  # calculation currency: ignored
        ("RatesFX", "Risk_FXVol", "EURUSD", "", "1y", "", 1e6),
        ("RatesFX", "Risk_FXVol", "USDJPY", "", "3m", "", -3e6),
        ("RatesFX", "Risk_FXVol", "USDBRL", "", "2w", "", 5e7),
    ],
    "interest_rate": [
        ("RatesFX", "Risk_IRCurve", "USD", "1", "5y", "OIS", 1e5),
        ("RatesFX", "Risk_IRCurve", "USD", "1", "10y", "Libor3m", -2e5),
        ("RatesFX", "Risk_IRCurve", "USD", "1", "10y", "OIS", 3e5),
        ("RatesFX", "Risk_IRCurve", "EUR", "1", "2y", "OIS", 3e5),
        ("RatesFX", "Risk_IRCurve", "JPY", "2", "30y", "OIS", 1e8),  # concentration
        ("RatesFX", "Risk_IRCurve", "BRL", "3", "1y", "OIS", -4e4),
        ("RatesFX", "Risk_Inflation", "USD", "", "", "", 5e4),
        ("RatesFX", "Risk_XCcyBasis", "EUR", "", "", "", 2e4),
        ("RatesFX", "Risk_IRVol", "USD", "", "5y", "", 1e6),
        ("RatesFX", "Risk_IRVol", "USD", "", "1y", "", -3e5),
        ("RatesFX", "Risk_IRVol", "EUR", "", "10y", "", 5e9),
        ("RatesFX", "Risk_InflationVol", "USD", "", "2y", "", 1e5),
    ],
    "credit": [
        ("Credit", "Risk_CreditQ", "XS1", "1", "5y", "", 1e4),
        ("Credit", "Risk_CreditQ", "XS1", "1", "10y", "", -4e3),
        ("Credit", "Risk_CreditQ", "XS2", "1", "2y", "", 2e6),
        ("Credit", "Risk_CreditQ", "XS3", "7", "1y", "", 3e5),
        ("Credit", "Risk_CreditQ", "XS4", "Residual", "3y", "", 1e3),
        ("Credit", "Risk_CreditQ", "XS5", "Residual", "5y", "", 2e3),
        ("Credit", "Risk_CreditVol", "XS1", "1", "5y", "", 1e6),
        ("Credit", "Risk_CreditVol", "XS1", "1", "1y", "", -4e5),
        ("Credit", "Risk_CreditVol", "XS4", "Residual", "3y", "", 1e5),
        ("Credit", "Risk_CreditNonQ", "CMBX1", "1", "5y", "GRP1", 1e4),
        ("Credit", "Risk_CreditNonQ", "CMBX2", "1", "5y", "GRP1", -3e3),
        ("Credit", "Risk_CreditNonQ", "CMBX3", "1", "5y", "GRP2", 5e3),
        ("Credit", "Risk_CreditVolNonQ", "CMBX1", "1", "5y", "GRP1", 2e5),
        ("Credit", "Risk_BaseCorr", "CDX IG", "", "", "", 1e5),
        ("Credit", "Risk_BaseCorr", "iTraxx", "", "", "", -3e4),
    ],
}
CASES["mixed_product_classes"] = [
    line
    for name in ("equity_delta_multi_bucket", "commodity", "fx", "interest_rate")
    for line in CASES[name]
] + [("RatesFX", EQ, "ABC", "1", "", "", 7e6), ("Commodity", "Risk_FX", "EUR", "", "", "", 2e7)]


def _compare(lines: list[Line], mpor: int) -> None:
    ours = compute_simm(parse_crif(crif_csv(lines)), load_calibration("2.6", mpor)).to_json()
    diffs = relative_differences(ore_simm(lines, mpor), solvent_simm(ours))
    assert diffs == {}


@pytest.mark.parametrize("mpor", [10, 1])
@pytest.mark.parametrize("case", sorted(CASES))
def test_named_case_matches_ore(case: str, mpor: int) -> None:
    _compare(CASES[case], mpor)


@pytest.mark.parametrize("mpor", [10, 1])
@pytest.mark.parametrize("seed", range(12))
def test_random_crif_matches_ore(seed: int, mpor: int) -> None:
    _compare(random_crif(10 + 15 * seed, seed), mpor)


def test_oracle_detects_a_difference() -> None:
    """The comparison is not vacuous: a 1 % change in one amount is reported."""
    lines = CASES["equity_delta_multi_bucket"]
    bumped = [*lines[:-1], (*lines[-1][:6], lines[-1][6] * 1.01)]
    ours = compute_simm(parse_crif(crif_csv(bumped)), load_calibration()).to_json()
    assert relative_differences(ore_simm(lines), solvent_simm(ours)) != {}
