"""Scenario sets as data: relative spot moves and vol shocks per underlying, with weights.

A scenario set is declarative: nothing here prices anything. ``moves[s, u]`` is the relative move
of underlying ``u`` in scenario ``s`` (the forward and spot of ``u`` go to ``P * (1 + move)``);
``vol_shocks[s, u]`` is the signed shock size read by the set's :class:`VolShockRule`; ``weights``
scale each scenario's P&L (1.0 normally; SPAN's extreme scenarios count 35 %).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from solvent.arrays import FloatArray, IntArray
from solvent.errors import SolventInputError


class VolShockKind(StrEnum):
    """How ``vol_shocks`` turn into shocked vols (see :func:`solvent.scenarios.vol_shock`)."""

    TERM_SCALED = "term_scaled"
    """Deribit/Derive: ``iv * (1 + r * (30 / max(dte, floor)) ** p)``, up shocks floored."""
    RELATIVE = "relative"
    """``iv * (1 + r)`` at every expiry."""
    ABSOLUTE = "absolute"
    """``iv + r`` (r in vol units, 0.05 = 5 vol points) at every expiry."""


@dataclass(frozen=True, slots=True)
class VolShockRule:
    """Parameters of the vol shock.

    ``short_term_power`` applies below ``term_days`` days to expiry, ``long_term_power`` from it on;
    ``dte_floor_days`` floors the days to expiry in the scaling; up-shocked vols are at least
    ``min_vol_for_shock_up`` (decimal); shocked vols never go below ``min_vol``.
    """

    kind: VolShockKind = VolShockKind.TERM_SCALED
    short_term_power: float = 0.30
    long_term_power: float = 0.13
    term_days: float = 30.0
    dte_floor_days: float = 1.0
    min_vol_for_shock_up: float = 0.0
    min_vol: float = 1e-4


@dataclass(frozen=True, slots=True)
class ScenarioSet:
    """``S`` scenarios over the underlyings ``underlyings``; see the module docstring."""

    name: str
    underlyings: tuple[str, ...]
    moves: FloatArray
    vol_shocks: FloatArray
    weights: FloatArray
    vol_rule: VolShockRule
    labels: tuple[str, ...]
    """One generic label per scenario, e.g. ``+8% vol up``; see :meth:`label`."""
    horizon_years: float = 0.0
    """Time that passes in every scenario (0 = instantaneous shock)."""

    def __post_init__(self) -> None:
        s, u = len(self.labels), len(self.underlyings)
        for name, arr in (("moves", self.moves), ("vol_shocks", self.vol_shocks)):
            if arr.shape != (s, u):
                raise SolventInputError(f"scenarios.{name}", f"shape {arr.shape} != ({s}, {u})")
            if not np.all(np.isfinite(arr)):
                raise SolventInputError(f"scenarios.{name}", "must be finite")
        if np.any(self.moves <= -1.0):
            raise SolventInputError("scenarios.moves", "a move must stay above -100 %")
        if self.weights.shape != (s,) or np.any(self.weights < 0):
            raise SolventInputError("scenarios.weights", "one non-negative weight per scenario")

    def __len__(self) -> int:
        return len(self.labels)

    def label(self, scenario: int, underlying: str | None = None) -> str:
        """``"BTC -16% vol up"``: the scenario's label, prefixed with the underlying if given."""
        if underlying is None:
            return self.labels[scenario]
        u = self.underlyings.index(underlying)
        move = float(self.moves[scenario, u])
        rest = self.labels[scenario].split(" ", 1)[1] if " " in self.labels[scenario] else ""
        return f"{underlying} {move:+.0%} {rest}".strip()

    def take(self, scenarios: IntArray) -> ScenarioSet:
        """The scenarios at the indices ``scenarios`` (in that order), over the same underlyings,
        with the same vol rule and horizon."""
        return ScenarioSet(
            name=self.name,
            underlyings=self.underlyings,
            moves=self.moves[scenarios],
            vol_shocks=self.vol_shocks[scenarios],
            weights=self.weights[scenarios],
            vol_rule=self.vol_rule,
            labels=tuple(self.labels[s] for s in scenarios.tolist()),
            horizon_years=self.horizon_years,
        )

    def column(self, underlying: str) -> int:
        """Column of ``underlying`` in ``moves``; error naming it when absent."""
        try:
            return self.underlyings.index(underlying)
        except ValueError:
            raise SolventInputError(
                "scenarios.underlyings", f"no scenarios for underlying {underlying!r}"
            ) from None
