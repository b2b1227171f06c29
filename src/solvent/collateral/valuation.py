"""Collateral valuation in USD with haircuts (METHODOLOGY 7; docs/methodology/collateral.md).

For a holding of ``b`` coins of asset ``a`` at index price ``p`` (USD per coin):

- ``b > 0``: ``value = b * p * (1 - h)`` with ``h = max(class, concentration, liquidity)``:
  the class (or per-asset) base rate; the concentration haircut (marginal tiers on ``b * p``,
  divided by ``b * p``); the liquidity haircut (slippage of selling ``b`` into the asset's bid book
  relative to the book's mid, only when the market snapshot carries a book for the asset).
- ``b < 0`` (a debt): ``value = b * p``, no haircut benefit; counted in ``debt_usd``.

Collateral held elsewhere (docs/cross-venue.md) joins the same valuation as
:class:`ExternalBalances`: per cell, ``amount`` (admitted coins at other locations) and
``weighted`` (the same coins, each times its location factor ``(1 - location haircut) x (1 -
settlement haircut)``). The asset's haircut ``h`` is then computed on the whole positive holding
``max(b, 0) + amount`` (concentration and liquidity see every location at once) and the external
coins add ``weighted * p * (1 - h)`` to the cell's value (and ``amount * p`` to its gross).

Everything is computed on an ``(accounts, assets)`` array at once (:func:`value_collateral_matrix`);
:func:`value_collateral` is the one-account case with a per-asset breakdown, built from the same
arrays (:meth:`CollateralArrays.valuation`). Row totals add the asset columns one after the other
in column order, so an account's figures are bit-for-bit the same whether it is valued alone or
in a book (columns of zero balance add exact zeros).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

import numpy as np
import numpy.typing as npt

from solvent.arrays import FloatArray
from solvent.collateral.assets import AssetRegistry, default_assets
from solvent.collateral.liquidity import BidDepth, bid_depth, liquidity_haircut
from solvent.collateral.schedule import HaircutSchedule, default_schedule
from solvent.errors import SolventInputError
from solvent.market.snapshot import MarketSnapshot


class HaircutRule(Enum):
    """Which rule set a holding's haircut (the largest one; ties go to the earlier rule)."""

    CLASS = "class"
    CONCENTRATION = "concentration"
    LIQUIDITY = "liquidity"
    DEBT = "debt"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class AssetValuation:
    """One asset of one account. ``balance`` in coin (signed), ``price_usd`` per coin; haircuts
    are fractions; ``gross_usd = balance * price``; ``value_usd`` after the haircut (debts:
    gross)."""

    asset: str
    balance: float
    price_usd: float
    class_haircut: float
    concentration_haircut: float
    liquidity_haircut: float | None
    haircut: float
    rule: HaircutRule
    gross_usd: float
    value_usd: float
    external_balance: float = 0.0
    external_value_usd: float = 0.0


@dataclass(frozen=True, slots=True)
class ExternalBalances:
    """Admitted collateral held elsewhere, as ``(accounts, assets)`` cells aligned with the
    balances it joins: ``amount`` in coin (>= 0) and ``weighted`` = the sum over the cell's
    holdings of ``amount x location factor`` (coin, ``0 <= weighted <= amount``)."""

    amount: FloatArray
    weighted: FloatArray


@dataclass(frozen=True, slots=True)
class CollateralValuation:
    """An account's collateral in USD: ``value_usd`` (haircut, debts subtracted), ``gross_usd``
    (no haircut), ``debt_usd`` (>= 0, the USD value of negative balances), per-asset detail."""

    assets: tuple[AssetValuation, ...]
    gross_usd: float
    value_usd: float
    debt_usd: float
    schedule: str


@dataclass(frozen=True, slots=True)
class CollateralArrays:
    """Vectorized result for ``(accounts, assets)`` balances; all USD except the haircut fractions.

    ``haircut``/``rule_code`` per cell (rule codes index ``RULE_ORDER``); ``value_usd``,
    ``gross_usd`` and ``debt_usd`` per account (row); ``symbols`` names the columns and
    ``price_usd`` their index prices (0 for a column with no non-zero balance)."""

    symbols: tuple[str, ...]
    price_usd: FloatArray
    schedule: str
    balances: FloatArray
    class_haircut: FloatArray
    concentration_haircut: FloatArray
    liquidity_haircut: FloatArray  # NaN where the asset has no book
    haircut: FloatArray
    rule_code: npt.NDArray[np.int8]
    cell_value_usd: FloatArray
    gross_usd: FloatArray
    value_usd: FloatArray
    debt_usd: FloatArray
    external_amount: FloatArray | None = None
    external_value_usd: FloatArray | None = None

    def valuation(self, row: int, columns: Sequence[int] | None = None) -> CollateralValuation:
        """Row ``row`` as a :class:`CollateralValuation`, one :class:`AssetValuation` per column
        of ``columns`` (default: every column, in order)."""
        detail = []
        for j in range(len(self.symbols)) if columns is None else columns:
            balance = float(self.balances[row, j])
            ext = 0.0 if self.external_amount is None else float(self.external_amount[row, j])
            ext_value = (
                0.0 if self.external_value_usd is None else float(self.external_value_usd[row, j])
            )
            if balance > 0 or ext > 0:
                rule = RULE_ORDER[int(self.rule_code[row, j])]
            elif balance < 0:
                rule = HaircutRule.DEBT
            else:
                rule = HaircutRule.NONE
            liq = float(self.liquidity_haircut[row, j])
            price = float(self.price_usd[j]) if balance or ext else 0.0
            detail.append(
                AssetValuation(
                    asset=self.symbols[j],
                    balance=balance,
                    price_usd=price,
                    class_haircut=float(self.class_haircut[row, j]),
                    concentration_haircut=float(self.concentration_haircut[row, j]),
                    liquidity_haircut=None if np.isnan(liq) else liq,
                    haircut=float(self.haircut[row, j]),
                    rule=rule,
                    gross_usd=(balance + ext) * price,
                    value_usd=float(self.cell_value_usd[row, j]),
                    external_balance=ext,
                    external_value_usd=ext_value,
                )
            )
        return CollateralValuation(
            assets=tuple(detail),
            gross_usd=float(self.gross_usd[row]),
            value_usd=float(self.value_usd[row]),
            debt_usd=float(self.debt_usd[row]),
            schedule=self.schedule,
        )


def _row_sums(cells: FloatArray) -> FloatArray:
    """Sum of each row, adding the columns one after the other (left to right), so that a row's
    total does not depend on which other columns (of zeros) the matrix carries."""
    total = np.zeros(cells.shape[0], dtype=np.float64)
    for j in range(cells.shape[1]):
        total = total + cells[:, j]
    return total


RULE_ORDER = (HaircutRule.CLASS, HaircutRule.CONCENTRATION, HaircutRule.LIQUIDITY)


def _book_depth(market: MarketSnapshot, asset: str) -> BidDepth | None:
    book = market.order_books.get(asset)
    if book is None or book.bid_prices.size == 0:
        return None
    bids = np.column_stack((book.bid_prices, book.bid_sizes))
    asks = np.column_stack((book.ask_prices, book.ask_sizes))
    return bid_depth(bids, asks, f"order_books.{asset}")


def value_collateral_matrix(
    balances: npt.ArrayLike,
    symbols: Sequence[str],
    market: MarketSnapshot,
    schedule: HaircutSchedule | None = None,
    assets: AssetRegistry | None = None,
    external: ExternalBalances | None = None,
) -> CollateralArrays:
    """Value ``balances`` (``(accounts, assets)`` coin amounts, column ``j`` is ``symbols[j]``)
    and, when given, the ``external`` coins held elsewhere in the same cells (module docstring).

    Vectorized over accounts: one pass of numpy per asset column, no per-account Python loop.
    Positive balances without an index price raise (a stablecoin without one is taken at 1 USD).
    """
    schedule = schedule or default_schedule()
    assets = assets or default_assets()
    b = np.atleast_2d(np.asarray(balances, dtype=np.float64))
    if b.shape[1] != len(symbols):
        raise SolventInputError("balances", "one column per asset symbol expected")
    if not np.all(np.isfinite(b)):
        raise SolventInputError("balances", "balances must be finite")
    ext_amount = np.zeros_like(b) if external is None else external.amount.reshape(b.shape)
    held = (b != 0) | (ext_amount > 0)
    prices = np.array(
        [
            market.price_usd(s, f"index.{s}") if np.any(held[:, j]) else 0.0
            for j, s in enumerate(symbols)
        ],
        dtype=np.float64,
    )
    long_b = np.maximum(b, 0.0) + ext_amount
    gross_long = long_b * prices
    class_h = np.empty_like(b)
    conc_h = np.zeros_like(b)
    liq_h = np.full_like(b, np.nan)
    for j, symbol in enumerate(symbols):
        asset = assets.get(symbol, f"balances.{symbol}")
        rule = schedule.classes[asset.asset_class]
        class_h[:, j] = schedule.class_haircut(symbol, asset.asset_class)
        value = gross_long[:, j]
        amount = rule.tiers.haircut_amount_usd(value)
        conc_h[:, j] = np.divide(amount, value, out=np.zeros_like(value), where=value > 0)
        depth = _book_depth(market, symbol)
        if depth is not None:
            liq_h[:, j] = liquidity_haircut(depth, long_b[:, j], schedule.unfilled_haircut)
    stacked = np.stack((class_h, conc_h, np.nan_to_num(liq_h, nan=0.0)))
    rule_code = np.argmax(stacked, axis=0).astype(np.int8)
    haircut = np.max(stacked, axis=0)
    gross = b * prices
    cell_value = np.where(b > 0, gross * (1.0 - haircut), gross)
    debt = _row_sums(np.where(b < 0, -gross, 0.0))
    ext_value: FloatArray | None = None
    if external is not None:
        ext_value = external.weighted.reshape(b.shape) * prices * (1.0 - haircut)
        cell_value = cell_value + ext_value
        gross = gross + ext_amount * prices
    return CollateralArrays(
        symbols=tuple(symbols),
        price_usd=prices,
        schedule=schedule.label,
        balances=b,
        class_haircut=class_h,
        concentration_haircut=conc_h,
        liquidity_haircut=liq_h,
        haircut=np.where(long_b > 0, haircut, 0.0),
        rule_code=rule_code,
        cell_value_usd=cell_value,
        gross_usd=_row_sums(gross),
        value_usd=_row_sums(cell_value),
        debt_usd=debt,
        external_amount=None if external is None else ext_amount,
        external_value_usd=ext_value,
    )


def value_collateral(
    balances: Mapping[str, float | Decimal],
    market: MarketSnapshot,
    schedule: HaircutSchedule | None = None,
    assets: AssetRegistry | None = None,
) -> CollateralValuation:
    """Value one account's balances (coin amounts by asset) in USD, with the per-asset breakdown
    (assets in sorted order). The one-row case of :func:`value_collateral_matrix`."""
    symbols = sorted(balances)
    row = [float(balances[s]) for s in symbols]
    matrix = np.array([row], dtype=np.float64).reshape(1, len(symbols))
    return value_collateral_matrix(matrix, symbols, market, schedule, assets).valuation(0)
