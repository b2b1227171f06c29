"""The ledger store: accounts, the double-entry journal, cached balances, positions and trades.

Every write goes through :meth:`Ledger.transaction`, one database transaction: operations, their
entries, the cached balances, positions and trades land together or not at all. Balances are a
cache of the journal (``balance = sum of entries``), updated in the same transaction as the entries
and checked by :meth:`Ledger.audit`.

Concurrency: a writer that debits a user account first locks that account's family (its root
account row, ``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already makes the
writer the only one), and only then reads the balances it checks. Two withdrawals can therefore not
both spend the same balance. Rows are always locked and updated in sorted order (no deadlocks).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, SQLAlchemyError

from solvent.collateral.assets import MAX_UNITS, Asset, AssetRegistry, default_assets
from solvent.errors import SolventInputError
from solvent.instruments.terms import Settlement
from solvent.ledger import schema
from solvent.ledger.db import READ_ONLY, migrate, open_engine
from solvent.ledger.model import (
    BOUNDS,
    EXTERNAL,
    FEES,
    SYSTEM_ACCOUNTS,
    VENUE,
    AccountKind,
    BalanceBound,
    Fill,
    Operation,
    PositionState,
    Posting,
    Reason,
    TradeStyle,
    TradeTerms,
    apply_fill,
    balance_problem,
    to_units_floor,
)
from solvent.portfolio.portfolio import SubAccountMode

IN_LIST_CHUNK = 500
"""Largest ``IN (...)`` list of one read: a read of more ids runs one query per chunk of this many
(:func:`id_chunks`), well below SQLite's and PostgreSQL's limits on bound parameters."""


def id_chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    """``ids`` in consecutive chunks of at most :data:`IN_LIST_CHUNK` (one read each)."""
    for start in range(0, len(ids), IN_LIST_CHUNK):
        yield ids[start : start + IN_LIST_CHUNK]


_ACCOUNT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$")


def check_account_id(account_id: str, field: str = "id") -> None:
    """Refuse, naming ``field``, a user account id the ledger cannot hold."""
    if not _ACCOUNT_ID.match(account_id):
        raise SolventInputError(
            field, f"{account_id!r}: 1-128 characters of A-Z a-z 0-9 . _ : - (no leading @)"
        )


_REF = _ACCOUNT_ID


def _canonical(value: Mapping[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


class InsufficientFundsError(SolventInputError):
    """An operation would leave a balance below what its account type allows (nothing written)."""


class RefClaimedError(SolventInputError):
    """A concurrent transaction committed the same client reference first (PostgreSQL); this
    transaction is void: retry it to read the first result."""


class Overdraft(Enum):
    """Whether an operation may leave a balance outside what its account type allows
    (:data:`solvent.ledger.model.BOUNDS`). The engine always refuses."""

    REFUSE = "refuse"
    ALLOW = "allow"


@dataclass(frozen=True, slots=True)
class AccountRecord:
    """An account row. ``parent``/``mode`` are set for sub-accounts only."""

    id: str
    kind: AccountKind
    parent: str | None
    mode: SubAccountMode | None
    model: str

    @property
    def root(self) -> str:
        """The family root: the parent of a sub-account, else the account itself."""
        return self.parent or self.id


@dataclass(frozen=True, slots=True)
class TradeRecord:
    """A booked trade: the operation id, the position after it, realized P&L units and fee
    (base units of the settlement asset)."""

    operation_id: int
    position: PositionState
    realized_units: int
    fee_units: int
    replayed: bool = False
    """True when this record replays the first result of a client reference (nothing written)."""


@dataclass(frozen=True, slots=True)
class AssetTotals:
    """Per asset, in base units: ``held`` (sum over all accounts but the external one) must equal
    ``deposited - withdrawn``."""

    deposited: int
    withdrawn: int
    held: int


@dataclass(frozen=True, slots=True)
class AuditReport:
    """Result of :meth:`Ledger.audit`: ``ok`` iff ``problems`` is empty."""

    assets: Mapping[str, AssetTotals]
    problems: tuple[str, ...] = field(default_factory=tuple)
    system: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    """The venue's own accounts (``@venue``, ``@fees``, ``@insurance``): non-zero balances in base
    units, from the balance cache."""

    @property
    def ok(self) -> bool:
        return not self.problems


def _now() -> datetime:
    return datetime.now(UTC)


class LedgerTransaction:
    """Reads and writes inside one database transaction (use :meth:`Ledger.transaction`)."""

    def __init__(self, connection: Connection, assets: AssetRegistry) -> None:
        self.connection = connection
        self.assets = assets
        self._pg = connection.dialect.name == "postgresql"

    # --- reads ------------------------------------------------------------------------------

    def account(self, account_id: str, field: str = "account") -> AccountRecord:
        """The account ``account_id``; unknown accounts raise naming ``field``."""
        row = self.connection.execute(
            select(schema.accounts).where(schema.accounts.c.id == account_id)
        ).first()
        if row is None:
            raise SolventInputError(field, f"unknown account {account_id!r}")
        return _record(row._mapping)

    def accounts(self, account_ids: Iterable[str], field: str = "account") -> list[AccountRecord]:
        """The accounts ``account_ids`` (:meth:`known_accounts`), sorted by id; an unknown account
        raises naming ``field`` as :meth:`account` does (the first unknown id in sorted order)."""
        ids = sorted(set(account_ids))
        found = self.known_accounts(ids)
        for a in ids:
            if a not in found:
                raise SolventInputError(field, f"unknown account {a!r}")
        return [found[a] for a in ids]

    def known_accounts(self, account_ids: Iterable[str]) -> dict[str, AccountRecord]:
        """The records of those of ``account_ids`` on the ledger, by id (one read per
        :data:`IN_LIST_CHUNK` ids, :func:`id_chunks`); unknown ids are left out."""
        found: dict[str, AccountRecord] = {}
        for chunk in id_chunks(sorted(set(account_ids))):
            for row in self.connection.execute(
                select(schema.accounts).where(schema.accounts.c.id.in_(chunk))
            ).all():
                found[row.id] = _record(row._mapping)
        return found

    def family(self, root: str) -> list[AccountRecord]:
        """``root`` and its sub-accounts, root first then by id."""
        rows = self.connection.execute(
            select(schema.accounts)
            .where((schema.accounts.c.id == root) | (schema.accounts.c.parent_id == root))
            .order_by(schema.accounts.c.id)
        ).all()
        records = [_record(r._mapping) for r in rows]
        return sorted(records, key=lambda r: (r.id != root, r.id))

    def lock(self, account_ids: Iterable[str]) -> None:
        """Lock the family roots of ``account_ids`` until commit (PostgreSQL row locks; on SQLite
        the transaction already holds the single write lock).

        User roots are locked first and system accounts (``@venue``...) last, each group in sorted
        order: every writer takes its locks in the same global order, so writers never deadlock."""
        ids = sorted(set(account_ids))
        if not self._pg or not ids:
            return
        roots = set(
            self.connection.execute(
                select(func.coalesce(schema.accounts.c.parent_id, schema.accounts.c.id)).where(
                    schema.accounts.c.id.in_(ids)
                )
            ).scalars()
        )
        for group in (
            sorted(r for r in roots if not r.startswith("@")),
            sorted(r for r in roots if r.startswith("@")),
        ):
            if group:
                self.connection.execute(
                    select(schema.accounts.c.id)
                    .where(schema.accounts.c.id.in_(group))
                    .order_by(schema.accounts.c.id)
                    .with_for_update()
                ).all()

    def balances(self, account_ids: Iterable[str]) -> dict[str, dict[str, int]]:
        """Cached balances (base units) of ``account_ids``: ``{account: {asset: units}}``."""
        ids = sorted(set(account_ids))
        result: dict[str, dict[str, int]] = {a: {} for a in ids}
        rows = self.connection.execute(
            select(schema.balances).where(schema.balances.c.account_id.in_(ids))
        ).all()
        for row in rows:
            units = _as_int(row.amount)
            if units is None:
                raise SolventInputError(
                    "balances",
                    f"the stored {row.asset} balance of {row.account_id!r} is corrupt "
                    f"({row.amount!r}); nothing can be booked on it (see `solvent account audit`)",
                )
            result[row.account_id][row.asset] = units
        return result

    def positions(self, account_ids: Iterable[str]) -> dict[str, list[PositionState]]:
        """Open positions (non-zero quantity) of ``account_ids``, by instrument name."""
        ids = sorted(set(account_ids))
        result: dict[str, list[PositionState]] = {a: [] for a in ids}
        rows = self.connection.execute(
            select(schema.positions)
            .where(schema.positions.c.account_id.in_(ids))
            .order_by(schema.positions.c.account_id, schema.positions.c.instrument)
        ).all()
        for row in rows:
            state = _position(row._mapping)
            if state.quantity != 0:
                result[row.account_id].append(state)
        return result

    def position(self, account_id: str, instrument: str, settlement_asset: str) -> PositionState:
        """The position of ``account_id`` in ``instrument`` (flat if none)."""
        row = self.connection.execute(
            select(schema.positions).where(
                (schema.positions.c.account_id == account_id)
                & (schema.positions.c.instrument == instrument)
            )
        ).first()
        if row is None:
            return PositionState(instrument, Decimal(0), Decimal(0), Decimal(0), settlement_asset)
        return _position(row._mapping)

    # --- client references (idempotency keys) ------------------------------------------------

    def claim_ref(
        self, ref: str, kind: Reason, account_id: str, request: Mapping[str, Any]
    ) -> Mapping[str, Any] | None:
        """Claim the client reference ``ref`` for ``request`` in this transaction.

        Returns the stored result of the operation the reference already committed (a retry: the
        caller must write nothing), or ``None`` after inserting the claim (the caller performs the
        operation and calls :meth:`complete_ref`). The same reference with a different request is
        refused. On PostgreSQL a concurrent claim of the same reference waits for the first
        transaction and then fails with :class:`RefClaimedError` (the caller retries in a new
        transaction and reads the result); on SQLite the write lock already serializes the two."""
        if not _REF.match(ref):
            raise SolventInputError(
                "ref", f"{ref!r}: 1-128 characters of A-Z a-z 0-9 . _ : - (no leading punctuation)"
            )
        self.account(account_id)
        text = _canonical({"kind": kind.value, "account": account_id, **request})
        row = self.connection.execute(
            select(schema.client_refs).where(schema.client_refs.c.ref == ref)
        ).first()
        if row is not None:
            if row.request != text or row.result is None:
                raise SolventInputError(
                    "ref",
                    f"{ref!r} was already used for a different request ({row.request}); a retry "
                    "must repeat the same parameters",
                )
            stored: Mapping[str, Any] = json.loads(row.result)
            return stored
        try:
            self.connection.execute(
                insert(schema.client_refs).values(
                    ref=ref,
                    kind=kind.value,
                    account_id=account_id,
                    request=text,
                    operation_id=None,
                    result=None,
                    created_at=_now(),
                )
            )
        except IntegrityError:
            raise RefClaimedError(
                "ref", f"{ref!r} was committed by a concurrent request; retry to read its result"
            ) from None
        return None

    def complete_ref(self, ref: str, operation_id: int, result: Mapping[str, Any]) -> None:
        """Record the operation and the result of the reference claimed in this transaction."""
        self.connection.execute(
            schema.client_refs.update()
            .where(schema.client_refs.c.ref == ref)
            .values(operation_id=operation_id, result=_canonical(result))
        )

    # --- writes -----------------------------------------------------------------------------

    def create_account(
        self,
        account_id: str,
        *,
        parent: str | None = None,
        mode: SubAccountMode | None = None,
        model: str = "standard",
        kind: AccountKind = AccountKind.USER,
    ) -> AccountRecord:
        """Create a user account (or a sub-account of ``parent`` with ``mode``)."""
        record = AccountRecord(account_id, kind, parent, mode, model)
        return self.create_accounts([record])[0]

    def create_accounts(self, records: Sequence[AccountRecord]) -> list[AccountRecord]:
        """Create ``records`` in order (a parent before its sub-accounts, or already on the
        ledger), with the checks of :meth:`create_account` for each, all of them before anything
        is written, then one bulk insert: one read per :data:`IN_LIST_CHUNK` ids, not two
        statements per account. The first refused record raises (nothing written)."""
        existing = self.known_accounts(
            [r.id for r in records] + [r.parent for r in records if r.parent is not None]
        )
        created: dict[str, AccountRecord] = {}
        for r in records:
            if r.kind is AccountKind.USER:
                check_account_id(r.id)
            if (r.parent is None) != (r.mode is None):
                raise SolventInputError("mode", "a sub-account needs both --parent and --mode")
            if r.parent is not None:
                parent_record = created.get(r.parent) or existing.get(r.parent)
                if parent_record is None:
                    raise SolventInputError("parent", f"unknown account {r.parent!r}")
                if parent_record.kind is not AccountKind.USER or parent_record.parent is not None:
                    raise SolventInputError("parent", f"{r.parent!r} cannot have sub-accounts")
            if r.id in existing or r.id in created:
                raise SolventInputError("id", f"account {r.id!r} already exists")
            created[r.id] = r
        if records:
            now = _now()
            self.connection.execute(
                insert(schema.accounts),
                [
                    {
                        "id": r.id,
                        "kind": r.kind.value,
                        "parent_id": r.parent,
                        "mode": None if r.mode is None else r.mode.value,
                        "model": r.model,
                        "created_at": now,
                    }
                    for r in records
                ],
            )
        return list(records)

    def post(self, operation: Operation, overdraft: Overdraft = Overdraft.REFUSE) -> int:
        """Post one operation; returns its id."""
        return self.post_many([operation], overdraft)[0]

    def post_many(
        self, operations: Sequence[Operation], overdraft: Overdraft = Overdraft.REFUSE
    ) -> list[int]:
        """Post ``operations`` in this transaction (in order); returns their ids.

        Checked before anything is written, as if the operations were posted one after another:
        every running balance fits the ledger's signed 64-bit range (:data:`MAX_UNITS`), and with
        ``Overdraft.REFUSE`` (the default, and what every operation of the engine uses) no balance
        leaves what its account type allows (:data:`solvent.ledger.model.BOUNDS`: users and the
        venue's accounts never below zero). ``Overdraft.ALLOW`` skips the sign rule only (for
        tests that build states the audit must flag)."""
        if not operations:
            return []
        single = len(operations) == 1
        for i, op in enumerate(operations):
            try:
                op.validate()
            except SolventInputError as exc:
                field = exc.field if single else f"operations[{i}].{exc.field}"
                raise SolventInputError(field, exc.message) from None
        touched = sorted({p.account for op in operations for p in op.postings})
        assets = sorted({p.asset for op in operations for p in op.postings})
        for asset in assets:
            self.assets.get(asset)
        kinds = self._kinds(touched)
        missing = [a for a in touched if a not in kinds]
        if missing:
            raise SolventInputError("account", f"unknown account {missing[0]!r}")
        debited = sorted(
            {
                p.account
                for op in operations
                for p in op.postings
                if p.amount < 0 and BOUNDS[kinds[p.account]] is BalanceBound.NON_NEGATIVE
            }
        )
        self.lock(debited)
        running = self.balances(touched)
        for i, op in enumerate(operations):
            field = "amount" if single else f"operations[{i}].amount"
            for p in op.postings:
                before = running[p.account].get(p.asset, 0)
                running[p.account][p.asset] = before + p.amount
                problem = posting_refusal(
                    self.assets,
                    kinds[p.account],
                    p,
                    before,
                    field=field,
                    sign=overdraft is Overdraft.REFUSE,
                )
                if problem is not None:
                    raise problem
        return self._write_operations(operations)

    def _kinds(self, account_ids: Sequence[str]) -> dict[str, AccountKind]:
        """The kind of each of ``account_ids`` that exists."""
        return {
            account: AccountKind(kind)
            for account, kind in self.connection.execute(
                select(schema.accounts.c.id, schema.accounts.c.kind).where(
                    schema.accounts.c.id.in_(account_ids)
                )
            ).all()
        }

    def _write_operations(self, operations: Sequence[Operation]) -> list[int]:
        """Insert checked ``operations`` (an operation may have no postings: a trade without cash)
        with their entries and move the cached balances; returns their ids, in order."""
        now = _now()
        try:
            ids = list(
                self.connection.execute(
                    insert(schema.operations).returning(
                        schema.operations.c.id, sort_by_parameter_order=True
                    ),
                    [
                        {
                            "kind": op.kind.value,
                            "reference": op.reference,
                            "entry_count": len(op.postings),
                            "created_at": now,
                        }
                        for op in operations
                    ],
                ).scalars()
            )
            entry_rows = [
                {
                    "operation_id": op_id,
                    "account_id": p.account,
                    "asset": p.asset,
                    "amount": p.amount,
                    "reason": p.reason.value,
                }
                for op_id, op in zip(ids, operations, strict=True)
                for p in op.postings
            ]
            if entry_rows:
                self.connection.execute(insert(schema.entries), entry_rows)
            deltas: dict[tuple[str, str], int] = defaultdict(int)
            for op in operations:
                for p in op.postings:
                    deltas[(p.account, p.asset)] += p.amount
            self._add_to_balances(deltas)
        except DataError:
            # Only reachable when a concurrent writer moved a balance we read (PostgreSQL, an
            # account that is not locked, e.g. @external): the database refuses the overflow.
            raise SolventInputError(
                "amount", "a balance would exceed the ledger's limit of 2^63-1 base units"
            ) from None
        return ids

    def _add_to_balances(self, deltas: Mapping[tuple[str, str], int]) -> None:
        rows = [{"account_id": a, "asset": s, "amount": d} for (a, s), d in sorted(deltas.items())]
        if not rows:
            return
        dialect = postgresql if self._pg else sqlite
        stmt = dialect.insert(schema.balances)
        stmt = stmt.on_conflict_do_update(
            index_elements=["account_id", "asset"],
            set_={"amount": schema.balances.c.amount + stmt.excluded.amount},
        )
        self.connection.execute(stmt, rows)

    def trade(
        self,
        account_id: str,
        terms: TradeTerms,
        quantity: Decimal,
        price: Decimal,
        fee_units: int = 0,
        reference: str = "",
    ) -> TradeRecord:
        """Book a fill of signed ``quantity`` at ``price`` for ``account_id``.

        Futures style: the realized P&L (floored to base units) moves between the account and
        ``@venue`` (reason settlement). Premium style: ``quantity * price * contract_size`` of the
        settlement asset is paid to (buy) or received from (sell) ``@venue`` at the trade. A fee
        (base units of the settlement asset, >= 0) moves to ``@fees``. One operation of kind trade.
        Refused (nothing written) when it would leave the account or ``@venue`` below zero in the
        settlement asset (no lending; the venue pays from its funded balance) or a cash flow beyond
        the ledger's 64-bit range. The price is not checked against the market here: the engine
        (:mod:`solvent.accounts.service`) checks it against the instrument kind's price band.
        """
        if quantity == 0:
            raise SolventInputError("quantity", "must not be zero")
        if price < 0 or (price == 0 and terms.style is not TradeStyle.PREMIUM):
            # an option's premium may be 0 (a worthless option, a bankruptcy premium floored at 0)
            raise SolventInputError("price", "must be greater than zero")
        if fee_units < 0:
            raise SolventInputError("fee", "must not be negative")
        asset = self.assets.get(terms.settlement_asset, "settlement_asset")
        before = self.position(account_id, terms.instrument, terms.settlement_asset)
        fill, cash = fill_cash(terms, before, quantity, price, asset)
        postings = fill_postings(account_id, terms, asset, cash)
        realized_units = cash if terms.style is TradeStyle.FUTURES else 0
        if fee_units:
            postings += [
                Posting(account_id, asset.symbol, -fee_units, Reason.FEE),
                Posting(FEES, asset.symbol, fee_units, Reason.FEE),
            ]
        operation = Operation(
            Reason.TRADE, reference or f"trade:{terms.instrument}", tuple(postings)
        )
        op_id = self.post(operation) if postings else self._write_operations([operation])[0]
        self._insert_trade(
            {
                "operation_id": op_id,
                "account_id": account_id,
                "instrument": terms.instrument,
                "style": terms.style.value,
                "settlement": terms.settlement.value,
                "settlement_asset": terms.settlement_asset,
                "contract_size": str(terms.contract_size),
                "quantity": str(quantity),
                "price": str(price),
                "fee": fee_units,
                "realized_pnl": str(fill.realized),
                "created_at": _now(),
            }
        )
        self._store_position(account_id, fill.position)
        return TradeRecord(op_id, fill.position, realized_units, fee_units)

    def _insert_trade(self, row: Mapping[str, Any]) -> None:
        """Insert one row of the trades table (its operation already written)."""
        self.connection.execute(insert(schema.trades), [dict(row)])

    def _store_position(self, account_id: str, state: PositionState) -> None:
        dialect = postgresql if self._pg else sqlite
        values = {
            "account_id": account_id,
            "instrument": state.instrument,
            "quantity": str(state.quantity),
            "average_price": str(state.average_price),
            "realized_pnl": str(state.realized_pnl),
            "settlement_asset": state.settlement_asset,
        }
        stmt = dialect.insert(schema.positions).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["account_id", "instrument"],
            set_={k: v for k, v in values.items() if k not in ("account_id", "instrument")},
        )
        self.connection.execute(stmt)


def fill_cash(
    terms: TradeTerms, before: PositionState, quantity: Decimal, price: Decimal, asset: Asset
) -> tuple[Fill, int]:
    """What a fill of signed ``quantity`` at ``price`` does: the new position, and the cash it
    moves between the account and ``@venue`` in base units of the settlement asset ``asset``
    (floored; > 0 to the account): the realized P&L (futures style) or the premium (premium
    style: a buyer pays, a seller receives). Refused beyond the ledger's 64-bit range."""
    fill = apply_fill(before, terms, quantity, price)
    if terms.style is TradeStyle.FUTURES:
        cash = to_units_floor(fill.realized, asset.decimals)
        _check_cash(cash, asset.symbol, "realized P&L")
    else:
        cash = to_units_floor(-quantity * price * terms.contract_size, asset.decimals)
        _check_cash(cash, asset.symbol, "premium")
    return fill, cash


def fill_postings(account_id: str, terms: TradeTerms, asset: Asset, cash: int) -> list[Posting]:
    """The postings of a fill's ``cash`` (:func:`fill_cash`): the account first, then
    ``@venue`` (none when it is zero)."""
    if not cash:
        return []
    reason = Reason.SETTLEMENT if terms.style is TradeStyle.FUTURES else Reason.TRADE
    return [
        Posting(account_id, asset.symbol, cash, reason),
        Posting(VENUE, asset.symbol, -cash, reason),
    ]


def posting_refusal(
    assets: AssetRegistry,
    kind: AccountKind,
    posting: Posting,
    before: int,
    *,
    field: str = "amount",
    sign: bool = True,
) -> SolventInputError | None:
    """Why ``posting`` onto a balance of ``before`` base units would be refused
    (:meth:`LedgerTransaction.post_many`'s rules: the ledger's range, then, with ``sign``, the
    account type's bound), or ``None``. The error names ``field``; a fee overdrawing the balance
    names ``fee`` instead when ``field`` is ``amount`` (an operation posted alone)."""
    held = before + posting.amount
    if abs(held) > MAX_UNITS:
        limit = assets.get(posting.asset).format(MAX_UNITS)
        return SolventInputError(
            field,
            f"the {posting.asset} balance of {posting.account!r} would exceed the ledger's "
            f"limit of {limit} {posting.asset} (2^63-1 base units)",
        )
    if sign and balance_problem(kind, held):
        blamed = "fee" if field == "amount" and posting.reason is Reason.FEE else field
        return InsufficientFundsError(blamed, overdraft_message(assets, posting, before))
    return None


def _check_cash(units: int, asset: str, what: str) -> None:
    if abs(units) > MAX_UNITS:
        raise SolventInputError(
            "quantity",
            f"the trade's {what} in {asset} exceeds the ledger's limit of 2^63-1 base units",
        )


def overdraft_message(assets: AssetRegistry, posting: Posting, before: int) -> str:
    """The refusal of ``posting`` on a balance of ``before`` base units it would overdraw."""
    asset = assets.get(posting.asset)
    text = (
        f"insufficient {posting.asset} in {posting.account!r}: holds {asset.format(before)}, "
        f"needs {asset.format(-posting.amount)}"
    )
    if posting.account in SYSTEM_ACCOUNTS:
        text += (
            f" (the venue pays realized P&L and premiums from its own balance: fund it with "
            f"`solvent account deposit {posting.account} {posting.asset} AMOUNT`)"
        )
    return text


def _record(row: Any) -> AccountRecord:
    return AccountRecord(
        id=row["id"],
        kind=AccountKind(row["kind"]),
        parent=row["parent_id"],
        mode=None if row["mode"] is None else SubAccountMode(row["mode"]),
        model=row["model"],
    )


def _position(row: Any) -> PositionState:
    return PositionState(
        instrument=row["instrument"],
        quantity=Decimal(row["quantity"]),
        average_price=Decimal(row["average_price"]),
        realized_pnl=Decimal(row["realized_pnl"]),
        settlement_asset=row["settlement_asset"],
    )


class Ledger:
    """The ledger on one database (SQLite file or PostgreSQL), schema migrated on open."""

    def __init__(self, engine: Engine, assets: AssetRegistry | None = None) -> None:
        self.engine = engine
        self.assets = assets or default_assets()

    @classmethod
    def open(cls, url: str | None = None, assets: AssetRegistry | None = None) -> Ledger:
        """Open (and if needed create and migrate) the ledger at ``url`` (default: $SOLVENT_DB or
        ``sqlite:///solvent.db``); seeds the asset table and the system accounts."""
        engine = open_engine(url)
        migrate(engine)
        ledger = cls(engine, assets)
        ledger._seed()
        return ledger

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def _seed(self) -> None:
        with self.transaction() as tx:
            conn = tx.connection
            known = {r.symbol: r.decimals for r in conn.execute(select(schema.assets)).all()}
            new_assets = []
            for asset in self.assets:
                if asset.symbol in known and known[asset.symbol] != asset.decimals:
                    raise SolventInputError(
                        f"assets.{asset.symbol}.decimals",
                        f"the database holds {known[asset.symbol]} decimals; changing them would "
                        "rescale every amount",
                    )
                if asset.symbol not in known:
                    new_assets.append(
                        {
                            "symbol": asset.symbol,
                            "decimals": asset.decimals,
                            "asset_class": asset.asset_class.value,
                        }
                    )
            if new_assets:
                conn.execute(insert(schema.assets), new_assets)
            existing = set(conn.execute(select(schema.accounts.c.id)).scalars())
            for account_id in (EXTERNAL, *SYSTEM_ACCOUNTS):
                if account_id not in existing:
                    kind = AccountKind.EXTERNAL if account_id == EXTERNAL else AccountKind.SYSTEM
                    tx.create_account(account_id, model="none", kind=kind)

    @contextmanager
    def transaction(self) -> Iterator[LedgerTransaction]:
        """One database transaction: commits on success, rolls back everything on any error."""
        with self.engine.begin() as connection:
            yield LedgerTransaction(connection, self.assets)

    @contextmanager
    def reading(self) -> Iterator[LedgerTransaction]:
        """A read-only transaction: one consistent view of the ledger without the write lock
        (SQLite: a deferred ``BEGIN``, so in WAL mode it neither waits for nor blocks a writer;
        PostgreSQL: as :meth:`transaction`). Nothing may be written in it."""
        with self.engine.connect() as connection:
            connection.execution_options(**{READ_ONLY: True})
            with connection.begin():
                yield LedgerTransaction(connection, self.assets)

    # --- conveniences (each one transaction) -----------------------------------------------

    def create_account(
        self,
        account_id: str,
        *,
        parent: str | None = None,
        mode: SubAccountMode | None = None,
        model: str = "standard",
    ) -> AccountRecord:
        with self.transaction() as tx:
            return tx.create_account(account_id, parent=parent, mode=mode, model=model)

    def post(self, operation: Operation, overdraft: Overdraft = Overdraft.REFUSE) -> int:
        with self.transaction() as tx:
            return tx.post(operation, overdraft)

    def post_many(
        self, operations: Sequence[Operation], overdraft: Overdraft = Overdraft.REFUSE
    ) -> list[int]:
        with self.transaction() as tx:
            return tx.post_many(operations, overdraft)

    def account(self, account_id: str) -> AccountRecord:
        with self.transaction() as tx:
            return tx.account(account_id)

    def client_ref(self, ref: str) -> tuple[int | None, Mapping[str, Any] | None]:
        """The operation id and stored result of client reference ``ref`` (``None`` if unused)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(schema.client_refs).where(schema.client_refs.c.ref == ref)
            ).first()
        if row is None or row.result is None:
            return None, None
        return row.operation_id, json.loads(row.result)

    def balances(self, account_id: str) -> dict[str, int]:
        """Cached balances of one account in base units (zero balances omitted)."""
        with self.transaction() as tx:
            tx.account(account_id)
            return {a: u for a, u in tx.balances([account_id])[account_id].items() if u}

    # --- audit -------------------------------------------------------------------------------

    def journal_balances(self) -> dict[tuple[str, str], int]:
        """Balances recomputed from the journal alone: ``{(account, asset): units}``, non-zero.

        Summed by the database; if SQLite's 64-bit ``sum`` overflows on a corrupt journal, summed
        again exactly in Python (arbitrary-precision integers)."""
        query = select(
            schema.entries.c.account_id, schema.entries.c.asset, func.sum(schema.entries.c.amount)
        ).group_by(schema.entries.c.account_id, schema.entries.c.asset)
        try:
            with self.engine.connect() as conn:
                rows = [(a, s, t) for a, s, t in conn.execute(query).all()]
            return {(a, s): int(t) for a, s, t in rows if int(t) != 0}
        except (OperationalError, DataError, OverflowError, ValueError):
            totals: dict[tuple[str, str], int] = defaultdict(int)
            for _, account, asset, amount in self._entry_rows():
                totals[(account, asset)] += _as_int(amount) or 0
            return {k: v for k, v in totals.items() if v != 0}

    def _entry_rows(self) -> Iterator[tuple[int, str, str, Any]]:
        """Every journal entry ``(operation_id, account, asset, amount)``, streamed."""
        columns = (
            schema.entries.c.operation_id,
            schema.entries.c.account_id,
            schema.entries.c.asset,
            schema.entries.c.amount,
        )
        with self.engine.connect() as conn:
            result = conn.execution_options(yield_per=10_000).execute(select(*columns))
            for row in result:
                yield row[0], row[1], row[2], row[3]

    def cached_balances(self) -> dict[tuple[str, str], int]:
        """The balance cache: ``{(account, asset): units}``, non-zero (corrupt rows left out: the
        audit reports them)."""
        return self._audit_cache()[0]

    def replay_positions(self) -> dict[tuple[str, str], PositionState]:
        """Positions rebuilt from the trades table alone, in booking order."""
        replayed, problems = self._replay_positions()
        if problems:
            raise SolventInputError("trades", problems[0])
        return replayed

    def _replay_positions(self) -> tuple[dict[tuple[str, str], PositionState], list[str]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(schema.trades).order_by(schema.trades.c.id)).all()
        result: dict[tuple[str, str], PositionState] = {}
        problems: list[str] = []
        for r in rows:
            key = (r.account_id, r.instrument)
            try:
                terms = TradeTerms(
                    r.instrument,
                    TradeStyle(r.style),
                    Settlement(r.settlement),
                    r.settlement_asset,
                    Decimal(r.contract_size),
                )
                before = result.get(
                    key,
                    PositionState(
                        r.instrument, Decimal(0), Decimal(0), Decimal(0), r.settlement_asset
                    ),
                )
                fill = apply_fill(before, terms, Decimal(r.quantity), Decimal(r.price))
            except (ValueError, ArithmeticError, TypeError):
                problems.append(f"trade {r.id}: corrupt row (cannot be replayed)")
                continue
            result[key] = fill.position
        return result, problems

    def audit(self) -> AuditReport:
        """Recompute every balance from the journal and check every invariant; never raises on
        what it finds (a corrupt row or an unreadable table is reported as a problem).

        Checks: each operation has exactly ``entry_count`` entries and sums to zero per asset;
        every stored amount is an integer of base units; cached balances equal the journal's sums;
        every balance is one its account type allows (:data:`solvent.ledger.model.BOUNDS`: users
        and the venue's accounts >= 0, ``@external`` <= 0, all within 64 bits); per asset, the
        total held by all accounts but ``@external`` equals deposited - withdrawn; positions equal
        the replay of the trades.
        """
        problems: list[str] = []
        found: dict[str, Any] = {}
        stages: list[tuple[str, Callable[[], Any]]] = [
            ("kinds", self._audit_kinds),
            ("journal", self.journal_balances),
            ("operations", self._audit_operations),
            ("entries", self._audit_entries),
            ("balances", self._audit_cache),
            ("flows", self._audit_flows),
            ("positions", self._audit_positions),
        ]
        for name, stage in stages:
            try:
                found[name] = stage()
            except (SQLAlchemyError, ArithmeticError, ValueError, TypeError) as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                problems.append(f"{name}: could not be checked ({type(exc).__name__}: {first})")
                found[name] = None
        kinds: dict[str, AccountKind] = {}
        if found["kinds"] is not None:
            kinds, kind_problems = found["kinds"]
            problems += kind_problems
        for name in ("operations", "entries"):
            if found[name] is not None:
                problems += found[name]
        journal: dict[tuple[str, str], int] = found["journal"] or {}
        cached: dict[tuple[str, str], int] = {}
        if found["balances"] is not None:
            cached, cache_problems = found["balances"]
            problems += cache_problems
        if found["journal"] is not None and found["balances"] is not None:
            for key in sorted(set(journal) | set(cached)):
                if journal.get(key, 0) != cached.get(key, 0):
                    problems.append(
                        f"balance of {key[0]} in {key[1]}: cached {cached.get(key, 0)}, "
                        f"journal {journal.get(key, 0)}"
                    )
        for (account, asset), units in sorted(cached.items()):
            kind = kinds.get(account)
            why = None if kind is None else balance_problem(kind, units)
            if why is not None:
                problems.append(f"balance of {account} in {asset}: {why}")
        deposited: dict[str, int] = defaultdict(int)
        withdrawn: dict[str, int] = defaultdict(int)
        for asset, reason, total in found["flows"] or []:
            if reason == Reason.DEPOSIT.value:
                deposited[asset] += -total
            elif reason == Reason.WITHDRAWAL.value:
                withdrawn[asset] += total
            else:
                problems.append(f"{EXTERNAL} has {reason} entries in {asset}")
        held: dict[str, int] = defaultdict(int)
        for (account, asset), units in cached.items():
            if account != EXTERNAL:
                held[asset] += units
        totals: dict[str, AssetTotals] = {}
        for asset in sorted(set(deposited) | set(withdrawn) | set(held)):
            t = AssetTotals(deposited[asset], withdrawn[asset], held[asset])
            totals[asset] = t
            if t.held != t.deposited - t.withdrawn:
                problems.append(
                    f"{asset}: held {t.held} != deposited {t.deposited} - withdrawn {t.withdrawn}"
                )
        if found["positions"] is not None:
            problems += found["positions"]
        system: dict[str, dict[str, int]] = {a: {} for a in SYSTEM_ACCOUNTS}
        for (account, asset), units in sorted(cached.items()):
            if account in system:
                system[account][asset] = units
        return AuditReport(totals, tuple(problems), system)

    def _audit_kinds(self) -> tuple[dict[str, AccountKind], list[str]]:
        kinds: dict[str, AccountKind] = {}
        problems: list[str] = []
        with self.engine.connect() as conn:
            for account, kind in conn.execute(
                select(schema.accounts.c.id, schema.accounts.c.kind)
            ).all():
                try:
                    kinds[account] = AccountKind(kind)
                except ValueError:
                    problems.append(f"account {account}: unknown kind {kind!r}")
        return kinds, problems

    def _audit_operations(self) -> list[str]:
        """Operations with a wrong number of entries, or that do not sum to zero per asset."""
        problems: list[str] = []
        with self.engine.connect() as conn:
            counts = conn.execute(
                select(
                    schema.operations.c.id,
                    schema.operations.c.entry_count,
                    func.count(schema.entries.c.id),
                )
                .select_from(schema.operations.outerjoin(schema.entries))
                .group_by(schema.operations.c.id, schema.operations.c.entry_count)
                .having(func.count(schema.entries.c.id) != schema.operations.c.entry_count)
            ).all()
        problems += [f"operation {i}: {n} entries, expected {e}" for i, e, n in counts]
        try:
            with self.engine.connect() as conn:
                unbalanced = [
                    (i, a)
                    for i, a in conn.execute(
                        select(schema.entries.c.operation_id, schema.entries.c.asset)
                        .group_by(schema.entries.c.operation_id, schema.entries.c.asset)
                        .having(func.sum(schema.entries.c.amount) != 0)
                    ).all()
                ]
        except (OperationalError, DataError):  # SQLite's 64-bit sum overflowed: sum exactly
            sums: dict[tuple[int, str], int] = defaultdict(int)
            for op_id, _, asset, amount in self._entry_rows():
                sums[(op_id, asset)] += _as_int(amount) or 0
            unbalanced = sorted(k for k, v in sums.items() if v != 0)
        problems += [f"operation {i} does not balance in {a}" for i, a in unbalanced]
        return problems

    def _audit_entries(self) -> list[str]:
        """Journal entries whose amount is not an integer of base units (SQLite stores any value
        in any column, e.g. a REAL after a 64-bit overflow)."""
        with self.engine.connect() as conn:
            if conn.dialect.name != "sqlite":
                return []  # BIGINT columns hold nothing else
            rows = conn.execute(
                select(schema.entries.c.id, schema.entries.c.amount).where(
                    func.typeof(schema.entries.c.amount) != "integer"
                )
            ).all()
        return [f"entry {i}: corrupt amount {a!r} (not an integer of base units)" for i, a in rows]

    def _audit_cache(self) -> tuple[dict[tuple[str, str], int], list[str]]:
        """The balance cache (as :meth:`cached_balances`) and a problem for each corrupt row."""
        cached: dict[tuple[str, str], int] = {}
        problems: list[str] = []
        with self.engine.connect() as conn:
            rows = conn.execute(select(schema.balances)).all()
        for r in rows:
            units = _as_int(r.amount)
            if units is None:
                problems.append(
                    f"balance of {r.account_id} in {r.asset}: corrupt value {r.amount!r} (not an "
                    "integer of base units)"
                )
            elif units != 0:
                cached[(r.account_id, r.asset)] = units
        return cached, problems

    def _audit_flows(self) -> list[tuple[str, str, int]]:
        """Per asset and reason, the sum of the external account's entries."""
        flows: dict[tuple[str, str], int] = defaultdict(int)
        query = (
            select(
                schema.entries.c.asset,
                schema.entries.c.reason,
                func.sum(schema.entries.c.amount),
            )
            .where(schema.entries.c.account_id == EXTERNAL)
            .group_by(schema.entries.c.asset, schema.entries.c.reason)
        )
        try:
            with self.engine.connect() as conn:
                for asset, reason, total in conn.execute(query).all():
                    flows[(asset, reason)] += int(total)
        except (OperationalError, DataError):
            flows.clear()
            with self.engine.connect() as conn:
                result = conn.execution_options(yield_per=10_000).execute(
                    select(
                        schema.entries.c.asset, schema.entries.c.reason, schema.entries.c.amount
                    ).where(schema.entries.c.account_id == EXTERNAL)
                )
                for asset, reason, amount in result:
                    flows[(asset, reason)] += _as_int(amount) or 0
        return [(a, r, t) for (a, r), t in sorted(flows.items())]

    def _audit_positions(self) -> list[str]:
        replayed, problems = self._replay_positions()
        stored: dict[tuple[str, str], PositionState | None] = {}
        with self.engine.connect() as conn:
            for r in conn.execute(select(schema.positions)).all():
                try:
                    stored[(r.account_id, r.instrument)] = _position(r._mapping)
                except (ValueError, ArithmeticError):
                    stored[(r.account_id, r.instrument)] = None
        for key in sorted(set(replayed) | set(stored)):
            a, b = replayed.get(key), stored.get(key)
            if (
                a is None
                or b is None
                or (a.quantity, a.average_price, a.realized_pnl)
                != (b.quantity, b.average_price, b.realized_pnl)
            ):
                problems.append(f"position {key[0]} {key[1]} differs from the trade replay")
        return problems


def _as_int(value: Any) -> int | None:
    """A stored amount as an exact integer of base units, or ``None`` when the row is corrupt
    (a float, a string, beyond 64 bits)."""
    if type(value) is not int or abs(value) > MAX_UNITS:
        return None
    return value
