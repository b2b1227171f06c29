"""Ledger value types: reasons, postings, operations, trade terms and position arithmetic.

Signs: a posting's ``amount`` is an integer of the asset's base unit, positive when it credits the
account (the account's balance grows), negative when it debits it. Every operation's postings sum to
zero per asset (double entry), so money only moves between accounts; it enters and leaves the venue
only through the ``@external`` account, in deposits and withdrawals.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, localcontext
from enum import StrEnum

from solvent.collateral.assets import MAX_UNITS
from solvent.errors import SolventInputError
from solvent.instruments.terms import Settlement

EXTERNAL = "@external"
"""The outside world: deposits come from it, withdrawals go to it. Its balance is minus the total
held by the venue (deposited - withdrawn)."""
VENUE = "@venue"
"""The venue as the counterparty of trades (realized P&L, option premiums)."""
FEES = "@fees"
"""Trading fees collected."""
INSURANCE = "@insurance"
"""The insurance fund."""
SYSTEM_ACCOUNTS = (VENUE, FEES, INSURANCE)
"""The venue's own accounts. Each holds a non-negative balance per asset: ``@venue`` must be
funded (a deposit into it is the venue's capital) before it can pay realized P&L or premiums."""

#: Precision of the exact decimal arithmetic on prices and quantities (significant digits).
DECIMAL_PRECISION = 40


class Reason(StrEnum):
    """Why money moved; also the kind of the operation that moved it."""

    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    TRADE = "trade"
    FUNDING = "funding"
    FEE = "fee"
    LIQUIDATION = "liquidation"
    SETTLEMENT = "settlement"
    TRANSFER = "transfer"


class AccountKind(StrEnum):
    """User accounts hold clients' money; system accounts are the venue's; external is the world."""

    USER = "user"
    SYSTEM = "system"
    EXTERNAL = "external"


class BalanceBound(StrEnum):
    """Which balances an account type allows, per asset (base units; MAX_UNITS bounds every one).

    ``non-negative``: user accounts (there is no lending: a user pays fees, premiums and realized
    losses from what it holds) and the venue's system accounts (``@venue`` pays realized P&L and
    premiums from its own funded balance, ``@fees`` and ``@insurance`` never pay out more than they
    hold). ``non-positive``: ``@external``, minus what the venue holds (the world cannot have taken
    out more than it brought in)."""

    NON_NEGATIVE = "non-negative"
    NON_POSITIVE = "non-positive"


BOUNDS = {
    AccountKind.USER: BalanceBound.NON_NEGATIVE,
    AccountKind.SYSTEM: BalanceBound.NON_NEGATIVE,
    AccountKind.EXTERNAL: BalanceBound.NON_POSITIVE,
}
"""The balance rule of each account type, enforced on every posting and checked by the audit."""


def balance_problem(kind: AccountKind, units: int) -> str | None:
    """Why ``units`` is not a balance an account of ``kind`` may hold, or ``None`` if it may."""
    if type(units) is not int:
        return f"{units!r} is not an integer of base units"
    if abs(units) > MAX_UNITS:
        return f"{units} is beyond the ledger's limit of +-{MAX_UNITS} base units"
    bound = BOUNDS[kind]
    if bound is BalanceBound.NON_NEGATIVE and units < 0:
        return f"{units} is negative; a {kind.value} account's balance must be >= 0"
    if bound is BalanceBound.NON_POSITIVE and units > 0:
        return f"{units} is positive; the external account's balance must be <= 0"
    return None


class TradeStyle(StrEnum):
    """``futures``: no cash at the trade, realized P&L settles on closing. ``premium``: the price is
    paid in cash at the trade (options), nothing settles on closing."""

    FUTURES = "futures"
    PREMIUM = "premium"


@dataclass(frozen=True, slots=True)
class Posting:
    """Credit (``amount > 0``) or debit (``amount < 0``) of ``account``, base units of ``asset``."""

    account: str
    asset: str
    amount: int
    reason: Reason


@dataclass(frozen=True, slots=True)
class Operation:
    """A multi-entry operation: all of its postings land together or none does."""

    kind: Reason
    reference: str
    postings: tuple[Posting, ...]

    def validate(self) -> None:
        """Every amount a non-zero integer; postings sum to zero per asset; the external account
        appears only in deposits and withdrawals."""
        if not self.postings:
            raise SolventInputError("operation.postings", "an operation needs postings")
        totals: dict[str, int] = defaultdict(int)
        for i, posting in enumerate(self.postings):
            if type(posting.amount) is not int or posting.amount == 0:
                raise SolventInputError(
                    f"operation.postings[{i}].amount", "must be a non-zero integer of base units"
                )
            if abs(posting.amount) > MAX_UNITS:
                raise SolventInputError(
                    f"operation.postings[{i}].amount",
                    f"{posting.amount} is beyond the ledger's limit of +-{MAX_UNITS} base units",
                )
            if posting.account == EXTERNAL and self.kind not in (Reason.DEPOSIT, Reason.WITHDRAWAL):
                raise SolventInputError(
                    f"operation.postings[{i}].account",
                    "only deposits and withdrawals cross the venue's boundary",
                )
            totals[posting.asset] += posting.amount
        unbalanced = sorted(a for a, t in totals.items() if t != 0)
        if unbalanced:
            raise SolventInputError("operation.postings", f"not balanced in {unbalanced[0]}")


def transfer(
    source: str, destination: str, asset: str, units: int, reason: Reason, reference: str
) -> Operation:
    """Move ``units`` (> 0) of ``asset`` from ``source`` to ``destination``."""
    if units <= 0:
        raise SolventInputError("amount", "must be greater than zero")
    return Operation(
        reason,
        reference,
        (Posting(source, asset, -units, reason), Posting(destination, asset, units, reason)),
    )


@dataclass(frozen=True, slots=True)
class TradeTerms:
    """What the ledger needs to know about an instrument to book a trade on it."""

    instrument: str
    style: TradeStyle
    settlement: Settlement
    settlement_asset: str
    contract_size: Decimal = Decimal(1)


@dataclass(frozen=True, slots=True)
class PositionState:
    """A position: signed ``quantity`` (units of the underlying), ``average_price`` of entry
    (the instrument's price unit; 0 when flat) and cumulative ``realized_pnl`` in the settlement
    asset (coin amounts, exact decimal)."""

    instrument: str
    quantity: Decimal
    average_price: Decimal
    realized_pnl: Decimal
    settlement_asset: str


@dataclass(frozen=True, slots=True)
class Fill:
    """The effect of one fill on a position: the new state and the P&L it realized (settlement
    asset, exact, before rounding to base units)."""

    position: PositionState
    realized: Decimal


def apply_fill(before: PositionState, terms: TradeTerms, quantity: Decimal, price: Decimal) -> Fill:
    """Average-entry-price accounting of a fill of signed ``quantity`` at ``price``.

    Adding to a position (or opening one) moves the average to the size-weighted mean of the old
    average and ``price``. Reducing realizes ``closed * (price - average) * sign`` per contract size
    (linear, in USD; an option's premium, in its settlement asset) or ``closed * (price - average)
    / price * sign`` (an inverse future, in coin: the USD P&L converted at the exit price); the
    average of what remains is unchanged. A fill that crosses zero
    closes the old position and opens the remainder at ``price``.
    """
    with localcontext() as ctx:
        ctx.prec = DECIMAL_PRECISION
        q0, avg0 = before.quantity, before.average_price
        realized = Decimal(0)
        if q0 == 0 or (q0 > 0) == (quantity > 0):
            size = abs(q0) + abs(quantity)
            average = (abs(q0) * avg0 + abs(quantity) * price) / size
            q1 = q0 + quantity
        else:
            closed = min(abs(quantity), abs(q0))
            sign = 1 if q0 > 0 else -1
            move = (price - avg0) * closed * sign * terms.contract_size
            # a premium is already in the settlement asset; an inverse future's USD move is
            # converted at the exit price
            in_coin = terms.settlement is Settlement.LINEAR or terms.style is TradeStyle.PREMIUM
            realized = move if in_coin else move / price
            q1 = q0 + quantity
            if q1 == 0:
                average = Decimal(0)
            elif (q1 > 0) == (q0 > 0):
                average = avg0
            else:
                average = price
        return Fill(
            PositionState(
                before.instrument,
                q1,
                average.normalize() if average else Decimal(0),
                before.realized_pnl + realized,
                terms.settlement_asset,
            ),
            realized,
        )


def to_units_floor(amount: Decimal, decimals: int) -> int:
    """Coin amount -> base units, rounded toward minus infinity (a user never gains a fraction)."""
    with localcontext() as ctx:
        ctx.prec = DECIMAL_PRECISION
        return int(amount.scaleb(decimals).to_integral_value(rounding=ROUND_FLOOR))
