"""A resolved market moved in one step (the fast path of :mod:`solvent.market.moves`).

:func:`move_priced` gives the :class:`PricedMarket` that ``PricedMarket.resolve(move_underlying(
snapshot, U, P), instruments)`` would give, without resolving the instruments again: the market
columns are scaled as arrays (forward, spot and delta-one marks x ``r = P / index[U]`` on the rows
of ``U``) and the options of ``U`` re-marked with one vectorized Black-76 call at their unchanged
IV (sticky strike); ``settlement_usd`` follows the moved index. The snapshot it carries is the
moved snapshot itself (models and the collateral valuation read index prices and order books from
it). Liquidation prices and replays re-margin the same instruments at many prices: this is what
they call.

:func:`prepared_mover` gives a model's prepared state on such moved markets, by the fastest path
the model offers (:class:`~solvent.margin.protocol.MoveCapable`, else
:class:`~solvent.margin.protocol.IncrementalCapable`, else ``prepare``): the same state as
``prepare`` on the moved market, bit for bit, either way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from solvent.margin.protocol import (
    IncrementalCapable,
    MarginModel,
    MoveCapable,
    PricedMarket,
    changed_rows,
)
from solvent.market.moves import move_underlying, reference_price
from solvent.pricing.black76 import black76_price
from solvent.pricing.columns import MarketColumns


def move_priced(
    priced: PricedMarket, underlying: str, price: float, *, field: str = "price"
) -> PricedMarket:
    """``priced`` with ``underlying`` at ``price`` USD (see the module docstring); errors name
    ``field``."""
    r = price / reference_price(priced.snapshot, underlying, "underlying")
    snapshot = move_underlying(priced.snapshot, underlying, price, field=field)
    table, cols = priced.table, priced.columns
    if underlying in table.underlyings:
        on = table.underlying_code == table.underlyings.index(underlying)
    else:
        on = np.zeros(len(table), dtype=bool)
    scale = np.where(on, r, 1.0)
    forward = cols.forward * scale
    mark = cols.mark_price * scale
    options = on & table.is_option
    if options.any():
        usd = black76_price(
            forward[options],
            table.strike[options],
            cols.time[options],
            cols.vol[options],
            table.is_call[options],
            cols.discount[options],
        )
        mark[options] = np.where(table.is_inverse[options], usd / forward[options], usd)
    columns = MarketColumns(
        forward=forward,
        spot=np.where(on, snapshot.price_usd(underlying, field), cols.spot),
        time=cols.time,
        vol=cols.vol,
        discount=cols.discount,
        rate=cols.rate,
        mark_price=mark,
    )
    prices = np.array(
        [snapshot.price_usd(a, "settlement_asset") for a in table.settlement_assets],
        dtype=np.float64,
    )
    settlement_usd = prices[table.settlement_code] if len(table) else np.zeros(0)
    return PricedMarket(snapshot, table, columns, settlement_usd)


def prepared_mover(
    model: MarginModel, params: Any, market: PricedMarket, prepared: Any, underlying: str
) -> Callable[[PricedMarket], Any]:
    """A callable giving ``model``'s prepared state (what ``prepare(moved, market's
    instruments, params)`` gives, bit for bit) on ``moved = move_priced(market, underlying,
    P)`` for any ``P``; ``prepared`` is ``model``'s state on ``market`` itself. The model's
    :class:`~solvent.margin.protocol.MoveCapable` mover when it has one; else, for an
    :class:`~solvent.margin.protocol.IncrementalCapable` model, an update of the rows the move
    changed; else a full ``prepare``."""
    if isinstance(model, MoveCapable):
        return model.mover(prepared, market, underlying)
    if isinstance(model, IncrementalCapable):

        def update(moved: PricedMarket) -> Any:
            return model.update(prepared, moved, changed_rows(market, moved))

        return update

    def full(moved: PricedMarket) -> Any:
        return model.prepare(moved, moved.instruments, params)

    return full
