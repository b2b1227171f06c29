"""Margin results: what every model returns, per account and per margin pool.

Signs and units: requirements (``initial_margin``, ``maintenance_margin`` and every component) are
positive amounts in the pool's currency (a coin for a segregated coin pool, USD for a
cross-collateral pool); scenario P&L is signed (< 0 is a loss).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class ScenarioRef:
    """A scenario by index in the model's scenario list, and its label."""

    index: int
    label: str


@dataclass(frozen=True, slots=True)
class Contribution:
    """One position's share of its pool's requirement, in the pool's currency.

    Scenario models give ``pnl``: the position's signed P&L in the pool's worst scenario.
    Per-position models give ``initial_margin``: the position's own requirement (positive).
    """

    instrument: str
    quantity: float
    pnl: float | None = None
    initial_margin: float | None = None


@dataclass(frozen=True, slots=True)
class PoolMargin:
    """One margin pool of one account.

    ``components`` holds every additive part of the requirement under the model's own names; each
    model documents how IM and MM are derived from them (docs/methodology.md).
    """

    currency: str
    initial_margin: float
    maintenance_margin: float
    components: Mapping[str, float]
    worst_scenario: ScenarioRef | None = None
    scenarios: tuple[tuple[str, float], ...] | None = None
    contributions: tuple[Contribution, ...] | None = None
    risk_measures: Mapping[str, float] | None = None
    """Statistics behind the requirement that are not additive parts of it (e.g. fhs-es's VaR
    and ES at its confidence, USD), rendered as an optional ``risk_measures`` object."""


@dataclass(frozen=True, slots=True)
class AccountMargin:
    """An account's requirement under one model: its pools and their USD totals."""

    account: str
    model: str
    parameters: str
    pools: tuple[PoolMargin, ...]
    initial_margin_usd: float
    maintenance_margin_usd: float


@dataclass(frozen=True, slots=True)
class BookMargin:
    """Vectorized totals for a whole book (one entry per account, USD), and optionally the
    per-account detail (built only when asked: it is the slow part for a large book)."""

    model: str
    parameters: str
    accounts: tuple[str, ...]
    initial_margin_usd: NDArray[np.float64]
    maintenance_margin_usd: NDArray[np.float64]
    detail: tuple[AccountMargin, ...] | None = field(default=None)


@dataclass(frozen=True, slots=True)
class Explanation:
    """What a pool's ``--explain`` contributions add up to (each contribution counts its ``pnl``,
    or its ``initial_margin`` when it has no ``pnl``)::

        sum of contributions = (P&L of scenarios[worst_scenario.index] if worst_scenario)
                               + sum over components c of components[c] * coefficient

    e.g. span: the worst scenario's P&L; deribit-pm: ``-worst_case``; fhs-es: ``-es``; per-position
    and Euler models: their IM components. ``tolerance`` is relative: an Euler allocation by
    finite differences adds up only approximately.
    """

    worst_scenario: bool = False
    components: Mapping[str, float] = field(default_factory=dict)
    tolerance: float = 1e-9

    def target(self, pool: PoolMargin) -> float:
        """What ``pool``'s contributions must add up to (pool currency)."""
        total = _combine(self.components, pool.components)
        if self.worst_scenario:
            if pool.worst_scenario is None or not pool.scenarios:
                raise ValueError(f"pool {pool.currency} has no worst scenario to explain")
            total += pool.scenarios[pool.worst_scenario.index][1]
        return total


@dataclass(frozen=True, slots=True)
class Composition:
    """How a model re-derives a pool's IM and MM from its ``components`` (its documented formula,
    as data, so that the contract test can check every model the same way).

    ``initial`` and ``maintenance`` map a component name, or an :mod:`fnmatch` pattern such as
    ``"*.initial_margin"`` (for names that depend on the book), to its coefficient::

        IM = sum over components c of coefficient(initial, c) * components[c]

    and likewise for MM; a component no key matches counts 0 (e.g. ``maintenance_margin =
    mm_factor * IM`` is ``maintenance = {c: mm_factor for c in initial}``). A name matching
    several keys takes the first key's coefficient (exact names before patterns).

    ``explained`` says what the ``--explain`` contributions add up to (:class:`Explanation`);
    ``None`` when the model lists no contributions.
    """

    initial: Mapping[str, float]
    maintenance: Mapping[str, float]
    explained: Explanation | None = None

    @classmethod
    def scaled(
        cls, initial: Mapping[str, float], mm_factor: float, explained: Explanation | None = None
    ) -> Composition:
        """``IM`` as given and ``MM = mm_factor * IM``."""
        return cls(dict(initial), {name: c * mm_factor for name, c in initial.items()}, explained)

    def initial_margin(self, components: Mapping[str, float]) -> float:
        """IM re-derived from ``components`` (pool currency)."""
        return _combine(self.initial, components)

    def maintenance_margin(self, components: Mapping[str, float]) -> float:
        """MM re-derived from ``components`` (pool currency)."""
        return _combine(self.maintenance, components)


def _coefficient(terms: Mapping[str, float], name: str) -> float:
    if name in terms:
        return terms[name]
    for pattern, c in terms.items():
        if fnmatch.fnmatchcase(name, pattern):
            return c
    return 0.0


def _combine(terms: Mapping[str, float], components: Mapping[str, float]) -> float:
    return float(sum(_coefficient(terms, name) * v for name, v in components.items()))
