"""Equity: the one definition every command uses (docs/glossary.md, "equity").

For a margin unit (an account, or a parent with its cross sub-accounts), in USD::

    equity_usd = collateral_value_usd + position_value_usd

- ``collateral_value_usd``: the haircut value of the collateral
  (:mod:`solvent.collateral.valuation`: positive balances after the largest of the class,
  concentration and liquidity haircuts; debts, negative balances, counted in full at the index
  price).
- ``position_value_usd``: the mark-to-market of the positions, what closing them at the mark would
  pay or cost now: ``quantity x contract_size x mark_price x settlement price`` for options
  (``mark_price`` in settlement-asset units, converted at the settlement asset's index price, like
  every USD figure); long options add their value, short options subtract it. Futures and
  perpetuals carry no entry price in a portfolio: their P&L is taken as already settled into the
  collateral, so their mark-to-market is zero.

Vectorized over a whole book: one sparse product for the positions, one array pass per collateral
asset. ``solvent margin`` and ``solvent stress`` both call :func:`book_equity`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from solvent.arrays import FloatArray
from solvent.collateral.assets import AssetRegistry
from solvent.collateral.schedule import HaircutSchedule
from solvent.collateral.valuation import CollateralArrays, value_collateral_matrix
from solvent.margin.protocol import PricedMarket


@dataclass(frozen=True, slots=True)
class Equity:
    """Equity of every margin unit of a book (one entry per row, USD).

    ``equity_usd = collateral_value_usd + position_value_usd``; ``collateral`` holds the
    per-asset detail of the valuation (haircuts, rules, gross and debt)."""

    collateral: CollateralArrays
    position_value_usd: FloatArray
    equity_usd: FloatArray

    @property
    def collateral_value_usd(self) -> FloatArray:
        """Haircut collateral value (debts subtracted), USD per row."""
        return self.collateral.value_usd


def unit_value_usd(market: PricedMarket) -> FloatArray:
    """USD value of one unit (a quantity of 1) of each instrument of ``market``, in row order:
    ``contract_size x mark_price x settlement price`` for options, 0 for futures, perpetuals and
    spot (their P&L is settled into collateral)."""
    table, cols = market.table, market.columns
    value = table.contract_size * cols.mark_price * market.settlement_usd
    return np.asarray(np.where(table.is_option, value, 0.0), dtype=np.float64)


def position_value_usd(
    quantities: sp.csr_array | npt.NDArray[np.float64], market: PricedMarket
) -> FloatArray:
    """Mark-to-market of every row's positions, USD (``quantities`` is rows x ``market``'s
    instruments, signed: > 0 long)."""
    unit = unit_value_usd(market)
    if quantities.shape[0] == 0 or unit.size == 0:
        return np.zeros(quantities.shape[0], dtype=np.float64)
    return np.asarray(quantities @ unit, dtype=np.float64).reshape(quantities.shape[0])


def book_equity(
    balances: npt.ArrayLike,
    symbols: Sequence[str],
    quantities: sp.csr_array | npt.NDArray[np.float64],
    market: PricedMarket,
    schedule: HaircutSchedule | None = None,
    assets: AssetRegistry | None = None,
) -> Equity:
    """Equity of every row: ``balances`` is ``(rows, assets)`` coin amounts (column ``j`` is
    ``symbols[j]``), ``quantities`` the rows' positions over ``market``'s instruments.

    Raises :class:`~solvent.errors.SolventInputError` for an unknown asset or a non-zero balance
    that the snapshot cannot price."""
    b = np.asarray(balances, dtype=np.float64).reshape(quantities.shape[0], len(symbols))
    collateral = value_collateral_matrix(b, symbols, market.snapshot, schedule, assets)
    positions = position_value_usd(quantities, market)
    return Equity(collateral, positions, collateral.value_usd + positions)
