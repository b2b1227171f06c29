"""Delta-1 P&L: linear in USD, inverse in coin (the glossary's worked example and invariants)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solvent.pricing.delta_one import inverse_pnl, linear_pnl


def test_worked_example_from_the_glossary() -> None:
    """1 BTC long at 60,000 USD; BTC falls to 50,000.

    Linear (USDC-settled): -10,000 USD. Inverse (BTC-settled, a 60,000 USD contract):
    60,000 * (1/60,000 - 1/50,000) = -0.2 BTC, worth -10,000 USD at the exit price.
    """
    assert float(linear_pnl(60_000.0, 50_000.0)) == -10_000.0
    assert float(inverse_pnl(60_000.0, 50_000.0)) == pytest.approx(-0.2, rel=1e-15)
    # A rise to 75,000: +15,000 USD linear, +0.2 BTC inverse (= 15,000 USD at 75,000).
    assert float(linear_pnl(60_000.0, 75_000.0)) == 15_000.0
    assert float(inverse_pnl(60_000.0, 75_000.0)) == pytest.approx(0.2, rel=1e-15)


def test_arrays_broadcast_and_bounds() -> None:
    exits = np.array([40_000.0, 60_000.0, 90_000.0])
    pnl = inverse_pnl(60_000.0, exits)
    assert pnl.shape == (3,)
    assert pnl[1] == 0.0
    # Losses of a long inverse position are convex: a fall costs more coin than a rise earns.
    assert -pnl[0] > pnl[2] * (40_000.0 / 90_000.0) and pnl[0] == pytest.approx(-0.5)
    # Inverse P&L is bounded below by nothing and above by 1 coin per coin (price to infinity).
    assert float(inverse_pnl(60_000.0, 1e12)) == pytest.approx(1.0, abs=1e-7)


@settings(max_examples=300, deadline=None)
@given(p0=st.floats(1.0, 1e6), p1=st.floats(1.0, 1e6))
def test_inverse_pnl_in_usd_at_exit_equals_linear_pnl(p0: float, p1: float) -> None:
    """Coin P&L converted at the exit price is the linear USD P&L: (1 - P0/P1) * P1 = P1 - P0."""
    coin = float(inverse_pnl(p0, p1))
    usd = float(linear_pnl(p0, p1))
    assert coin * p1 == pytest.approx(usd, rel=1e-12, abs=1e-9 * max(p0, p1))
    # Round trip through an intermediate price adds up in USD for linear contracts.
    mid = 0.5 * (p0 + p1)
    assert float(linear_pnl(p0, mid) + linear_pnl(mid, p1)) == pytest.approx(usd, abs=1e-9 * p1)
