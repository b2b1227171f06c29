"""Booking a liquidation outcome on the exact ledger (docs/ledger.md, "Liquidations"): every step
one transaction with a deterministic id, resumable after a crash, conservation and audit after
each; and the insurance fund's history."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from solvent.accounts.service import AccountService, MarketFreshness, registry_margin
from solvent.engine.insurance_fund import insurance_fund_json
from solvent.errors import SolventInputError
from solvent.ledger.liquidations import booked_steps
from solvent.ledger.store import InsufficientFundsError, Ledger
from solvent.liquidation.booking import BookingKind, book_outcome, plan_booking
from solvent.liquidation.fund_history import insurance_fund_history
from solvent.liquidation.outcome import (
    INSURANCE_ACCOUNT,
    VENUE_ACCOUNT,
    AccountOutcome,
    Action,
    AdlFill,
    InsuranceFundFlow,
    LiquidationOutcome,
    LiquidationStep,
    SocializedCharge,
    StepKind,
    Transfer,
    TransferReason,
)
from solvent.market.moves import move_underlying
from solvent.market.snapshot import MarketSnapshot, parse_market

AS_OF = "2026-01-05T08:00:00Z"
PERP = "BTC_USDC-PERPETUAL"
INVERSE = "BTC-PERPETUAL"
MARKET = {
    "as_of": AS_OF,
    "index": {"BTC": 100_000.0, "USDC": 1.0},
    "instruments": [
        {"name": PERP, "mark_price": 100_000.0},
        {"name": INVERSE, "mark_price": 100_000.0},
    ],
}
USDC = 10**6


def _market() -> MarketSnapshot:
    return parse_market(MARKET)


def _setup(url: str) -> Ledger:
    """lev: 5,000 USDC, long 1 BTC linear perpetual at 100,000; win: 50,000 USDC, short 1 at
    100,000; the venue funded; the insurance fund holds 10,000 USDC."""
    m = _market()
    ledger = Ledger.open(url)
    service = AccountService(
        ledger, registry_margin, freshness=MarketFreshness(clock=lambda: m.as_of)
    )
    service.create("lev")
    service.create("win")
    service.deposit("@venue", "USDC", "1000000")
    service.deposit("@venue", "BTC", "10")
    service.deposit(INSURANCE_ACCOUNT, "USDC", "10000")
    service.deposit("lev", "USDC", "5000")
    service.deposit("win", "USDC", "50000")
    service.trade("lev", PERP, "1", "100000", m)
    service.trade("win", PERP, "-1", "100000", m)
    return ledger


def _step(kind: StepKind, quantity: float, price: float, fee: float) -> LiquidationStep:
    return LiquidationStep(
        account="lev",
        kind=kind,
        instrument=PERP,
        quantity=quantity,
        price=price,
        mark_price=95_000.0,
        slippage_usd=0.0,
        fee_usd=fee,
        maintenance_margin_after_usd=0.0,
        equity_after_usd=0.0,
        relief_usd=0.0,
        cost_usd=fee,
        reason="test",
    )


def _outcome() -> LiquidationOutcome:
    """At 95,000: lev sells half at the mark paying a 50 USDC fee, then its other half closes at
    its bankruptcy price 95,100 (loss 2,450 = what it has left) against win, deleveraged; the fund
    covers 300 USDC of the venue's loss and win pays a 10 USDC socialized charge."""
    fee = Transfer(
        "lev", INSURANCE_ACCOUNT, "USDC", 50 * USDC, TransferReason.LIQUIDATION_FEE, "lev"
    )
    cover = Transfer(
        INSURANCE_ACCOUNT, VENUE_ACCOUNT, "USDC", 300 * USDC, TransferReason.INSURANCE_COVER, "lev"
    )
    social = Transfer(
        "win", VENUE_ACCOUNT, "USDC", 10 * USDC, TransferReason.SOCIALIZED_LOSS, "lev"
    )
    lev = AccountOutcome(
        account="lev",
        action=Action.BANKRUPT,
        steps=(
            _step(StepKind.SLICE, -0.5, 95_000.0, 50.0),
            _step(StepKind.BANKRUPTCY, -0.5, 95_100.0, 0.0),
        ),
        equity_before_usd=0.0,
        maintenance_margin_before_usd=500.0,
        target_usd=550.0,
        deficit_usd=310.0,
        insurance_covered_usd=300.0,
        socialized_usd=10.0,
    )
    win = AccountOutcome("win", Action.NONE, (), 55_000.0, 500.0, 550.0)
    return LiquidationOutcome(
        policy="partial",
        model="standard",
        parameters="standard",
        accounts=(lev, win),
        insurance_fund=InsuranceFundFlow(10_000.0, 9_750.0, 50.0, 300.0),
        adl=(AdlFill("win", PERP, 0.5, 95_100.0, "lev", 50.0),),
        socialized=(SocializedCharge("win", "USDC", 10 * USDC, 10.0, "lev"),),
        socialized_loss_usd=10.0,
        transfers=(fee, cover, social),
        conservation={"USDC": 0},
        assets=("USDC",),
        balances_after=np.zeros((2, 1)),
    )


def _state(ledger: Ledger) -> tuple[dict[tuple[str, str], int], dict[str, Any]]:
    balances = ledger.cached_balances()
    positions = {f"{a}/{i}": str(p.quantity) for (a, i), p in ledger.replay_positions().items()}
    return balances, positions


def _held(ledger: Ledger) -> dict[str, int]:
    held: dict[str, int] = {}
    for (account, asset), units in ledger.cached_balances().items():
        if account != "@external":
            held[asset] = held.get(asset, 0) + units
    return held


def test_the_plan_is_deterministic_and_ordered() -> None:
    plan = plan_booking(_outcome())
    assert plan == plan_booking(_outcome())
    assert [s.kind for s in plan] == [
        BookingKind.TRADE,
        BookingKind.FEE,
        BookingKind.BANKRUPTCY,
        BookingKind.ADL,
        BookingKind.COVER,
        BookingKind.SOCIALIZED,
    ]
    run = plan[0].step_id.split(":")[0]
    assert [s.step_id for s in plan] == [f"{run}:{k:06d}" for k in range(6)]
    assert plan[1].source == "lev" and plan[1].destination == INSURANCE_ACCOUNT
    assert plan[3].account == "win" and plan[3].quantity == Decimal("0.5")
    assert plan_booking(_outcome(), "tick-7")[0].step_id == "tick-7:000000"
    with pytest.raises(SolventInputError):
        plan_booking(_outcome(), "a:b")


def test_booking_moves_the_money_and_conserves_it(db_url: str) -> None:
    ledger = _setup(db_url)
    held = _held(ledger)
    report = book_outcome(ledger, _outcome(), move_underlying(_market(), "BTC", 95_000.0))
    assert (report.steps, report.booked, report.skipped, report.audit_ok) == (6, 6, 0, True)
    balances = ledger.cached_balances()
    assert balances.get(("lev", "USDC"), 0) == 0  # 5,000 - 2,500 - 50 - 2,450
    assert balances[("@insurance", "USDC")] == (10_000 + 50 - 300) * USDC
    assert balances[("win", "USDC")] == (50_000 + 2_450 - 10) * USDC
    positions = ledger.replay_positions()
    assert positions[("lev", PERP)].quantity == 0
    assert positions[("win", PERP)].quantity == Decimal("-0.5")
    assert _held(ledger) == held  # nothing created or lost, per asset
    # booking again finds every step booked and writes nothing
    before = _state(ledger)
    again = book_outcome(ledger, _outcome(), _market())
    assert (again.booked, again.skipped) == (0, 6)
    assert _state(ledger) == before
    ledger.close()


def test_a_refused_step_stops_whole_and_a_retry_finishes(db_url: str) -> None:
    ledger = _setup(db_url)
    outcome = _outcome()
    greedy = replace(
        outcome,
        transfers=(
            *outcome.transfers[:2],
            replace(outcome.transfers[2], units=10**6 * USDC),  # more than win holds
        ),
    )
    with pytest.raises(SolventInputError):
        book_outcome(ledger, greedy, _market(), run_id="r1")
    assert ledger.audit().ok
    assert len(booked_steps(ledger, "r1")) == 5  # everything before the refused step
    report = book_outcome(ledger, outcome, _market(), run_id="r1")
    assert (report.booked, report.skipped, report.audit_ok) == (1, 5, True)
    ledger.close()


def test_a_loss_in_a_coin_the_account_lacks_converts_its_collateral(db_url: str) -> None:
    m = _market()
    ledger = Ledger.open(db_url)
    service = AccountService(
        ledger, registry_margin, freshness=MarketFreshness(clock=lambda: m.as_of)
    )
    service.create("inv")
    service.deposit("@venue", "BTC", "10")
    service.deposit("@venue", "USDC", "1000000")
    service.deposit("inv", "USDC", "20000")
    service.trade("inv", INVERSE, "1", "100000", m)
    held = _held(ledger)
    step = replace(_step(StepKind.CLOSE, -1.0, 90_000.0, 0.0), account="inv", instrument=INVERSE)
    inv = AccountOutcome("inv", Action.FULL, (step,), 0.0, 0.0, 0.0)
    outcome = replace(_outcome(), accounts=(inv,), adl=(), socialized=(), transfers=())
    moved = move_underlying(m, "BTC", 90_000.0)
    assert book_outcome(ledger, outcome, moved).audit_ok
    balances = ledger.balances("inv")
    # the loss, 1 x (1 - 100,000 / 90,000) BTC, was bought with USDC at the index (90,000)
    loss_btc = Decimal(100_000) / Decimal(90_000) - 1
    assert balances.get("BTC", 0) >= 0
    spent = Decimal(20_000 * USDC - balances["USDC"]) / USDC
    assert float(spent) == pytest.approx(float(loss_btc * 90_000), abs=0.02)
    assert _held(ledger) == held
    ledger.close()


def test_the_insurance_fund_history(db_url: str) -> None:
    ledger = _setup(db_url)
    book_outcome(ledger, _outcome(), _market())
    history = insurance_fund_history(ledger)
    assert [e.kind for e in history.events] == ["deposit", "fee", "cover"]
    assert history.balance_units == {"USDC": 9_750 * USDC}
    assert history.fees_in_units == {"USDC": 50 * USDC}
    assert history.deficits_out_units == {"USDC": 300 * USDC}
    assert [e.balance_units for e in history.events] == [
        10_000 * USDC,
        10_050 * USDC,
        9_750 * USDC,
    ]
    assert [e.account for e in history.events] == [None, "lev", "lev"]
    view = insurance_fund_json(history, ledger.assets)
    assert view["balances"] == {"USDC": "9750"} and view["fees_in"] == {"USDC": "50"}
    assert view["events"][2]["amount"] == "-300" and view["events"][2]["kind"] == "cover"
    last = insurance_fund_history(ledger, limit=1)
    assert [e.kind for e in last.events] == ["cover"]
    assert last.balance_units == history.balance_units
    later = insurance_fund_history(ledger, since=history.events[-1].time)
    assert later.events[-1] == history.events[-1]
    ledger.close()


def _start_booker(
    db_url: str, tmp_path: Path, script: str
) -> tuple[subprocess.Popen[str], dict[str, int]]:
    """The ledger set up, then ``script`` started on it in a child process (booking
    :func:`_outcome` at :data:`MARKET`, its stdout piped): the child and the balances held
    before."""
    ledger = _setup(db_url)
    held = _held(ledger)
    ledger.close()
    (tmp_path / "outcome.pkl").write_bytes(pickle.dumps(_outcome()))
    (tmp_path / "market.json").write_text(json.dumps(MARKET))
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            script,
            db_url,
            str(tmp_path / "outcome.pkl"),
            str(tmp_path / "market.json"),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    return proc, held


BOOKER = r"""
import pickle, sys, time
import solvent.ledger.liquidations as steps
from solvent.ledger.store import Ledger
from solvent.liquidation.booking import book_outcome
from solvent.market.snapshot import load_market

original = steps.complete_step

def slow_complete(tx, step_id, operation_id):
    original(tx, step_id, operation_id)
    print("in", step_id, flush=True)
    time.sleep(0.4)  # inside the step's transaction: a kill now loses the whole step

import solvent.liquidation.booking as booking
booking.complete_step = slow_complete
url, outcome_path, market_path = sys.argv[1:4]
with open(outcome_path, "rb") as f:
    outcome = pickle.load(f)
book_outcome(Ledger.open(url), outcome, load_market(market_path), run_id="crash", batch=1)
print("done", flush=True)
"""


@pytest.mark.slow
def test_sigkill_mid_liquidation_leaves_whole_steps_and_a_restart_finishes(
    db_url: str, tmp_path: Path
) -> None:
    proc, held = _start_booker(db_url, tmp_path, BOOKER)
    assert proc.stdout is not None
    seen = 0
    deadline = time.monotonic() + 60
    while seen < 3 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen += line.startswith("in ")
    time.sleep(0.1)  # inside the third step's transaction
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert seen == 3, "the booking did not get going"
    reopened = Ledger.open(db_url)
    assert reopened.audit().ok
    done = booked_steps(reopened, "crash")
    assert len(done) == 2  # two whole steps; the third was in flight and is not there at all
    assert all(op is not None for op in done.values())
    assert _held(reopened) == held
    report = book_outcome(reopened, _outcome(), _market(), run_id="crash")
    assert (report.booked, report.skipped, report.audit_ok) == (4, 2, True)
    assert _held(reopened) == held
    assert reopened.cached_balances()[("@insurance", "USDC")] == 9_750 * USDC
    reopened.close()


@pytest.mark.parametrize("price", [95_500.0, 94_000.0])
def test_an_outcome_of_the_liquidation_engine_books_whole(db_url: str, price: float) -> None:
    """End to end: the engine liquidates a ledger account (its P&L since the average price settled
    into its collateral, as the engine values positions at the mark), partially at 95,500 and
    bankrupt at 94,000, and the outcome books."""
    from solvent.engine.liquidation import liquidate_accounts
    from solvent.portfolio.account_book import AccountBook
    from solvent.portfolio.portfolio import Portfolio, Position

    ledger = _setup(db_url)
    held = _held(ledger)
    moved = move_underlying(_market(), "BTC", price)
    # lev: 5,000 USDC and long 1 at 100,000: at 95,500 its equity is 500 USD, below its MM
    pnl = price - 100_000.0
    lev = Portfolio("lev", {"USDC": 5_000.0 + pnl}, (Position(PERP, 1.0),))
    win = Portfolio("win", {"USDC": 50_000.0 - pnl}, (Position(PERP, -1.0),))
    outcome = liquidate_accounts(
        AccountBook.from_portfolios([lev, win]), moved, insurance_fund_usd=10_000.0
    )
    assert outcome.accounts[0].action is not Action.NONE
    report = book_outcome(ledger, outcome, moved)
    assert report.audit_ok and report.booked == report.steps > 0
    assert _held(ledger) == held
    closed = sum(s.quantity for s in outcome.accounts[0].steps)
    position = ledger.replay_positions()[("lev", PERP)].quantity
    assert float(position) == pytest.approx(1.0 + closed, abs=1e-9)
    fees = sum(t.units for t in outcome.transfers if t.reason is TransferReason.LIQUIDATION_FEE)
    covers = sum(t.units for t in outcome.transfers if t.reason is TransferReason.INSURANCE_COVER)
    assert ledger.cached_balances()[("@insurance", "USDC")] == 10_000 * USDC + fees - covers
    if price < 95_000.0:
        assert outcome.accounts[0].action is Action.BANKRUPT and covers > 0
        assert ledger.cached_balances().get(("lev", "USDC"), 0) == 0
    ledger.close()


# --- batches: many steps per transaction --------------------------------------------------------


def _journal(ledger: Ledger) -> dict[str, Any]:
    """Everything the booking wrote, without ids and times: the operations in order with their
    entries, the trades in order, the step rows, the balances and the positions."""
    from sqlalchemy import select

    from solvent.ledger import schema

    o, e, t, s = schema.operations, schema.entries, schema.trades, schema.liquidation_steps
    with ledger.engine.connect() as conn:
        ops = conn.execute(select(o.c.id, o.c.kind, o.c.reference).order_by(o.c.id)).all()
        entries: dict[int, list[tuple[str, str, int, str]]] = {}
        for r in conn.execute(
            select(e.c.operation_id, e.c.account_id, e.c.asset, e.c.amount, e.c.reason)
        ):
            entries.setdefault(r[0], []).append((r[1], r[2], int(r[3]), r[4]))
        trades = [
            (r.account_id, r.instrument, r.quantity, r.price, r.realized_pnl, r.fee)
            for r in conn.execute(select(t).order_by(t.c.id))
        ]
        reference = {r.id: r.reference for r in ops}
        steps = [
            (r.step_id, r.kind, r.account_id, r.against_id, reference[r.operation_id])
            for r in conn.execute(select(s).order_by(s.c.step_id))
        ]
    positions = {k: (p.quantity, p.average_price) for k, p in ledger.replay_positions().items()}
    return {
        "operations": [(r.kind, r.reference, sorted(entries.get(r.id, []))) for r in ops],
        "trades": trades,
        "steps": steps,
        "balances": ledger.cached_balances(),
        "positions": positions,
    }


def _cascade(url: str, n: int = 24) -> tuple[Ledger, LiquidationOutcome, MarketSnapshot]:
    """``n`` accounts long or short the linear perpetual entered at 100,000, holding USDC and some
    BTC; BTC then falls to 91,000: the longs are liquidated in part, in full or bankrupt (their
    BTC converted), the shorts are the ADL counterparties (the planner's fund is 1,000 USD, so ADL
    and socialized losses come in; the ledger's fund holds more, as the order of covers and fees is
    not in question here). The ledger holds the book, written in one transaction."""
    from solvent.accounts.service import trade_terms
    from solvent.engine.liquidation import liquidate_accounts
    from solvent.ledger.model import EXTERNAL, Operation, Posting, Reason
    from solvent.portfolio.account_book import AccountBook
    from solvent.portfolio.portfolio import Portfolio, Position

    rng = np.random.default_rng(11)
    m = _market()
    moved = move_underlying(m, "BTC", 91_000.0)
    ledger = Ledger.open(url)
    portfolios = []
    with ledger.transaction() as tx:
        terms = trade_terms(m, PERP)
        tx.post(
            Operation(
                Reason.DEPOSIT,
                "fund",
                (
                    Posting(EXTERNAL, "USDC", -(10**9 + 10**5) * USDC, Reason.DEPOSIT),
                    Posting(VENUE_ACCOUNT, "USDC", 10**9 * USDC, Reason.DEPOSIT),
                    Posting(INSURANCE_ACCOUNT, "USDC", 10**5 * USDC, Reason.DEPOSIT),
                ),
            )
        )
        for i in range(n):
            name = f"c{i:02d}"
            short = i % 4 == 3
            qty = round(float(rng.uniform(0.5, 2.0)), 3) * (-1 if short else 1)
            per_btc = 50_000.0 if short else float(rng.uniform(8_200.0, 10_500.0))
            usdc = round(abs(qty) * per_btc, 2)  # a long loses 9,000 a BTC in the move
            btc = round(float(rng.uniform(0.0, 0.05)), 4) if i % 3 == 0 else 0.0
            tx.create_account(name)
            postings = [Posting(name, "USDC", round(usdc * USDC), Reason.DEPOSIT)]
            if btc:
                postings.append(Posting(name, "BTC", round(btc * 10**8), Reason.DEPOSIT))
            tx.post(
                Operation(
                    Reason.DEPOSIT,
                    f"d-{name}",
                    (
                        *postings,
                        *(Posting(EXTERNAL, p.asset, -p.amount, Reason.DEPOSIT) for p in postings),
                    ),
                )
            )
            tx.trade(name, terms, Decimal(repr(qty)), Decimal(100_000), 0, f"t-{name}")
            collateral = {"USDC": usdc, **({"BTC": btc} if btc else {})}
            portfolios.append(Portfolio(name, collateral, (Position(PERP, qty, 100_000.0),)))
    outcome = liquidate_accounts(
        AccountBook.from_portfolios(portfolios), moved, insurance_fund_usd=1_000.0
    )
    return ledger, outcome, moved


def test_batches_book_exactly_what_one_transaction_per_step_books(
    db_url: str, tmp_path: Path
) -> None:
    reference, outcome, moved = _cascade(f"sqlite:///{tmp_path / 'steps.db'}")
    steps = plan_booking(outcome, "cascade")
    assert len(steps) > 20 and {s.kind for s in steps} >= {BookingKind.TRADE, BookingKind.FEE}
    one = book_outcome(reference, outcome, moved, run_id="cascade", batch=1)
    ledger, _, _ = _cascade(db_url)
    held = _held(ledger)
    many = book_outcome(ledger, outcome, moved, run_id="cascade", batch=7)
    assert (
        (many.booked, many.skipped, many.audit_ok) == (one.booked, 0, True) == (len(steps), 0, True)
    )
    assert _journal(ledger) == _journal(reference)
    assert _held(ledger) == held
    again = book_outcome(ledger, outcome, moved, run_id="cascade", batch=7)
    assert (again.booked, again.skipped) == (0, len(steps))
    reference.close()
    ledger.close()


def test_a_refused_step_inside_a_batch_commits_the_steps_before_it_whole(
    db_url: str, tmp_path: Path
) -> None:
    """The fee step (the second of six, in one batch) asks for more than the account holds: the
    trade before it is committed, nothing of the fee, nor of the steps after it; the error is
    the ledger's. The ledger is as one transaction per step leaves it, and a retry finishes."""
    outcome = _outcome()
    greedy = replace(
        outcome,
        transfers=(replace(outcome.transfers[0], units=10**6 * USDC), *outcome.transfers[1:]),
    )
    ledger = _setup(db_url)
    held = _held(ledger)
    with pytest.raises(InsufficientFundsError) as batched:
        book_outcome(ledger, greedy, _market(), run_id="r2")
    assert list(booked_steps(ledger, "r2")) == ["r2:000000"]
    assert ledger.audit().ok and _held(ledger) == held
    reference = _setup(f"sqlite:///{tmp_path / 'steps.db'}")
    with pytest.raises(InsufficientFundsError) as stepwise:
        book_outcome(reference, greedy, _market(), run_id="r2", batch=1)
    assert (batched.value.field, batched.value.message) == (
        stepwise.value.field,
        stepwise.value.message,
    )
    assert _journal(ledger) == _journal(reference)
    report = book_outcome(ledger, outcome, _market(), run_id="r2")
    assert (report.booked, report.skipped, report.audit_ok) == (5, 1, True)
    assert ledger.cached_balances()[("@insurance", "USDC")] == 9_750 * USDC
    assert _held(ledger) == held
    ledger.close()
    reference.close()


BATCH_BOOKER = r"""
import pickle, sys, time
import solvent.liquidation.booking as booking
from solvent.ledger.store import Ledger
from solvent.market.snapshot import load_market

original = booking.record_steps
batches = 0

def slow_record(tx, rows):
    global batches
    original(tx, rows)
    batches += 1
    print("in", len(rows), flush=True)
    if batches == 2:
        time.sleep(60)  # the second batch, written and not committed: a kill now loses it whole

booking.record_steps = slow_record
url, outcome_path, market_path = sys.argv[1:4]
with open(outcome_path, "rb") as f:
    outcome = pickle.load(f)
booking.book_outcome(Ledger.open(url), outcome, load_market(market_path), run_id="crash", batch=2)
print("done", flush=True)
"""


@pytest.mark.slow
def test_sigkill_mid_batch_leaves_whole_batches_and_a_restart_finishes(
    db_url: str, tmp_path: Path
) -> None:
    proc, held = _start_booker(db_url, tmp_path, BATCH_BOOKER)
    assert proc.stdout is not None
    seen = 0
    deadline = time.monotonic() + 60
    while seen < 2 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen += line.startswith("in 2")
    os.kill(proc.pid, signal.SIGKILL)  # inside the second batch's transaction
    proc.wait()
    assert seen == 2, "the booking did not get going"
    reopened = Ledger.open(db_url)
    assert reopened.audit().ok
    done = booked_steps(reopened, "crash")
    assert list(done) == ["crash:000000", "crash:000001"]  # the first batch, whole
    assert all(op is not None for op in done.values())
    assert _held(reopened) == held
    report = book_outcome(reopened, _outcome(), _market(), run_id="crash", batch=2)
    assert (report.booked, report.skipped, report.audit_ok) == (4, 2, True)
    assert reopened.cached_balances()[("@insurance", "USDC")] == 9_750 * USDC
    assert _held(reopened) == held
    reopened.close()


def test_two_bookers_of_one_outcome_book_each_step_once(db_url: str) -> None:
    """Two threads book the same outcome at once, in batches: every step is booked once (the
    second booker waits for the first batch's locks, then finds its steps booked)."""
    from concurrent.futures import ThreadPoolExecutor

    ledger = _setup(db_url)
    held = _held(ledger)
    outcome = _outcome()

    def book() -> int:
        return book_outcome(ledger, outcome, _market(), run_id="twice", batch=3).booked

    with ThreadPoolExecutor(2) as pool:
        booked = sorted(pool.map(lambda _: book(), range(2)))
    assert sum(booked) == 6 and len(booked_steps(ledger, "twice")) == 6
    assert ledger.audit().ok and _held(ledger) == held
    assert ledger.cached_balances()[("@insurance", "USDC")] == 9_750 * USDC
    ledger.close()
