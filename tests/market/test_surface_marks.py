"""Option marks from fitted SVI surfaces on the embedded Deribit chain."""

from __future__ import annotations

import numpy as np
import pytest

from solvent.market.deribit import load_embedded_chain
from solvent.market.surface_marks import fit_snapshot_surfaces, mark_options_from_surfaces
from solvent.pricing.black76 import black76_price


@pytest.fixture(scope="module")
def marked():  # type: ignore[no-untyped-def]
    market = load_embedded_chain()
    fits = fit_snapshot_surfaces(market)
    return market, fits, mark_options_from_surfaces(market, {u: f.surface for u, f in fits.items()})


def test_surface_marks_stay_close_to_deribit_on_the_body_of_the_smile(marked) -> None:  # type: ignore[no-untyped-def]
    market, fits, surface_market = marked
    assert set(fits) == {"BTC", "ETH"}
    diffs = []
    for name, q in market.quotes.items():
        if not q.instrument.is_option:
            assert surface_market.quotes[name] == q  # delta-1 instruments untouched
            continue
        s = surface_market.quotes[name]
        k = np.log(q.instrument.strike / q.forward)  # type: ignore[operator]
        if abs(k) < 0.1 and q.time_to_expiry > 7 / 365:
            diffs.append(abs(s.mark_iv - q.mark_iv))  # type: ignore[operator]
    assert np.percentile(diffs, 95) < 0.01  # within a vol point near the money


def test_surface_marks_are_black76_at_the_surface_vol(marked) -> None:  # type: ignore[no-untyped-def]
    _, fits, surface_market = marked
    for q in list(surface_market.quotes.values())[:200]:
        if not q.instrument.is_option:
            continue
        inst = q.instrument
        vol = fits[inst.underlying].surface.implied_vol(inst.strike, q.time_to_expiry, q.forward)
        assert q.mark_iv == pytest.approx(float(vol), rel=1e-12)
        usd = black76_price(
            q.forward, inst.strike, q.time_to_expiry, vol, inst.option_type == "call"
        )
        assert q.mark_price == pytest.approx(float(usd) / q.forward, rel=1e-12)


def test_surface_marks_have_no_butterfly_arbitrage(marked) -> None:  # type: ignore[no-untyped-def]
    _, fits, surface_market = marked
    assert not any(f.report.butterfly_arbitrage for f in fits.values())
    # call prices convex in strike along one expiry
    calls = sorted(
        (q.instrument.strike, q.mark_price * q.forward)
        for q in surface_market.quotes.values()
        if q.instrument.name.startswith("BTC-27MAR26-") and q.instrument.option_type == "call"
    )
    k, c = np.array(calls).T
    slopes = np.diff(c) / np.diff(k)
    assert np.all(np.diff(slopes) >= -1e-9)
