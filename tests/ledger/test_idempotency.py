"""Client references (idempotency keys) on deposits, withdrawals and trades (issue 8, item 3), on
SQLite and PostgreSQL: a retry with the same key writes nothing and returns the first result; the
same key with other parameters is refused; concurrent requests with one key commit once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from test_money import AT_THE_MARKET, MARK, MARKET, rows
from typer.testing import CliRunner

from helpers import flat_margin
from solvent.accounts.service import AccountService, MarketFreshness
from solvent.cli.main import app
from solvent.errors import SolventInputError
from solvent.ledger import schema
from solvent.ledger.model import EXTERNAL, Reason, transfer
from solvent.ledger.store import Ledger


@pytest.fixture
def service(db_url: str):  # type: ignore[no-untyped-def]
    ledger = Ledger.open(db_url)
    svc = AccountService(ledger, flat_margin, freshness=AT_THE_MARKET)
    svc.create("u")
    yield svc
    ledger.close()


def test_a_retried_deposit_is_a_no_op_returning_the_first_result(service: AccountService) -> None:
    first = service.deposit("u", "BTC", "1.5", ref="dep-1")
    before = rows(service.ledger)
    again = service.deposit("u", "BTC", "1.50", ref="dep-1")  # the same amount, spelled otherwise
    assert (first.replayed, again.replayed) == (False, True)
    assert again.operation_id == first.operation_id
    assert rows(service.ledger) == before
    assert service.ledger.balances("u") == {"BTC": 150_000_000}
    assert service.ledger.client_ref("dep-1") == (first.operation_id, {"operation": 1})
    for other in (("u", "BTC", "2"), ("u", "USDC", "1.5"), ("@venue", "BTC", "1.5")):
        with pytest.raises(SolventInputError) as err:
            service.deposit(*other, ref="dep-1")
        assert err.value.field == "ref" and "different request" in err.value.message
    assert rows(service.ledger) == before
    with pytest.raises(SolventInputError) as err:
        service.deposit("u", "BTC", "1", ref="bad ref!")
    assert err.value.field == "ref"
    with pytest.raises(SolventInputError, match="unknown account"):
        service.deposit("nobody", "BTC", "1", ref="dep-2")
    assert service.audit().ok


def test_retried_withdrawals_and_trades_return_the_first_ids(service: AccountService) -> None:
    service.deposit("u", "BTC", "1")
    receipt, health = service.withdraw("u", "BTC", "0.25", MARKET, ref="w-1")
    booked, after = service.trade(
        "u", "BTC-PERPETUAL", "0.5", str(MARK), MARKET, "0.0001", ref="t-1"
    )
    before = rows(service.ledger)
    # retried later, with a market now too old for a new trade: the retry still answers
    later = MarketFreshness(clock=lambda: MARKET.as_of + timedelta(hours=1))
    retry = AccountService(service.ledger, flat_margin, freshness=later)
    receipt2, health2 = retry.withdraw("u", "BTC", "0.25", MARKET, ref="w-1")
    booked2, after2 = retry.trade(
        "u", "BTC-PERPETUAL", "0.50", str(MARK), MARKET, "0.0001", ref="t-1"
    )
    assert (receipt2.operation_id, receipt2.replayed, health2) == (
        receipt.operation_id,
        True,
        health,
    )
    assert booked2.replayed and not booked.replayed
    assert (booked2.operation_id, booked2.position, booked2.fee_units, after2) == (
        booked.operation_id,
        booked.position,
        booked.fee_units,
        after,
    )
    assert rows(service.ledger) == before
    with pytest.raises(SolventInputError, match="different request"):
        service.trade("u", "BTC-PERPETUAL", "-0.5", str(MARK), MARKET, "0.0001", ref="t-1")
    with pytest.raises(SolventInputError, match="different request"):
        service.deposit("u", "BTC", "0.25", ref="w-1")  # a key names one request of one kind


def test_a_refused_operation_records_no_reference(service: AccountService) -> None:
    with pytest.raises(SolventInputError, match="insufficient"):
        service.withdraw("u", "BTC", "1", MARKET, ref="w-early")
    service.deposit("u", "BTC", "2")
    receipt, _ = service.withdraw("u", "BTC", "1", MARKET, ref="w-early")  # evaluated afresh
    assert not receipt.replayed and service.ledger.balances("u") == {"BTC": 100_000_000}


def test_a_request_waiting_on_the_same_key_returns_the_first_result(db_url: str) -> None:
    """Deterministic form of the race: a first transaction has claimed the key and not yet
    committed when the second request arrives; the second waits, then replays the first."""
    ledger = Ledger.open(db_url)
    service = AccountService(ledger, flat_margin, freshness=AT_THE_MARKET)
    service.create("u")
    answers = []
    with ledger.transaction() as tx:
        assert (
            tx.claim_ref("k", Reason.DEPOSIT, "u", {"asset": "BTC", "units": 100_000_000}) is None
        )
        op_id = tx.post(transfer(EXTERNAL, "u", "BTC", 100_000_000, Reason.DEPOSIT, "first"))
        tx.complete_ref("k", op_id, {"operation": op_id})
        waiter = threading.Thread(
            target=lambda: answers.append(service.deposit("u", "BTC", "1", ref="k"))
        )
        waiter.start()
        time.sleep(0.5)  # let the second request reach the key (ordering only; nothing is timed)
    waiter.join(60)
    assert [(a.operation_id, a.replayed) for a in answers] == [(op_id, True)]
    assert ledger.balances("u") == {"BTC": 100_000_000}
    ledger.close()


RACER = r"""
import json, sys, time
from solvent.accounts.service import AccountService, MarketFreshness
from solvent.ledger.store import Ledger
url, start = sys.argv[1], float(sys.argv[2])
ledger = Ledger.open(url)
service = AccountService(ledger, lambda *a: None)
time.sleep(max(0.0, start - time.time()))
receipt = service.deposit("u", "BTC", "1", ref="race-key")
print(json.dumps([receipt.operation_id, receipt.replayed]))
"""


@pytest.mark.slow
def test_concurrent_processes_with_one_key_commit_once(db_url: str) -> None:
    ledger = Ledger.open(db_url)
    ledger.create_account("u")
    start = time.time() + 3.0  # every process is connected and waiting by then
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, db_url, repr(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        for _ in range(4)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    assert len({op for op, _ in results}) == 1
    assert sorted(replayed for _, replayed in results) == [False, True, True, True]
    with ledger.engine.connect() as conn:
        deposits = conn.execute(
            select(func.count())
            .select_from(schema.operations)
            .where(schema.operations.c.kind == "deposit")
        ).scalar_one()
    assert deposits == 1 and ledger.balances("u") == {"BTC": 100_000_000}
    assert ledger.audit().ok
    ledger.close()


def test_cli_ref(tmp_path: Path) -> None:
    runner = CliRunner()
    db = f"sqlite:///{tmp_path / 'ref.db'}"

    def run(*args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
        result = runner.invoke(app, ["account", *args, "--db", db])
        return result.exit_code, json.loads(result.stdout) if result.exit_code == 0 else {}

    run("create", "c")
    code, first = run("deposit", "c", "BTC", "1", "--ref", "abc")
    assert code == 0 and (first["ref"], first["replayed"]) == ("abc", False)
    code, again = run("deposit", "c", "BTC", "1", "--ref", "abc")
    assert code == 0 and again["replayed"] is True and again["operation"] == first["operation"]
    assert again["balance"] == "1"
    assert run("deposit", "c", "BTC", "2", "--ref", "abc")[0] == 2
    assert "ref" not in run("deposit", "c", "BTC", "1")[1]  # without --ref: the shape of FORMATS 9
