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

from dataclasses import dataclass

import numpy as np

from solvent.arrays import FloatArray
from solvent.instruments.table import InstrumentTable
from solvent.market.snapshot import MarketColumns, MarketSnapshot
from solvent.pricing.black76 import black76_price
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


def compute_risk_array(
    table: InstrumentTable, market: MarketColumns, scenarios: ScenarioSet
) -> RiskArray:
    """Full revaluation of every instrument of ``table`` in every scenario (vectorized)."""
    cols = np.fromiter(
        (scenarios.column(u) for u in table.underlyings), np.intp, len(table.underlyings)
    )
    u_col = cols[table.underlying_code]  # scenario column of each instrument's underlying
    factor = 1.0 + scenarios.moves[:, u_col].T  # (I, S)
    shock = scenarios.vol_shocks[:, u_col].T
    f0 = market.forward[:, None]
    f1 = f0 * factor
    pnl = np.empty_like(factor)

    opt = table.is_option
    if opt.any():
        t0 = market.time[opt][:, None]
        t1 = np.maximum(t0 - scenarios.horizon_years, 0.0)
        vol0 = market.vol[opt][:, None]
        vol1 = shocked_vol(vol0, t0, shock[opt], scenarios.vol_rule)
        strike = table.strike[opt][:, None]
        call = table.is_call[opt][:, None]
        disc = market.discount[opt][:, None]
        p0 = black76_price(f0[opt], strike, t0, vol0, call, disc)
        p1 = black76_price(f1[opt], strike, t1, vol1, call, disc)
        inverse = table.is_inverse[opt][:, None]
        pnl[opt] = np.where(inverse, p1 / f1[opt] - p0 / f0[opt], p1 - p0)
    d1 = ~opt
    if d1.any():
        inverse = table.is_inverse[d1][:, None]
        pnl[d1] = np.where(inverse, inverse_pnl(f0[d1], f1[d1]), linear_pnl(f0[d1], f1[d1]))
    pnl *= table.contract_size[:, None] * scenarios.weights[None, :]
    return RiskArray(table=table, scenarios=scenarios, pnl=pnl)
