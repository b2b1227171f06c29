"""Stress scenarios: historical (computed from a price history) and hypothetical.

A :class:`StressScenario` gives, per asset, a relative price move (``P1 = P0 (1 + move)``) and a
relative ATM-vol shock (``iv1 = iv0 (1 + vol_shock)``), and optionally the USD price of
depegged stablecoins. Assets not named move like ``default_move`` (with ``default_vol_shock``).

Historical scenarios are the relative change of each asset's close between two dates of the
history (``close(end) / close(start) - 1``), one day or one week:

- ``2020-03-12`` (COVID crash): 2020-03-11 -> 2020-03-12;
- ``2021-05-19`` (China mining ban crash): 2021-05-18 -> 2021-05-19;
- ``2022-05-luna`` (UST/LUNA collapse week): 2022-05-05 -> 2022-05-12;
- ``2022-11-ftx`` (FTX collapse week): 2022-11-06 -> 2022-11-13.

Their vol shock is ``vol_beta x ln(1 + move)`` (the fhs-es default beta, -1.0), clipped to
``[-0.9, 2]``. An asset without both closes takes BTC's move and is listed in ``proxied``.

Hypothetical ones: ``crash-40-vol-x2`` (every non-stable asset -40 %, vols doubled),
``rally-40-vol-x1.5``, ``usdc-depeg-0.9`` and ``usdt-depeg-0.9`` (the stablecoin at 0.90 USD,
nothing else moves). A depeg to ``d`` hits (:mod:`solvent.stress.apply`): collateral in that coin
is worth ``d`` USD per unit, and the P&L and option values of instruments settled in it convert
to USD at ``d``; USD index prices of the other assets do not change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

import numpy as np

from solvent.errors import SolventInputError
from solvent.market.history import PriceHistory

VOL_BETA = -1.0
STABLECOINS = frozenset({"USDC", "USDT", "USD"})


class StressKind(StrEnum):
    HISTORICAL = "historical"
    HYPOTHETICAL = "hypothetical"


@dataclass(frozen=True, slots=True)
class StressScenario:
    """One stress scenario (see the module docstring); moves and shocks are decimals."""

    name: str
    kind: StressKind
    description: str
    moves: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    vol_shocks: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    default_move: float = 0.0
    default_vol_shock: float = 0.0
    stablecoin_prices: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    start: str | None = None
    end: str | None = None
    proxied: tuple[str, ...] = ()

    def move(self, asset: str) -> float:
        """Relative move of ``asset`` (0 for a stablecoin: its depeg is a price, not a move)."""
        if asset in STABLECOINS:
            return 0.0
        return self.moves.get(asset, self.default_move)

    def vol_shock(self, asset: str) -> float:
        return self.vol_shocks.get(asset, self.default_vol_shock)

    def stable_price(self, asset: str) -> float:
        """USD price of a stablecoin in the scenario (1.0 unless depegged)."""
        return self.stablecoin_prices.get(asset, 1.0)


HISTORICAL_WINDOWS: dict[str, tuple[str, str, str]] = {
    "2020-03-12": ("2020-03-11", "2020-03-12", "COVID crash day"),
    "2021-05-19": ("2021-05-18", "2021-05-19", "China mining-ban crash day"),
    "2022-05-luna": ("2022-05-05", "2022-05-12", "UST/LUNA collapse week"),
    "2022-11-ftx": ("2022-11-06", "2022-11-13", "FTX collapse week"),
}


def historical_scenario(
    history: PriceHistory, name: str, start: str, end: str, description: str = ""
) -> StressScenario:
    """Relative close-to-close moves of every asset of ``history`` from ``start`` to ``end``."""
    d0, d1 = np.datetime64(start, "D"), np.datetime64(end, "D")
    i0 = np.flatnonzero(history.dates == d0)
    i1 = np.flatnonzero(history.dates == d1)
    if i0.size == 0 or i1.size == 0:
        raise SolventInputError("history", f"scenario {name}: no closes on {start} and {end}")
    c0, c1 = history.closes[i0[0]], history.closes[i1[0]]
    have = ~np.isnan(c0) & ~np.isnan(c1)
    moves = {a: float(c1[j] / c0[j] - 1.0) for j, a in enumerate(history.assets) if have[j]}
    if "BTC" not in moves:
        raise SolventInputError("history", f"scenario {name}: BTC has no closes on both dates")
    proxied = tuple(a for j, a in enumerate(history.assets) if not have[j])
    shocks = {a: _vol_from_move(m) for a, m in moves.items()}
    return StressScenario(
        name=name,
        kind=StressKind.HISTORICAL,
        description=description or f"{start} -> {end}",
        moves=MappingProxyType(moves),
        vol_shocks=MappingProxyType(shocks),
        default_move=moves["BTC"],
        default_vol_shock=shocks["BTC"],
        start=start,
        end=end,
        proxied=proxied,
    )


def _vol_from_move(move: float) -> float:
    return float(np.clip(VOL_BETA * np.log1p(move), -0.9, 2.0))


def hypothetical_scenarios() -> tuple[StressScenario, ...]:
    """The hypothetical scenarios of the module docstring."""
    return (
        StressScenario(
            "crash-40-vol-x2",
            StressKind.HYPOTHETICAL,
            "every non-stable asset -40 %, implied vols doubled",
            default_move=-0.40,
            default_vol_shock=1.0,
        ),
        StressScenario(
            "rally-40-vol-x1.5",
            StressKind.HYPOTHETICAL,
            "every non-stable asset +40 %, implied vols x1.5",
            default_move=0.40,
            default_vol_shock=0.5,
        ),
        StressScenario(
            "usdc-depeg-0.9",
            StressKind.HYPOTHETICAL,
            "USDC at 0.90 USD",
            stablecoin_prices=MappingProxyType({"USDC": 0.9}),
        ),
        StressScenario(
            "usdt-depeg-0.9",
            StressKind.HYPOTHETICAL,
            "USDT at 0.90 USD",
            stablecoin_prices=MappingProxyType({"USDT": 0.9}),
        ),
    )


def stress_library(history: PriceHistory) -> dict[str, StressScenario]:
    """Every built-in scenario by name: the historical ones from ``history``, then the
    hypothetical ones."""
    out = {
        name: historical_scenario(history, name, s, e, d)
        for name, (s, e, d) in HISTORICAL_WINDOWS.items()
    }
    out |= {s.name: s for s in hypothetical_scenarios()}
    return out
