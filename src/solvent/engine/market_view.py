"""The market as the service shows it (``GET /v1/market``): index prices, every instrument's marks
and greeks (the rows of ``solvent price``, docs/formats.md 4) and each underlying's fitted
implied-volatility surface on a fixed grid.

Surface grid: every fitted expiry (``times`` in years ACT/365 from ``as_of``, ``expiries`` as UTC
timestamps) by :data:`LOG_MONEYNESS` (``k = ln(strike / forward)``); ``implied_vol[i][j]`` is the
SVI surface's implied volatility (decimal, 0.45 = 45 %) at expiry ``i`` and moneyness ``j``.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import numpy as np

from solvent.engine.pricing import price_instruments
from solvent.engine.views import priced_to_json
from solvent.market.snapshot import MarketSnapshot
from solvent.market.surface_marks import fit_snapshot_surfaces
from solvent.market.vol_surface import SurfaceFit
from solvent.validation import iso_utc

LOG_MONEYNESS: tuple[float, ...] = tuple(round(-0.5 + 0.1 * i, 1) for i in range(11))
"""The surface grid's log-moneyness points, -0.5 to 0.5 (strike / forward from 0.61 to 1.65)."""
SECONDS_PER_YEAR = 365.0 * 86400.0


def vol_surface_json(market: MarketSnapshot, fits: dict[str, SurfaceFit]) -> dict[str, Any]:
    """Each underlying's surface on the grid (see the module docstring) with its fit error."""
    k = np.asarray(LOG_MONEYNESS)
    out: dict[str, Any] = {}
    for underlying, fit in sorted(fits.items()):
        surface = fit.surface
        times = surface.times.tolist()
        grid = surface.implied_vol_k(k[None, :], surface.times[:, None])
        out[underlying] = {
            "times": times,
            "expiries": [
                iso_utc(market.as_of + timedelta(seconds=t * SECONDS_PER_YEAR)) for t in times
            ],
            "log_moneyness": list(LOG_MONEYNESS),
            "implied_vol": [[_finite(v) for v in row] for row in grid.tolist()],
            "rms_iv_error": _finite(fit.report.rms_iv_error),
        }
    return out


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def market_json(market: MarketSnapshot) -> dict[str, Any]:
    """``GET /v1/market``: ``as_of``, ``index`` (USD), ``instruments`` (as ``solvent price``) and
    ``vol_surface`` (per underlying with options)."""
    as_of = iso_utc(market.as_of)
    return {
        "as_of": as_of,
        "index": dict(sorted(market.index.items())),
        "instruments": priced_to_json(as_of, price_instruments(market))["instruments"],
        "vol_surface": vol_surface_json(market, fit_snapshot_surfaces(market)),
    }
