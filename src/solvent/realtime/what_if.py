"""Pre-trade what-ifs of the real-time engine, answered from an immutable state of one tick.

:class:`WhatIfState` is everything a what-if reads: the market of the last tick (its snapshot,
resolved for the book's instruments), each model of the book with its prepared state on that
market, the multipliers in force, and the grouped book with every account change applied since
that tick. The engine builds a new one at the end of every tick and after every account change
(while it holds its lock: nothing moves under it) and swaps it in with one assignment
(:attr:`RealtimeEngine.what_if_state`), so a what-if asked while a tick runs elsewhere (a worker
thread, :mod:`solvent.api.live`) sees the state before that tick or after it, never a mix.
Nothing in a state is mutated after it is published (the arrays of the grouped book, the
prepared states and the priced market are replaced, never changed in place, by the engine), and
:meth:`WhatIfState.check` writes nothing but its own cache of markets extended to instruments the
tick did not price.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import scipy.sparse as sp

from solvent.accounts.equity import book_equity
from solvent.accounts.health import assess
from solvent.accounts.service import CheckResult, Order, trade_terms
from solvent.arrays import FloatArray, IntArray
from solvent.errors import SolventInputError
from solvent.margin.protocol import Detail, MarginModel, PricedMarket
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.book import Book, EntryCosts
from solvent.realtime.book_state import GroupedBook
from solvent.realtime.dynamic import Multiplier

EXTENDED_KEPT = 64
"""Instrument sets beyond the tick's whose extended market a state keeps prepared."""


@dataclass(frozen=True, slots=True)
class PreparedModel:
    """A margin model (by engine name), its loaded parameters and its prepared state on the
    state's priced market."""

    name: str
    model: MarginModel
    params: Any
    prepared: Any


@dataclass(frozen=True, slots=True)
class WhatIfState:
    """What a what-if reads (see the module docstring): as of tick ``tick`` (market clock
    ``as_of``, market version ``market_version``) with the accounts of version
    ``book_version``. ``rows``: each account's row in ``grouped.accounts``."""

    tick: int
    as_of: datetime
    market_version: int
    book_version: int
    snapshot: MarketSnapshot
    priced: PricedMarket
    grouped: GroupedBook
    rows: Mapping[str, int]
    models: Mapping[str, PreparedModel]
    multipliers: Mapping[str, Multiplier]
    _extended: dict[tuple[str, tuple[str, ...]], tuple[PricedMarket, Any]] = field(
        default_factory=dict, compare=False, repr=False
    )
    _extended_lock: threading.Lock = field(
        default_factory=threading.Lock, compare=False, repr=False
    )

    @staticmethod
    def account_rows(grouped: GroupedBook, previous: WhatIfState | None) -> Mapping[str, int]:
        """Row of each account of ``grouped`` (``previous``'s map when it indexes the same
        accounts)."""
        if previous is not None and previous.grouped.accounts.accounts is grouped.accounts.accounts:
            return previous.rows
        return {a: i for i, a in enumerate(grouped.accounts.accounts)}

    def check(self, account: str, orders: Sequence[Order]) -> CheckResult:
        """Would ``orders`` (filled at the mark, no fee) keep ``account``'s margin unit at or
        above its initial margin (multiplier in force)? Figures in USD; nothing is written.

        Bad input raises :class:`SolventInputError` naming ``order``, ``order[i].quantity``,
        ``order[i].instrument`` or ``account``."""
        if not orders:
            raise SolventInputError("order", "give at least one order")
        grouped = self.grouped
        i = self.rows.get(account)
        if i is None:
            raise SolventInputError("account", f"unknown account {account!r}")
        g = int(grouped.groups.group_of[i])
        top = grouped.book.accounts[g]
        model = grouped.models[g]
        multiplier = self.multipliers[model]
        snapshot = self.snapshot
        priced = self.priced
        extra: list[str] = []
        for k, order in enumerate(orders):
            if order.quantity == 0:
                raise SolventInputError(f"order[{k}].quantity", "must not be zero")
            trade_terms(snapshot, order.instrument, f"order[{k}].instrument")
            if order.instrument not in priced.instruments and order.instrument not in extra:
                extra.append(order.instrument)
        held, qty = grouped.book.row(g)
        for j in held.tolist():  # held since the last tick, not priced then
            name = grouped.book.instruments[j]
            if name not in priced.instruments and name not in extra:
                extra.append(name)
        instruments = (*priced.instruments, *extra)
        runtime = self.models[model]
        prepared = runtime.prepared
        if extra:
            priced, prepared = self._extended_market(runtime, instruments)
        column = {n: j for j, n in enumerate(instruments)}
        cols = np.array([column[grouped.book.instruments[j]] for j in held.tolist()], np.intp)
        order_cols = np.array([column[o.instrument] for o in orders], dtype=np.intp)
        order_qty = np.array([float(o.quantity) for o in orders], dtype=np.float64)
        all_cols = np.concatenate([cols, order_cols])
        q = sp.csr_array(
            (np.concatenate([qty, order_qty]), (np.zeros(all_cols.size, np.intp), all_cols)),
            shape=(1, len(instruments)),
        )
        q.sum_duplicates()
        entry = _row_entry(grouped.book, g, cols, len(instruments), order_cols, order_qty, priced)
        book = Book((top,), instruments, q, entry)
        result = runtime.model.margin(prepared, book, detail=Detail.TOTALS)
        im = float(result.initial_margin_usd[0]) * multiplier.initial
        mm = min(float(result.maintenance_margin_usd[0]) * multiplier.maintenance, im)
        assets, balances = _after_premiums(
            grouped.accounts.assets, grouped.balances[g], order_cols, order_qty, priced
        )
        equity = book_equity(balances, assets, q, priced, entry=book.entry)
        after = assess(float(equity.equity_usd[0]), float(equity.collateral_value_usd[0]), im, mm)
        return CheckResult.of(after)

    def _extended_market(
        self, runtime: PreparedModel, instruments: tuple[str, ...]
    ) -> tuple[PricedMarket, Any]:
        """The state's market resolved and ``runtime`` prepared on the tick's instruments plus
        the ones a what-if adds, kept with this state (the next what-if on the same instruments
        only margins); at most :data:`EXTENDED_KEPT` instrument sets."""
        key = (runtime.name, instruments)
        with self._extended_lock:
            found = self._extended.get(key)
        if found is None:
            priced = PricedMarket.resolve(self.snapshot, instruments)
            found = (priced, runtime.model.prepare(priced, instruments, runtime.params))
            with self._extended_lock:
                if len(self._extended) >= EXTENDED_KEPT:
                    self._extended.clear()
                self._extended[key] = found
        return found

    def carry_extended(self, previous: WhatIfState | None) -> None:
        """Keep ``previous``'s extended markets when it is on the same market (an account
        change: the tick's market and prepared states are the same objects)."""
        if (
            previous is not None
            and previous.market_version == self.market_version
            and previous.priced is self.priced
        ):
            with previous._extended_lock:
                self._extended.update(previous._extended)


def _after_premiums(
    assets: tuple[str, ...],
    balances: FloatArray,
    order_cols: IntArray,
    order_qty: FloatArray,
    priced: PricedMarket,
) -> tuple[tuple[str, ...], FloatArray]:
    """One unit's balances (coin, ``(1, assets)``) after the orders' option premiums, paid at the
    mark in the settlement asset (a buyer pays, a seller receives), as the ledger books them."""
    table = priced.table
    option = table.is_option[order_cols]
    cash = -order_qty * table.contract_size[order_cols] * priced.columns.mark_price[order_cols]
    settle = [table.settlement_assets[c] for c in table.settlement_code[order_cols].tolist()]
    names = list(assets)
    for a in settle:
        if a not in names:
            names.append(a)
    row = np.zeros(len(names), dtype=np.float64)
    row[: len(assets)] = balances
    for k in np.flatnonzero(option).tolist():
        row[names.index(settle[k])] += cash[k]
    return tuple(names), row.reshape(1, len(names))


def _row_entry(
    book: Book,
    g: int,
    columns: IntArray,
    n: int,
    order_cols: IntArray,
    order_qty: FloatArray,
    priced: PricedMarket,
) -> EntryCosts:
    """Entry costs (1 x n) of row ``g`` of ``book`` (its held columns mapped to ``columns`` of
    the what-if's instruments) plus orders filled at the mark."""
    eq = np.zeros(n, dtype=np.float64)
    ec = np.zeros(n, dtype=np.float64)
    if book.entry is not None:
        row = book.entry.rows(g, g + 1)
        _, cols, quantity, cost = row.entries()
        # the row's entry columns are among its held columns: map them like the quantities
        held = np.asarray(
            book.quantities.indices[book.quantities.indptr[g] : book.quantities.indptr[g + 1]]
        )
        where = {int(c): int(k) for c, k in zip(held.tolist(), columns.tolist(), strict=True)}
        mapped = np.array([where[int(c)] for c in cols.tolist()], dtype=np.intp)
        np.add.at(eq, mapped, quantity)
        np.add.at(ec, mapped, cost)
    np.add.at(eq, order_cols, order_qty)
    np.add.at(ec, order_cols, order_qty * priced.columns.mark_price[order_cols])
    stored = np.flatnonzero((eq != 0.0) | (ec != 0.0))
    zeros = np.zeros(stored.size, dtype=np.intp)
    return EntryCosts(
        sp.csr_array((eq[stored], (zeros, stored)), shape=(1, n)),
        sp.csr_array((ec[stored], (zeros, stored)), shape=(1, n)),
    )
