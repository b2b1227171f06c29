"""The loss waterfall of bankrupt units: bankruptcy closes, insurance fund, ADL, socialized loss.

A unit whose equity is negative once its policy has run (or was negative from the start) is
bankrupt. Its deficit ``D = -equity`` (USD) goes down the waterfall, bankrupt units one after the
other in input order:

1. **Bankruptcy closes.** Every remaining position closes at its bankruptcy price against the
   market counterparty ``@venue``: the mark moved in the unit's favour by its share of ``D``
   (shares in proportion to the positions' delta-equivalent notional), so the unit ends at zero
   equity and ``@venue`` carries the loss, as a venue's liquidation engine that takes the
   position over at the bankruptcy price. A deficit left with no position to close (the market
   steps already closed everything) stays with the unit.
2. **Insurance fund.** The fund pays what it can (``min(fund, D)``): first the unit's own
   remaining deficit, then ``@venue``'s loss, from its ``fund_asset`` balance, then its other
   assets (liquidation fees collected in settlement coins) at the index.
3. **Auto-deleveraging** and 4. **socialized loss** take what the fund could not pay
   (:mod:`solvent.liquidation.adl`, :mod:`solvent.liquidation.socialize`).

Every movement is posted in exact base units to both sides (``units.ledger``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from solvent.arrays import FloatArray, IntArray
from solvent.liquidation.outcome import VENUE_ACCOUNT, StepKind, Transfer, TransferReason
from solvent.liquidation.units import LiquidationUnits

_TINY_USD = 1e-9


@dataclass(slots=True)
class BankruptcyFlows:
    """Per unit row (USD): ``deficit`` handed to the waterfall and what each stage covered."""

    deficit: FloatArray
    insurance: FloatArray
    adl: FloatArray
    socialized: FloatArray

    @classmethod
    def zeros(cls, rows: int) -> BankruptcyFlows:
        z = np.zeros(rows, dtype=np.float64)
        return cls(z.copy(), z.copy(), z.copy(), z.copy())


def bankruptcy_prices(
    units: LiquidationUnits, row: int, deficit_usd: float
) -> tuple[IntArray, FloatArray, FloatArray]:
    """(columns, closing trades, bankruptcy prices) of ``row``'s remaining positions: each mark
    moved in the unit's favour by its share of ``deficit_usd`` (shares by delta-equivalent
    notional; equal shares if every notional is zero). Prices in the instrument's price unit."""
    cols = np.flatnonzero(units.quantities[row]).astype(np.int64)
    q = units.quantities[row, cols]
    trade = -q
    notional = units.notional_usd(cols, q)
    weight = (
        notional / notional.sum()
        if notional.sum() > 0
        else np.full(cols.size, 1.0 / max(cols.size, 1))
    )
    table = units.market.table
    per_unit_usd = deficit_usd * weight / (np.abs(q) * table.contract_size[cols])
    usd_per_price_unit = np.where(table.is_option[cols], units.market.settlement_usd[cols], 1.0)
    shift = per_unit_usd / usd_per_price_unit
    mark = units.pricing.mark[cols]
    # closing a long sells above the mark, closing a short buys below it
    price = np.where(q > 0, mark + shift, mark - shift)
    price = np.where(table.is_option[cols], np.maximum(price, 0.0), np.maximum(price, 1e-12))
    return cols, trade, price


class InsuranceFund:
    """The fund's balances (base units per asset of ``units.ledger``) during a run."""

    def __init__(self, units: LiquidationUnits, start_units: IntArray) -> None:
        self.units = units
        self.start = np.array(start_units, dtype=np.int64)
        prices = [units.market.snapshot.price_usd(a, f"index.{a}") for a in units.assets]
        self.price_usd = np.asarray(prices, dtype=np.float64)
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
        """Pay up to ``amount_usd`` to ``destination`` (the unit at ``row``, or ``@venue``),
        asset by asset; returns the USD value paid (never more than the fund holds)."""
        ledger = self.units.ledger
        paid = 0.0
        for j in self.order:
            left = amount_usd - paid
            held = int(self.balance_units[j])
            if left <= _TINY_USD or held <= 0 or self.price_usd[j] <= 0:
                continue
            want = int(np.ceil(left / self.price_usd[j] * ledger.scale[j]))
            units_paid = min(want, held)
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
        return min(paid, amount_usd) if paid > amount_usd else paid


def close_bankrupt(
    units: LiquidationUnits, fund: InsuranceFund, flows: BankruptcyFlows
) -> list[tuple[int, float]]:
    """Steps 1 and 2 for every bankrupt unit (input order). Returns, per bankrupt row, the
    ``@venue`` loss (USD) the fund left uncovered, for ADL and socialization."""
    left: list[tuple[int, float]] = []
    for row in np.flatnonzero(units.bankrupt).tolist():
        deficit = max(0.0, -float(units.equity_usd[row]))
        flows.deficit[row] = deficit
        if deficit <= _TINY_USD:
            continue
        rows = np.array([row], dtype=np.int64)
        if units.holds[row]:
            cols, trade, price = bankruptcy_prices(units, row, deficit)
            note = f"bankrupt: equity {-deficit:.2f} USD; closed at the bankruptcy price"
            for k in range(cols.size):
                units.execute(
                    rows,
                    cols[k : k + 1],
                    trade[k : k + 1],
                    StepKind.BANKRUPTCY,
                    price=price[k : k + 1],
                    reasons=[note],
                    fee=False,
                )
        own = max(0.0, -float(units.equity_usd[row]))  # a deficit no position could carry
        venue_loss = max(0.0, deficit - own)
        name = units.names[row]
        covered_own = fund.pay(own, name, name, row) if own > 0 else 0.0
        covered_venue = fund.pay(venue_loss, VENUE_ACCOUNT, name, None) if venue_loss > 0 else 0.0
        flows.insurance[row] = covered_own + covered_venue
        units.equity_usd[row] = float(units.equity_of(rows)[0])
        rest = deficit - flows.insurance[row]
        if rest > _TINY_USD:
            left.append((row, rest))
    return left
