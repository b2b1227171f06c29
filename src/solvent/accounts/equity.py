"""Equity: the one definition every command uses (docs/glossary.md, "Equity").

For a margin unit (an account, or a parent with its cross sub-accounts), in USD: every position is
marked to market in its settlement asset and that amount joins the unit's balance of the asset;
the balances so marked are then valued like any collateral::

    marked[asset] = balance[asset] + sum of position values settled in asset
    equity_usd    = collateral value of marked (haircuts on what is held, debts in full)

- A position's value (settlement-asset units) is ``quantity x contract_size x mark_price`` for an
  option (long adds, short subtracts). A future or perpetual without an entry price adds nothing:
  its P&L is taken as already settled into the balances.
- A position with an ``entry_price`` (docs/formats.md 2) adds its unrealized P&L since entry, in
  its settlement asset (``q`` signed quantity, ``cs`` contract size, ``E`` entry price, ``M`` the
  mark; :mod:`solvent.pricing.delta_one`):

  - linear future/perpetual (USD stablecoin): ``q x cs x (M - E)``, ``E`` and ``M`` in USD;
  - inverse future/perpetual (coin): ``q x cs x (1 - E / M)``: the USD P&L ``q x cs x (M - E)``
    paid in coin at the mark;
  - option: nothing more. Its mark value ``q x cs x M`` (``M`` the premium per unit in the
    settlement asset) already is the premium paid at entry, ``q x cs x E``, which left the
    balances when it was paid, plus the P&L since entry, ``q x cs x (M - E)``; the entry price
    changes P&L-based figures (ADL scores), not the equity;
  - spot: nothing (spot is held as a balance, not a position).

  Repeated positions add up exactly: the book keeps ``sum q`` and ``sum q x E`` per instrument
  (:class:`solvent.portfolio.book.EntryCosts`). The ledger's accounts carry their average entry
  price, so their equity is the same formula (:func:`solvent.accounts.service.position_value`).
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
from solvent.instruments.table import KIND_CODES
from solvent.instruments.terms import InstrumentKind
from solvent.margin.protocol import PricedMarket
from solvent.portfolio.book import EntryCosts
from solvent.pricing.delta_one import inverse_pnl_total, linear_pnl_total


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


_DELTA_ONE = np.array(
    [KIND_CODES[InstrumentKind.FUTURE], KIND_CODES[InstrumentKind.PERPETUAL]], dtype=np.int8
)


def entry_pnl_amounts(
    entry: EntryCosts, market: PricedMarket
) -> tuple[tuple[str, ...], FloatArray]:
    """Unrealized P&L since entry of every row's futures and perpetuals (see the module
    docstring) as amounts of their settlement assets: ``(assets, (rows, assets))``, only the
    assets some delta-one position with an entry price settles in. Options and spot add none."""
    table, mark = market.table, market.columns.mark_price
    rows, cols, qty, cost = entry.entries()
    n_rows = entry.quantity.shape[0]
    keep = np.isin(table.kind[cols], _DELTA_ONE)
    rows, cols, qty, cost = rows[keep], cols[keep], qty[keep], cost[keep]
    if rows.size == 0:
        return (), np.zeros((n_rows, 0), dtype=np.float64)
    m = mark[cols]
    pnl = np.where(
        table.is_inverse[cols],
        inverse_pnl_total(qty, cost, m),
        linear_pnl_total(qty, cost, m),
    )
    pnl *= table.contract_size[cols]
    codes = table.settlement_code[cols]
    used = np.unique(codes)
    assets = tuple(table.settlement_assets[int(c)] for c in used)
    out = np.zeros((n_rows, len(used)), dtype=np.float64)
    np.add.at(out, (rows, np.searchsorted(used, codes)), pnl)
    return assets, out


def _add_amounts(
    assets: tuple[str, ...], amounts: FloatArray, more: tuple[str, ...], extra: FloatArray
) -> tuple[tuple[str, ...], FloatArray]:
    """Two ``(assets, (rows, assets))`` sets of amounts added into one (assets sorted)."""
    if not more:
        return assets, amounts
    union = tuple(sorted(set(assets) | set(more)))
    out = np.zeros((amounts.shape[0], len(union)), dtype=np.float64)
    out[:, [union.index(a) for a in assets]] += amounts
    out[:, [union.index(a) for a in more]] += extra
    return union, out


def _marked_balances(
    b: FloatArray,
    symbols: Sequence[str],
    quantities: sp.csr_array | npt.NDArray[np.float64],
    market: PricedMarket,
    entry: EntryCosts | None,
) -> tuple[Sequence[str], FloatArray] | None:
    """The balances with every position settled into them (``(assets, (rows, assets))``), or
    ``None`` when no position adds anything (the marked balances are the balances)."""
    settled, amounts = settled_amounts(quantities, market)
    if entry is not None:
        settled, amounts = _add_amounts(settled, amounts, *entry_pnl_amounts(entry, market))
    if not settled:
        return None
    union = sorted(set(symbols) | set(settled))
    marked_b = np.zeros((b.shape[0], len(union)), dtype=np.float64)
    marked_b[:, [union.index(s) for s in symbols]] = b
    marked_b[:, [union.index(s) for s in settled]] += amounts
    return union, marked_b


def book_equity(
    balances: npt.ArrayLike,
    symbols: Sequence[str],
    quantities: sp.csr_array | npt.NDArray[np.float64],
    market: PricedMarket,
    schedule: HaircutSchedule | None = None,
    assets: AssetRegistry | None = None,
    external: ExternalBalances | None = None,
    *,
    entry: EntryCosts | None = None,
) -> Equity:
    """Equity of every row: ``balances`` is ``(rows, assets)`` coin amounts (column ``j`` is
    ``symbols[j]``), ``quantities`` the rows' positions over ``market``'s instruments;
    ``external`` the admitted collateral held elsewhere in the same cells (docs/cross-venue.md),
    counted in both the collateral value and the equity; ``entry`` the positions' entry prices
    (a :class:`~solvent.portfolio.book.Book`'s ``entry``; ``None``: every position marked at the
    mark).

    Raises :class:`~solvent.errors.SolventInputError` for an unknown asset or a non-zero amount
    that the snapshot cannot price."""
    rows = quantities.shape[0]
    b = np.asarray(balances, dtype=np.float64).reshape(rows, len(symbols))
    collateral = value_collateral_matrix(b, symbols, market.snapshot, schedule, assets, external)
    held = _marked_balances(b, symbols, quantities, market, entry)
    if held is None:
        marked = collateral
    else:
        marked = value_collateral_matrix(
            held[1], held[0], market.snapshot, schedule, assets, _on(external, symbols, held[0])
        )
    return Equity(collateral, marked, position_value_usd(quantities, market))


def equity_usd(
    balances: npt.ArrayLike,
    symbols: Sequence[str],
    quantities: sp.csr_array | npt.NDArray[np.float64],
    market: PricedMarket,
    schedule: HaircutSchedule | None = None,
    assets: AssetRegistry | None = None,
    external: ExternalBalances | None = None,
    *,
    entry: EntryCosts | None = None,
) -> FloatArray:
    """``book_equity(...).equity_usd`` alone (USD per row), without valuing the balances on
    their own too: for callers that re-evaluate the equity many times (liquidation prices)."""
    rows = quantities.shape[0]
    b = np.asarray(balances, dtype=np.float64).reshape(rows, len(symbols))
    held = _marked_balances(b, symbols, quantities, market, entry)
    union, marked_b = (symbols, b) if held is None else held
    return value_collateral_matrix(
        marked_b, union, market.snapshot, schedule, assets, _on(external, symbols, union)
    ).value_usd


def _on(
    external: ExternalBalances | None, symbols: Sequence[str], union: Sequence[str]
) -> ExternalBalances | None:
    """``external`` (columns ``symbols``) laid on the columns ``union`` (a superset)."""
    if external is None or list(union) == list(symbols):
        return external
    rows = external.amount.shape[0]
    own = [list(union).index(s) for s in symbols]
    amount = np.zeros((rows, len(union)), dtype=np.float64)
    weighted = np.zeros((rows, len(union)), dtype=np.float64)
    amount[:, own] = external.amount
    weighted[:, own] = external.weighted
    return ExternalBalances(amount, weighted)
