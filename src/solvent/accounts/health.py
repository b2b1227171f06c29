"""Account health: equity against initial and maintenance margin, vectorized over accounts.

All amounts in USD. ``excess = equity - IM`` (negative = deficit); ``margin_ratio = MM / equity``
(undefined, ``None``, when equity <= 0). The state, from the most to the least severe condition:
``bankrupt`` (equity < 0), ``liquidation`` (equity < MM), ``margin_call`` (equity < IM),
``healthy`` otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt


class HealthState(StrEnum):
    """Account state by severity (codes 0..3 in :func:`health_codes`)."""

    HEALTHY = "healthy"
    MARGIN_CALL = "margin_call"
    LIQUIDATION = "liquidation"
    BANKRUPT = "bankrupt"


STATES = (
    HealthState.HEALTHY,
    HealthState.MARGIN_CALL,
    HealthState.LIQUIDATION,
    HealthState.BANKRUPT,
)


@dataclass(frozen=True, slots=True)
class Health:
    """One margin unit's health (USD)."""

    equity_usd: float
    collateral_value_usd: float
    initial_margin_usd: float
    maintenance_margin_usd: float
    excess_usd: float
    margin_ratio: float | None
    state: HealthState


def health_codes(
    equity: npt.ArrayLike, initial: npt.ArrayLike, maintenance: npt.ArrayLike
) -> npt.NDArray[np.int8]:
    """State codes (index into :data:`STATES`) for arrays of equity, IM and MM (USD)."""
    e = np.asarray(equity, dtype=np.float64)
    im = np.asarray(initial, dtype=np.float64)
    mm = np.asarray(maintenance, dtype=np.float64)
    codes = np.zeros(np.broadcast(e, im, mm).shape, dtype=np.int8)
    codes = np.where(e < im, 1, codes)
    codes = np.where(e < mm, 2, codes)
    codes = np.where(e < 0, 3, codes)
    return codes.astype(np.int8)


def assess(
    equity_usd: float, collateral_value_usd: float, initial_usd: float, maintenance_usd: float
) -> Health:
    """The :class:`Health` of one margin unit."""
    code = int(health_codes(equity_usd, initial_usd, maintenance_usd))
    ratio = maintenance_usd / equity_usd if equity_usd > 0 else None
    return Health(
        equity_usd=equity_usd,
        collateral_value_usd=collateral_value_usd,
        initial_margin_usd=initial_usd,
        maintenance_margin_usd=maintenance_usd,
        excess_usd=equity_usd - initial_usd,
        margin_ratio=ratio,
        state=STATES[code],
    )
