"""Restart: a replay killed with SIGKILL midway and restarted ends exactly where an uninterrupted
replay ends (ledger, checkpoint, published events), no event applied twice."""

from __future__ import annotations

import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from solvent.ledger.store import Ledger
from solvent.realtime.checkpoint import load_checkpoint, load_events
from solvent.realtime.replay import REPLAY_STREAM

ROWS = 600


def _path(directory: Path) -> Path:
    """A long, deterministic BTC path: a slow fall with swings, then a recovery."""
    lines = ["time,BTC,ETH"]
    for k in range(ROWS):
        btc = 100_000.0 * (1.0 - 0.25 * k / ROWS) * (1.0 + 0.02 * math.sin(k / 7.0))
        eth = 4_000.0 * (1.0 - 0.2 * k / ROWS)
        lines.append(
            f"2026-01-05T{8 + k // 3600:02d}:{(k // 60) % 60:02d}:{k % 60:02d}Z,{btc:.2f},{eth:.2f}"
        )
    path = directory / "long.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _replay(files: dict[str, Path], path: Path, db: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "solvent.cli.main",
            "replay",
            str(files["book"]),
            "--market",
            str(files["market"]),
            "--path",
            str(path),
            "--model",
            "standard",
            "--db",
            f"sqlite:///{db}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _final(db: Path) -> dict[str, Any]:
    ledger = Ledger.open(f"sqlite:///{db}")
    try:
        checkpoint = load_checkpoint(ledger, REPLAY_STREAM)
        assert checkpoint is not None
        positions = ledger.replay_positions()
        return {
            "balances": ledger.journal_balances(),
            "positions": {k: (str(v.quantity), str(v.average_price)) for k, v in positions.items()},
            "sequence": checkpoint.sequence,
            "tick": checkpoint.tick,
            "state": json.dumps(checkpoint.state, sort_keys=True),
            "events": [
                (e.seq, e.tick, e.kind.value, e.account, json.dumps(dict(e.detail), sort_keys=True))
                for e in load_events(ledger, REPLAY_STREAM)
            ],
            "audit": ledger.audit().ok,
        }
    finally:
        ledger.close()


WAIT_S = 1800.0
"""Upper bound of every wait below: the test waits on conditions (a checkpoint reached, a process
ended), never on a fixed delay; the bound only turns a hang into a failure, and is generous because
two replays run at once on a machine that may be heavily loaded."""


def _checkpoint_tick(db: Path, *, writable: bool = False) -> int | None:
    """The tick of the replay's checkpoint in ``db``: 0 before the first one, ``None`` when the
    file cannot be read at this moment (not created yet, being migrated, locked). ``writable``: a
    connection that may recover the WAL left by a killed writer (a read-only one cannot)."""
    if not db.exists():
        return 0
    target = str(db) if writable else f"file:{db}?mode=ro"
    try:
        with sqlite3.connect(target, uri=not writable, timeout=5) as conn:
            row = conn.execute(
                "SELECT tick FROM realtime_checkpoints WHERE stream = ?", (REPLAY_STREAM,)
            ).fetchone()
    except sqlite3.Error:
        return None
    return 0 if row is None else int(row[0])


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {WAIT_S:.0f} s waiting for {what}")
        time.sleep(0.05)


@pytest.mark.slow
def test_sigkill_midway_then_restart_ends_in_the_uninterrupted_state(
    files: dict[str, Path], tmp_path: Path
) -> None:
    path = _path(tmp_path)
    whole, killed = tmp_path / "whole.db", tmp_path / "killed.db"
    first = _replay(files, path, whole)
    victim = _replay(files, path, killed)
    try:
        _wait_for(
            lambda: (_checkpoint_tick(killed) or 0) >= 150 or victim.poll() is not None,
            "the replay to checkpoint tick 150",
        )
        assert victim.poll() is None, "the replay ended before it could be killed midway"
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=WAIT_S)
        stopped: list[int] = []

        def readable() -> bool:
            tick = _checkpoint_tick(killed, writable=True)
            if tick is not None:
                stopped.append(tick)
            return tick is not None

        _wait_for(readable, "the killed replay's ledger to be readable")
        assert 150 <= stopped[-1] < ROWS  # killed midway, after the checkpoint seen above
        out, err = first.communicate(timeout=WAIT_S)
        assert first.returncode == 0, err
        resumed = _replay(files, path, killed)
        out2, err2 = resumed.communicate(timeout=WAIT_S)
        assert resumed.returncode == 0, err2
    finally:
        for proc in (first, victim):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    summary, summary2 = json.loads(out), json.loads(out2)
    assert summary2["steps"] == summary["steps"] == ROWS
    a, b = _final(whole), _final(killed)
    assert a["audit"] and b["audit"]
    assert a == b
    seqs = [e[0] for e in b["events"]]
    assert seqs == list(range(1, len(seqs) + 1))  # no event published twice, none lost
