"""The real-time loop's book held in resident shards: the margin stage of a tick on an executor.

With an executor (``solvent replay --executor ray``, ``RealtimeEngine(executor=...)``), the engine
does not margin its book in its own process: the margin units (rows of the grouped book, one per
margin group, named after their top accounts) live in shards held by the executor's residents,
Ray actors on a cluster (docs/scale-out.md). Per tick:

1. the account changes applied since the previous tick are routed to the shards that own the
   units they touch (:meth:`ResidentUnits.sync`): an existing unit's new row goes to its shard, a
   new unit to the least-loaded shard (fewest units), and when the book's instruments changed
   every shard receives the column map (a few bytes per instrument); nothing else travels;
2. the prepared state of every model of the book (its risk arrays for this market) is broadcast
   once (one ``ray.put``; :attr:`ResidentUnits.broadcast_bytes`), and not again while the market
   does not move (a tick with account changes only);
3. each shard margins its units, model by model (the same ``model.margin`` call on the same rows
   as in-process: the figures are identical bit for bit), and sends back two floats per unit;
4. the results are gathered in the grouped book's row order.

The engine's book (:class:`~solvent.realtime.book_state.BookState`) stays the source of truth:
the driver keeps which shard holds which unit (two integer arrays), and a shard whose actor dies
is rebuilt from the engine's book (:meth:`ResidentUnits._source`) and the call retried. Every
shard carries the version of the engine's book it reflects and reports it with its results; a
shard that does not hold what the driver expects fails the tick (:class:`SolventJobError`), so a
tick never uses a partial or stale book. A change the residents could not take drops them: the
next tick places the whole book again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from solvent.arrays import FloatArray, IntArray
from solvent.errors import SolventJobError
from solvent.executors import Executor, Resident, Shared, shard_bounds
from solvent.margin.protocol import Detail, MarginModel
from solvent.margin.sharded import MarginState
from solvent.portfolio.book import Book
from solvent.realtime.book_state import BookState, GroupedBook
from solvent.realtime.tick import sub_book


@dataclass(frozen=True, slots=True)
class UnitShard:
    """One resident shard: its units' rows (over the book's instruments of ``version``), each
    unit's model, the shard rows of each model, and the version of the engine's book it
    reflects."""

    book: Book
    models: tuple[str, ...]
    rows_by_model: Mapping[str, IntArray]
    version: int

    @classmethod
    def of(cls, book: Book, models: tuple[str, ...], version: int) -> UnitShard:
        names = np.asarray(models, dtype=object)
        rows = {m: np.flatnonzero(names == m).astype(np.intp) for m in sorted(set(models))}
        return cls(book, models, rows, version)


@dataclass(frozen=True, slots=True)
class ShardChange:
    """What one shard receives when the engine's book moved from version ``previous`` to
    ``version``: the new instruments and, when they changed, the new column of each old one
    (``-1``: no longer held by any unit); the shard rows whose units changed and their new rows;
    the units new to the shard (appended, with their models)."""

    previous: int
    version: int
    instruments: tuple[str, ...]
    columns: IntArray | None
    replace_rows: IntArray
    replaced: sp.csr_array
    added: Book
    added_models: tuple[str, ...]


def _remap(q: sp.csr_array, columns: IntArray, width: int) -> tuple[sp.csr_array, IntArray]:
    """``q`` with column ``j`` moved to ``columns[j]`` (entries of dropped columns removed), each
    row's entries sorted by column as a freshly built book's are; and the rows that lost an
    entry."""
    n = q.shape[0]
    indptr = np.asarray(q.indptr)
    row = np.repeat(np.arange(n, dtype=np.intp), np.diff(indptr))
    new = columns[np.asarray(q.indices, dtype=np.intp)]
    keep = new >= 0
    counts = np.bincount(row[keep], minlength=n)
    out = sp.csr_array(
        (
            np.asarray(q.data)[keep],
            new[keep],
            np.concatenate([[0], np.cumsum(counts)]).astype(np.intp),
        ),
        shape=(n, width),
    )
    out.sort_indices()
    return out, np.unique(row[~keep])


def apply_change(shard: UnitShard, change: ShardChange) -> UnitShard:
    """``shard`` after ``change`` (the function the residents apply). Changed units keep their
    row, new ones are appended. Idempotent: a shard already at ``change.version`` (rebuilt from
    the engine's book while the change was under way) is returned as it is."""
    if shard.version == change.version:
        return shard
    if shard.version != change.previous:
        raise SolventJobError(
            "resident",
            f"a shard at version {shard.version} received the change "
            f"{change.previous} -> {change.version}",
        )
    q = shard.book.quantities
    width = len(change.instruments)
    if change.columns is not None:
        q, lost = _remap(q, change.columns, width)
        if not np.isin(lost, change.replace_rows).all():
            raise SolventJobError(
                "resident", "an unchanged unit holds an instrument the book no longer has"
            )
    n, r, a = q.shape[0], len(change.replace_rows), len(change.added)
    select = np.arange(n, dtype=np.intp)
    select[change.replace_rows] = n + np.arange(r, dtype=np.intp)
    select = np.concatenate([select, n + r + np.arange(a, dtype=np.intp)])
    stacked = sp.csr_array(
        sp.vstack([q, change.replaced, change.added.quantities], format="csr"),
        shape=(n + r + a, width),
    )
    book = Book(shard.book.accounts + change.added.accounts, change.instruments, stacked[select])
    return UnitShard.of(book, shard.models + change.added_models, change.version)


@dataclass(frozen=True, slots=True)
class TickMargin:
    """The broadcast of one tick: each model of the book, prepared on the tick's market."""

    states: Mapping[str, MarginState]


def margin_units(state: TickMargin, shard: UnitShard) -> tuple[int, FloatArray, FloatArray]:
    """One shard's margin at ``Detail.TOTALS`` (the function the residents map): its version and
    each unit's initial and maintenance margin (USD, before the multiplier), in shard order."""
    n = len(shard.book)
    initial = np.zeros(n, dtype=np.float64)
    maintenance = np.zeros(n, dtype=np.float64)
    for name, rows in shard.rows_by_model.items():
        if rows.size == 0:
            continue
        s = state.states[name]
        result = s.model.margin(s.prepared, sub_book(shard.book, rows), detail=s.detail)
        initial[rows] = result.initial_margin_usd
        maintenance[rows] = result.maintenance_margin_usd
    return shard.version, initial, maintenance


def _csr_rows(book: Book, rows: IntArray) -> sp.csr_array:
    return sp.csr_array(book.quantities[rows], shape=(rows.size, len(book.instruments)))


class ResidentUnits:
    """The margin stage of the real-time loop on ``executor``'s residents (see the module
    docstring): ``shards`` shards (default: one per worker of the executor). ``accounts`` gives
    the engine's book as it is now (the engine may replace it, e.g. after a restart)."""

    def __init__(
        self,
        executor: Executor,
        accounts: Callable[[], BookState],
        shards: int | None = None,
    ) -> None:
        self.executor = executor
        self.shards = shards if shards is not None else executor.workers
        if self.shards < 1:
            raise SolventJobError("shards", f"need at least one shard, got {self.shards}")
        self._accounts = accounts
        self._resident: Resident[UnitShard] | None = None
        self._state: BookState | None = None
        self._version = -1
        self._grouped: GroupedBook | None = None
        self._shard_of = np.zeros(0, dtype=np.intp)
        """The shard of each row of the grouped book."""
        self._local_of = np.zeros(0, dtype=np.intp)
        """The row of each grouped row in its shard."""
        self._positions: list[IntArray] = []
        """Per shard: the grouped row of each of its rows."""
        self._expected: list[int] = []
        """Per shard: the version of the engine's book it must hold."""
        self.broadcast_bytes = 0
        """Bytes of the last broadcast (the serialized prepared states; 0 in-process)."""
        self.broadcasts = 0
        """Broadcasts made: one per tick whose prepared states changed (a tick with account
        changes only reuses the last one)."""
        self._shared: Shared[TickMargin] | None = None
        self._shared_of: tuple[tuple[str, MarginModel, Any], ...] = ()
        """What :attr:`_shared` was made of (held, so that identity means the same objects)."""
        self.routed = 0
        """Units sent to their shard by the last change (new and changed units)."""
        self.placements = 0
        """Times the whole book was placed on the residents (1 after the first tick)."""

    # --- the margin stage ------------------------------------------------------------------------

    def __call__(
        self, grouped: GroupedBook, prepared: Mapping[str, tuple[MarginModel, Any]]
    ) -> tuple[FloatArray, FloatArray]:
        """Each unit's initial and maintenance margin (USD, before the multiplier), aligned with
        ``grouped.book``'s rows: ``prepared`` maps every model of the book to (model, its
        prepared state on the tick's market)."""
        state = self._accounts()
        self.sync(state if state.grouped() is grouped else None, grouped)
        assert self._resident is not None
        parts = self._resident.map(margin_units, self._broadcast(prepared))
        n = len(grouped.book)
        initial = np.zeros(n, dtype=np.float64)
        maintenance = np.zeros(n, dtype=np.float64)
        covered = 0
        for k, (version, im, mm) in enumerate(parts):
            rows = self._positions[k]
            if version != self._expected[k] or im.size != rows.size or mm.size != rows.size:
                self.close()  # the next tick places the book again
                raise SolventJobError(
                    f"shard {k}",
                    f"returned {im.size} units of version {version}, expected {rows.size} of "
                    f"version {self._expected[k]}: not the engine's book",
                )
            initial[rows] = im
            maintenance[rows] = mm
            covered += rows.size
        if covered != n:
            self.close()
            raise SolventJobError("resident", f"the shards hold {covered} of {n} units")
        return initial, maintenance

    def _broadcast(self, prepared: Mapping[str, tuple[MarginModel, Any]]) -> Shared[TickMargin]:
        """The tick's prepared states, broadcast once (``ray.put``); the last broadcast again
        when they are the same objects (the market did not move)."""
        of = tuple((m, mo, p) for m, (mo, p) in sorted(prepared.items()))
        same = len(of) == len(self._shared_of) and all(
            a[0] == b[0] and a[1] is b[1] and a[2] is b[2]
            for a, b in zip(of, self._shared_of, strict=True)
        )
        if self._shared is None or not same:
            self._shared = self.executor.share(
                TickMargin({m: MarginState(mo, p, Detail.TOTALS) for m, mo, p in of})
            )
            self._shared_of = of
            self.broadcast_bytes = self._shared.nbytes
            self.broadcasts += 1
        return self._shared

    # --- placing and routing ---------------------------------------------------------------------

    def sync(self, state: BookState | None, grouped: GroupedBook) -> None:
        """Bring the shards to ``grouped`` (the grouped book of ``state`` now): the units that
        changed since the last sync to their shard, new units to the least-loaded shard; the
        whole book placed again when the change is unknown (another state, or one further
        behind than its change log)."""
        if self._resident is None or state is None or state is not self._state:
            self._place(state, grouped)
            return
        changed = state.changed_since(self._version)
        old = self._grouped
        assert old is not None
        n_old, n = len(old.book), len(grouped.book)
        if changed is None or n < n_old or grouped.book.accounts[:n_old] != old.book.accounts:
            self._place(state, grouped)
            return
        if not changed and grouped.book.instruments == old.book.instruments:
            self._grouped, self._version = grouped, state.version
            return
        self._route(state, grouped, changed)

    def _route(self, state: BookState, grouped: GroupedBook, changed: frozenset[str]) -> None:
        old = self._grouped
        assert old is not None and self._resident is not None
        n_old, n = len(old.book), len(grouped.book)
        instruments = grouped.book.instruments
        columns: IntArray | None = None
        if instruments != old.book.instruments:
            where = {name: j for j, name in enumerate(instruments)}
            columns = np.array([where.get(a, -1) for a in old.book.instruments], dtype=np.intp)
        accounts = np.fromiter((state.index(a) for a in sorted(changed)), np.intp, len(changed))
        units = np.unique(grouped.groups.group_of[accounts]).astype(np.intp)
        existing = units[units < n_old]
        new = np.arange(n_old, n, dtype=np.intp)
        # new units to the least-loaded shard, one after the other
        loads = [p.size for p in self._positions]
        owner = np.zeros(new.size, dtype=np.intp)
        for i in range(new.size):
            k = int(np.argmin(loads))
            owner[i] = k
            loads[k] += 1
        local_new = np.zeros(new.size, dtype=np.intp)
        targets = (
            range(self.shards)
            if columns is not None
            else sorted(set(self._shard_of[existing].tolist()) | set(owner.tolist()))
        )
        changes: dict[int, ShardChange] = {}
        for k in targets:
            mine = existing[self._shard_of[existing] == k]
            added = new[owner == k]
            local_new[owner == k] = self._positions[k].size + np.arange(added.size, dtype=np.intp)
            changes[k] = ShardChange(
                previous=self._expected[k],
                version=state.version,
                instruments=instruments,
                columns=columns,
                replace_rows=self._local_of[mine],
                replaced=_csr_rows(grouped.book, mine),
                added=Book(
                    tuple(grouped.book.accounts[g] for g in added.tolist()),
                    instruments,
                    _csr_rows(grouped.book, added),
                ),
                added_models=tuple(grouped.models[g] for g in added.tolist()),
            )
        # the driver's map first: a shard rebuilt during the update is rebuilt at the new version
        self._shard_of = np.concatenate([self._shard_of, owner])
        self._local_of = np.concatenate([self._local_of, local_new])
        for k in changes:
            self._positions[k] = np.concatenate([self._positions[k], new[owner == k]])
            self._expected[k] = state.version
        self._grouped, self._version = grouped, state.version
        self.routed = existing.size + new.size
        try:
            self._resident.update(apply_change, changes)
        except BaseException:
            self.close()  # the shards may hold part of the change: place the book again
            raise

    def _place(self, state: BookState | None, grouped: GroupedBook) -> None:
        """Cut the whole book into contiguous shards of units (sizes +-1) and hold them."""
        self.close()
        n = len(grouped.book)
        bounds = shard_bounds(n, self.shards) if n else []
        bounds += [(n, n)] * (self.shards - len(bounds))
        self._positions = [np.arange(a, b, dtype=np.intp) for a, b in bounds]
        self._shard_of = np.concatenate(
            [np.full(b - a, k, dtype=np.intp) for k, (a, b) in enumerate(bounds)]
        )
        self._local_of = np.concatenate([np.arange(b - a, dtype=np.intp) for a, b in bounds])
        self._state = state
        self._version = state.version if state is not None else -1
        self._grouped = grouped
        self._expected = [self._version] * self.shards
        self._resident = self.executor.hold(
            [self._source(k) for k in range(self.shards)], source=self._source
        )
        self.placements += 1
        self.routed = n

    def _source(self, k: int) -> UnitShard:
        """Shard ``k`` as it must be now, built from the engine's book (the source of truth)."""
        grouped = self._grouped
        assert grouped is not None
        rows = self._positions[k]
        book = Book(
            tuple(grouped.book.accounts[g] for g in rows.tolist()),
            grouped.book.instruments,
            _csr_rows(grouped.book, rows),
        )
        models = tuple(grouped.models[g] for g in rows.tolist())
        return UnitShard.of(book, models, self._expected[k])

    # --- reads and lifetime ----------------------------------------------------------------------

    @property
    def resident(self) -> Resident[UnitShard] | None:
        """The executor's residents (Ray actors: ``pids()``, ``restarts``); None before the first
        tick."""
        return self._resident

    def loads(self) -> list[int]:
        """Units held by each shard."""
        return [p.size for p in self._positions]

    def owner(self, unit: str) -> int:
        """The shard holding margin unit ``unit`` (a top account of the grouped book)."""
        assert self._grouped is not None
        return int(self._shard_of[self._grouped.book.accounts.index(unit)])

    def close(self) -> None:
        """Release the residents (idempotent); the next tick places the book again."""
        if self._resident is not None:
            self._resident.close()
        self._resident = None
        self._state = None
        self._shared, self._shared_of = None, ()
