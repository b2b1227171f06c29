"""Two engines writing one stream on one ledger (two ``solvent replay`` runs on the same --db at
once): the second to write an event number already in the log is refused with one line naming
--db, its tick rolled back, instead of an IntegrityError traceback."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from solvent.errors import SolventInputError
from solvent.ledger.store import Ledger
from solvent.realtime.checkpoint import Checkpoint, load_checkpoint, load_events, save_checkpoint
from solvent.realtime.events import EngineEvent, EventKind

NOW = datetime(2026, 1, 5, 8, tzinfo=UTC)


def _tick(seq: int, tick: int, who: str) -> tuple[Checkpoint, list[EngineEvent]]:
    event = EngineEvent(seq, tick, NOW, EventKind.MARGIN_CALL, who)
    return Checkpoint("replay", tick, tick, seq, {"who": who}), [event]


def test_a_second_engine_on_the_same_stream_is_refused_and_its_tick_rolled_back(
    tmp_path: Path,
) -> None:
    ledger = Ledger.open(f"sqlite:///{tmp_path}/ledger.db")
    try:
        with ledger.transaction() as tx:
            save_checkpoint(tx, *_tick(1, 1, "first"))
        with pytest.raises(SolventInputError) as caught, ledger.transaction() as tx:
            save_checkpoint(tx, *_tick(1, 1, "second"))
        assert caught.value.field == "db"
        checkpoint = load_checkpoint(ledger, "replay")
        assert checkpoint is not None and checkpoint.state == {"who": "first"}
        assert [e.account for e in load_events(ledger, "replay")] == ["first"]
    finally:
        ledger.close()
