"""Risk arrays against closed forms and an independent pricer (QuantLib's Black formula)."""

from __future__ import annotations

import numpy as np
import pytest
import QuantLib as ql

from helpers import BTC, market
from solvent.errors import SolventInputError
from solvent.scenarios.risk_array import compute_risk_array
from solvent.scenarios.scenario_set import ScenarioSet, VolShockKind, VolShockRule
from solvent.scenarios.vol_shock import shocked_vol

MOVES = np.array([-0.5, -0.16, 0.0, 0.08, 1.0])


def _scenarios(
    underlyings: tuple[str, ...], vol: float = 0.0, kind: VolShockKind = VolShockKind.RELATIVE
) -> ScenarioSet:
    n = MOVES.size
    return ScenarioSet(
        name="test",
        underlyings=underlyings,
        moves=np.repeat(MOVES[:, None], len(underlyings), axis=1),
        vol_shocks=np.full((n, len(underlyings)), vol),
        weights=np.ones(n),
        vol_rule=VolShockRule(kind=kind),
        labels=tuple(f"{m:+.0%} vol" for m in MOVES),
    )


def _risk(names: list[str], vol: float = 0.0, kind: VolShockKind = VolShockKind.RELATIVE):  # type: ignore[no-untyped-def]
    m = market()
    table = m.table(names)
    return compute_risk_array(table, m.columns(table), _scenarios(table.underlyings, vol, kind))


def test_delta_one_pnl_is_the_closed_form() -> None:
    risk = _risk(["BTC-PERPETUAL", "BTC_USDC-PERPETUAL", "BTC-27MAR26"])
    np.testing.assert_allclose(risk.pnl[0], 1.0 - 1.0 / (1.0 + MOVES), rtol=1e-13)  # inverse
    np.testing.assert_allclose(risk.pnl[1], BTC * MOVES, rtol=1e-13)  # linear USD
    np.testing.assert_allclose(risk.pnl[2], 1.0 - 1.0 / (1.0 + MOVES), rtol=1e-13)


def test_inverse_option_pnl_matches_quantlib_revaluation() -> None:
    m = market()
    risk = _risk(["BTC-27MAR26-110000-C", "BTC-27MAR26-90000-P"], vol=0.2)
    for row, (name, kind) in enumerate(
        [("BTC-27MAR26-110000-C", ql.Option.Call), ("BTC-27MAR26-90000-P", ql.Option.Put)]
    ):
        q = m.quote(name)
        f0, t, iv = q.forward, q.time_to_expiry, q.mark_iv
        assert iv is not None and q.instrument.strike is not None
        k = q.instrument.strike
        p0 = ql.blackFormula(kind, k, f0, iv * np.sqrt(t), 1.0) / f0
        for s, move in enumerate(MOVES):
            f1 = f0 * (1 + move)
            p1 = ql.blackFormula(kind, k, f1, iv * 1.2 * np.sqrt(t), 1.0) / f1
            assert risk.pnl[row, s] == pytest.approx(p1 - p0, rel=1e-9, abs=1e-12)


def test_term_scaled_vol_shock_by_hand() -> None:
    rule = VolShockRule(min_vol_for_shock_up=0.5)
    # 10 days: 0.4 * (1 + 0.5 * (30/10) ** 0.3); 60 days: 0.4 * (1 - 0.25 * (30/60) ** 0.13)
    up = shocked_vol(np.array([0.4]), np.array([10 / 365]), np.array([0.5]), rule)
    down = shocked_vol(np.array([0.4]), np.array([60 / 365]), np.array([-0.25]), rule)
    assert up[0] == pytest.approx(0.4 * (1 + 0.5 * 3**0.3))
    assert down[0] == pytest.approx(0.4 * (1 - 0.25 * 0.5**0.13))
    # floors: days to expiry at 1 day, up shocks at min_vol_for_shock_up
    tiny = shocked_vol(np.array([0.2]), np.array([1e-6]), np.array([0.1]), rule)
    assert tiny[0] == pytest.approx(max(0.2 * (1 + 0.1 * 30**0.3), 0.5))


def test_weights_scale_pnl() -> None:
    m = market()
    table = m.table(["BTC_USDC-PERPETUAL"])
    base = _scenarios(table.underlyings)
    half = ScenarioSet(
        base.name,
        base.underlyings,
        base.moves,
        base.vol_shocks,
        np.full(MOVES.size, 0.35),
        base.vol_rule,
        base.labels,
    )
    full = compute_risk_array(table, m.columns(table), base).pnl
    np.testing.assert_allclose(compute_risk_array(table, m.columns(table), half).pnl, 0.35 * full)


def test_scenario_set_validation_names_the_field() -> None:
    with pytest.raises(SolventInputError, match=r"scenarios\.moves"):
        ScenarioSet(
            "bad",
            ("BTC",),
            np.array([[-1.5]]),
            np.zeros((1, 1)),
            np.ones(1),
            VolShockRule(),
            ("x",),
        )
    with pytest.raises(SolventInputError, match=r"scenarios\.vol_shocks"):
        ScenarioSet(
            "bad", ("BTC",), np.zeros((1, 1)), np.zeros((2, 1)), np.ones(1), VolShockRule(), ("x",)
        )


def test_usd_pnl_values_coin_pnl_at_the_scenario_price() -> None:
    """An inverse perpetual's coin P&L valued at the moved coin price is the linear P&L."""
    risk = _risk(["BTC-PERPETUAL", "BTC_USDC-PERPETUAL"])
    m = market()
    usd = risk.usd_pnl(m)
    np.testing.assert_allclose(usd[0], BTC * MOVES, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(usd[1], BTC * MOVES, rtol=1e-12, atol=1e-9)
    rates = risk.settlement_usd(m)
    assert risk.table.settlement_assets == ("BTC", "USDC")
    np.testing.assert_allclose(rates[0], BTC * (1 + MOVES))
    np.testing.assert_allclose(rates[1], 1.0)
