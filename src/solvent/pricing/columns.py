"""The pricing inputs of an instrument table, one entry per row (what the kernels consume).

The market layer resolves a snapshot into these columns (``MarketSnapshot.columns(table)``);
pricing, risk arrays and greeks read them. Nothing here knows where the numbers came from.
"""

from __future__ import annotations

from dataclasses import dataclass

from solvent.arrays import FloatArray


@dataclass(frozen=True, slots=True)
class MarketColumns:
    """Market data of an :class:`~solvent.instruments.table.InstrumentTable`, one entry per row,
    for vectorized kernels.

    ``forward`` and ``spot`` USD; ``time`` years; ``vol`` decimal (NaN for delta-1);
    ``discount`` exp(-r T); ``rate`` continuously compounded; ``mark_price`` settlement units.
    """

    forward: FloatArray
    spot: FloatArray
    time: FloatArray
    vol: FloatArray
    discount: FloatArray
    rate: FloatArray
    mark_price: FloatArray
