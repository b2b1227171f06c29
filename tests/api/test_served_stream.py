"""Which engine's event log a service without its own engine serves."""

from __future__ import annotations

from pathlib import Path

from solvent.api.state import DEFAULT_STREAM, _served_stream
from solvent.ledger.store import Ledger
from solvent.realtime.checkpoint import Checkpoint, save_checkpoint
from solvent.realtime.replay import REPLAY_INPUTS, REPLAY_STREAM


def _checkpoint(ledger: Ledger, stream: str) -> None:
    with ledger.transaction() as tx:
        save_checkpoint(tx, Checkpoint(stream, 0, 0, 0, {}), ())


def test_the_last_engine_stream_not_the_replay_inputs_row(tmp_path: Path) -> None:
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'ledger.db'}")
    assert _served_stream(ledger, None, own_engine=False) == DEFAULT_STREAM
    _checkpoint(ledger, REPLAY_INPUTS)
    assert _served_stream(ledger, None, own_engine=False) == DEFAULT_STREAM
    _checkpoint(ledger, REPLAY_STREAM)
    _checkpoint(ledger, REPLAY_INPUTS)
    assert _served_stream(ledger, None, own_engine=False) == REPLAY_STREAM
    assert _served_stream(ledger, None, own_engine=True) == DEFAULT_STREAM
    assert _served_stream(ledger, "other", own_engine=False) == "other"
    ledger.close()
