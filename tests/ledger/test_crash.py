"""Crash safety: SIGKILL a writer in the middle of a burst of multi-entry operations, reopen, and
find every operation whole or absent, every acknowledged commit present, invariants intact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from solvent.ledger import schema
from solvent.ledger.store import Ledger

WRITER = r"""
import sys
from solvent.ledger.model import EXTERNAL, Operation, Posting, Reason
from solvent.ledger.store import Ledger, Overdraft
ledger = Ledger.open(sys.argv[1])
i = 0
while True:
    i += 1
    if i % 2:
        op = Operation(Reason.DEPOSIT, f"d{i}", (
            Posting(EXTERNAL, "USDC", -3000, Reason.DEPOSIT),
            Posting("a", "USDC", 1000, Reason.DEPOSIT),
            Posting("b", "USDC", 2000, Reason.DEPOSIT)))
        ledger.post(op)
    else:
        ops = [Operation(Reason.TRANSFER, f"t{i}.{k}", (
            Posting("b", "USDC", -700, Reason.TRANSFER),
            Posting("a", "USDC", 300, Reason.TRANSFER),
            Posting("c", "USDC", 400, Reason.TRANSFER))) for k in range(2)]
        ledger.post_many(ops, Overdraft.REFUSE)
    print(i, flush=True)
"""


@pytest.mark.slow
def test_sigkill_mid_burst_leaves_whole_operations(db_url: str) -> None:
    ledger = Ledger.open(db_url)
    for name in ("a", "b", "c"):
        ledger.create_account(name)
    ledger.close()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, db_url], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    acknowledged = 0
    deadline = time.monotonic() + 60
    while acknowledged < 150 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        acknowledged = int(line)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # the writer runs on while we read: every step it printed before the kill is committed, so
    # the last complete line left in the pipe is the true count of acknowledged steps
    for line in proc.stdout:
        if line.endswith("\n"):
            acknowledged = int(line)
    assert acknowledged >= 150, "the writer did not get going"
    reopened = Ledger.open(db_url)
    report = reopened.audit()
    assert report.ok, report.problems
    with reopened.engine.connect() as conn:
        ops = conn.execute(select(func.count()).select_from(schema.operations)).scalar_one()
    # step i writes 1 operation when odd, 2 when even: every acknowledged step is there, plus at
    # most the one in flight
    written = sum(1 if i % 2 else 2 for i in range(1, acknowledged + 1))
    in_flight = 1 if (acknowledged + 1) % 2 else 2
    assert written <= ops <= written + in_flight
    balances = reopened.cached_balances()
    assert (
        sum(v for (acc, _), v in balances.items() if acc != "@external")
        == report.assets["USDC"].deposited
    )
    reopened.close()
