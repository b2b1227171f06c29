"""Array pieces shared by Derive's PMRM v1 and PMRM_2 (our own code from the published formulas).

Everything is vectorized over options (columns) and evaluation rows (scenarios); the only Python
loops are over a handful of expiries, never over positions.
"""

from __future__ import annotations

import numpy as np

from solvent.arrays import FloatArray
from solvent.margin.derive.portfolio import (
    SECONDS_PER_DAY,
    SECONDS_PER_YEAR,
    DeriveMarket,
    DeriveOptions,
)
from solvent.pricing.black76 import black76_price

THIRTY_DAYS_SEC = 30.0 * SECONDS_PER_DAY


def years(sec: FloatArray) -> FloatArray:
    """Derive's ``annualise``: seconds / 365 days."""
    return np.asarray(sec / SECONDS_PER_YEAR, dtype=np.float64)


def vol_shock_multipliers(
    sec: FloatArray,
    vol_range_up: float,
    vol_range_down: float,
    short_term_power: float,
    long_term_power: float,
    dte_floor_days: float,
) -> tuple[FloatArray, FloatArray]:
    """Per-expiry vol multipliers (up, down).

    ``m = (30 d / max(sec, floor)) ** (sec <= 30 d ? short_term_power : long_term_power)``;
    up = 1 + vol_range_up * m; down = max(0, 1 - vol_range_down * m).
    """
    floor = dte_floor_days * SECONDS_PER_DAY
    with np.errstate(divide="ignore"):
        base = THIRTY_DAYS_SEC / np.maximum(sec, floor)
    power = np.where(sec <= THIRTY_DAYS_SEC, short_term_power, long_term_power)
    m = np.power(base, power)
    up = 1.0 + vol_range_up * m
    down = np.maximum(0.0, 1.0 - vol_range_down * m)
    return np.asarray(up, dtype=np.float64), np.asarray(down, dtype=np.float64)


def naked_shorts(options: DeriveOptions, n_expiries: int) -> FloatArray:
    """Per-expiry count of naked short options, netting calls against puts at the same strike.

    Grouping an expiry's options by strike only, each strike contributes
    ``max(-(sum of amounts at that strike), 0)``: one short leg counts in full, a short leg
    against a long leg counts ``|short| - min(|short|, long)``, two shorts count both.
    """
    out = np.zeros(n_expiries, dtype=np.float64)
    if len(options) == 0:
        return out
    keys = np.stack([options.expiry_index.astype(np.float64), options.strike], axis=1)
    uniq, inv = np.unique(keys, axis=0, return_inverse=True)
    net = np.bincount(inv.reshape(-1), weights=options.amount, minlength=uniq.shape[0])
    naked = np.maximum(-net, 0.0)
    np.add.at(out, uniq[:, 0].astype(np.int64), naked)
    return out


def net_options(options: DeriveOptions, n_expiries: int) -> FloatArray:
    """Per-expiry sum of |amount| (the notional base of the confidence charge)."""
    return np.bincount(
        options.expiry_index, weights=np.abs(options.amount), minlength=n_expiries
    ).astype(np.float64)


def market_confidence(market: DeriveMarket) -> float:
    """The market's oracle confidence: the spot's, and the perp's too when a perp is held."""
    if market.perp_position != 0.0:
        return min(market.spot_confidence, market.perp_confidence)
    return market.spot_confidence


def expiry_confidence(market: DeriveMarket, expiries: dict[str, FloatArray]) -> FloatArray:
    """Per expiry, the lowest of its forward, rate and vol confidences and of
    :func:`market_confidence`; ``expiries`` is :meth:`DeriveMarket.expiry_arrays`."""
    market_conf = market_confidence(market)
    n_exp = len(market.expiries)
    if not n_exp:
        return np.zeros(0)
    return np.asarray(
        np.minimum.reduce(
            [
                expiries["fwd_conf"],
                expiries["rate_conf"],
                expiries["vol_conf"],
                np.full(n_exp, market_conf),
            ]
        ),
        dtype=np.float64,
    )


def confidence_charge(
    conf: FloatArray | float, notional: FloatArray | float, threshold: float, margin: float
) -> FloatArray:
    """``(1 - conf) * margin * notional`` where ``conf < threshold``, else 0 (USD, >= 0)."""
    c = np.asarray(conf, dtype=np.float64)
    charge = np.where(c < threshold, (1.0 - c) * margin * np.asarray(notional), 0.0)
    return np.asarray(charge, dtype=np.float64)


def expiry_values(
    options: DeriveOptions,
    n_expiries: int,
    forward: FloatArray,
    vol: FloatArray,
    discount_per_option: FloatArray,
    tau_per_option: FloatArray,
) -> FloatArray:
    """Value (USD) of each expiry's options in each evaluation row.

    ``forward`` and ``vol`` are (rows x options) after the row's shocks; the result is
    (rows x expiries) = sum over the expiry's options of amount * Black-76 price.
    """
    rows = forward.shape[0]
    if len(options) == 0:
        return np.zeros((rows, n_expiries), dtype=np.float64)
    price = black76_price(
        forward,
        options.strike[None, :],
        tau_per_option[None, :],
        vol,
        options.is_call[None, :],
        discount_per_option[None, :],
    )
    weighted = price * options.amount[None, :]
    onehot = np.zeros((len(options), n_expiries), dtype=np.float64)
    onehot[np.arange(len(options)), options.expiry_index] = 1.0
    return np.asarray(weighted @ onehot, dtype=np.float64)
