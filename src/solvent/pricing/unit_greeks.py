"""Greeks of every instrument of a table, the one place the instrument kinds meet Black-76.

Per row, in USD: ``delta`` is the Black delta of an option (d value / d forward) and 1 for
delta-1 contracts (futures, perpetuals, spot: an inverse contract's coin P&L valued in USD has the
same first-order exposure as a linear one); ``price``, ``gamma``, ``vega`` (per 1.00 of vol) and
``theta`` (per year) are the options' and 0 for delta-1 rows.

- :func:`table_greeks`: per 1 unit of the underlying (the display convention of ``solvent price``);
- :func:`unit_greeks`: per 1 unit of position, i.e. times the instrument's contract size (what
  risk aggregation multiplies by quantities).
"""

from __future__ import annotations

import numpy as np

from solvent.instruments.table import InstrumentTable
from solvent.pricing.black76 import Greeks, black76_greeks
from solvent.pricing.columns import MarketColumns


def table_greeks(table: InstrumentTable, cols: MarketColumns) -> Greeks:
    """Greeks per 1 unit of the underlying of each row of ``table`` (module docstring)."""
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
    return Greeks(
        price=np.where(opt, g.price, 0.0),
        delta=np.where(opt, g.delta, 1.0),
        gamma=np.where(opt, g.gamma, 0.0),
        vega=np.where(opt, g.vega, 0.0),
        theta=np.where(opt, g.theta, 0.0),
    )


def unit_greeks(table: InstrumentTable, cols: MarketColumns) -> Greeks:
    """Greeks of 1 unit long of each row: :func:`table_greeks` times the contract size."""
    g = table_greeks(table, cols)
    size = table.contract_size
    return Greeks(g.price * size, g.delta * size, g.gamma * size, g.vega * size, g.theta * size)
