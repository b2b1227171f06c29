"""The ledger's side of liquidations: booked step ids and the insurance fund's journal.

A liquidation outcome is booked step by step (:mod:`solvent.liquidation.booking`); each step's
operation and its row in ``liquidation_steps`` (primary key: the step id) are written in one
transaction (one step's, :func:`claim_step` and :func:`complete_step`, or a batch's of many steps,
:func:`booked_among` and :func:`record_steps`), so a step id present means its operation is in the
journal, and a restart skips it.

The insurance fund (``@insurance``) has no separate book: its history is its journal entries
(every deposit into it, every liquidation fee in, every deficit cover out), each with the time of
its operation and, for liquidation steps, the liquidated account.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, literal, select
from sqlalchemy.exc import IntegrityError

from solvent.errors import SolventInputError
from solvent.ledger import schema
from solvent.ledger.batch import bound, bulk_insert
from solvent.ledger.model import INSURANCE
from solvent.ledger.store import Ledger, LedgerTransaction, id_chunks

STEP_REFERENCE = "liquidation:"
"""Every operation of a liquidation step has the reference ``STEP_REFERENCE + step id``."""


class StepClaimedError(SolventInputError):
    """A concurrent booking committed the same step first (PostgreSQL): retry to skip it."""


def claim_step(
    tx: LedgerTransaction,
    step_id: str,
    run_id: str,
    seq: int,
    kind: str,
    account: str,
    against: str,
) -> bool:
    """Claim ``step_id`` in this transaction: ``False`` when it is already booked (write
    nothing), ``True`` after inserting its row (book the step's operation, then
    :func:`complete_step`, in the same transaction)."""
    table = schema.liquidation_steps
    tx.account(account, "account")
    tx.account(against, "against")
    row = tx.connection.execute(select(table.c.step_id).where(table.c.step_id == step_id)).first()
    if row is not None:
        return False
    try:
        tx.connection.execute(
            insert(table).values(
                step_id=step_id,
                run_id=run_id,
                seq=seq,
                kind=kind,
                account_id=account,
                against_id=against,
                operation_id=None,
                created_at=datetime.now(UTC),
            )
        )
    except IntegrityError:
        raise StepClaimedError(
            "step", f"{step_id!r} was booked by a concurrent writer; retry to skip it"
        ) from None
    return True


def step_reference(step_id: str) -> str:
    """The operation reference of every operation of ``step_id``."""
    return STEP_REFERENCE + step_id


def complete_step(tx: LedgerTransaction, step_id: str, operation_id: int) -> None:
    """Record the (main) operation that booked ``step_id`` (claimed in this transaction)."""
    table = schema.liquidation_steps
    tx.connection.execute(
        table.update().where(table.c.step_id == step_id).values(operation_id=operation_id)
    )


@dataclass(frozen=True, slots=True)
class StepRow:
    """A booked step's row in ``liquidation_steps``: the step id (``RUN:SEQ``), its run and
    position, its kind, the account it moves, the liquidated account it belongs to and its (main)
    operation."""

    step_id: str
    run_id: str
    seq: int
    kind: str
    account: str
    against: str
    operation_id: int


def booked_among(tx: LedgerTransaction, step_ids: Sequence[str]) -> set[str]:
    """Which of ``step_ids`` are already booked (one read per chunk of ids, :func:`id_chunks`)."""
    table = schema.liquidation_steps
    found: set[str] = set()
    for chunk in id_chunks(step_ids):
        found |= set(
            tx.connection.execute(
                select(table.c.step_id).where(table.c.step_id.in_(chunk))
            ).scalars()
        )
    return found


def record_steps(tx: LedgerTransaction, rows: Sequence[StepRow]) -> None:
    """Insert the rows of steps booked in this transaction (their operations written), in one
    bulk statement; a step a concurrent writer committed first raises :class:`StepClaimedError`
    (the whole transaction is void: retry to skip it)."""
    if not rows:
        return
    created = bound(tx.connection, schema.liquidation_steps.c.created_at, datetime.now(UTC))
    try:
        bulk_insert(
            tx.connection,
            schema.liquidation_steps,
            (
                "step_id",
                "run_id",
                "seq",
                "kind",
                "account_id",
                "against_id",
                "operation_id",
                "created_at",
            ),
            [
                (r.step_id, r.run_id, r.seq, r.kind, r.account, r.against, r.operation_id, created)
                for r in rows
            ],
        )
    except IntegrityError:
        raise StepClaimedError(
            "step", "a step of this batch was booked by a concurrent writer; retry to skip it"
        ) from None


def booked_steps(ledger: Ledger, run_id: str) -> dict[str, int | None]:
    """The steps of ``run_id`` already booked: step id -> operation id."""
    table = schema.liquidation_steps
    with ledger.engine.connect() as conn:
        rows = conn.execute(
            select(table.c.step_id, table.c.operation_id)
            .where(table.c.run_id == run_id)
            .order_by(table.c.seq)
        ).all()
    return {r.step_id: r.operation_id for r in rows}


@dataclass(frozen=True, slots=True)
class FundEntry:
    """One journal entry of ``@insurance``: ``units`` (signed base units of ``asset``, ``> 0``
    into the fund) of operation ``operation`` (kind, reference, time), and the account the
    liquidation step was against (``None`` outside liquidations)."""

    operation: int
    time: datetime
    operation_kind: str
    reason: str
    reference: str
    asset: str
    units: int
    account: str | None


def fund_entries(
    ledger: Ledger,
    *,
    asset: str | None = None,
    until: datetime | None = None,
) -> list[FundEntry]:
    """Every journal entry of the insurance fund, oldest first (by operation id), optionally of
    one ``asset`` and up to ``until`` (inclusive)."""
    e, o, s = schema.entries, schema.operations, schema.liquidation_steps
    step_ref = literal(STEP_REFERENCE) + s.c.step_id
    query = (
        select(
            e.c.operation_id,
            o.c.created_at,
            o.c.kind,
            e.c.reason,
            o.c.reference,
            e.c.asset,
            e.c.amount,
            s.c.against_id,
        )
        .join(o, o.c.id == e.c.operation_id)
        .outerjoin(s, o.c.reference == step_ref)
        .where(e.c.account_id == INSURANCE)
        .order_by(e.c.operation_id, e.c.id)
    )
    if asset is not None:
        query = query.where(e.c.asset == asset)
    with ledger.engine.connect() as conn:
        rows = conn.execute(query).all()
    entries = [
        FundEntry(
            operation=int(r[0]),
            time=r[1] if r[1].tzinfo is not None else r[1].replace(tzinfo=UTC),
            operation_kind=str(r[2]),
            reason=str(r[3]),
            reference=str(r[4]),
            asset=str(r[5]),
            units=int(r[6]),
            account=None if r[7] is None else str(r[7]),
        )
        for r in rows
    ]
    return entries if until is None else [x for x in entries if x.time <= until]
