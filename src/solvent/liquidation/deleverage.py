"""Stages 3 and 4 of the loss waterfall: auto-deleveraging, then socialized loss.

What the insurance fund could not pay of a bankrupt unit's deficit (:mod:`.waterfall`) is, in
order:

3. **Auto-deleveraging (ADL).** The bankrupt unit's positions were taken over at their bankruptcy
   prices by ``@venue``; ADL offsets them against opposite positions of other margin units at the
   same price, in ADL order (:func:`solvent.liquidation.adl.rank_queue`, the ranking of
   ``LiquidationConfig.adl_ranking``, computed once per instrument for the run). Only positions in
   profit at the mark are touched, and each at most so far that its unit stays at or above its
   maintenance margin after the fill (checked with the unit's model: candidate fractions 1, 1/2,
   1/4, 1/10 of what it holds, one margin call and one equity pass for a batch of
   counterparties, each candidate valued with the fill's cash in base units as it would be
   booked), and never beyond its cash: a fill that takes cash (a short option bought back, a
   future's loss against the mark) must leave the index value of its balances at or above the
   reserve (:data:`~solvent.liquidation.units.CASH_RESERVE_UNITS` base units of the settlement
   asset): the ledger books it from balances, not from the value of long options. A fill costs
   the counterparty ``|bankruptcy price - mark|`` per unit against the
   mark, which is what it gives back to ``@venue``. Options are deleveraged like futures: the
   queue of an option holds premiums (the settlement coin per unit), each counterparty's
   bankruptcy premium floored at 0, with the contract size and the settlement index so that the
   ranking reads USD premium values (:mod:`solvent.liquidation.adl`, "Option queues"); a fill
   pays the bankruptcy premium in the settlement coin.
4. **Socialized loss.** The rest, over all bankrupt units, is shared in one call of
   :func:`solvent.liquidation.socialize.socialize_loss` (exact base units of the fund asset,
   largest remainder) by the other units' profit (their unrealized P&L since entry, options'
   premiums included, at most their equity) or equity (``LiquidationConfig.socialize_basis``);
   what profits cannot bear is then shared by equity. No payer is charged beyond its excess
   over its maintenance margin (socialization never makes a healthy unit liquidatable), nor
   beyond its cash (the index value of its balances with the run's fills and charges, less the
   reserve of the fund asset): a winner whose profit is long option value pays what it holds. Each
   charge is split, in input order, over the bankrupt units it pays for. What nobody can bear
   is the venue's loss: it stays with ``@venue`` (which also pays a unit's own remaining
   deficit: ``uncovered_loss``).

Units that were liquidated in the run are neither counterparties nor payers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from solvent.accounts.equity import book_equity
from solvent.arrays import BoolArray, FloatArray, IntArray
from solvent.liquidation.adl import AdlQueue, RankedSide, Ranking, rank_queue
from solvent.liquidation.config import LiquidationConfig
from solvent.liquidation.execution import mark_cash, trade_cash
from solvent.liquidation.outcome import (
    VENUE_ACCOUNT,
    AdlFill,
    LiquidationStep,
    SocializedCharge,
    StepKind,
    Transfer,
    TransferReason,
)
from solvent.liquidation.socialize import socialize_loss
from solvent.liquidation.units import Ledger, LiquidationUnits
from solvent.liquidation.waterfall import BankruptcyFlows, Needs
from solvent.market.snapshot import INDEX_BOUNDS

_TINY_USD = 1e-9
_BATCH = 64
"""Counterparties whose capacity is checked in one margin call."""
GRID = (1.0, 0.5, 0.25, 0.1)
"""Fractions of a counterparty's position tried against its maintenance margin."""


@dataclass
class BookState:
    """Every margin unit of the run's book, as counterparties and payers.

    ``quantities`` (groups x the prepared instruments) and ``entry_price`` (average entry per
    position, instrument price unit; NaN: none, taken at the mark) as they were at the start;
    ``balances`` (coin, unrealized P&L since entry settled in, as the units'); ``equity_usd`` and
    ``maintenance_usd`` current; ``excluded`` the units liquidated in this run; ``cash`` the
    base-unit changes of the run (ADL fills, socialized charges); ``changed`` the rows whose
    positions ADL reduced (dense, current)."""

    names: tuple[str, ...]
    quantities: sp.csr_array
    entry_price: sp.csr_array | None
    balances: FloatArray
    equity_usd: FloatArray
    maintenance_usd: FloatArray
    excluded: BoolArray
    cash: IntArray
    changed: dict[int, FloatArray] = field(default_factory=dict)

    def balances_of(self, groups: IntArray, ledger: Ledger) -> FloatArray:
        """Current balances of ``groups`` (coin): the starting ones with the run's ``cash``."""
        return np.asarray(self.balances[groups] + ledger.coins(self.cash[groups]))

    def rows(self, groups: IntArray) -> FloatArray:
        """Current dense positions of ``groups``."""
        out = np.asarray(self.quantities[groups].toarray(), dtype=np.float64)
        for k, g in enumerate(groups.tolist()):
            if g in self.changed:
                out[k] = self.changed[g]
        return out


def deleverage(
    units: LiquidationUnits, state: BookState, needs: Needs, adl: FloatArray
) -> list[AdlFill]:
    """Stage 3 for every row of ``needs`` in order; reduces ``needs.venue`` by what ADL covered
    and adds it to ``adl`` (USD per unit row)."""
    fills: list[AdlFill] = []
    ranking = Ranking(units.config.adl_ranking)
    queues: dict[int, tuple[AdlQueue, RankedSide, RankedSide, IntArray] | None] = {}
    for k, row in enumerate(needs.rows):
        closes = [s for s in units.steps[row] if s.kind is StepKind.BANKRUPTCY]
        venue_loss = sum(-s.slippage_usd for s in closes)
        if needs.venue[k] <= _TINY_USD or venue_loss <= _TINY_USD:
            continue
        share = min(1.0, needs.venue[k] / venue_loss)
        for step in closes:
            j = units.market.instruments.index(step.instrument)
            if step.quantity == 0:
                continue
            if j not in queues:
                queues[j] = _queue(units, state, j, ranking)
            ranked = queues[j]
            if ranked is None:
                continue
            # the bankrupt unit sold (closing a long): shorts are deleveraged, and vice versa
            side = ranked[2] if step.quantity < 0 else ranked[1]
            covered = _fill_side(
                units, state, ranked[0], side, ranked[3], j, step, share, fills, row
            )
            adl[row] += covered
            needs.venue[k] = max(0.0, needs.venue[k] - covered)
    return fills


def _queue(
    units: LiquidationUnits, state: BookState, j: int, ranking: Ranking
) -> tuple[AdlQueue, RankedSide, RankedSide, IntArray] | None:
    """The ADL queue of instrument ``j`` over the units not liquidated in this run, ranked once
    (queue, long side, short side, the unit of each queue position)."""
    column = state.quantities[:, [j]].tocsc()
    groups = np.asarray(column.indices, dtype=np.int64)
    q = np.asarray(column.data, dtype=np.float64)
    keep = (q != 0) & ~state.excluded[groups] & (state.equity_usd[groups] > 0)
    groups, q = groups[keep], q[keep]
    if groups.size == 0:
        return None
    mark = float(units.pricing.mark[j])
    entry = np.full(groups.size, mark)
    if state.entry_price is not None:
        given = np.asarray(state.entry_price[:, [j]].tocsc().data, dtype=np.float64)[keep]
        entry = np.where(np.isfinite(given) & (given > 0), given, mark)
    table = units.market.table
    option = bool(table.is_option[j])
    size = float(table.contract_size[j])
    # USD per price unit: an option's premium is in its settlement asset, a delta-one price in USD
    usd = float(units.market.settlement_usd[j]) if option else 1.0
    lo, hi = INDEX_BOUNDS
    if option and mark < lo:
        # a worthless option without an entry premium has no P&L: it can give nothing
        priced = entry >= lo
        groups, q, entry = groups[priced], q[priced], entry[priced]
        if groups.size == 0:
            return None
    # each counterparty's own bankruptcy price: the mark moved against it by its equity (a
    # premium floors at 0: a long option alone cannot make its unit bankrupt)
    bankruptcy = mark - state.equity_usd[groups] / (q * size * usd)
    bankruptcy = np.clip(bankruptcy, 0.0 if option else lo, hi)
    queue = AdlQueue.from_columns(
        units.market.instruments[j],
        [state.names[g] for g in groups.tolist()],
        q,
        entry_price=entry,
        mark_price=np.full(groups.size, mark),
        bankruptcy_price=bankruptcy,
        wallet_balance_usd=np.maximum(state.equity_usd[groups], 0.0),
        maintenance_margin_usd=state.maintenance_usd[groups],
        account_value_usd=state.equity_usd[groups],
        contract_size=size,
        price_unit_usd=usd,
        option=option,
    )
    ranked = rank_queue(queue, ranking)
    return queue, ranked.long, ranked.short, groups


def _fill_side(
    units: LiquidationUnits,
    state: BookState,
    queue: AdlQueue,
    side: RankedSide,
    groups: IntArray,
    j: int,
    step: LiquidationStep,
    share: float,
    fills: list[AdlFill],
    row: int,
) -> float:
    """Deleverage ``share`` of the bankruptcy close ``step`` of ``row`` against ``side`` (ADL
    order); returns the USD it covered."""
    need = share * abs(step.quantity)
    profit = queue.unrealized_pnl_usd()[side.positions] > 0.0
    order = side.positions[profit]
    covered = 0.0
    start = 0
    while need > 1e-12 and start < order.size:
        batch = order[start : start + _BATCH]
        start += batch.size
        g = groups[batch]
        current = state.rows(g)[:, j]
        held = np.abs(current)
        live = held > 0
        g, batch, current, held = g[live], batch[live], current[live], held[live]
        if g.size == 0:
            continue
        capacity = _capacity(units, state, g, j, current, step.price)
        before = np.concatenate(([0.0], np.cumsum(capacity)[:-1]))
        take = np.clip(need - before, 0.0, capacity)
        used = take > 0
        if not np.any(used):
            continue
        trade = -np.sign(current[used]) * take[used]
        covered += _apply(units, state, g[used], j, trade, step.price, fills, row)
        need -= float(take[used].sum())
    return covered


def _fill_cash(
    units: LiquidationUnits, j: int, trade: FloatArray, price: float
) -> tuple[int, IntArray, FloatArray]:
    """Settlement-asset column, the base units each counterparty receives for ``trade`` of
    instrument ``j`` at ``price`` (floored: a unit never gains a fraction), and the same trade's
    cash at the mark (coin: 0 for delta-one, the premium for an option)."""
    cols = np.full(trade.size, j, dtype=np.int64)
    mark = np.full(trade.size, units.pricing.mark[j])
    cash = trade_cash(units.market, cols, trade, np.full(trade.size, price), mark)
    asset = int(units.settlement_cols(np.array([j], dtype=np.int64))[0])
    paid = units.ledger.to_units(cash, np.full(trade.size, asset, dtype=np.int64))
    return asset, paid, mark_cash(units.market, cols, trade, mark)


def _capacity(
    units: LiquidationUnits,
    state: BookState,
    groups: IntArray,
    j: int,
    current: FloatArray,
    price: float,
) -> FloatArray:
    """The most each counterparty can give up at the bankruptcy ``price`` and stay at or above
    its maintenance margin: the largest fraction of :data:`GRID` of its position that does. Each
    candidate is valued as :func:`_apply` would leave it (its balances plus the fill's cash in
    base units, haircuts included; one margin call and one equity pass for all candidates x
    fractions)."""
    rows = state.rows(groups)
    grid = np.asarray(GRID)
    candidates = np.repeat(rows, grid.size, axis=0)
    cut = np.outer(np.abs(current), grid).reshape(-1)
    trade = -np.sign(np.repeat(current, grid.size)) * cut
    candidates[:, j] += trade
    repeated = np.repeat(groups, grid.size)
    names = [state.names[g] for g in repeated.tolist()]
    mm, _ = units.margin.totals(names, candidates)
    ledger = units.ledger
    asset, paid, _ = _fill_cash(units, j, trade, price)
    cash = state.cash[repeated].copy()
    cash[:, asset] += paid
    balances = state.balances[repeated] + ledger.coins(cash)
    equity = book_equity(balances, units.assets, sp.csr_array(candidates), units.market).equity_usd
    # a fill that takes cash (a short option bought back, a future's loss against the mark) must
    # leave the counterparty's cash at the index at or above the reserve: the ledger books it
    # from balances, never from the value of long options
    payable = (paid >= 0) | (units.cash_of(balances) >= units.asset_reserve_usd(asset))
    ok = ((np.asarray(equity) >= mm) & payable).reshape(groups.size, grid.size)
    best = np.where(ok.any(axis=1), grid[np.argmax(ok, axis=1)], 0.0)
    return np.asarray(best * np.abs(current), dtype=np.float64)


def _apply(
    units: LiquidationUnits,
    state: BookState,
    groups: IntArray,
    j: int,
    trade: FloatArray,
    price: float,
    fills: list[AdlFill],
    row: int,
) -> float:
    """Book the fills (cash against ``@venue``), update the counterparties; returns the USD
    value ``@venue`` got back: what the fills cost the counterparties against the mark (an
    option's premium at the mark minus the premium paid)."""
    ledger = units.ledger
    asset, paid, at_mark = _fill_cash(units, j, trade, price)
    asset_cols = np.full(groups.size, asset, dtype=np.int64)
    np.add.at(state.cash, (groups, asset_cols), paid)
    np.add.at(ledger.venue, asset_cols, -paid)
    rows = state.rows(groups)
    rows[:, j] += trade
    for k, g in enumerate(groups.tolist()):
        state.changed[g] = rows[k]
    balances = state.balances_of(groups, ledger)
    equity = book_equity(balances, units.assets, sp.csr_array(rows), units.market).equity_usd
    mm, _ = units.margin.totals([state.names[g] for g in groups.tolist()], rows)
    state.equity_usd[groups], state.maintenance_usd[groups] = equity, mm
    usd = float(units.market.settlement_usd[j])
    loss = (at_mark - ledger.coins(paid, asset_cols)) * usd
    name = units.names[row]
    instrument = units.market.instruments[j]
    for g, t, lost in zip(groups.tolist(), trade.tolist(), loss.tolist(), strict=True):
        fills.append(AdlFill(state.names[g], instrument, t, price, name, lost))
    return float(loss.sum())


def socialize(
    units: LiquidationUnits, state: BookState, needs: Needs, flows: BankruptcyFlows
) -> list[SocializedCharge]:
    """Stage 4 for what is left in ``needs`` (module docstring): by the configured basis, then,
    for what profits could not bear, by equity; a unit's own deficit nobody could bear is paid
    by ``@venue`` (its capital), so no account is left negative. Adds the covered USD to
    ``flows.socialized`` and ``flows.uncovered``."""
    ledger = units.ledger
    config: LiquidationConfig = units.config
    fund_col = ledger.index(config.fund_asset)
    scale = float(ledger.scale[fund_col])
    price = units.market.snapshot.price_usd(config.fund_asset, "fund_asset")
    # segments: each row's own part (to the unit), then its venue part (to @venue)
    seg_row: list[int] = []
    seg_to_unit: list[bool] = []
    amounts: list[int] = []
    for k, row in enumerate(needs.rows):
        for to_unit, usd in ((True, needs.own[k]), (False, needs.venue[k])):
            amount = int(np.ceil(usd / price * scale - 1e-6)) if usd > _TINY_USD else 0
            if amount > 0:
                seg_row.append(row)
                seg_to_unit.append(to_unit)
                amounts.append(amount)
    left = np.asarray(amounts, dtype=np.int64)
    charged = np.zeros(len(state.names), dtype=np.int64)
    out: list[SocializedCharge] = []
    bases = [config.socialize_basis] + (["equity"] if config.socialize_basis == "profit" else [])
    for basis_name in bases:
        if int(left.sum()) == 0:
            break
        payers = np.flatnonzero(~state.excluded & (state.equity_usd > 0)).astype(np.int64)
        excess = state.equity_usd[payers] - state.maintenance_usd[payers]
        room = np.floor(np.maximum(excess, 0.0) / price * scale)
        room = np.maximum(room - charged[payers], 0)
        # a charge is paid in cash: never beyond what the ledger can take from the payer (its
        # balances at the index with the run's fills and charges, long options excluded), less
        # the reserve of the fund asset for the rounding of the conversions the booking makes
        cash = units.cash_of(state.balances_of(payers, ledger))
        spendable = np.maximum(cash - units.asset_reserve_usd(fund_col), 0.0)
        room = np.minimum(room, np.floor(spendable / price * scale))
        if basis_name == "profit":
            profit = np.floor(np.maximum(_profit_usd(units, state, payers), 0.0) / price * scale)
            room = np.minimum(room, profit)
        result = socialize_loss(int(left.sum()), room.astype(np.int64).tolist())
        pay = np.asarray(result.charges, dtype=np.int64)
        paying = pay > 0
        payers, pay = payers[paying], pay[paying]
        if payers.size == 0:
            continue
        charged[payers] += pay
        # split the charges (payers in input order) over what is left of the segments (rows
        # in input order)
        cut_pay = np.cumsum(pay)
        cut_seg = np.cumsum(left)
        points = np.unique(np.concatenate((cut_pay, cut_seg[cut_seg < cut_pay[-1]])))
        pieces = np.diff(np.concatenate(([0], points)))
        who = np.searchsorted(cut_pay, points, side="left")
        seg = np.searchsorted(cut_seg, points, side="left")
        for p, sg, units_paid in zip(who.tolist(), seg.tolist(), pieces.tolist(), strict=True):
            if units_paid <= 0:
                continue
            g, row = int(payers[p]), seg_row[sg]
            left[sg] -= units_paid
            state.cash[g, fund_col] -= units_paid
            name = units.names[row]
            if seg_to_unit[sg]:
                ledger.units[row, fund_col] += units_paid
                destination = name
            else:
                ledger.venue[fund_col] += units_paid
                destination = VENUE_ACCOUNT
            usd = units_paid / scale * price
            flows.socialized[row] += usd
            ledger.transfers.append(
                Transfer(
                    state.names[g],
                    destination,
                    config.fund_asset,
                    units_paid,
                    TransferReason.SOCIALIZED_LOSS,
                    name,
                )
            )
            out.append(SocializedCharge(state.names[g], config.fund_asset, units_paid, usd, name))
    for sg, units_left in enumerate(left.tolist()):
        if units_left <= 0:
            continue
        row = seg_row[sg]
        flows.uncovered[row] += units_left / scale * price
        if seg_to_unit[sg]:  # the venue's capital makes the unit whole
            ledger.units[row, fund_col] += units_left
            ledger.venue[fund_col] -= units_left
            name = units.names[row]
            ledger.transfers.append(
                Transfer(
                    VENUE_ACCOUNT,
                    name,
                    config.fund_asset,
                    units_left,
                    TransferReason.UNCOVERED_LOSS,
                    name,
                )
            )
    return out


def _profit_usd(units: LiquidationUnits, state: BookState, groups: IntArray) -> FloatArray:
    """Each unit's unrealized P&L since entry, USD: futures and perpetuals ``q x contract size x
    (mark - entry)``, options the same on premiums at their settlement asset's index (0 for
    positions without an entry price)."""
    if state.entry_price is None or groups.size == 0:
        return np.zeros(groups.size, dtype=np.float64)
    q = state.quantities[groups].tocoo()
    entry = np.asarray(state.entry_price[groups].tocoo().data, dtype=np.float64)
    table = units.market.table
    # USD per unit of each instrument's price (an option's premium is in its settlement asset)
    usd = np.where(table.is_option, units.market.settlement_usd, 1.0) * table.contract_size
    cols = np.asarray(q.col, dtype=np.int64)
    qty = np.asarray(q.data, dtype=np.float64)
    given = np.isfinite(entry)
    mark = units.pricing.mark[cols]
    pnl = np.where(given, qty * (mark - np.where(given, entry, mark)), 0.0)
    pnl *= usd[cols]
    profit = np.bincount(q.row, weights=pnl, minlength=groups.size).astype(np.float64)
    # units ADL reduced: their P&L on what they hold now (the entry price is unchanged); only
    # those few are visited, not every payer of the book
    reduced = np.isin(groups, np.fromiter(state.changed, dtype=np.int64, count=len(state.changed)))
    for k in np.flatnonzero(reduced).tolist():
        g = int(groups[k])
        row = state.entry_price[[g]].toarray().reshape(-1)
        current = state.changed[g]
        given = np.isfinite(row) & (current != 0)
        gain = current * (units.pricing.mark - np.where(given, row, units.pricing.mark))
        profit[k] = float(np.sum(np.where(given, gain * usd, 0.0)))
    return profit
