"""Price every instrument of a snapshot: marks and display greeks (``solvent price``).

Greeks follow Deribit's display conventions (docs/formats.md 4), all from Black-76 on the
forward with USD values: ``delta`` = N(d1) for a call and N(d1) - 1 for a put; ``gamma`` per 1
USD of forward; ``vega`` USD per vol point (0.01); ``theta`` USD per calendar day. Delta-1
instruments: delta 1 and the other greeks 0. Inverse options also get ``delta_coin``, the
premium-adjusted coin delta.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from solvent.arrays import FloatArray
from solvent.instruments.table import InstrumentTable
from solvent.market.snapshot import MarketSnapshot
from solvent.pricing.black76 import premium_adjusted_delta
from solvent.pricing.unit_greeks import table_greeks

DAYS_PER_YEAR = 365.0


@dataclass(frozen=True, slots=True)
class PricedInstruments:
    """Columns aligned with ``table``: see the module docstring for units.

    ``mark_price`` settlement-asset units; ``mark_price_usd`` USD; ``mark_iv`` NaN for delta-1;
    ``delta_coin`` NaN where it does not apply (delta-1 and linear options).
    """

    table: InstrumentTable
    mark_price: FloatArray
    mark_price_usd: FloatArray
    mark_iv: FloatArray
    forward: FloatArray
    delta: FloatArray
    gamma: FloatArray
    vega: FloatArray
    theta: FloatArray
    delta_coin: FloatArray


def price_instruments(market: MarketSnapshot) -> PricedInstruments:
    """Marks and greeks of every instrument in ``market`` (vectorized over the whole table)."""
    table = market.table(list(market.quotes))
    cols = market.columns(table)
    opt = table.is_option
    g = table_greeks(table, cols)
    mark_usd = np.where(opt & table.is_inverse, cols.mark_price * cols.forward, cols.mark_price)
    coin_price = np.where(opt & table.is_inverse, cols.mark_price, np.nan)
    return PricedInstruments(
        table=table,
        mark_price=cols.mark_price,
        mark_price_usd=mark_usd,
        mark_iv=np.where(opt, cols.vol, np.nan),
        forward=cols.forward,
        delta=g.delta,
        gamma=g.gamma,
        vega=g.vega / 100.0,
        theta=g.theta / DAYS_PER_YEAR,
        delta_coin=premium_adjusted_delta(g.delta, coin_price),
    )
