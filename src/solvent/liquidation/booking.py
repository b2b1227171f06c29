"""Book a liquidation outcome on the exact ledger, step by step (docs/ledger.md, "Liquidations").

:func:`plan_booking` turns a :class:`~solvent.liquidation.outcome.LiquidationOutcome` into an
ordered list of :class:`LedgerStep`; :func:`book_outcome` (or :func:`book_steps`) books them,
many steps per database transaction (:data:`DEFAULT_BATCH`; ``batch=1``: one each). A step's
operation(s) and its row in ``liquidation_steps`` (primary key: the step id ``RUN:SEQ``,
deterministic: the same outcome gives the same ids) are in the same transaction, so a process
killed in the middle leaves the ledger before or after each whole batch, hence each whole step,
and booking the same outcome again skips what is booked and finishes the rest.

Order: the planner's (the ledger never lets a user balance go below zero, so money comes in
before it goes out), each stage over the liquidated accounts in the outcome's order:

1. every account's market steps in order (slices, closes, auction fills): a trade against
   ``@venue`` at the step's price, fee 0, each followed by its liquidation fee, a transfer from the
   account to ``@insurance`` (the outcome's ``liquidation_fee`` transfers, matched in order to the
   steps that paid one; a fee matched to no step, a cross unit's paid by its top account, right
   after them); so the fund holds every fee of the run before it pays a cover;
2. transfers into the accounts (insurance cover, socialized charges paid to them, ``@venue``'s
   payment of a deficit nobody could bear), preceded by the ADL fills of the accounts that pay
   such a charge (the planner deleverages before it socializes: a payer may pay from what its
   fill brought; a fill is a counterparty's trade against ``@venue`` and needs nothing from the
   bankrupt account's closes);
3. the bankruptcy closes;
4. the other ADL fills against every account (each counterparty's trade at the bankruptcy
   price, against ``@venue``), all of them before
5. per account, the other transfers that belong to it (the fund covering ``@venue``'s loss,
   socialized charges paid to ``@venue``), in the outcome's order.

Stages 1 and 3 are booked cash-first (:func:`gains_first`: a cross unit's steps are listed
member by member, and a member's sale may pay another's buy-back).

A futures-style trade realizes against the tick's mark, as the planner values every position:
when the position's variation margin since its average price is not settled on the ledger
(:func:`settle_variation_margin` leaves a loss its account could not pay unsettled), the step
settles it for the part it closes, in the same step (:func:`_close_cash`). For a linear contract
that changes nothing (closing at the price realizes the same as settling at the mark then
closing); an inverse contract's coin P&L is not additive (``(p - a) / p`` differs from
``(m - a) / m + (p - m) / p``), and the difference moves between ``@venue`` and the account as a
settlement (reason ``settlement``), so the ledger ends where the planner's arithmetic ends.

A trade whose realized loss (futures) or premium (options) the account cannot pay in the
settlement asset first converts the account's other collateral at the index price against
``@venue`` (rounded against the account), within the same step; a remaining shortfall on a
bankruptcy close worth at most :data:`ROUNDING_UNITS` base units of the settlement asset, or of
the asset whose base unit is worth the most at the index (each conversion rounds one base unit of
either side against the account; the outcome's float arithmetic against the ledger's exact one),
is absorbed by ``@venue``, the counterparty that carries the bankrupt account's loss
(:func:`_rounding_limit`). Anything else the ledger refuses stops the booking with the ledger's
error: the steps before the refused one are committed (those of its batch included), nothing of
it is written, and conservation per asset and the audit hold after every transaction.

The cash rules (:func:`_book_operations` and below) receive a
:class:`~solvent.ledger.store.LedgerTransaction`: the database transaction of one step, or a
:class:`~solvent.ledger.batch.LedgerBatch` holding a batch's writes (reads see them; an exception
drops the step's writes whole). They use its read and write methods only, never SQL of their own.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext
from enum import StrEnum
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from solvent.accounts.service import AccountService, trade_terms
from solvent.errors import SolventInputError
from solvent.ledger.batch import LedgerBatch
from solvent.ledger.liquidations import (
    StepRow,
    booked_among,
    claim_step,
    complete_step,
    record_steps,
    step_reference,
)
from solvent.ledger.model import (
    DECIMAL_PRECISION,
    VENUE,
    AccountKind,
    Operation,
    PositionState,
    Posting,
    Reason,
    TradeStyle,
    TradeTerms,
    apply_fill,
    to_units_floor,
    transfer,
)
from solvent.ledger.store import InsufficientFundsError, Ledger, LedgerTransaction
from solvent.liquidation.outcome import (
    AccountOutcome,
    AdlFill,
    LiquidationOutcome,
    StepKind,
    Transfer,
    TransferReason,
)
from solvent.market.snapshot import MarketSnapshot

DEFAULT_BATCH = 500
"""Steps (or settled positions) per database transaction when booking in batches: few enough that
a batch holds SQLite's write lock for a fraction of a second, enough that the commits' fsyncs
and per-statement costs vanish (docs/ledger.md, "Batches")."""

ROUNDING_UNITS = 100
"""Largest shortfall of a bankruptcy close that ``@venue`` absorbs, in base units of the
settlement asset or of the asset with the costliest base unit (:func:`_rounding_limit`): the
outcome computes in floats, the ledger exactly, and converts collateral in whole base units."""


class BookingKind(StrEnum):
    """What one ledger step does."""

    TRADE = "trade"
    """A liquidation fill of the liquidated account (slice, close or auction) against @venue."""
    BANKRUPTCY = "bankruptcy"
    """A bankrupt account's position closed at its bankruptcy price, against @venue."""
    ADL = "adl"
    """A counterparty's position deleveraged at the bankruptcy price, against @venue."""
    FEE = "fee"
    """Liquidation fee: the account to the insurance fund."""
    COVER = "cover"
    """Insurance fund cover of a deficit (to the account or to @venue)."""
    SOCIALIZED = "socialized"
    """A socialized-loss charge: a profitable account pays its share."""
    UNCOVERED = "uncovered"
    """``@venue``'s capital pays a unit's own deficit nobody else could bear."""


_TRANSFER_KINDS = {
    TransferReason.LIQUIDATION_FEE: BookingKind.FEE,
    TransferReason.INSURANCE_COVER: BookingKind.COVER,
    TransferReason.SOCIALIZED_LOSS: BookingKind.SOCIALIZED,
    TransferReason.UNCOVERED_LOSS: BookingKind.UNCOVERED,
}


@dataclass(frozen=True, slots=True)
class LedgerStep:
    """One step: a trade (``instrument``, signed ``quantity`` of ``account``, ``price`` in the
    instrument's price unit, exact decimals) or a transfer (``units`` > 0 base units of ``asset``
    from ``source`` to ``destination``). ``account``: the account whose balance or position moves
    (the payer of a transfer); ``against``: the liquidated account the step belongs to."""

    step_id: str
    seq: int
    kind: BookingKind
    account: str
    against: str
    instrument: str | None = None
    quantity: Decimal | None = None
    price: Decimal | None = None
    source: str | None = None
    destination: str | None = None
    asset: str | None = None
    units: int | None = None


@dataclass(frozen=True, slots=True)
class BookingReport:
    """What :func:`book_outcome` did: ``booked`` steps now, ``skipped`` already booked before (a
    resumed run), of ``steps``; ``audit_ok``: the ledger's audit after the last step."""

    run_id: str
    steps: int
    booked: int
    skipped: int
    audit_ok: bool


def _decimal(value: float) -> Decimal:
    return Decimal(repr(float(value)))


def outcome_run_id(outcome: LiquidationOutcome) -> str:
    """A run id from the outcome's content (steps, fills, transfers): 16 hex digits."""
    content = {
        "accounts": [
            [a.account, [[s.account, s.kind, s.instrument, s.quantity, s.price] for s in a.steps]]
            for a in outcome.accounts
        ],
        "adl": [[f.account, f.instrument, f.quantity, f.price, f.against] for f in outcome.adl],
        "transfers": [asdict(t) for t in outcome.transfers],
    }
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def plan_booking(outcome: LiquidationOutcome, run_id: str | None = None) -> tuple[LedgerStep, ...]:
    """The ledger steps of ``outcome`` in booking order (see the module docstring)."""
    run = run_id if run_id is not None else outcome_run_id(outcome)
    if not run or len(run) > 64 or ":" in run:
        raise SolventInputError("run_id", "1-64 characters, no ':'")
    planned: list[dict[str, Any]] = []
    used: set[int] = set()

    def add_transfer(i: int, t: Transfer) -> None:
        used.add(i)
        planned.append(
            {
                "kind": _TRANSFER_KINDS[t.reason],
                "account": t.source,
                "against": t.account,
                "source": t.source,
                "destination": t.destination,
                "asset": t.asset,
                "units": t.units,
            }
        )

    transfers = list(enumerate(outcome.transfers))
    liquidated = outcome.liquidated
    # one pass over the transfers and fills, grouped by the account they are for (in order)
    own_fees: dict[str, list[tuple[int, Transfer]]] = {}  # a fee a unit pays itself
    paid_to: dict[str, list[tuple[int, Transfer]]] = {}  # a cover or charge paid to the unit
    of_account: dict[str, list[tuple[int, Transfer]]] = {}
    for i, t in transfers:
        of_account.setdefault(t.account, []).append((i, t))
        if t.reason is TransferReason.LIQUIDATION_FEE and t.source == t.account:
            own_fees.setdefault(t.account, []).append((i, t))
        if t.destination == t.account:
            paid_to.setdefault(t.account, []).append((i, t))
    fills_against: dict[str, list[AdlFill]] = {}
    for fill in outcome.adl:
        fills_against.setdefault(fill.against, []).append(fill)
    fees = {a.account: list(own_fees.get(a.account, ())) for a in liquidated}

    def add_steps(a: AccountOutcome, bankruptcy: bool) -> None:
        for step in a.steps:
            if (step.kind is StepKind.BANKRUPTCY) is not bankruptcy:
                continue
            kind = BookingKind.BANKRUPTCY if bankruptcy else BookingKind.TRADE
            planned.append(
                {
                    "kind": kind,
                    "account": step.account,
                    "against": a.account,
                    "instrument": step.instrument,
                    "quantity": _decimal(step.quantity),
                    "price": _decimal(step.price),
                }
            )
            if step.fee_usd > 0 and fees[a.account]:
                add_transfer(*fees[a.account].pop(0))

    # the planner's order: every unit's market steps and fees (so the fund holds every fee
    # before it pays a cover), the covers and charges paid to the units, their bankruptcy
    # closes, the ADL fills and the other transfers
    for a in liquidated:
        add_steps(a, bankruptcy=False)
    for i, t in transfers:  # fees not matched to a step (a cross unit's, paid by its top)
        if i not in used and t.reason is TransferReason.LIQUIDATION_FEE:
            add_transfer(i, t)
    # the planner deleverages every bankrupt unit before it socializes: a payer may pay its
    # charge from what its fill brought (a long option sold), so the fills of the accounts that
    # pay a charge into a unit come before those charges (a fill is a counterparty's trade
    # against @venue: it needs nothing from the bankrupt unit's closes)
    early = {
        t.source
        for a in liquidated
        for _, t in paid_to.get(a.account, ())
        if t.reason is TransferReason.SOCIALIZED_LOSS
    }
    _add_fills(liquidated, fills_against, planned, lambda fill: fill.account in early)
    for a in liquidated:
        for i, t in paid_to.get(a.account, ()):
            if i not in used:
                add_transfer(i, t)
    for a in liquidated:
        add_steps(a, bankruptcy=True)
    # every other ADL fill before any other transfer
    _add_fills(liquidated, fills_against, planned, lambda fill: fill.account not in early)
    for a in liquidated:
        for i, t in of_account.get(a.account, ()):
            if i not in used:
                add_transfer(i, t)
    for i, t in transfers:
        if i not in used:
            add_transfer(i, t)
    return tuple(
        LedgerStep(step_id=f"{run}:{seq:06d}", seq=seq, **fields)
        for seq, fields in enumerate(planned)
    )


def _add_fills(
    liquidated: Sequence[AccountOutcome],
    fills_against: Mapping[str, Sequence[AdlFill]],
    planned: list[dict[str, Any]],
    chosen: Callable[[AdlFill], bool],
) -> None:
    """Append to ``planned`` the ADL fills against each of ``liquidated`` (in order) that are
    ``chosen``."""
    for a in liquidated:
        for fill in fills_against.get(a.account, ()):
            if chosen(fill):
                planned.append(
                    {
                        "kind": BookingKind.ADL,
                        "account": fill.account,
                        "against": a.account,
                        "instrument": fill.instrument,
                        "quantity": _decimal(fill.quantity),
                        "price": _decimal(fill.price),
                    }
                )


def book_outcome(
    ledger: Ledger,
    outcome: LiquidationOutcome,
    market: MarketSnapshot,
    *,
    run_id: str | None = None,
    batch: int = DEFAULT_BATCH,
) -> BookingReport:
    """Book every step of ``outcome`` not booked yet (see the module docstring), ``batch`` steps
    per transaction (:func:`book_steps`). Raises the ledger's error when a step is refused: the
    steps before it are booked, nothing of it is written."""
    steps = plan_booking(outcome, run_id)
    run = steps[0].step_id.split(":")[0] if steps else (run_id or outcome_run_id(outcome))
    done = book_steps(ledger, gains_first(ledger, steps, market), market, run, batch=batch)
    return BookingReport(run, len(steps), done.booked, done.skipped, ledger.audit().ok)


@dataclass(frozen=True, slots=True)
class StepsBooked:
    """What :func:`book_steps` did: ``booked`` steps now, ``skipped`` already booked before."""

    booked: int
    skipped: int


def book_steps(
    ledger: Ledger,
    steps: Sequence[LedgerStep],
    market: MarketSnapshot,
    run_id: str,
    *,
    batch: int = DEFAULT_BATCH,
) -> StepsBooked:
    """Book ``steps`` of run ``run_id`` in order, each not booked yet, ``batch`` steps per
    database transaction (``1``: each step its own transaction, :func:`book_step`).

    A batch is one transaction holding its steps' operations and their rows in
    ``liquidation_steps``, written in bulk (:class:`~solvent.ledger.batch.LedgerBatch`): a crash
    leaves the ledger before or after each whole batch, hence each whole step, and booking the
    same steps again skips those booked and finishes the rest. A step the ledger refuses
    (:class:`~solvent.ledger.store.InsufficientFundsError`, an unknown account...) is dropped
    whole before anything of it is written; the steps before it are committed and its error is
    raised, exactly as one transaction per step would leave the ledger."""
    if type(batch) is not int or batch < 1:
        raise SolventInputError("batch", "a whole number of steps >= 1")
    booked = skipped = 0
    if batch == 1:
        for step in steps:
            if book_step(ledger, step, market, run_id):
                booked += 1
            else:
                skipped += 1
        return StepsBooked(booked, skipped)
    for start in range(0, len(steps), batch):
        chunk = steps[start : start + batch]
        with ledger.transaction() as tx:
            writer = LedgerBatch(tx)
            # the accounts are locked first (PostgreSQL): a concurrent booker of the same steps
            # waits here until the first commits, then finds them booked
            writer.load({a for s in chunk for a in _step_accounts(s)})
            done = booked_among(tx, [s.step_id for s in chunk])
            todo = [s for s in chunk if s.step_id not in done]
            held, refused = _book_batch(writer, todo, market)
            writer.flush()
            record_steps(
                tx,
                [
                    StepRow(
                        step.step_id,
                        run_id,
                        step.seq,
                        step.kind.value,
                        step.account,
                        step.against,
                        writer.operation_id(handle),
                    )
                    for step, handle in held
                ],
            )
        booked += len(held)
        skipped += len(done)
        if refused is not None:
            raise refused
    return StepsBooked(booked, skipped)


def _step_accounts(step: LedgerStep) -> tuple[str, ...]:
    """The accounts ``step`` reads or moves."""
    return tuple(a for a in (step.account, step.against, step.source, step.destination) if a)


def _book_batch(
    writer: LedgerBatch, steps: Sequence[LedgerStep], market: MarketSnapshot
) -> tuple[list[tuple[LedgerStep, int]], Exception | None]:
    """Book ``steps`` into ``writer`` until one is refused: the steps held, each with the handle
    of its main operation, and the refusal (``None`` when every step was held)."""
    held: list[tuple[LedgerStep, int]] = []
    for step in steps:
        try:
            with writer.step():
                writer.account(step.account, "account")
                writer.account(step.against, "against")
                held.append(
                    (step, _book_operations(writer, step, market, step_reference(step.step_id)))
                )
        except SQLAlchemyError:
            raise  # the database failed: the whole batch rolls back
        except Exception as refusal:  # the steps before it are committed, then it is raised
            return held, refusal
    return held, None


def settle_variation_margin(
    ledger: Ledger,
    accounts: Iterable[str],
    market: MarketSnapshot,
    reference: str,
    *,
    batch: int = DEFAULT_BATCH,
) -> int:
    """Mark every futures-style position (futures, perpetuals) of ``accounts`` and of their
    cross-margin families to ``market`` on the ledger: each is closed and reopened at its mark
    against ``@venue`` (reason settlement), so its average price becomes the mark and its P&L
    since entry becomes cash. The liquidation planner values a unit that way (its balances carry
    the P&L since entry), so booking its steps afterwards never asks a unit for cash its other
    legs' gains hold. Gains are settled first, then losses; a loss its account cannot pay from
    its own balance (after converting its other collateral and drawing on its cross family) is
    left unsettled (a bankrupt unit's positions close at the bankruptcy price instead; nothing of
    it is written). ``batch`` positions per transaction (a
    :class:`~solvent.ledger.batch.LedgerBatch`, each position whole in it); running it again
    settles nothing new. Returns the positions settled."""
    accounts = set(accounts)
    with ledger.transaction() as tx:
        reader = LedgerBatch(tx)  # records, families and positions read in bulk
        reader.load(accounts, positions=False)
        names: set[str] = set()
        for account in accounts:
            record = reader.account(account)
            if record.kind is AccountKind.USER:
                names |= {m.id for m in AccountService.unit_of(reader, record)}
        held = reader.positions(sorted(names))
    gains: list[tuple[str, str]] = []
    losses: list[tuple[str, str]] = []
    for account, positions in sorted(held.items()):
        for position in positions:
            terms = trade_terms(market, position.instrument, "instrument")
            if terms.style is not TradeStyle.FUTURES:
                continue
            mark = Decimal(repr(market.quote(position.instrument).mark_price))
            if mark == position.average_price:
                continue
            gain = (mark - position.average_price) * position.quantity > 0
            (gains if gain else losses).append((account, position.instrument))
    if type(batch) is not int or batch < 1:
        raise SolventInputError("batch", "a whole number of positions >= 1")
    order = [*gains, *losses]
    settled = 0
    for start in range(0, len(order), batch):
        chunk = order[start : start + batch]
        refused: Exception | None = None
        with ledger.transaction() as tx:
            writer = LedgerBatch(tx)
            writer.load({account for account, _ in chunk})
            done = 0
            for account, instrument in chunk:
                try:
                    with writer.step():
                        done += _settle_position(writer, account, instrument, market, reference)
                except _UnpayableError:
                    continue
                except SQLAlchemyError:
                    raise
                except Exception as exc:  # committed up to it, then raised
                    refused = exc
                    break
            writer.flush()
        settled += done
        if refused is not None:
            raise refused
    return settled


def _settle_position(
    tx: LedgerTransaction, account: str, instrument: str, market: MarketSnapshot, reference: str
) -> bool:
    """Close and reopen ``account``'s position in ``instrument`` at its mark (see
    :func:`settle_variation_margin`); ``False`` when its loss cannot be paid (nothing written)."""
    terms = trade_terms(market, instrument, "instrument")
    asset = tx.assets.get(terms.settlement_asset, "settlement_asset")
    before = tx.position(account, terms.instrument, terms.settlement_asset)
    mark = Decimal(repr(market.quote(instrument).mark_price))
    if before.quantity == 0 or mark == before.average_price:
        return False
    fill = apply_fill(before, terms, -before.quantity, mark)
    cash = to_units_floor(fill.realized, asset.decimals)
    short = -(tx.balances([account])[account].get(asset.symbol, 0) + cash)
    if short > 0:
        short -= _convert(tx, account, asset.symbol, short, market, reference)
    if short > 0:
        short -= _cover_from_cross_family(tx, account, asset.symbol, short, market, reference)
    if short > 0:
        raise _UnpayableError
    tx.trade(account, terms, -before.quantity, mark, 0, reference)
    tx.trade(account, terms, before.quantity, mark, 0, reference)
    return True


class _UnpayableError(Exception):
    """A settlement loss its account cannot pay: the transaction is rolled back."""


def gains_first(
    ledger: Ledger, steps: Sequence[LedgerStep], market: MarketSnapshot | None = None
) -> list[LedgerStep]:
    """``steps`` with the steps that bring cash booked before those that take it, within each
    run :func:`plan_booking` books together, the order otherwise kept:

    - every run of consecutive bankruptcy closes (of every unit of the run): the bankruptcy
      prices bring a unit to zero as a whole, so a losing leg (a cross member's included) may
      need the cash a winning leg's close brings;
    - every run of market steps (trades, each with the liquidation fee that follows it): a
      cross unit's steps are split among its members and booked member by member, so a
      member's buy-back may come before the sale by another member that pays for it in the
      planner's chronology (the trade keeps its fee right after it).

    A futures-style close brings cash when it realizes a gain (:func:`_close_cash`, against the
    ledger's position); with ``market`` (which tells an option from a future), an option's
    trade brings cash when it sells (its premium), and a buy-back takes it. Putting every
    inflow first gives every prefix of the run the most cash any order can, so an account
    never pays before it is paid. Nothing else moves (step ids keep their order meaning for
    the claims; each step is still booked once)."""
    out = list(steps)
    i = 0
    while i < len(out):
        kind = out[i].kind
        j = i + 1
        if kind is BookingKind.BANKRUPTCY:
            while j < len(out) and out[j].kind is BookingKind.BANKRUPTCY:
                j += 1
        elif kind is BookingKind.TRADE:
            while j < len(out) and out[j].kind in (BookingKind.TRADE, BookingKind.FEE):
                j += 1
        else:
            i = j
            continue
        blocks: list[list[LedgerStep]] = []
        for step in out[i:j]:
            if step.kind is BookingKind.FEE:
                blocks[-1].append(step)
            else:
                blocks.append([step])
        if len(blocks) > 1:
            accounts = sorted({block[0].account for block in blocks})
            with ledger.transaction() as tx:
                held = tx.positions(accounts)
            held_at = {
                (account, p.instrument): p for account, positions in held.items() for p in positions
            }
            blocks.sort(key=lambda block: _takes_cash(ledger, block[0], held_at, market))
            out[i:j] = [step for block in blocks for step in block]
        i = j
    return out


def _takes_cash(
    ledger: Ledger,
    step: LedgerStep,
    held: Mapping[tuple[str, str], PositionState],
    market: MarketSnapshot | None,
) -> bool:
    """Whether booking ``step`` (a close) takes cash from its account: an option bought back
    (when ``market`` tells it is an option), or a close that realizes a loss against the
    position ``held`` (by account and instrument): with ``market``, the cash the booking moves
    (:func:`_close_cash`, the variation margin left unsettled included); without it, against the
    position's average price."""
    assert step.instrument and step.quantity is not None and step.price is not None
    position = held.get((step.account, step.instrument))
    if market is not None:
        terms = trade_terms(market, step.instrument, "instrument")
        if terms.style is not TradeStyle.FUTURES:
            return step.quantity > 0
        if position is not None:
            mark = Decimal(repr(market.quote(step.instrument).mark_price))
            decimals = ledger.assets.get(terms.settlement_asset).decimals
            trade_units, settled = _close_cash(
                position, terms, step.quantity, step.price, mark, decimals
            )
            return trade_units + settled < 0
    entry = step.price if position is None else position.average_price
    return -step.quantity * (step.price - entry) < 0


def book_step(ledger: Ledger, step: LedgerStep, market: MarketSnapshot, run_id: str) -> bool:
    """Book one step in its own transaction; ``False`` when it was already booked."""
    with ledger.transaction() as tx:
        return book_step_in(tx, step, market, run_id)


def book_step_in(
    tx: LedgerTransaction, step: LedgerStep, market: MarketSnapshot, run_id: str
) -> bool:
    """Book one step inside the caller's transaction ``tx`` (a real-time tick's, for example):
    its claim and its operation(s) commit or roll back with it. ``False`` when it was already
    booked (nothing written)."""
    if not claim_step(
        tx, step.step_id, run_id, step.seq, step.kind.value, step.account, step.against
    ):
        return False
    op_id = _book_operations(tx, step, market, step_reference(step.step_id))
    complete_step(tx, step.step_id, op_id)
    return True


def _book_operations(
    tx: LedgerTransaction, step: LedgerStep, market: MarketSnapshot, reference: str
) -> int:
    """Post the operation(s) of ``step`` in ``tx`` (the step already claimed); returns the id of
    its main operation (the trade, or the transfer)."""
    if step.instrument is not None:
        op_id = _book_trade(tx, step, market, reference)
    else:
        assert step.source and step.destination and step.asset and step.units
        held = tx.balances([step.source])[step.source].get(step.asset, 0)
        if held < step.units and tx.account(step.source).kind is AccountKind.USER:
            short = step.units - max(held, 0)
            short -= _convert(tx, step.source, step.asset, short, market, reference)
            if short > 0:
                _cover_from_cross_family(tx, step.source, step.asset, short, market, reference)
        op_id = tx.post(
            transfer(
                step.source,
                step.destination,
                step.asset,
                step.units,
                Reason.LIQUIDATION,
                reference,
            )
        )
    return op_id


def _book_trade(
    tx: LedgerTransaction, step: LedgerStep, market: MarketSnapshot, reference: str
) -> int:
    assert step.instrument and step.quantity is not None and step.price is not None
    terms = trade_terms(market, step.instrument, "instrument")
    asset = tx.assets.get(terms.settlement_asset, "settlement_asset")
    before = tx.position(step.account, terms.instrument, terms.settlement_asset)
    mark = Decimal(repr(market.quote(step.instrument).mark_price))
    trade_units, settled = _close_cash(
        before, terms, step.quantity, step.price, mark, asset.decimals
    )
    cash = trade_units + settled
    held = tx.balances([step.account])[step.account].get(asset.symbol, 0)
    short = -(held + cash)
    if short > 0:
        short -= _convert(tx, step.account, asset.symbol, short, market, reference)
    if short > 0:
        short -= _cover_from_cross_family(tx, step.account, asset.symbol, short, market, reference)
    if (
        short > 0
        and step.kind is BookingKind.BANKRUPTCY
        and short <= _rounding_limit(tx, asset.symbol, market)
    ):
        tx.post(transfer(VENUE, step.account, asset.symbol, short, Reason.LIQUIDATION, reference))
        short = 0
    if short > 0:
        raise InsufficientFundsError(
            "quantity",
            f"step {step.step_id}: {step.account!r} cannot pay {asset.format(-cash)} "
            f"{asset.symbol} for {step.quantity} {step.instrument} at {step.price} "
            f"(holds {asset.format(held)} and nothing left to convert)",
        )
    if settled > 0:  # the venue pays the settlement before the trade takes its loss
        tx.post(transfer(VENUE, step.account, asset.symbol, settled, Reason.SETTLEMENT, reference))
    op_id = tx.trade(step.account, terms, step.quantity, step.price, 0, reference).operation_id
    if settled < 0:  # the trade's gain pays it
        tx.post(transfer(step.account, VENUE, asset.symbol, -settled, Reason.SETTLEMENT, reference))
    return op_id


def _close_cash(
    before: PositionState,
    terms: TradeTerms,
    quantity: Decimal,
    price: Decimal,
    mark: Decimal,
    decimals: int,
) -> tuple[int, int]:
    """Base units of the settlement asset a fill of ``quantity`` at ``price`` moves to the
    account (``> 0`` received), split in two: what the ledger's trade moves (the realized P&L
    against the position's average price, or an option's premium), and the variation margin
    settlement the step adds so that the total is what the planner counts (the closed part's
    P&L since the average settled at ``mark``, then the close from ``mark``; the total floored
    once, against the account). The settlement is 0 but for a futures-style close of an inverse
    contract whose average is not ``mark``."""
    if terms.style is not TradeStyle.FUTURES:
        return to_units_floor(-quantity * price * terms.contract_size, decimals), 0
    fill = apply_fill(before, terms, quantity, price)
    trade_units = to_units_floor(fill.realized, decimals)
    q0 = before.quantity
    if q0 == 0 or (q0 > 0) == (quantity > 0) or before.average_price == mark:
        return trade_units, 0
    closed = min(abs(quantity), abs(q0)) * (-1 if q0 > 0 else 1)
    settle = apply_fill(before, terms, closed, mark).realized
    at_mark = replace(before, average_price=mark)
    rest = apply_fill(at_mark, terms, closed, price).realized
    return trade_units, to_units_floor(settle + rest, decimals) - trade_units


def _rounding_limit(tx: LedgerTransaction, symbol: str, market: MarketSnapshot) -> int:
    """Base units of ``symbol`` worth :data:`ROUNDING_UNITS` base units of the asset whose base
    unit is worth the most at the index (of the ledger's assets the market prices), and never
    fewer than :data:`ROUNDING_UNITS`: the most a bankruptcy close may lack through rounding."""
    try:
        unit_usd = Decimal(repr(market.price_usd(symbol))).scaleb(-tx.assets.get(symbol).decimals)
    except SolventInputError:
        return ROUNDING_UNITS
    costliest = unit_usd
    for other in tx.assets:
        try:
            price = Decimal(repr(market.price_usd(other.symbol)))
        except SolventInputError:
            continue
        costliest = max(costliest, price.scaleb(-other.decimals))
    if unit_usd <= 0:
        return ROUNDING_UNITS
    limit = (ROUNDING_UNITS * costliest / unit_usd).to_integral_value(ROUND_CEILING)
    return max(ROUNDING_UNITS, int(limit))


def _cover_from_cross_family(
    tx: LedgerTransaction,
    account: str,
    wanted: str,
    units: int,
    market: MarketSnapshot,
    reference: str,
) -> int:
    """Move up to ``units`` base units of ``wanted`` into ``account`` from the other members of
    its cross-margin unit (the parent and its cross sub-accounts share one collateral pool and
    are liquidated as one unit, whose cash the planner counts together), each member converting
    its other collateral first when it holds too little; returns the base units moved (0 for an
    isolated sub-account or an account without cross members)."""
    members = [m.id for m in AccountService.unit_of(tx, tx.account(account)) if m.id != account]
    moved = 0
    for member in members:
        need = units - moved
        if need <= 0:
            break
        held = max(tx.balances([member])[member].get(wanted, 0), 0)
        if held < need:
            held += _convert(tx, member, wanted, need - held, market, reference)
        take = min(held, need)
        if take > 0:
            tx.post(transfer(member, account, wanted, take, Reason.TRANSFER, reference))
            moved += take
    return moved


def _convert(
    tx: LedgerTransaction,
    account: str,
    wanted: str,
    units: int,
    market: MarketSnapshot,
    reference: str,
) -> int:
    """Sell ``account``'s other collateral to ``@venue`` at the index price for up to ``units``
    base units of ``wanted`` (what the account pays rounded up, what it gets rounded down), assets
    in sorted order; returns the base units of ``wanted`` obtained (one operation)."""
    target = tx.assets.get(wanted)
    price_wanted = Decimal(repr(market.price_usd(wanted)))
    balances = tx.balances([account])[account]
    postings: list[Posting] = []
    got = 0
    with localcontext() as ctx:
        ctx.prec = DECIMAL_PRECISION
        for symbol in sorted(balances):
            have = balances[symbol]
            if symbol == wanted or have <= 0 or got >= units:
                continue
            try:
                price = Decimal(repr(market.price_usd(symbol)))
            except SolventInputError:
                continue  # an asset the market cannot price is not sold
            source = tx.assets.get(symbol)
            need = Decimal(units - got).scaleb(-target.decimals) * price_wanted / price
            pay = min(have, int(need.scaleb(source.decimals).to_integral_value(ROUND_CEILING)))
            value = Decimal(pay).scaleb(-source.decimals) * price / price_wanted
            receive = int(value.scaleb(target.decimals).to_integral_value(ROUND_FLOOR))
            if pay <= 0 or receive <= 0:
                continue
            postings += [
                Posting(account, symbol, -pay, Reason.LIQUIDATION),
                Posting(VENUE, symbol, pay, Reason.LIQUIDATION),
                Posting(VENUE, wanted, -receive, Reason.LIQUIDATION),
                Posting(account, wanted, receive, Reason.LIQUIDATION),
            ]
            got += receive
    if postings:
        tx.post(Operation(Reason.LIQUIDATION, reference, tuple(postings)))
    return got
