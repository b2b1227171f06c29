"""Greeks of one unit long of every instrument of a table, for risk aggregation.

Per row, in USD, times the instrument's contract size: ``delta`` is the Black delta of an option
(d value / d forward) and 1 for delta-1 contracts (futures, perpetuals, spot: an inverse
contract's coin P&L valued in USD has the same first-order exposure as a linear one); ``gamma``,
``vega`` (per 1.00 of vol) and ``theta`` (per year) are the options' and 0 for delta-1 rows.
"""

from __future__ import annotations

import numpy as np

from solvent.instruments.table import InstrumentTable
from solvent.market.snapshot import MarketColumns
from solvent.pricing.black76 import Greeks, black76_greeks


def unit_greeks(table: InstrumentTable, cols: MarketColumns) -> Greeks:
    """Greeks of 1 unit long of each row of ``table`` (see the module docstring)."""
    opt = table.is_option
    g = black76_greeks(
        cols.forward,
        np.where(opt, table.strike, cols.forward),
        cols.time,
        np.where(opt, cols.vol, 0.0),
        table.is_call,
        cols.discount,
        cols.rate,
    )
    size = table.contract_size
    return Greeks(
        price=np.where(opt, g.price, 0.0) * size,
        delta=np.where(opt, g.delta, 1.0) * size,
        gamma=np.where(opt, g.gamma, 0.0) * size,
        vega=np.where(opt, g.vega, 0.0) * size,
        theta=np.where(opt, g.theta, 0.0) * size,
    )
