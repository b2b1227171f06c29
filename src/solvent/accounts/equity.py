"""Equity: the one definition every command uses (docs/glossary.md, "Equity").

For a margin unit (an account, or a parent with its cross sub-accounts), in USD: every position is
marked to market in its settlement asset and that amount joins the unit's balance of the asset;
the balances so marked are then valued like any collateral::

    marked[asset] = balance[asset] + sum of position values settled in asset
    equity_usd    = collateral value of marked (haircuts on what is held, debts in full)

- A position's value (settlement-asset units) is ``quantity x contract_size x mark_price`` for an
  option (long adds, short subtracts). Futures and perpetuals carry no entry price in a portfolio:
  their P&L is taken as already settled into the balances, so they add nothing.
- The collateral value (:mod:`solvent.collateral.valuation`) counts a positive amount after the
  largest of its class, concentration and liquidity haircuts, and a negative one (a debt) in full.
  So a long inverse option is worth what its BTC would raise, and a short one is a BTC debt.

This is what the ledger's account health computes for its accounts
(:class:`solvent.accounts.service.AccountService`), what ``solvent margin`` reports and what
``solvent stress`` starts from. ``collateral_value_usd`` is the same valuation of the balances
alone; ``position_value_usd`` (``option_value_usd`` in ``solvent margin`` output) is the positions'
value at the index price of their settlement asset, before any haircut.

Vectorized over a whole book: one sparse product for the positions, one array pass per asset.
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
from solvent.collateral.valuation import (
    CollateralArrays,
    ExternalBalances,
    value_collateral_matrix,
)
from solvent.margin.protocol import PricedMarket


@dataclass(frozen=True, slots=True)
class Equity:
    """Equity of every margin unit of a book (one entry per row, USD; see the module docstring).

    ``collateral``: valuation of the balances alone; ``marked``: valuation of the balances plus
    the positions' values in their settlement assets (``marked.value_usd`` is the equity);
    ``position_value_usd``: the positions' value before haircuts."""

    collateral: CollateralArrays
    marked: CollateralArrays
    position_value_usd: FloatArray

    @property
    def equity_usd(self) -> FloatArray:
        """Equity per row, USD."""
        return self.marked.value_usd

    @property
    def collateral_value_usd(self) -> FloatArray:
        """Haircut value of the balances alone (debts subtracted), USD per row."""
        return self.collateral.value_usd


def unit_settlement_value(market: PricedMarket) -> FloatArray:
    """Value of one unit (a quantity of 1) of each instrument of ``market`` in its settlement
    asset: ``contract_size x mark_price`` for options, 0 for futures, perpetuals and spot."""
    table, cols = market.table, market.columns
    value = table.contract_size * cols.mark_price
    return np.asarray(np.where(table.is_option, value, 0.0), dtype=np.float64)


def unit_value_usd(market: PricedMarket) -> FloatArray:
    """:func:`unit_settlement_value` in USD, at the settlement asset's index price."""
    return np.asarray(unit_settlement_value(market) * market.settlement_usd, dtype=np.float64)


def position_value_usd(
    quantities: sp.csr_array | npt.NDArray[np.float64], market: PricedMarket
) -> FloatArray:
    """Value of every row's positions before haircuts, USD (``quantities`` is rows x
    ``market``'s instruments, signed: > 0 long)."""
    unit = unit_value_usd(market)
    if quantities.shape[0] == 0 or unit.size == 0:
        return np.zeros(quantities.shape[0], dtype=np.float64)
    return np.asarray(quantities @ unit, dtype=np.float64).reshape(quantities.shape[0])


def settled_amounts(
    quantities: sp.csr_array | npt.NDArray[np.float64], market: PricedMarket
) -> tuple[tuple[str, ...], FloatArray]:
    """Every row's positions as amounts of their settlement assets: ``(assets, (rows, assets))``,
    only the assets some option settles in."""
    table = market.table
    unit = unit_settlement_value(market)
    used = sorted({int(c) for c in np.unique(table.settlement_code[unit != 0.0])})
    assets = tuple(table.settlement_assets[c] for c in used)
    rows = quantities.shape[0]
    if not used or rows == 0:
        return assets, np.zeros((rows, len(assets)), dtype=np.float64)
    column = np.full(len(table.settlement_assets), -1, dtype=np.intp)
    column[used] = np.arange(len(used), dtype=np.intp)
    per_asset = np.zeros((len(unit), len(used)), dtype=np.float64)
    held = unit != 0.0
    per_asset[np.flatnonzero(held), column[table.settlement_code[held]]] = unit[held]
    amounts = np.asarray(quantities @ per_asset, dtype=np.float64).reshape(rows, len(used))
    return assets, amounts


def book_equity(
    balances: npt.ArrayLike,
    symbols: Sequence[str],
    quantities: sp.csr_array | npt.NDArray[np.float64],
    market: PricedMarket,
    schedule: HaircutSchedule | None = None,
    assets: AssetRegistry | None = None,
    external: ExternalBalances | None = None,
) -> Equity:
    """Equity of every row: ``balances`` is ``(rows, assets)`` coin amounts (column ``j`` is
    ``symbols[j]``), ``quantities`` the rows' positions over ``market``'s instruments;
    ``external`` the admitted collateral held elsewhere in the same cells (docs/cross-venue.md),
    counted in both the collateral value and the equity.

    Raises :class:`~solvent.errors.SolventInputError` for an unknown asset or a non-zero amount
    that the snapshot cannot price."""
    rows = quantities.shape[0]
    b = np.asarray(balances, dtype=np.float64).reshape(rows, len(symbols))
    collateral = value_collateral_matrix(b, symbols, market.snapshot, schedule, assets, external)
    settled, amounts = settled_amounts(quantities, market)
    if settled:
        union = sorted(set(symbols) | set(settled))
        own = [union.index(s) for s in symbols]
        marked_b = np.zeros((rows, len(union)), dtype=np.float64)
        marked_b[:, own] = b
        marked_b[:, [union.index(s) for s in settled]] += amounts
        marked_external = None
        if external is not None:
            amount = np.zeros((rows, len(union)), dtype=np.float64)
            weighted = np.zeros((rows, len(union)), dtype=np.float64)
            amount[:, own] = external.amount
            weighted[:, own] = external.weighted
            marked_external = ExternalBalances(amount, weighted)
        marked = value_collateral_matrix(
            marked_b, union, market.snapshot, schedule, assets, marked_external
        )
    else:
        marked = collateral
    return Equity(collateral, marked, position_value_usd(quantities, market))
