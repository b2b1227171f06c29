"""The loss waterfall of bankrupt units: bankruptcy closes, insurance fund, ADL, socialized loss.

A unit whose equity is negative once its policy has run (or was negative from the start) is
bankrupt. Its deficit ``D = -equity`` (USD) goes down the waterfall, bankrupt units one after the
other in input order:

1. **Bankruptcy closes.** Every remaining position closes at its bankruptcy price against the
   market counterparty ``@venue``: the mark moved in the unit's favour by its share of ``D``
   (shares in proportion to the positions' delta-equivalent notional), so the unit ends at zero
   equity and ``@venue`` carries the loss, as a venue's liquidation engine that takes the
   position over at the bankruptcy price. A deficit no position can carry (nothing left to
   close, an option bought back at 0, a delta-one price held within a factor
   :data:`BANKRUPTCY_PRICE_RANGE` of the mark) stays with the unit: its own part.
2. **Insurance fund.** The fund pays what it can (``min(fund, D)``) from every asset it holds
   (the fund asset and the liquidation fees it collected in settlement coins, at the index,
   exact base units; an asset the market does not price is never paid out): first the unit's
   own remaining deficit (in each asset it owes, a negative balance, up to its debt in it, then
   in the fund asset: a coin it does not owe would count after its haircut), then ``@venue``'s
   loss (the fund asset first, then the other assets in column order). Only what the fund
   cannot pay goes further down.
3. **Auto-deleveraging** and 4. **socialized loss** take what the fund could not pay
   (:mod:`solvent.liquidation.deleverage`).

Every movement is posted in exact base units to both sides (``units.ledger``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from solvent.arrays import FloatArray, IntArray
from solvent.liquidation.outcome import VENUE_ACCOUNT, StepKind, Transfer, TransferReason
from solvent.liquidation.units import LiquidationUnits

_TINY_USD = 1e-9
BANKRUPTCY_PRICE_RANGE = 5.0
"""A delta-one bankruptcy price stays within this factor of the mark (the widest mark / index
ratio a snapshot accepts for a future)."""


@dataclass(slots=True)
class Needs:
    """What is left of each bankrupt row's deficit after the fund (USD): ``own`` (the unit's
    own, no position carried it) and ``venue`` (``@venue``'s loss from the bankruptcy closes)."""

    rows: list[int]
    own: list[float]
    venue: list[float]


@dataclass(slots=True)
class BankruptcyFlows:
    """Per unit row (USD): ``deficit`` handed to the waterfall and what each stage covered."""

    deficit: FloatArray
    insurance: FloatArray
    adl: FloatArray
    socialized: FloatArray
    uncovered: FloatArray

    @classmethod
    def zeros(cls, rows: int) -> BankruptcyFlows:
        z = np.zeros(rows, dtype=np.float64)
        return cls(z.copy(), z.copy(), z.copy(), z.copy(), z.copy())


def bankruptcy_prices(
    units: LiquidationUnits, rows: IntArray, deficit_usd: FloatArray
) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
    """(rows, columns, closing trades, bankruptcy prices) of every remaining position of
    ``rows`` (``deficit_usd[k]`` is ``rows[k]``'s deficit): each mark moved in the unit's favour
    so far that the close brings the position's share of the deficit (shares by
    delta-equivalent notional; equal shares if every notional of the unit is zero) in its
    settlement asset, at that asset's index: ``shift = share / (|q| x contract size)`` for linear
    futures and options (premium), and for an inverse future, whose close at ``p`` realizes
    ``|q| x size x (p - mark) / p`` coin (closing a long), ``p = mark x S / (S - share)`` (a
    short: ``S / (S + share)``, ``S = |q| x size``). Prices in the instrument's price unit."""
    k, cols = np.nonzero(units.quantities[rows])
    k, cols = k.astype(np.int64), cols.astype(np.int64)
    row = rows[k]
    q = units.quantities[row, cols]
    notional = units.notional_usd(cols, q)
    total = np.bincount(k, weights=notional, minlength=rows.size)
    count = np.bincount(k, minlength=rows.size).astype(np.float64)
    weight = np.where(
        total[k] > 0,
        notional / np.where(total[k] > 0, total[k], 1.0),
        1.0 / np.maximum(count[k], 1.0),
    )
    table = units.market.table
    # the coin (settlement asset, valued at its index as the equity values it) each close must
    # bring, over the position's size in contracts
    size = np.abs(q) * table.contract_size[cols]
    coin = deficit_usd[k] * weight / units.market.settlement_usd[cols]
    mark = units.pricing.mark[cols]
    # linear futures and options: the cash is linear in the price (size x shift)
    shift = coin / size
    linear = np.where(q > 0, mark + shift, mark - shift)
    # an inverse future's close at p brings size x (p - mark) / p (closing a long; the opposite
    # for a short), the ledger's realized P&L in coin: solved for p
    long_inverse = mark * size / np.maximum(size - coin, size / BANKRUPTCY_PRICE_RANGE)
    short_inverse = mark * size / (size + coin)
    inverse = np.where(q > 0, long_inverse, short_inverse)
    price = np.where(table.is_inverse[cols] & ~table.is_option[cols], inverse, linear)
    # a position carries at most the deficit that keeps its price within a factor
    # BANKRUPTCY_PRICE_RANGE of the mark (an option: down to 0); the rest stays the unit's own
    low, high = mark / BANKRUPTCY_PRICE_RANGE, mark * BANKRUPTCY_PRICE_RANGE
    price = np.where(table.is_option[cols], np.maximum(price, 0.0), np.clip(price, low, high))
    return row, cols, -q, price


class InsuranceFund:
    """The fund's balances (base units per asset of ``units.ledger``) during a run: the fund
    asset and every coin it holds (the liquidation fees it collected), each valued at the index
    (an asset the market does not price counts for zero and is never paid out)."""

    def __init__(self, units: LiquidationUnits, start_units: IntArray) -> None:
        self.units = units
        self.start = np.array(start_units, dtype=np.int64)
        self.price_usd = units.index_usd
        fund_col = units.ledger.index(units.config.fund_asset)
        others = [j for j in range(len(units.assets)) if j != fund_col]
        self.order = [fund_col, *others]

    @property
    def balance_units(self) -> IntArray:
        """Current balances (start plus what the run moved in or out)."""
        return np.asarray(self.start + self.units.ledger.fund, dtype=np.int64)

    @property
    def value_usd(self) -> float:
        """USD value of the fund at the index (no haircut: the venue's own money)."""
        coins = self.units.ledger.coins(self.balance_units)
        return float(np.dot(coins, self.price_usd))

    def pay(self, amount_usd: float, destination: str, account: str, row: int | None) -> float:
        """Pay up to ``amount_usd`` (USD at the index) to ``destination``: the unit at ``row``,
        or ``@venue`` (``row`` None), asset by asset in a fixed order, each amount rounded up to
        a base unit (the last one may pass ``amount_usd`` by less than a base unit). ``@venue``
        is paid from every asset the fund holds: the fund asset, then the others in column
        order. A unit is paid in each asset it owes (a negative balance), up to what it owes
        (exact: the ledger books its debt in that asset), then in the fund asset; never in a
        coin it does not owe (that coin would count after its haircut). Returns the USD value
        paid (never more than the fund holds)."""
        ledger = self.units.ledger
        order = self.order
        owed = np.zeros(len(self.units.assets), dtype=np.int64)
        if row is not None:
            balance = self.units.start_balances[row] * ledger.scale + ledger.units[row]
            owed = np.maximum(np.ceil(-balance - 1e-6), 0).astype(np.int64)
            fund_col = self.order[0]
            order = [int(j) for j in np.flatnonzero(owed > 0) if j != fund_col] + [fund_col]
        paid = 0.0
        for j in order:
            left = amount_usd - paid
            held = int(self.balance_units[j])
            if left <= _TINY_USD or held <= 0 or self.price_usd[j] <= 0:
                continue
            want = int(np.ceil(left / self.price_usd[j] * ledger.scale[j]))
            if row is not None and j != order[-1]:
                want = min(want, int(owed[j]))  # a coin owed: up to the debt
            units_paid = min(want, held)
            if units_paid <= 0:
                continue
            if row is not None:
                ledger.units[row, j] += units_paid
            else:
                ledger.venue[j] += units_paid
            ledger.fund[j] -= units_paid
            ledger.transfers.append(
                Transfer(
                    "@insurance",
                    destination,
                    ledger.assets[j],
                    units_paid,
                    TransferReason.INSURANCE_COVER,
                    account,
                )
            )
            paid += units_paid / ledger.scale[j] * self.price_usd[j]
        return paid


def close_bankrupt(units: LiquidationUnits, fund: InsuranceFund, flows: BankruptcyFlows) -> Needs:
    """Steps 1 and 2 for every bankrupt unit: the bankruptcy closes of all of them at once
    (position by position across units), then the fund's cover unit by unit in input order.
    Returns what is left of each deficit for ADL and socialization."""
    rows = np.flatnonzero(units.bankrupt).astype(np.int64)
    deficit = np.maximum(0.0, -units.equity_usd[rows])
    # a starved unit (it cannot pay to close into the book) closes at its bankruptcy prices
    # even without a deficit: at the mark
    closing = (deficit > _TINY_USD) | (units.starved[rows] & units.holds[rows])
    rows, deficit = rows[closing], deficit[closing]
    flows.deficit[rows] = deficit
    needs = Needs([], [], [])
    if rows.size == 0:
        return needs
    row, cols, trade, price = bankruptcy_prices(units, rows, deficit)
    rank = _rank_within(row)
    for j in range(int(rank.max(initial=-1)) + 1):
        sel = np.flatnonzero(rank == j)
        notes = [
            f"bankrupt: equity {-flows.deficit[r]:.2f} USD; closed at the bankruptcy price"
            for r in row[sel].tolist()
        ]
        units.execute(
            row[sel],
            cols[sel],
            trade[sel],
            StepKind.BANKRUPTCY,
            price=price[sel],
            reasons=notes,
            fee=False,
        )
    # a deficit no position could carry (an option bought back at 0, nothing left to close)
    # stays with the unit itself
    own = np.maximum(0.0, -units.equity_of(rows))
    taken = np.zeros(units.equity_usd.size, dtype=np.float64)
    for r in rows.tolist():
        taken[r] = sum(-s.slippage_usd for s in units.steps[r] if s.kind is StepKind.BANKRUPTCY)
    for r, o in zip(rows.tolist(), own.tolist(), strict=True):
        name = units.names[r]
        venue_loss = max(0.0, float(taken[r]))
        flows.deficit[r] = venue_loss + o
        covered_own = fund.pay(o, name, name, r) if o > 0 else 0.0
        covered_venue = fund.pay(venue_loss, VENUE_ACCOUNT, name, None) if venue_loss > 0 else 0.0
        flows.insurance[r] = covered_own + covered_venue
        needs.rows.append(r)
        needs.venue.append(max(0.0, venue_loss - covered_venue))
    # the unit's own deficit left: what its equity still lacks (a cover paid in a coin it holds
    # counts after that coin's haircut)
    units.equity_usd[rows] = units.equity_of(rows)
    needs.own.extend(np.maximum(0.0, -units.equity_usd[rows]).tolist())
    keep = [k for k in range(len(needs.rows)) if needs.own[k] + needs.venue[k] > _TINY_USD]
    needs.rows[:] = [needs.rows[k] for k in keep]
    needs.own[:] = [needs.own[k] for k in keep]
    needs.venue[:] = [needs.venue[k] for k in keep]
    return needs


def _rank_within(row: IntArray) -> IntArray:
    """Position of each entry among the entries of the same row (``row`` sorted)."""
    if row.size == 0:
        return np.zeros(0, dtype=np.int64)
    start = np.r_[0, np.flatnonzero(np.diff(row)) + 1]
    first = np.repeat(start, np.diff(np.r_[start, row.size]))
    rank: IntArray = (np.arange(row.size) - first).astype(np.int64)
    return rank
