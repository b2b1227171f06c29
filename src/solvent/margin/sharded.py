"""Margin of a book cut into shards of accounts, on any executor (docs/scale-out.md).

Every model's ``margin`` reduces each account's row of ``Q @ R`` on its own: an account's result
does not depend on the other rows of the book. So a book can be cut into shards of accounts,
each shard margined against the same prepared state (broadcast once per market update by the
executor), and the results joined in shard order: the same numbers, bit for bit, as one call on
the whole book (tests/executors check it for every registered model).

- :func:`margin_sharded`: a batch job (``solvent margin --executor ray``): contiguous shards of
  the book, one task each.
- :class:`ResidentBook`: the real-time shape. The book stays on the workers (one resident per
  shard, accounts routed by :func:`~solvent.executors.route` of their name); changed accounts are
  sent to their shard only (:meth:`ResidentBook.update`), and every market update sends only the
  prepared state (:meth:`ResidentBook.margin`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from solvent.arrays import FloatArray
from solvent.errors import SolventInputError
from solvent.executors import Executor, Shared, route, shard_bounds
from solvent.margin.protocol import Detail, MarginModel
from solvent.margin.result import AccountMargin, BookMargin
from solvent.portfolio.book import Book


@dataclass(frozen=True, slots=True)
class MarginState:
    """What every shard needs to margin its accounts: the model, its prepared state (one market
    update) and how much detail to build."""

    model: MarginModel
    prepared: Any
    detail: Detail


def margin_shard(state: MarginState, book: Book) -> BookMargin:
    """One shard's margin (the function the executor maps)."""
    return state.model.margin(state.prepared, book, detail=state.detail)


def join_margins(parts: Sequence[BookMargin]) -> BookMargin:
    """Shards' results as one :class:`BookMargin`, accounts in shard order."""
    if not parts:
        raise ValueError("no shard results to join")
    first = parts[0]
    detail: tuple[AccountMargin, ...] | None = None
    if all(p.detail is not None for p in parts):
        detail = tuple(a for p in parts for a in (p.detail or ()))
    return BookMargin(
        model=first.model,
        parameters=first.parameters,
        accounts=tuple(a for p in parts for a in p.accounts),
        initial_margin_usd=np.concatenate(
            [np.asarray(p.initial_margin_usd, dtype=np.float64) for p in parts]
        ),
        maintenance_margin_usd=np.concatenate(
            [np.asarray(p.maintenance_margin_usd, dtype=np.float64) for p in parts]
        ),
        detail=detail,
    )


def margin_sharded(
    model: MarginModel,
    prepared: Any,
    book: Book,
    *,
    detail: Detail,
    executor: Executor,
    shards: int | None = None,
) -> BookMargin:
    """``model.margin(prepared, book, detail=detail)`` computed in ``shards`` contiguous shards
    of accounts (default: one per worker of ``executor``), the prepared state broadcast once.
    Equal to the one call, bit for bit; an empty book is margined in this process."""
    bounds = shard_bounds(len(book), shards if shards is not None else executor.workers)
    if not bounds:
        return model.margin(prepared, book, detail=detail)
    pieces = [book] if len(bounds) == 1 else [book.slice(a, b) for a, b in bounds]
    shared = executor.share(MarginState(model, prepared, detail))
    return join_margins(executor.map(margin_shard, shared, pieces))


@dataclass(frozen=True, slots=True)
class BookShard:
    """The accounts of one resident shard: their book and the row of each account."""

    book: Book
    row_of: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, book: Book) -> BookShard:
        return cls(book, {a: i for i, a in enumerate(book.accounts)})


def apply_changes(shard: BookShard, changes: Book) -> BookShard:
    """``shard`` with the rows of ``changes`` in place of its accounts' rows (an account with no
    position keeps a row of zeros); accounts it does not hold are added. Changed accounts move to
    the end of the shard (the order of a shard's accounts carries no meaning)."""
    if changes.instruments != shard.book.instruments:
        raise SolventInputError("changes.instruments", "must be the resident book's instruments")
    old = shard.book
    keep = np.ones(len(old), dtype=bool)
    rows = [shard.row_of.get(a) for a in changes.accounts]
    keep[[r for r in rows if r is not None]] = False
    kept = np.flatnonzero(keep)
    quantities = sp.csr_array(sp.vstack([old.quantities[kept], changes.quantities], format="csr"))
    accounts = tuple(old.accounts[i] for i in kept.tolist()) + changes.accounts
    return BookShard.of(Book(accounts, old.instruments, quantities))


def _margin_resident(state: MarginState, shard: BookShard) -> BookMargin:
    return margin_shard(state, shard.book)


def _totals_resident(state: MarginState, shard: BookShard) -> tuple[FloatArray, FloatArray]:
    result = margin_shard(state, shard.book)
    return (
        np.asarray(result.initial_margin_usd, dtype=np.float64),
        np.asarray(result.maintenance_margin_usd, dtype=np.float64),
    )


def _accounts_resident(_: None, shard: BookShard) -> tuple[str, ...]:
    return shard.book.accounts


def _rows(book: Book, rows: np.ndarray[Any, Any]) -> Book:
    return Book(
        tuple(book.accounts[i] for i in rows.tolist()),
        book.instruments,
        sp.csr_array(book.quantities[rows]),
    )


class ResidentBook:
    """A book held by an executor's residents for the real-time loop (see the module
    docstring). Account ``a`` lives in shard ``route([a], shards)[0]``."""

    def __init__(self, executor: Executor, book: Book, shards: int | None = None) -> None:
        if len(set(book.accounts)) != len(book.accounts):
            raise SolventInputError("book.accounts", "an account appears twice")
        self.executor = executor
        self.instruments = book.instruments
        self.shards = shards if shards is not None else executor.workers
        owner = route(book.accounts, self.shards)
        parts = [BookShard.of(_rows(book, np.flatnonzero(owner == k))) for k in range(self.shards)]
        self._resident = executor.hold(parts)

    def update(self, changes: Book) -> None:
        """Replace (or add) the positions of ``changes``' accounts, each in its own shard only;
        all shards or none (a refused change changes nothing)."""
        if changes.instruments != self.instruments:
            raise SolventInputError(
                "changes.instruments", "must be the resident book's instruments"
            )
        if len(set(changes.accounts)) != len(changes.accounts):
            raise SolventInputError("changes.accounts", "an account appears twice")
        owner = route(changes.accounts, self.shards)
        routed = {
            int(k): _rows(changes, np.flatnonzero(owner == k)) for k in np.unique(owner).tolist()
        }
        self._resident.update(apply_changes, routed)

    def share(
        self, model: MarginModel, prepared: Any, detail: Detail = Detail.TOTALS
    ) -> Shared[MarginState]:
        """Broadcast one market update's prepared state (once; then :meth:`margin` it)."""
        return self.executor.share(MarginState(model, prepared, detail))

    def margin(self, shared: Shared[MarginState]) -> BookMargin:
        """Every resident account margined against ``shared`` (:meth:`share`), accounts in shard
        order (each shard's accounts in its own order)."""
        return join_margins(self._resident.map(_margin_resident, shared))

    def totals(self, shared: Shared[MarginState]) -> tuple[FloatArray, FloatArray]:
        """USD initial and maintenance margin of every resident account, in the order of
        :meth:`accounts` (which changes only with :meth:`update`): the tick's fast path, where
        only two floats per account travel back."""
        parts = self._resident.map(_totals_resident, shared)
        return (
            np.concatenate([im for im, _ in parts]) if parts else np.zeros(0),
            np.concatenate([mm for _, mm in parts]) if parts else np.zeros(0),
        )

    def accounts(self) -> tuple[str, ...]:
        """The resident accounts in shard order (gathered from the workers)."""
        parts = self._resident.map(_accounts_resident, self.executor.share(None))
        return tuple(a for p in parts for a in p)

    def book(self) -> Book:
        """The whole resident book, accounts in shard order (a copy gathered from the workers)."""
        parts = [s.book for s in self._resident.collect()]
        return Book(
            tuple(a for p in parts for a in p.accounts),
            self.instruments,
            sp.csr_array(sp.vstack([p.quantities for p in parts], format="csr")),
        )

    @property
    def resident(self) -> Any:
        """The executor's resident set (its actors on Ray)."""
        return self._resident

    def close(self) -> None:
        self._resident.close()
