"""Restart: the engine's checkpoint and event log, on the ledger's database.

After a tick the engine writes, in ONE ledger transaction, whatever the tick booked (liquidation
outcomes), the events it published, and its checkpoint: the sequence number of the last market
event applied, the number of ticks, the last event number, and the state those events produced
(the market's index, oracle and surface state, the dynamic multipliers, the health state of every
margin unit that is not healthy, the replay's running totals). A process killed at any point leaves
the database at the end of some whole tick; on restart the engine rebuilds the accounts from the
ledger and the market from the checkpoint, and skips every event whose sequence number is not
beyond the checkpoint's: no event is applied twice, none is lost (tables ``realtime_checkpoints``
and ``realtime_events``, migration ``0003_realtime_checkpoints``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.exc import IntegrityError

from solvent.errors import SolventInputError
from solvent.ledger import schema
from solvent.ledger.store import Ledger, LedgerTransaction
from solvent.realtime.events import EngineEvent, EventKind


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, no NaN: the stored form of states and event details."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The engine after its last persisted tick (see the module docstring)."""

    stream: str
    sequence: int
    tick: int
    event_seq: int
    state: Mapping[str, Any]


def load_checkpoint(ledger: Ledger, stream: str) -> Checkpoint | None:
    """The checkpoint of ``stream``, or ``None`` when the engine never ran on it."""
    table = schema.realtime_checkpoints
    with ledger.engine.connect() as conn:
        row = conn.execute(select(table).where(table.c.stream == stream)).first()
    if row is None:
        return None
    return Checkpoint(
        stream=row.stream,
        sequence=int(row.sequence),
        tick=int(row.tick),
        event_seq=int(row.event_seq),
        state=json.loads(row.state),
    )


def save_checkpoint(
    tx: LedgerTransaction, checkpoint: Checkpoint, events: Sequence[EngineEvent]
) -> None:
    """Write ``checkpoint`` (replacing the stream's previous one) and ``events`` in ``tx``."""
    conn = tx.connection
    table = schema.realtime_checkpoints
    conn.execute(delete(table).where(table.c.stream == checkpoint.stream))
    conn.execute(
        insert(table).values(
            stream=checkpoint.stream,
            sequence=checkpoint.sequence,
            tick=checkpoint.tick,
            event_seq=checkpoint.event_seq,
            state=canonical_json(checkpoint.state),
            updated_at=datetime.now(UTC),
        )
    )
    if events:
        _insert_events(conn, checkpoint.stream, events)


def _insert_events(conn: Connection, stream: str, events: Sequence[EngineEvent]) -> None:
    """Append ``events`` to ``stream``'s log; an event number already there means another engine
    writes the same stream on this database (two replays on one ``--db`` at once): refused, the
    caller's transaction (the whole tick) rolls back."""
    try:
        conn.execute(
            insert(schema.realtime_events),
            [
                {
                    "stream": stream,
                    "seq": e.seq,
                    "tick": e.tick,
                    "time": e.time,
                    "kind": e.kind.value,
                    "account": e.account,
                    "detail": canonical_json(dict(e.detail)),
                }
                for e in events
            ],
        )
    except IntegrityError:
        raise SolventInputError(
            "db",
            f"another engine is writing stream {stream!r} on this ledger at the same time (two "
            "replays on one --db?): this one stopped, its last tick rolled back",
        ) from None


def load_events(
    ledger: Ledger, stream: str, since: int = 0, limit: int | None = None
) -> list[EngineEvent]:
    """Persisted events of ``stream`` with ``seq > since``, oldest first (at most ``limit``)."""
    table = schema.realtime_events
    query = (
        select(table)
        .where((table.c.stream == stream) & (table.c.seq > since))
        .order_by(table.c.seq)
    )
    if limit is not None:
        query = query.limit(limit)
    with ledger.engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        EngineEvent(
            seq=int(r.seq),
            tick=int(r.tick),
            time=r.time if r.time.tzinfo is not None else r.time.replace(tzinfo=UTC),
            kind=EventKind(r.kind),
            account=r.account,
            detail=json.loads(r.detail),
        )
        for r in rows
    ]
