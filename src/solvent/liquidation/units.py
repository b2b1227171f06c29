"""The margin units being liquidated, as arrays: what every policy drives.

A margin unit is an account with its cross sub-accounts (one portfolio, one model). The units of
a run are rows: dense signed ``quantities`` (rows x the prepared instruments), ``balances`` (rows
x ``assets``, coin), and the unit's USD ``equity``, ``maintenance``/``initial`` margin. Positions
are valued at the mark: an entry price's unrealized P&L is settled into the balances before the
run (the same equity, :func:`solvent.accounts.equity.book_equity`), so a trade at ``price``
moves ``-trade x (price - mark)`` of cash (:func:`solvent.liquidation.execution.trade_cash`).

**Cash.** The balances are the ledger's cash (the members' balances pooled, the P&L since entry
of futures and perpetuals settled in, as the booking's variation-margin settlement does,
:func:`solvent.liquidation.booking.settle_variation_margin`). Equity counts more than cash: the
mark value of long options. The ledger never lets a balance go below zero; a payment in an asset
the account lacks converts its other collateral (and its cross family's) at the index. So what a
unit can pay is :meth:`LiquidationUnits.cash_usd`, the index value of its balances without
haircut, less a reserve of :data:`CASH_RESERVE_UNITS` base units for the ledger's rounding (of
the costliest base unit, a satoshi's 100 = 0.10 USD at 100,000):
:meth:`~LiquidationUnits.spendable_usd`. :meth:`~LiquidationUnits.execute` never makes a unit pay
more than that for a market trade (an option bought back: premium plus slippage, in coin; a
delta-one close: its slippage) or a liquidation fee: a trade it cannot pay in full is cut to what
it can pay, so every step it plans is one the ledger can book. A unit that cannot pay for what
its liquidation needs is ``starved`` (:meth:`~LiquidationUnits.starve`): bankrupt in cash, the
waterfall closes what it still holds at its bankruptcy prices (the mark when its equity is not
negative). Bankruptcy closes are exempt from the cap: their prices bring the unit's cash to zero
as a whole, and the booking makes those that bring cash first
(:func:`solvent.liquidation.booking.gains_first`).

Policies call :meth:`LiquidationUnits.what_if` (one margin call over a book of candidates),
:meth:`~LiquidationUnits.quote` (order-book fills) and :meth:`~LiquidationUnits.execute` (one
trade per row: fill, liquidation fee to the insurance fund capped at the equity left, re-margin
of the touched rows, the step recorded with its reason). Every cash movement is posted in exact
integer base units to both sides (the unit and ``@venue`` or ``@insurance``), so the sum of all
balances of an asset never changes (``conservation``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from solvent.accounts.equity import book_equity
from solvent.arrays import BoolArray, FloatArray, IntArray
from solvent.collateral.assets import MAX_UNITS, default_assets
from solvent.errors import SolventInputError
from solvent.liquidation.config import LiquidationConfig, Target
from solvent.liquidation.execution import Fills, Pricing, fill_prices, mark_cash, trade_cash
from solvent.liquidation.outcome import (
    INSURANCE_ACCOUNT,
    LiquidationStep,
    StepKind,
    Transfer,
    TransferReason,
)
from solvent.margin.protocol import Detail, MarginModel, PricedMarket
from solvent.portfolio.book import Book

_TINY_USD = 1e-9
"""Below this a USD amount counts as zero (cost floors, equity tests)."""
_UNITS_LIMIT = float(MAX_UNITS)
"""Base units a cash flow may reach (2^63 as a float: anything at or beyond it overflows)."""

CASH_RESERVE_UNITS = 100
"""Base units a unit keeps unspent for a payment (module docstring), of the payment's asset or of
the run's asset whose base unit is worth the most at the index, whichever is worth more: the
ledger converts collateral at the index rounding against the account (the payer gives up to a
base unit more of what it sells: a satoshi, 0.001 USD at 100,000, for a USDC payment raised
from BTC), and its exact decimals may round a float amount one base unit the other way."""


@dataclass(frozen=True, slots=True)
class PreparedMargin:
    """A model prepared once for a market: what every re-margin of the run reuses
    (``model.margin(prepared, book)`` for any book over ``market.instruments``).
    ``initial_factor`` and ``maintenance_factor``: a dynamic margin multiplier in force (the
    real-time engine's, docs/engine.md), applied as the engine applies it: IM x factor, MM x
    factor capped at that IM; 1 (the default) leaves the model's figures as they are."""

    model: MarginModel
    prepared: Any
    market: PricedMarket
    parameters: str
    initial_factor: float = 1.0
    maintenance_factor: float = 1.0

    def totals(
        self, names: Sequence[str], quantities: FloatArray | sp.csr_array
    ) -> tuple[FloatArray, FloatArray]:
        """USD maintenance and initial margin of each row of ``quantities`` (rows x
        instruments, dense or sparse): one margin call, no per-row loop."""
        if quantities.shape[0] == 0:
            empty = np.zeros(0, dtype=np.float64)
            return empty, empty
        book = Book(tuple(names), self.market.instruments, sp.csr_array(quantities))
        result = self.model.margin(self.prepared, book, detail=Detail.TOTALS)
        return self.in_force(result.maintenance_margin_usd, result.initial_margin_usd)

    def in_force(
        self, maintenance: FloatArray, initial: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """The model's USD (maintenance, initial) margin with the multiplier in force."""
        maintenance = np.asarray(maintenance, dtype=np.float64)
        initial = np.asarray(initial, dtype=np.float64)
        if self.initial_factor != 1.0 or self.maintenance_factor != 1.0:
            initial = initial * self.initial_factor
            maintenance = np.minimum(maintenance * self.maintenance_factor, initial)
        return maintenance, initial


class Ledger:
    """In-memory double entry of a run: integer base-unit changes per asset for the units, the
    insurance fund and the market counterparty (``@venue``)."""

    def __init__(self, assets: tuple[str, ...], rows: int) -> None:
        registry = default_assets()
        self.assets = assets
        self.scale = np.array(
            [10 ** registry.get(a, f"balances.{a}").decimals for a in assets], dtype=np.float64
        )
        self.units = np.zeros((rows, len(assets)), dtype=np.int64)
        self.fund = np.zeros(len(assets), dtype=np.int64)
        self.venue = np.zeros(len(assets), dtype=np.int64)
        self.transfers: list[Transfer] = []

    def index(self, asset: str) -> int:
        """Column of ``asset``."""
        return self.assets.index(asset)

    def to_units(self, amounts: FloatArray, asset_cols: IntArray) -> IntArray:
        """Signed coin amounts received by a unit -> base units, floored (a unit never gains a
        fraction; it pays a fraction more). A cash flow beyond the ledger's signed 64-bit range
        (prices so extreme that an inverse contract is worth more coin than can exist) is refused
        naming the market."""
        scaled = np.floor(amounts * self.scale[asset_cols])
        bad = ~(np.abs(scaled) < _UNITS_LIMIT)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            asset = self.assets[int(asset_cols[k])]
            raise SolventInputError(
                "market",
                f"a liquidation cash flow of {amounts[k]:.6g} {asset} is beyond the ledger's "
                "limit of 2^63-1 base units: the market's prices are too extreme to book",
            )
        return scaled.astype(np.int64)

    def venue_post(self, rows: IntArray, asset_cols: IntArray, units: IntArray) -> None:
        """``units`` (signed, received by each row) against ``@venue``."""
        np.add.at(self.units, (rows, asset_cols), units)
        np.add.at(self.venue, asset_cols, -units)

    def fund_post(
        self,
        rows: IntArray,
        asset_cols: IntArray,
        units: IntArray,
        names: Sequence[str],
        reason: TransferReason,
    ) -> None:
        """``units`` (signed, received by each row) against the insurance fund, recorded as
        transfers."""
        np.add.at(self.units, (rows, asset_cols), units)
        np.add.at(self.fund, asset_cols, -units)
        for r, a, u in zip(rows.tolist(), asset_cols.tolist(), units.tolist(), strict=True):
            if u < 0:
                self.transfers.append(
                    Transfer(names[r], INSURANCE_ACCOUNT, self.assets[a], -u, reason, names[r])
                )
            elif u > 0:
                self.transfers.append(
                    Transfer(INSURANCE_ACCOUNT, names[r], self.assets[a], u, reason, names[r])
                )

    def coins(self, units: IntArray, asset_cols: IntArray | slice = slice(None)) -> FloatArray:
        """Base units -> coin."""
        return np.asarray(units / self.scale[asset_cols], dtype=np.float64)


class LiquidationUnits:
    """The state of the units of one run (module docstring). Rows are margin units; ``names``
    their top accounts; ``start`` the quantities when the run began."""

    def __init__(
        self,
        names: tuple[str, ...],
        margin: PreparedMargin,
        config: LiquidationConfig,
        assets: tuple[str, ...],
        balances: FloatArray,
        quantities: FloatArray,
    ) -> None:
        self.names = names
        self.margin = margin
        self.market = margin.market
        self.config = config
        self.pricing = Pricing.of(self.market, config.beyond_depth_penalty)
        self.ledger = Ledger(assets, len(names))
        self.index_usd = _index_prices(self.market, assets)
        self._settle_col = np.asarray(
            [self.ledger.index(a) for a in self.market.table.settlement_assets], dtype=np.int64
        )
        self.start_balances = np.array(balances, dtype=np.float64)
        self.quantities = np.array(quantities, dtype=np.float64)
        self.start = self.quantities.copy()
        n, u = len(names), len(self.market.table.underlyings)
        self.taken_bids = np.zeros((n, u), dtype=np.float64)
        self.taken_asks = np.zeros((n, u), dtype=np.float64)
        self.steps: list[list[LiquidationStep]] = [[] for _ in range(n)]
        self.fee_usd = np.zeros(n, dtype=np.float64)
        self.starved: BoolArray = np.zeros(n, dtype=bool)
        """Rows that could not pay in full for a trade a policy asked for (its cash ran out)."""
        all_rows = np.arange(n, dtype=np.int64)
        self.maintenance_usd, self.initial_usd = self.what_if(all_rows, self.quantities)
        self.equity_usd = self.equity_of(all_rows)
        self.equity_before_usd = self.equity_usd.copy()
        self.maintenance_before_usd = self.maintenance_usd.copy()
        self.bankrupt: BoolArray = self.equity_usd < 0

    # -- state ------------------------------------------------------------------------------

    @property
    def assets(self) -> tuple[str, ...]:
        """Balance columns."""
        return self.ledger.assets

    @property
    def balances(self) -> FloatArray:
        """Current balances (rows x assets, coin)."""
        return np.asarray(self.start_balances + self.ledger.coins(self.ledger.units))

    def equity_of(self, rows: IntArray, quantities: FloatArray | None = None) -> FloatArray:
        """USD equity of ``rows`` with their current balances and ``quantities`` (default: their
        current positions)."""
        q = self.quantities[rows] if quantities is None else quantities
        if rows.size == 0:
            return np.zeros(0, dtype=np.float64)
        eq = book_equity(self.balances[rows], self.assets, sp.csr_array(q), self.market)
        return np.asarray(eq.equity_usd, dtype=np.float64)

    def starve(self, rows: IntArray) -> None:
        """Mark ``rows`` as units that cannot pay for the trades their liquidation needs: they
        are bankrupt in cash (whatever their equity), and the waterfall closes what they still
        hold at their bankruptcy prices (the mark when their equity is not negative), the
        market counterparty taking the positions over."""
        self.starved[rows] = True
        self.bankrupt[rows] = True

    def cash_usd(self, rows: IntArray) -> FloatArray:
        """USD value at the index of each row's balances, without haircut (a negative balance,
        a P&L since entry the unit owes, counts in full): what the ledger can raise for a payment
        by converting the unit's collateral. Long options are not cash."""
        return self.cash_of(self.balances[rows])

    def cash_of(self, balances: FloatArray) -> FloatArray:
        """:meth:`cash_usd` of any balances (rows x :attr:`assets`, coin): those of other units
        of the book (ADL counterparties, socialized-loss payers), with the run's changes."""
        return np.asarray(balances @ self.index_usd, dtype=np.float64)

    def spendable_usd(self, rows: IntArray, asset_cols: IntArray) -> FloatArray:
        """What each row may still pay in USD (never < 0): :meth:`cash_usd` less the reserve of
        :data:`CASH_RESERVE_UNITS` base units of the payment's asset ``asset_cols[k]``."""
        reserve = self.asset_reserve_usd(asset_cols)
        return np.asarray(np.maximum(self.cash_usd(rows) - reserve, 0.0), dtype=np.float64)

    def asset_reserve_usd(self, asset_cols: IntArray | int) -> FloatArray:
        """USD reserve of a payment in each asset (balance column): :data:`CASH_RESERVE_UNITS`
        base units of it, or of the run's costliest base unit at the index if worth more (the
        payment may be raised by converting that asset)."""
        unit_usd = self.index_usd / self.ledger.scale
        costliest = float(unit_usd.max(initial=0.0))
        return np.asarray(
            CASH_RESERVE_UNITS * np.maximum(unit_usd[asset_cols], costliest), dtype=np.float64
        )

    def reserve_usd(self, cols: IntArray) -> FloatArray:
        """USD value of the reserve a payment in each instrument's settlement asset keeps."""
        return self.asset_reserve_usd(self.settlement_cols(cols))

    def cash_flow_usd(self, cols: IntArray, trade: FloatArray, price: FloatArray) -> FloatArray:
        """USD cash each trade moves at the index (``> 0`` received, ``< 0`` paid): an option's
        premium, a delta-one trade's difference to the mark (:func:`trade_cash`)."""
        cash = trade_cash(self.market, cols, trade, price, self.pricing.mark[cols])
        return np.asarray(cash * self.index_usd[self.settlement_cols(cols)], dtype=np.float64)

    def settlement_cols(self, cols: IntArray) -> IntArray:
        """Balance column of each instrument's settlement asset."""
        return self._settle_col[self.market.table.settlement_code[cols]]

    def target_of(self, maintenance: FloatArray, initial: FloatArray) -> FloatArray:
        """Equity each row must reach (USD): ``MM x (1 + buffer)``, or IM for ``initial``."""
        if self.config.target is Target.INITIAL:
            return np.maximum(initial, maintenance)
        return maintenance * (1.0 + self.config.buffer)

    @property
    def target_usd(self) -> FloatArray:
        """Current target of every row."""
        return self.target_of(self.maintenance_usd, self.initial_usd)

    @property
    def holds(self) -> BoolArray:
        """Rows that still hold a position."""
        return np.asarray(np.any(self.quantities != 0, axis=1))

    @property
    def active(self) -> IntArray:
        """Rows still to liquidate: solvent, below target, holding positions."""
        below = self.equity_usd < self.target_usd - _TINY_USD
        return np.flatnonzero(below & ~self.bankrupt & self.holds).astype(np.int64)

    # -- what policies call ---------------------------------------------------------------

    def what_if(self, rows: IntArray, quantities: FloatArray) -> tuple[FloatArray, FloatArray]:
        """USD (maintenance, initial) margin of each candidate ``quantities[k]`` (a whole row of
        instruments) for unit ``rows[k]``: one margin call with the prepared model."""
        return self.margin.totals([self.names[r] for r in rows.tolist()], quantities)

    def quote(
        self, rows: IntArray, cols: IntArray, trade: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """Fill price (instrument price unit) and expected cost (USD: slippage + liquidation
        fee) of each trade, walking the book from what the row already took."""
        price = self._fills(rows, cols, trade).price
        slippage = self._slippage_usd(cols, trade, price)
        return price, slippage + self.config.fee_rate * self.notional_usd(cols, trade)

    def notional_usd(self, cols: IntArray, trade: FloatArray) -> FloatArray:
        """Delta-equivalent notional of each trade, USD (what the liquidation fee is on)."""
        table, p = self.market.table, self.pricing
        return np.asarray(
            np.abs(trade * table.contract_size[cols] * p.delta[cols]) * p.forward[cols]
        )

    def execute(
        self,
        rows: IntArray,
        cols: IntArray,
        trade: FloatArray,
        kind: StepKind,
        *,
        price: FloatArray | None = None,
        reasons: Sequence[str] | None = None,
        fee: bool = True,
    ) -> None:
        """Apply one trade per row (``rows`` distinct): fill at ``price`` or walking the book,
        post its cash against ``@venue``, charge the liquidation fee (capped at the equity and
        the cash left) to the insurance fund, re-margin the rows once and record each step. A
        trade other than a bankruptcy close is cut to what the row can pay
        (:meth:`spendable_usd`; the row is then starved, :meth:`starve`, and a trade cut to
        nothing is not made). A row whose equity ends below zero is marked bankrupt."""
        if rows.size == 0:
            return
        if np.unique(rows).size != rows.size:
            raise ValueError("execute takes at most one trade per row")
        asset_cols = self.settlement_cols(cols)
        if kind is not StepKind.BANKRUPTCY:
            quoted = self._fills(rows, cols, trade).price if price is None else price
            pay = -self.cash_flow_usd(cols, trade, quoted)
            spendable = self.spendable_usd(rows, asset_cols)
            # a unit whose cash is negative (a variation-margin loss the ledger could not
            # settle) makes only trades that bring cash: closing a future settles its loss
            short = (pay > spendable) | ((pay >= 0) & (self.cash_usd(rows) < 0))
            if np.any(short):
                self.starve(rows[short])
                scale = np.ones(rows.size, dtype=np.float64)
                fraction = np.divide(
                    spendable, pay, out=np.zeros(rows.size, dtype=np.float64), where=pay > 0
                )
                scale[short] = fraction[short]
                trade = trade * scale
                keep = np.abs(trade) > 1e-9 * np.maximum(np.abs(self.start[rows, cols]), 1.0)
                if not np.all(keep):
                    rows, cols, trade, asset_cols = (
                        rows[keep],
                        cols[keep],
                        trade[keep],
                        asset_cols[keep],
                    )
                    price = None if price is None else price[keep]
                    reasons = (
                        None
                        if reasons is None
                        else [r for r, k in zip(reasons, keep.tolist(), strict=True) if k]
                    )
                    if rows.size == 0:
                        return
        mark = self.pricing.mark[cols]
        if price is None:
            fills = self._fills(rows, cols, trade)
            price = fills.price
            u = self.market.table.underlying_code[cols]
            buys = fills.buys_delta > 0
            np.add.at(self.taken_asks, (rows[buys], u[buys]), fills.coins[buys])
            np.add.at(self.taken_bids, (rows[~buys], u[~buys]), fills.coins[~buys])
        slippage = self._slippage_usd(cols, trade, price)
        cash = trade_cash(self.market, cols, trade, price, mark)
        self.ledger.venue_post(rows, asset_cols, self.ledger.to_units(cash, asset_cols))
        self.quantities[rows, cols] += trade
        small = np.abs(self.quantities[rows, cols]) <= 1e-12 * np.maximum(
            np.abs(self.start[rows, cols]), 1.0
        )
        self.quantities[rows[small], cols[small]] = 0.0
        equity = self.equity_of(rows)
        fee_usd = np.zeros(rows.size, dtype=np.float64)
        if fee and self.config.fee_rate > 0:
            wanted = self.config.fee_rate * self.notional_usd(cols, trade)
            room = np.minimum(np.maximum(equity, 0.0), self.spendable_usd(rows, asset_cols))
            fee_usd = np.minimum(wanted, room)
            usd = self.index_usd[asset_cols]
            units = -np.floor(fee_usd / usd * self.ledger.scale[asset_cols]).astype(np.int64)
            units = np.minimum(units, 0)
            fee_usd = np.abs(self.ledger.coins(units, asset_cols) * usd)
            paid = units != 0
            self.ledger.fund_post(
                rows[paid],
                asset_cols[paid],
                units[paid],
                self.names,
                TransferReason.LIQUIDATION_FEE,
            )
            self.fee_usd[rows] += fee_usd
            equity = self.equity_of(rows)
        before = self.maintenance_usd[rows].copy()
        mm, im = self.what_if(rows, self.quantities[rows])
        self.maintenance_usd[rows], self.initial_usd[rows], self.equity_usd[rows] = mm, im, equity
        self.bankrupt[rows] |= equity < -_TINY_USD
        instruments = self.market.instruments
        for k, r in enumerate(rows.tolist()):
            self.steps[r].append(
                LiquidationStep(
                    account=self.names[r],
                    kind=kind,
                    instrument=instruments[int(cols[k])],
                    quantity=float(trade[k]),
                    price=float(price[k]),
                    mark_price=float(mark[k]),
                    slippage_usd=float(slippage[k]),
                    fee_usd=float(fee_usd[k]),
                    maintenance_margin_after_usd=float(mm[k]),
                    equity_after_usd=float(equity[k]),
                    relief_usd=float(before[k] - mm[k]),
                    cost_usd=float(slippage[k] + fee_usd[k]),
                    reason=reasons[k] if reasons is not None else kind.value,
                )
            )

    # -- internals ------------------------------------------------------------------------

    def _fills(self, rows: IntArray, cols: IntArray, trade: FloatArray) -> Fills:
        u = self.market.table.underlying_code[cols]
        return fill_prices(
            self.market,
            self.pricing,
            cols,
            trade,
            self.taken_bids[rows, u],
            self.taken_asks[rows, u],
        )

    def _slippage_usd(self, cols: IntArray, trade: FloatArray, price: FloatArray) -> FloatArray:
        """Cost of each trade against the mark, USD (``> 0`` a cost to the unit)."""
        mark = self.pricing.mark[cols]
        at_mark = mark_cash(self.market, cols, trade, mark)
        cash = trade_cash(self.market, cols, trade, price, mark)
        return np.asarray((at_mark - cash) * self.market.settlement_usd[cols], dtype=np.float64)


def _index_prices(market: PricedMarket, assets: Sequence[str]) -> FloatArray:
    """USD index price of each asset (0 for one the market cannot price: the ledger never sells
    it to pay a debt), the price the ledger converts collateral at."""
    prices = np.zeros(len(assets), dtype=np.float64)
    for j, asset in enumerate(assets):
        try:
            prices[j] = market.snapshot.price_usd(asset)
        except SolventInputError:
            prices[j] = 0.0
    return prices
