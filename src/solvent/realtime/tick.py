"""One re-margin of the whole book on a moved market: risk arrays, margin, equity, health.

Through the model protocol only (docs/architecture.md): each model is prepared once per market
update on the book's instruments (its risk arrays) and margins all of its margin groups in one
call at ``Detail.TOTALS``; the dynamic multiplier of the model scales the result; every group's
equity is :func:`solvent.accounts.equity.book_equity` (the one definition: balances, futures P&L
since entry, options at their mark, haircuts); the state codes are
:func:`solvent.accounts.health.health_codes`. No per-account Python loop.

A prepared model is kept with the market version and instruments it was prepared for, so a tick
whose market did not move (a trade or deposit only) re-margins without re-preparing, and a
what-if (:meth:`~solvent.realtime.what_if.WhatIfState.check`) reuses it. A tick that moved the
market re-prepares only the instruments whose inputs changed (models with
``IncrementalCapable``; the others in full).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from solvent.accounts.equity import book_equity, equity_usd
from solvent.accounts.health import health_codes
from solvent.arrays import FloatArray, IntArray
from solvent.executors import Executor
from solvent.margin.protocol import Detail, MarginModel, PricedMarket, reprepare
from solvent.margin.registry import get_model, resolve_alias
from solvent.margin.sharded import margin_sharded
from solvent.portfolio.book import Book
from solvent.realtime.book_state import GroupedBook
from solvent.realtime.dynamic import Multiplier
from solvent.realtime.latency import TickStage, TickTimer


class ModelRuntime:
    """A margin model with its parameters loaded once, and its prepared state for the current
    market (re-prepared when the market or the instruments change).

    On a market move over the same instruments an
    :class:`~solvent.margin.protocol.IncrementalCapable` model recomputes only the instruments
    whose inputs changed since the last prepare (:func:`~solvent.margin.protocol.reprepare`:
    the same state bit for bit); ``incremental=False`` always prepares in full (the baseline
    of benchmarks/bench_realtime.py). ``last_recomputed`` / ``last_instruments``: how many
    instruments the last (re)prepare computed, of how many; ``reprepares`` and ``recomputed``
    count them all."""

    def __init__(self, name: str, params: str | None = None, *, incremental: bool = True) -> None:
        self.model: MarginModel = get_model(resolve_alias(name, params))
        self.name = name
        self.params = self.model.load_params(params)
        self.incremental = incremental
        self._prepared: Any = None
        self._key: tuple[int, tuple[str, ...]] | None = None
        self._priced: PricedMarket | None = None
        self.last_recomputed = 0
        self.last_instruments = 0
        self.reprepares = 0
        """(Re)prepares so far, and the instruments they computed in all: the share of the
        risk arrays the incremental path recomputed is ``recomputed / (reprepares x
        instruments)``."""
        self.recomputed = 0

    def prepared(self, priced: PricedMarket, market_version: int) -> Any:
        """The model prepared on ``priced`` (cached per market version and instruments)."""
        key = (market_version, priced.instruments)
        if self._key != key:
            previous = None
            if self.incremental and self._priced is not None:
                previous = (self._priced, self._prepared)
            self._prepared, self.last_recomputed = reprepare(
                self.model, self.params, priced, previous
            )
            self.last_instruments = len(priced.instruments)
            self.reprepares += 1
            self.recomputed += self.last_recomputed
            self._priced = priced
            self._key = key
        return self._prepared


@dataclass(frozen=True, slots=True)
class BookHealth:
    """Every margin group's figures after one tick (arrays aligned with ``grouped.book`` rows,
    USD): requirements with the multiplier in force (``initial_margin_usd``,
    ``maintenance_margin_usd``) and before it (``model_initial_usd``, ``model_maintenance_usd``),
    the equity, and the state code (index into
    :data:`solvent.accounts.health.STATES`)."""

    grouped: GroupedBook
    priced: PricedMarket
    equity_usd: FloatArray
    model_initial_usd: FloatArray
    model_maintenance_usd: FloatArray
    initial_margin_usd: FloatArray
    maintenance_margin_usd: FloatArray
    state_code: npt.NDArray[np.int8]

    def collateral_value_usd(self, row: int) -> float:
        """Haircut value of group ``row``'s balances alone (USD), computed on demand: the tick
        needs only the equity."""
        grouped = self.grouped
        book = grouped.book
        equity = book_equity(
            grouped.balances[row : row + 1],
            grouped.accounts.assets,
            book.quantities[row : row + 1],
            self.priced,
            entry=None if book.entry is None else book.entry.rows(row, row + 1),
        )
        return float(equity.collateral_value_usd[0])

    def row(self, account: str) -> int | None:
        """Row of the group whose top account is ``account`` (``None`` if it leads none)."""
        try:
            return self.grouped.book.accounts.index(account)
        except ValueError:
            return None


class MarginStage(Protocol):
    """Where a tick's margin runs instead of this process (the resident shards of
    :class:`solvent.realtime.resident.ResidentUnits`): every group's initial and maintenance
    margin (USD, before the multiplier), aligned with ``grouped.book``'s rows; ``prepared`` maps
    each model of the book to (model, its prepared state on the tick's market)."""

    def __call__(
        self, grouped: GroupedBook, prepared: Mapping[str, tuple[MarginModel, Any]]
    ) -> tuple[FloatArray, FloatArray]: ...


def sub_book(book: Book, rows: IntArray) -> Book:
    """The rows ``rows`` of ``book`` over the same instruments."""
    if len(rows) == len(book) and bool(np.all(rows == np.arange(len(book)))):
        return book
    return Book(
        tuple(book.accounts[r] for r in rows.tolist()),
        book.instruments,
        book.quantities[rows],
    )


def remargin(
    grouped: GroupedBook,
    priced: PricedMarket,
    market_version: int,
    runtimes: Mapping[str, ModelRuntime],
    multipliers: Mapping[str, Multiplier],
    timer: TickTimer,
    executor: Executor | None = None,
    stage: MarginStage | None = None,
) -> BookHealth:
    """Margin every group of ``grouped`` on ``priced`` (resolved for ``grouped.book``'s
    instruments, in that order) and assess its health. With an ``executor`` each model's margin
    runs on it in shards shipped as tasks (:func:`solvent.margin.sharded.margin_sharded`); with
    a ``stage`` (the real-time loop's resident shards) the stage margins the whole book; the
    same figures bit for bit either way."""
    book = grouped.book
    n = len(book)
    model_im = np.zeros(n, dtype=np.float64)
    model_mm = np.zeros(n, dtype=np.float64)
    factor_im = np.ones(n, dtype=np.float64)
    factor_mm = np.ones(n, dtype=np.float64)
    rows_by_model = grouped.model_rows()
    prepared: dict[str, Any] = {}
    with timer(TickStage.RISK_ARRAYS):
        for name in rows_by_model:
            prepared[name] = runtimes[name].prepared(priced, market_version)
    with timer(TickStage.MARGIN):
        if stage is not None:
            model_im, model_mm = stage(
                grouped, {name: (runtimes[name].model, p) for name, p in prepared.items()}
            )
        for name, rows in rows_by_model.items():
            if rows.size == 0:
                continue
            if stage is None:
                model = runtimes[name].model
                if executor is None:
                    result = model.margin(
                        prepared[name], sub_book(book, rows), detail=Detail.TOTALS
                    )
                else:
                    result = margin_sharded(
                        model,
                        prepared[name],
                        sub_book(book, rows),
                        detail=Detail.TOTALS,
                        executor=executor,
                    )
                model_im[rows] = result.initial_margin_usd
                model_mm[rows] = result.maintenance_margin_usd
            multiplier = multipliers.get(name)
            if multiplier is not None:
                factor_im[rows] = multiplier.initial
                factor_mm[rows] = multiplier.maintenance
        initial = model_im * factor_im
        maintenance = np.minimum(model_mm * factor_mm, initial)
    with timer(TickStage.HEALTH):
        equity = equity_usd(
            grouped.balances, grouped.accounts.assets, book.quantities, priced, entry=book.entry
        )
        codes = health_codes(equity, initial, maintenance)
    return BookHealth(
        grouped=grouped,
        priced=priced,
        equity_usd=equity,
        model_initial_usd=model_im,
        model_maintenance_usd=model_mm,
        initial_margin_usd=initial,
        maintenance_margin_usd=maintenance,
        state_code=codes,
    )
