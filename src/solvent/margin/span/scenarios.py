"""The 16 standard SPAN risk scenarios (CME order), as data.

Each scenario moves the underlying price by a multiple of the price scan range and the volatility
by a multiple of the volatility scan range; scenarios 15 and 16 are the extreme moves (twice the
price scan range, volatility unchanged) of which only a fraction (35 %) of the loss is counted.
Indices here are 0-based (``index 0`` is CME's scenario 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

N_SCENARIOS: Final = 16


@dataclass(frozen=True, slots=True)
class SpanScenario:
    """One scenario: ``price_move`` and ``vol_move`` in multiples of the scan ranges.

    ``extreme`` scenarios move the price by ``price_move`` times the *extreme multiple* in the
    parameter set (the standard files use +-2 x the range) and count only the cover fraction.
    """

    number: int  # CME's 1-based scenario number
    price_move: float  # multiple of the price scan range (+1 = up the full range)
    vol_move: float  # +1 up the volatility scan range, -1 down, 0 unchanged
    extreme: bool
    label: str


def _label(price: str, vol: str) -> str:
    return f"price {price}, vol {vol}"


SCENARIOS: Final[tuple[SpanScenario, ...]] = (
    SpanScenario(1, 0.0, 1.0, False, _label("unchanged", "up")),
    SpanScenario(2, 0.0, -1.0, False, _label("unchanged", "down")),
    SpanScenario(3, 1 / 3, 1.0, False, _label("up 1/3 range", "up")),
    SpanScenario(4, 1 / 3, -1.0, False, _label("up 1/3 range", "down")),
    SpanScenario(5, -1 / 3, 1.0, False, _label("down 1/3 range", "up")),
    SpanScenario(6, -1 / 3, -1.0, False, _label("down 1/3 range", "down")),
    SpanScenario(7, 2 / 3, 1.0, False, _label("up 2/3 range", "up")),
    SpanScenario(8, 2 / 3, -1.0, False, _label("up 2/3 range", "down")),
    SpanScenario(9, -2 / 3, 1.0, False, _label("down 2/3 range", "up")),
    SpanScenario(10, -2 / 3, -1.0, False, _label("down 2/3 range", "down")),
    SpanScenario(11, 1.0, 1.0, False, _label("up 3/3 range", "up")),
    SpanScenario(12, 1.0, -1.0, False, _label("up 3/3 range", "down")),
    SpanScenario(13, -1.0, 1.0, False, _label("down 3/3 range", "up")),
    SpanScenario(14, -1.0, -1.0, False, _label("down 3/3 range", "down")),
    SpanScenario(15, 1.0, 0.0, True, _label("up extreme", "unchanged")),
    SpanScenario(16, -1.0, 0.0, True, _label("down extreme", "unchanged")),
)

LABELS: Final[tuple[str, ...]] = tuple(s.label for s in SCENARIOS)

#: Price moves in multiples of the price scan range (extremes +-1: scale by the extreme multiple).
PRICE_MOVES: Final[NDArray[np.float64]] = np.array([s.price_move for s in SCENARIOS])
#: Volatility moves: +1 up the vol scan range, -1 down, 0 unchanged.
VOL_MOVES: Final[NDArray[np.float64]] = np.array([s.vol_move for s in SCENARIOS])
#: True for the two extreme scenarios (15 and 16).
EXTREME: Final[NDArray[np.bool_]] = np.array([s.extreme for s in SCENARIOS])
#: The two scenarios whose average is the time risk (price unchanged, vol up / down).
TIME_RISK_SCENARIOS: Final = (0, 1)
