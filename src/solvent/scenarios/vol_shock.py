"""Shocked implied volatilities (decimal) for a scenario set's vol shocks."""

from __future__ import annotations

import numpy as np

from solvent.arrays import FloatArray
from solvent.scenarios.scenario_set import VolShockKind, VolShockRule

DAYS_PER_YEAR = 365.0


def shocked_vol(
    vol: FloatArray, time_years: FloatArray, shock: FloatArray, rule: VolShockRule
) -> FloatArray:
    """Vols after ``shock`` (broadcasting arrays) under ``rule``.

    Term-scaled (Deribit, METHODOLOGY.md 0): ``vol * (1 + r * (30 / max(dte_days, floor)) ** p)``
    with ``p`` the short-term power below 30 days and the long-term power from 30 days on; an up
    shock (``r > 0``) gives at least ``min_vol_for_shock_up``. Every result is at least
    ``rule.min_vol``.
    """
    if rule.kind is VolShockKind.ABSOLUTE:
        out = vol + shock
    elif rule.kind is VolShockKind.RELATIVE:
        out = vol * (1.0 + shock)
    else:
        dte = np.maximum(time_years * DAYS_PER_YEAR, rule.dte_floor_days)
        power = np.where(dte < rule.term_days, rule.short_term_power, rule.long_term_power)
        out = vol * (1.0 + shock * (rule.term_days / dte) ** power)
        out = np.where(shock > 0, np.maximum(out, rule.min_vol_for_shock_up), out)
    result: FloatArray = np.maximum(out, rule.min_vol)
    return result
