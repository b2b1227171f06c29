"""Option marks from fitted volatility surfaces.

:func:`fit_snapshot_surfaces` fits one SVI surface per underlying to the options of a snapshot
(their mark IVs, forwards and times to expiry); :func:`mark_options_from_surfaces` returns a new
snapshot in which every option of a fitted underlying is marked at its surface's implied vol
(premium recomputed with Black-76 on the same forward), so marks are smooth, free of butterfly
arbitrage, and defined for strikes that had no quote. Other instruments are unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType

import numpy as np

from solvent.market.snapshot import InstrumentQuote, MarketSnapshot
from solvent.market.vol_surface import (
    MIN_POINTS_PER_EXPIRY,
    SurfaceFit,
    VolSurface,
    fit_vol_surface,
)
from solvent.pricing.black76 import black76_price


def fit_snapshot_surfaces(
    market: MarketSnapshot, liquid: Mapping[str, bool] | None = None
) -> dict[str, SurfaceFit]:
    """One surface per underlying with options; expiries with fewer than the minimum number of
    quotes are left out of the fit (the surface interpolates over them). ``liquid`` marks quotes
    by instrument name for the fit report's liquid figures (default: all)."""
    by_underlying: dict[str, list[InstrumentQuote]] = {}
    for q in market.quotes.values():
        if q.instrument.is_option and q.mark_iv is not None and q.time_to_expiry > 0:
            by_underlying.setdefault(q.instrument.underlying, []).append(q)
    fits = {}
    for underlying, quotes in sorted(by_underlying.items()):
        times = np.array([q.time_to_expiry for q in quotes])
        _, group, counts = np.unique(times, return_inverse=True, return_counts=True)
        keep = [q for q, g in zip(quotes, group, strict=True) if counts[g] >= MIN_POINTS_PER_EXPIRY]
        if not keep:
            continue
        fits[underlying] = fit_vol_surface(
            underlying,
            [q.time_to_expiry for q in keep],
            np.array([q.instrument.strike for q in keep], dtype=np.float64),
            [q.forward for q in keep],
            np.array([q.mark_iv for q in keep], dtype=np.float64),
            None
            if liquid is None
            else np.array([liquid.get(q.instrument.name, True) for q in keep]),
        )
    return fits


def mark_options_from_surfaces(
    market: MarketSnapshot, surfaces: Mapping[str, VolSurface]
) -> MarketSnapshot:
    """A new snapshot with every option of a surface's underlying marked from that surface."""
    names = [
        n
        for n, q in market.quotes.items()
        if q.instrument.is_option and q.instrument.underlying in surfaces and q.time_to_expiry > 0
    ]
    if not names:
        return market
    table = market.table(names)
    cols = market.columns(table)
    vol = np.empty(len(names))
    for u_code, underlying in enumerate(table.underlyings):
        rows = table.underlying_code == u_code
        vol[rows] = surfaces[underlying].implied_vol(
            table.strike[rows], cols.time[rows], cols.forward[rows]
        )
    usd = black76_price(cols.forward, table.strike, cols.time, vol, table.is_call, cols.discount)
    mark = np.where(table.is_inverse, usd / cols.forward, usd)
    quotes = dict(market.quotes)
    for i, name in enumerate(names):
        quotes[name] = replace(quotes[name], mark_iv=float(vol[i]), mark_price=float(mark[i]))
    return replace(market, quotes=MappingProxyType(quotes))
