"""Many ledger operations written in bulk inside one transaction (docs/ledger.md, "Batches").

:class:`LedgerBatch` is a :class:`~solvent.ledger.store.LedgerTransaction` whose writes are held
in memory and written together by :meth:`LedgerBatch.flush`: the operations and their entries,
the trades, the positions and the balance cache, each table in one bulk statement. Reads see the
writes held so far (balances and positions are read once per account per batch, then kept up to
date in memory), and every check of the store applies unchanged, in the same order, against those
running values: an operation the store would refuse is refused here with the same error, before
anything of it is held.

A unit of work (one liquidation step, one settled position) runs inside :meth:`LedgerBatch.step`:
if it raises, everything it held is dropped and the batch is as before it, so the units before it
can still be flushed and committed whole. Nothing reaches the database before :meth:`flush`, and
the flush happens inside the caller's transaction: a crash leaves the ledger before or after the
whole batch.

Operation ids are known only once written: :meth:`post` and :meth:`trade` return a provisional
handle (a negative integer, never a real id) that :meth:`operation_id` turns into the real id
after the flush.

Concurrency: on PostgreSQL every account whose balances the batch reads is locked first (its family
root, ``SELECT ... FOR UPDATE``, in the store's global order when loaded together by :meth:`load`),
so the running balances stay those of the database until the commit; SQLite's ``BEGIN IMMEDIATE``
already makes the transaction the only writer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, NoReturn

from sqlalchemy import Column, Connection, Table, select
from sqlalchemy.exc import DataError

from solvent.errors import SolventInputError
from solvent.ledger import schema
from solvent.ledger.model import SYSTEM_ACCOUNTS, AccountKind, Operation, PositionState
from solvent.ledger.store import (
    AccountRecord,
    LedgerTransaction,
    _now,
    _position,
    _record,
    id_chunks,
)

_MISSING = object()


def bulk_insert(
    connection: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    conflict: str = "",
) -> None:
    """Insert ``rows`` (values of ``columns`` in order, ready for the driver: :func:`bound` for
    dates) into ``table``, then ``conflict`` (an ``ON CONFLICT`` clause, trusted SQL, the same on
    SQLite and PostgreSQL), with no per-row work above the driver: SQLite runs one
    ``executemany`` (in-process, a row costs a C call); PostgreSQL one statement whatever the
    number of rows, each column sent as one array and turned back into rows by ``unnest``.
    ``rows`` must not repeat a conflict key."""
    if not rows:
        return
    names = ", ".join(columns)
    if connection.dialect.name != "postgresql":
        marks = ", ".join(["?"] * len(columns))
        sql = f"INSERT INTO {table.name} ({names}) VALUES ({marks}){conflict}"
        connection.exec_driver_sql(sql, list(rows))
        return
    types = [table.c[c].type.compile(dialect=connection.dialect) for c in columns]
    arrays = ", ".join(f"%s::{t}[]" for t in types)
    sql = f"INSERT INTO {table.name} ({names}) SELECT * FROM unnest({arrays}){conflict}"
    connection.exec_driver_sql(sql, tuple(list(c) for c in zip(*rows, strict=True)))


def bound(connection: Connection, column: Column[Any], value: Any) -> Any:
    """``value`` as the driver stores it in ``column`` (SQLite keeps dates as text)."""
    dialect = connection.dialect
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    return value if process is None else process(value)


class LedgerBatch(LedgerTransaction):
    """See the module docstring. Built on an open transaction ``tx`` (writes go to its
    connection at :meth:`flush`); create and reference-claim operations are not available in a
    batch (they write at once)."""

    def __init__(self, tx: LedgerTransaction) -> None:
        super().__init__(tx.connection, tx.assets)
        self._records: dict[str, AccountRecord | None] = {}
        self._families: dict[str, list[AccountRecord]] = {}
        self._locked: set[str] = set()  # accounts and family roots locked (PostgreSQL)
        self._held: dict[str, dict[str, int]] = {}
        self._open: dict[str, dict[str, PositionState]] = {}
        self._operations: list[Operation] = []
        self._trades: list[dict[str, Any]] = []
        self._ids: list[int] = []
        self._undo: list[tuple[dict[Any, Any], Any, Any]] = []
        self._depth = 0

    # --- loading ------------------------------------------------------------------------------

    def load(self, account_ids: Iterable[str], *, positions: bool = True) -> None:
        """Read at once what the batch will need of ``account_ids``: their records and families,
        the balances of every member of those families and of the venue's accounts (locked first
        on PostgreSQL, in one global order), and with ``positions`` their positions. Optional:
        anything not loaded is read on first use."""
        ids = sorted(set(account_ids) | set(SYSTEM_ACCOUNTS))
        self._load_records(ids)
        roots = sorted({r.root for a in ids if (r := self._records.get(a)) is not None})
        self._load_families([r for r in roots if not r.startswith("@")])
        members = {m.id for root in roots for m in self._families.get(root, ())}
        self._load_balances(sorted(members | set(ids)))
        if positions:
            self._load_positions(ids)

    def _load_records(self, ids: Iterable[str]) -> None:
        missing = sorted({a for a in ids if a not in self._records})
        self._records.update(self.known_accounts(missing))
        for a in missing:
            self._records.setdefault(a, None)

    def _load_families(self, roots: Iterable[str]) -> None:
        missing = sorted({r for r in roots if r not in self._families})
        found: dict[str, list[AccountRecord]] = {r: [] for r in missing}
        for chunk in id_chunks(missing):
            rows = self.connection.execute(
                select(schema.accounts).where(
                    schema.accounts.c.id.in_(chunk) | schema.accounts.c.parent_id.in_(chunk)
                )
            ).all()
            for row in rows:
                record = _record(row._mapping)
                self._records[record.id] = record
                found[record.root].append(record)
        for root, records in found.items():
            self._families[root] = sorted(records, key=lambda r: (r.id != root, r.id))

    def _load_balances(self, ids: Sequence[str]) -> None:
        missing = sorted({a for a in ids if a not in self._held})
        if not missing:
            return
        self.lock(missing)
        loaded = super().balances(missing)
        self._held.update(loaded)

    def _load_positions(self, ids: Iterable[str]) -> None:
        missing = sorted({a for a in ids if a not in self._open})
        for a in missing:
            self._open[a] = {}
        for chunk in id_chunks(missing):
            for row in self.connection.execute(
                select(schema.positions).where(schema.positions.c.account_id.in_(chunk))
            ).all():
                self._open[row.account_id][row.instrument] = _position(row._mapping)

    # --- reads (what the batch holds so far) ----------------------------------------------------

    def account(self, account_id: str, field: str = "account") -> AccountRecord:
        if account_id not in self._records:
            self._load_records([account_id])
        record = self._records[account_id]
        if record is None:
            raise SolventInputError(field, f"unknown account {account_id!r}")
        return record

    def family(self, root: str) -> list[AccountRecord]:
        if root not in self._families:
            self._load_families([root])
        return list(self._families[root])

    def lock(self, account_ids: Iterable[str]) -> None:
        if not self._pg:
            return
        ids = sorted({a for a in account_ids if a not in self._locked})
        if not ids:
            return
        self._load_records(ids)
        roots = {r.root for a in ids if (r := self._records[a]) is not None} - self._locked
        if roots:
            super().lock(roots)
        self._locked |= roots | set(ids)

    def balances(self, account_ids: Iterable[str]) -> dict[str, dict[str, int]]:
        ids = list(account_ids)
        if any(a not in self._held for a in ids):
            self._load_balances(ids)
        return {a: dict(self._held[a]) for a in ids}

    def positions(self, account_ids: Iterable[str]) -> dict[str, list[PositionState]]:
        ids = sorted(set(account_ids))
        self._load_positions(ids)
        return {a: [s for _, s in sorted(self._open[a].items()) if s.quantity != 0] for a in ids}

    def position(self, account_id: str, instrument: str, settlement_asset: str) -> PositionState:
        if account_id not in self._open:
            self._load_positions([account_id])
        state = self._open[account_id].get(instrument)
        if state is None:
            return PositionState(instrument, Decimal(0), Decimal(0), Decimal(0), settlement_asset)
        return state

    def _kinds(self, account_ids: Sequence[str]) -> dict[str, AccountKind]:
        if any(a not in self._records for a in account_ids):
            self._load_records(account_ids)
        return {a: r.kind for a in account_ids if (r := self._records[a]) is not None}

    # --- held writes ----------------------------------------------------------------------------

    def _write_operations(self, operations: Sequence[Operation]) -> list[int]:
        handles = []
        for op in operations:
            self._operations.append(op)
            handles.append(-(len(self._ids) + len(self._operations)))
            for p in op.postings:
                held = self._held[p.account]
                self._remember(held, p.asset)
                held[p.asset] = held.get(p.asset, 0) + p.amount
        return handles

    def _insert_trade(self, row: Mapping[str, Any]) -> None:
        self._trades.append(dict(row))

    def _store_position(self, account_id: str, state: PositionState) -> None:
        if account_id not in self._open:
            self._load_positions([account_id])
        held = self._open[account_id]
        self._remember(held, state.instrument)
        held[state.instrument] = state

    def _remember(self, table: dict[Any, Any], key: Any) -> None:
        if self._depth:
            self._undo.append((table, key, table.get(key, _MISSING)))

    def create_account(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise NotImplementedError("accounts are created outside a ledger batch")

    def create_accounts(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise NotImplementedError("accounts are created outside a ledger batch")

    def claim_ref(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise NotImplementedError("client references are claimed outside a ledger batch")

    def complete_ref(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise NotImplementedError("client references are completed outside a ledger batch")

    @contextmanager
    def step(self) -> Iterator[None]:
        """A unit of work: if the block raises, everything it held is dropped (the batch is as
        before it) and the exception propagates."""
        operations, trades, undo = len(self._operations), len(self._trades), len(self._undo)
        self._depth += 1
        try:
            yield
        except BaseException:
            while len(self._undo) > undo:
                table, key, old = self._undo.pop()
                if old is _MISSING:
                    table.pop(key, None)
                else:
                    table[key] = old
            del self._operations[operations:]
            del self._trades[trades:]
            raise
        finally:
            self._depth -= 1
            if not self._depth:
                self._undo.clear()

    @property
    def pending(self) -> int:
        """Operations held, not yet written."""
        return len(self._operations)

    def flush(self) -> None:
        """Write everything held, in order, in the caller's transaction: the operations (ids
        reserved in order), their entries, the balance cache, the trades and the positions, each
        table in one bulk statement of the database driver."""
        if self._depth:
            raise RuntimeError("a ledger batch cannot be flushed inside a step")
        operations, trades = self._operations, self._trades
        self._operations, self._trades = [], []
        if not operations:
            return
        ids = self._reserve_ids(len(operations))
        now = bound(self.connection, schema.operations.c.created_at, _now())
        deltas: dict[tuple[str, str], int] = defaultdict(int)
        entries = []
        for op_id, op in zip(ids, operations, strict=True):
            for p in op.postings:
                entries.append((op_id, p.account, p.asset, p.amount, p.reason.value))
                deltas[(p.account, p.asset)] += p.amount
        try:
            self._bulk(
                schema.operations,
                ("id", "kind", "reference", "entry_count", "created_at"),
                [
                    (op_id, op.kind.value, op.reference, len(op.postings), now)
                    for op_id, op in zip(ids, operations, strict=True)
                ],
            )
            self._bulk(
                schema.entries, ("operation_id", "account_id", "asset", "amount", "reason"), entries
            )
            self._bulk(
                schema.balances,
                ("account_id", "asset", "amount"),
                [(a, asset, d) for (a, asset), d in sorted(deltas.items()) if d],
                " ON CONFLICT (account_id, asset) DO UPDATE SET amount = balances.amount + "
                "excluded.amount",
            )
        except DataError:
            # Only reachable when a concurrent writer moved a balance the batch did not lock.
            raise SolventInputError(
                "amount", "a balance would exceed the ledger's limit of 2^63-1 base units"
            ) from None
        self._ids += ids
        self._write_trades(trades)

    def _reserve_ids(self, n: int) -> list[int]:
        """``n`` new operation ids, increasing: PostgreSQL draws them from the column's sequence;
        SQLite continues after the largest (the transaction holds the single write lock, and the
        table's ids are SQLite's rowids, assigned the same way)."""
        if self._pg:
            return list(
                self.connection.exec_driver_sql(
                    "SELECT nextval(pg_get_serial_sequence('operations', 'id')) "
                    "FROM generate_series(1, %(n)s) ORDER BY 1",
                    {"n": n},
                ).scalars()
            )
        last = self.connection.exec_driver_sql("SELECT COALESCE(MAX(id), 0) FROM operations")
        first = int(last.scalar_one()) + 1
        return list(range(first, first + n))

    def _write_trades(self, trades: Sequence[Mapping[str, Any]]) -> None:
        if not trades:
            return
        created = bound(self.connection, schema.trades.c.created_at, _now())
        self._bulk(
            schema.trades,
            (
                "operation_id",
                "account_id",
                "instrument",
                "style",
                "settlement",
                "settlement_asset",
                "contract_size",
                "quantity",
                "price",
                "fee",
                "realized_pnl",
                "created_at",
            ),
            [
                (
                    self.operation_id(t["operation_id"]),
                    t["account_id"],
                    t["instrument"],
                    t["style"],
                    t["settlement"],
                    t["settlement_asset"],
                    t["contract_size"],
                    t["quantity"],
                    t["price"],
                    t["fee"],
                    t["realized_pnl"],
                    created,
                )
                for t in trades
            ],
        )
        rows = []
        for account, instrument in sorted({(t["account_id"], t["instrument"]) for t in trades}):
            state = self._open[account][instrument]
            rows.append(
                (
                    account,
                    instrument,
                    str(state.quantity),
                    str(state.average_price),
                    str(state.realized_pnl),
                    state.settlement_asset,
                )
            )
        self._bulk(
            schema.positions,
            (
                "account_id",
                "instrument",
                "quantity",
                "average_price",
                "realized_pnl",
                "settlement_asset",
            ),
            rows,
            " ON CONFLICT (account_id, instrument) DO UPDATE SET quantity = excluded.quantity, "
            "average_price = excluded.average_price, realized_pnl = excluded.realized_pnl, "
            "settlement_asset = excluded.settlement_asset",
        )

    def _bulk(
        self,
        table: Table,
        columns: Sequence[str],
        rows: Sequence[tuple[Any, ...]],
        conflict: str = "",
    ) -> None:
        bulk_insert(self.connection, table, columns, rows, conflict)

    def operation_id(self, handle: int) -> int:
        """The real id of the operation a write returned ``handle`` for (after :meth:`flush`);
        a real id is returned unchanged."""
        if handle > 0:
            return handle
        index = -handle - 1
        if index >= len(self._ids):
            raise RuntimeError("operation ids are known only after the batch is flushed")
        return self._ids[index]
