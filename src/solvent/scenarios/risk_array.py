"""Risk arrays: the P&L of one unit of every instrument in every scenario, by full revaluation.

``pnl[i, s]`` is the P&L of 1 unit long of instrument ``i`` (times its contract size) in scenario
``s``, in the instrument's settlement asset (coin for inverse instruments, USD for linear ones),
already multiplied by the scenario's weight. Computed once per market update; an account's
scenario P&L is then its position vector times this matrix (:mod:`solvent.portfolio.book`).

Revaluation: the underlying's forward of every expiry and its spot move by the scenario's
relative move; options are repriced with Black-76 at the shocked vol, ``horizon_years`` closer to
expiry; delta-1 P&L is ``P1 - P0`` (linear, USD) or ``1 - P0 / P1`` (inverse, coin).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from solvent.arrays import BoolArray, FloatArray, IntArray
from solvent.instruments.table import InstrumentTable
from solvent.market.snapshot import MarketColumns, MarketSnapshot
from solvent.pricing.black76 import VolTerms, black76_price_at, vol_terms
from solvent.pricing.delta_one import inverse_pnl, linear_pnl
from solvent.scenarios.scenario_set import ScenarioSet
from solvent.scenarios.vol_shock import shocked_vol


@dataclass(frozen=True, slots=True)
class RiskArray:
    """``pnl`` (instruments x scenarios), settlement-asset units per 1 unit long, weighted."""

    table: InstrumentTable
    scenarios: ScenarioSet
    pnl: FloatArray

    def settlement_usd(self, market: MarketSnapshot) -> FloatArray:
        """(settlement assets x scenarios): the USD value of one unit of each settlement asset in
        each scenario. A coin that is itself a scenario underlying is valued at its moved price
        (today's index times ``1 + move``); any other asset (a USD stablecoin) at today's price."""
        sset = self.scenarios
        rows = []
        for asset in self.table.settlement_assets:
            px = market.price_usd(asset, "settlement_asset")
            moved = asset in sset.underlyings
            rows.append(
                px * (1.0 + sset.moves[:, sset.column(asset)]) if moved else np.full(len(sset), px)
            )
        out: FloatArray = np.vstack(rows) if rows else np.zeros((0, len(sset)))
        return out

    def usd_pnl(self, market: MarketSnapshot) -> FloatArray:
        """``pnl`` in USD: each instrument's settlement-asset P&L at the scenario's value of its
        settlement asset (:meth:`settlement_usd`)."""
        out: FloatArray = self.pnl * self.settlement_usd(market)[self.table.settlement_code]
        return out


@dataclass(frozen=True, slots=True)
class Revaluation:
    """Everything of a full revaluation (:func:`compute_risk_array`) that does not depend on the
    instruments' forwards: the scenario factors, the vol terms of Black-76 before and after
    each scenario's vol shock, and the P&L scale (contract size x scenario weight), for the
    option rows and the delta-one rows apart. Computed once (:func:`revaluation`), it revalues
    the same instruments at any forwards (:func:`revalue`): a move of the underlyings' prices
    that keeps strikes, times and vols (sticky strike) re-prices without recomputing it, with
    the same figures bit for bit."""

    table: InstrumentTable
    scenarios: ScenarioSet
    options: _RowGroup
    delta_one: _RowGroup
    strike: FloatArray
    """Strikes of the options (options x 1), USD."""
    is_call: BoolArray
    discount: FloatArray
    before: VolTerms
    """Vol terms of the options now (options x 1)."""
    after: VolTerms
    """Vol terms of the options in each scenario (options x scenarios)."""


@dataclass(frozen=True, slots=True)
class _RowGroup:
    """Rows of a :class:`Revaluation` (options, or delta-one instruments): their indices,
    ``1 + move`` of their underlying and their P&L scale in each scenario (rows x scenarios),
    and which of them are inverse (coin-settled)."""

    rows: IntArray
    factor: FloatArray
    scale: FloatArray
    inverse: BoolArray

    @classmethod
    def of(
        cls, rows: IntArray, factor: FloatArray, scale: FloatArray, inverse: BoolArray
    ) -> _RowGroup:
        return cls(rows, np.ascontiguousarray(factor[rows]), scale[rows], inverse[rows])


def revaluation(
    table: InstrumentTable, market: MarketColumns, scenarios: ScenarioSet
) -> Revaluation:
    """The forward-free part of revaluing ``table`` (times, vols and discounts from ``market``)
    in every scenario of ``scenarios`` (see :class:`Revaluation`)."""
    cols = np.fromiter(
        (scenarios.column(u) for u in table.underlyings), np.intp, len(table.underlyings)
    )
    u_col = cols[table.underlying_code]  # scenario column of each instrument's underlying
    factor = 1.0 + scenarios.moves[:, u_col].T  # (I, S)
    scale = table.contract_size[:, None] * scenarios.weights[None, :]
    opt = table.is_option
    t0 = market.time[opt][:, None]
    t1 = np.maximum(t0 - scenarios.horizon_years, 0.0)
    vol0 = market.vol[opt][:, None]
    vol1 = shocked_vol(vol0, t0, scenarios.vol_shocks[:, u_col[opt]].T, scenarios.vol_rule)
    with np.errstate(divide="ignore", invalid="ignore"):
        before, after = vol_terms(t0, vol0), vol_terms(t1, vol1)
    inverse = table.is_inverse
    return Revaluation(
        table=table,
        scenarios=scenarios,
        options=_RowGroup.of(np.flatnonzero(opt), factor, scale, inverse),
        delta_one=_RowGroup.of(np.flatnonzero(~opt), factor, scale, inverse),
        strike=table.strike[opt][:, None],
        is_call=table.is_call[opt][:, None],
        discount=market.discount[opt][:, None],
        before=before,
        after=after,
    )


def _by_settlement(
    inverse: BoolArray, coin: Callable[[], FloatArray], usd: Callable[[], FloatArray]
) -> FloatArray:
    """Per row, ``coin()`` where ``inverse`` else ``usd()`` (only the branch needed computed
    when every row is alike)."""
    if inverse.all():
        return coin()
    if not inverse.any():
        return usd()
    out: FloatArray = np.where(inverse[:, None], coin(), usd())
    return out


def revalue(terms: Revaluation, forward: FloatArray) -> RiskArray:
    """The risk array of ``terms``' instruments with forwards ``forward`` (USD per unit of the
    underlying, one per instrument): full revaluation, every scenario (see the module
    docstring)."""
    f0 = forward[:, None]
    pnl = np.empty((len(forward), len(terms.scenarios)), dtype=np.float64)
    opt = terms.options
    if opt.rows.size:
        fo = f0[opt.rows]
        f1 = fo * opt.factor
        strike, call, disc = terms.strike, terms.is_call, terms.discount
        p0 = black76_price_at(fo, strike, terms.before, call, disc)
        p1 = black76_price_at(f1, strike, terms.after, call, disc)
        part = _by_settlement(opt.inverse, lambda: p1 / f1 - p0 / fo, lambda: p1 - p0)
        part *= opt.scale
        pnl[opt.rows] = part
    one = terms.delta_one
    if one.rows.size:
        fd = f0[one.rows]
        f1 = fd * one.factor
        part = _by_settlement(one.inverse, lambda: inverse_pnl(fd, f1), lambda: linear_pnl(fd, f1))
        part *= one.scale
        pnl[one.rows] = part
    return RiskArray(table=terms.table, scenarios=terms.scenarios, pnl=pnl)


def compute_risk_array(
    table: InstrumentTable, market: MarketColumns, scenarios: ScenarioSet
) -> RiskArray:
    """Full revaluation of every instrument of ``table`` in every scenario (vectorized)."""
    return revalue(revaluation(table, market, scenarios), market.forward)
