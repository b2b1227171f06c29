"""Computed crypto risk arrays: closed forms, direct Black-76 and QuantLib revaluation, params."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import QuantLib as ql

from solvent.errors import SolventInputError
from solvent.margin.span import span_margin
from solvent.margin.span.crypto import (
    CryptoInstrumentColumns,
    VolShift,
    compute_risk_arrays,
    load_crypto_params,
    scenario_price_moves,
    span_parameters_from_arrays,
)
from solvent.margin.span.scenarios import VOL_MOVES
from solvent.pricing.black76 import black76_price

PARAMS = load_crypto_params()
DT = PARAMS.lookahead_days / 365.0


def _columns() -> CryptoInstrumentColumns:
    # BTC inverse perp, BTC linear future, BTC inverse call, ETH linear put, ETH inverse put
    return CryptoInstrumentColumns.from_arrays(
        is_option=[False, False, True, True, True],
        is_inverse=[True, False, True, False, True],
        forward=[65910.57, 67371.75, 67371.75, 3512.4, 3530.0],
        strike=[math.nan, math.nan, 70000.0, 3400.0, 3000.0],
        time=[0.0, 0.03, 0.03, 0.1, 0.004],
        vol=[math.nan, math.nan, 0.45, 0.62, 0.8],
        is_call=[False, False, True, False, False],
        underlying_code=[0, 0, 0, 1, 1],
        underlyings=("BTC", "ETH"),
    )


def test_delta_one_arrays_are_the_closed_form_pnl() -> None:
    cols = _columns()
    arrays = compute_risk_arrays(cols, PARAMS)
    moves = scenario_price_moves(PARAMS)
    cover = np.where(np.arange(16) >= 14, 0.35, 1.0)
    f0 = 65910.57
    f1 = f0 * (1 + 0.15 * moves)
    np.testing.assert_allclose(arrays.loss[0], -(1 - f0 / f1) * cover, rtol=1e-13, atol=1e-15)
    f0 = 67371.75
    f1 = f0 * (1 + 0.15 * moves)
    np.testing.assert_allclose(arrays.loss[1], -(f1 - f0) * cover, rtol=1e-13)
    # scenario 11 (+1 range) and 15 (+2 ranges, 35 %)
    assert arrays.loss[1, 10] == pytest.approx(-0.15 * f0)
    assert arrays.loss[1, 14] == pytest.approx(-0.35 * 0.30 * f0)
    assert arrays.composite_delta[:2].tolist() == [1.0, 1.0]


def test_option_arrays_match_a_direct_black76_revaluation() -> None:
    cols = _columns()
    arrays = compute_risk_arrays(cols, PARAMS)
    moves = scenario_price_moves(PARAMS)
    for row, (rng, vrange) in ((2, (0.15, 0.25)), (3, (0.18, 0.30)), (4, (0.18, 0.30))):
        f0, k, t, v = (float(x[row]) for x in (cols.forward, cols.strike, cols.time, cols.vol))
        call = bool(cols.is_call[row])
        p0 = float(black76_price(f0, k, t, v, call))
        for s in range(16):
            f1 = f0 * (1 + rng * moves[s])
            v1 = v * (1 + vrange * VOL_MOVES[s])
            p1 = float(black76_price(f1, k, max(t - DT, 0.0), v1, call))
            loss = p0 / f0 - p1 / f1 if cols.is_inverse[row] else p0 - p1
            if s >= 14:
                loss *= 0.35
            assert arrays.loss[row, s] == pytest.approx(loss, rel=1e-12, abs=1e-12)


def _quantlib_price(f: float, k: float, t: float, v: float, call: bool) -> float:
    kind = ql.Option.Call if call else ql.Option.Put
    if t <= 0.0:
        return max((f - k) if call else (k - f), 0.0)
    payoff = ql.PlainVanillaPayoff(kind, k)
    return float(ql.BlackCalculator(payoff, f, v * math.sqrt(t), 1.0).value())


def test_option_arrays_agree_with_quantlib() -> None:
    cols = _columns()
    arrays = compute_risk_arrays(cols, PARAMS)
    moves = scenario_price_moves(PARAMS)
    row = 3  # ETH linear put, USD
    f0, k, t, v = 3512.4, 3400.0, 0.1, 0.62
    p0 = _quantlib_price(f0, k, t, v, False)
    expected = []
    for s in range(16):
        p1 = _quantlib_price(
            f0 * (1 + 0.18 * moves[s]), k, t - DT, v * (1 + 0.3 * VOL_MOVES[s]), False
        )
        expected.append((p0 - p1) * (0.35 if s >= 14 else 1.0))
    np.testing.assert_allclose(arrays.loss[row], expected, rtol=1e-9, atol=1e-9)
    # composite delta: the Black delta (QuantLib's forward delta)
    calc = ql.BlackCalculator(ql.PlainVanillaPayoff(ql.Option.Put, k), f0, v * math.sqrt(t), 1.0)
    assert arrays.composite_delta[row] == pytest.approx(calc.deltaForward(), rel=1e-10)


def test_long_options_lose_more_when_vol_falls() -> None:
    arrays = compute_risk_arrays(_columns(), PARAMS)
    options = arrays.loss[2:]
    assert np.all(options[:, 1:14:2] > options[:, 0:14:2])  # vol down worse than vol up


def test_hedged_perpetual_and_span_parameters_from_arrays() -> None:
    cols = _columns()
    arrays = compute_risk_arrays(cols, PARAMS)
    names = ("BTC-PERPETUAL", "BTC-FUT", "BTC-70000-C", "ETH-3400-P", "ETH-3000-P")
    btc = span_parameters_from_arrays("BTC", "BTC", names, cols, arrays, rows=[0, 2])
    flat = span_margin(btc, np.array([0.0, 0.0]))
    assert flat.requirement == 0.0
    # long 1 perp vs short 1 call: scan is the worst summed loss
    res = span_margin(btc, np.array([1.0, -1.0]))
    summed = arrays.loss[0] - arrays.loss[2]
    assert res.requirement == pytest.approx(max(summed.max(), 0.0, 0.005))
    assert res.net_option_value == pytest.approx(-arrays.value[2])


def test_absolute_vol_shift_and_parameter_overrides(tmp_path: Path) -> None:
    override = tmp_path / "p.toml"
    override.write_text(
        'version = "test"\nvol_shift = "absolute"\n[underlyings.BTC]\nvol_scan_range = 0.1\n'
    )
    params = load_crypto_params(override)
    assert params.label == "span-crypto@test"
    assert params.vol_shift is VolShift.ABSOLUTE
    assert params.underlyings["BTC"].price_scan_range == 0.15  # kept from the default
    cols = _columns()
    arrays = compute_risk_arrays(cols, params)
    p0 = float(black76_price(67371.75, 70000.0, 0.03, 0.45, True))
    p1 = float(black76_price(67371.75, 70000.0, 0.03 - DT, 0.35, True))
    assert arrays.loss[2, 1] == pytest.approx(p0 / 67371.75 - p1 / 67371.75, rel=1e-12)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("colour = 1\n", "colour"),
        ("[underlyings.BTC]\nprice_scan_range = 0.6\n", "underlyings.BTC.price_scan_range"),
        ("[underlyings.BTC]\nvol_scan_range = -0.1\n", "underlyings.BTC.vol_scan_range"),
        ("[underlyings.BTC]\nspeed = 1\n", "underlyings.BTC.speed"),
        ("[underlyings.SOL]\nvol_scan_range = 0.3\n", "underlyings.SOL.price_scan_range"),
        ("extreme_cover = 1.5\n", "extreme_cover"),
        ('vol_shift = "sideways"\n', "vol_shift"),
    ],
)
def test_bad_parameter_files_name_the_field(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(SolventInputError) as info:
        load_crypto_params(path)
    assert info.value.field == field


def test_bad_columns_and_unknown_underlyings_are_rejected() -> None:
    with pytest.raises(SolventInputError) as info:
        CryptoInstrumentColumns.from_arrays(
            is_option=[True],
            is_inverse=[True],
            forward=[100.0],
            strike=[-1.0],
            time=[0.1],
            vol=[0.5],
            is_call=[True],
            underlying_code=[0],
            underlyings=("BTC",),
        )
    assert info.value.field == "strike[0]"
    cols = CryptoInstrumentColumns.from_arrays(
        is_option=[False],
        is_inverse=[False],
        forward=[1.0],
        underlying_code=[0],
        underlyings=("DOGE",),
    )
    with pytest.raises(SolventInputError) as info:
        compute_risk_arrays(cols, PARAMS)
    assert info.value.field == "underlyings[0]"
