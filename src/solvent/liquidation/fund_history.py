"""The insurance fund's history on the ledger: fee inflows, deficit outflows, balance over time.

Read from the journal entries of ``@insurance`` (:func:`solvent.ledger.liquidations.fund_entries`),
oldest first. Each entry is classified by its operation: a deposit into the fund or a withdrawal
from it (the venue's own capital moves), a liquidation ``fee`` (an inflow of a liquidation
operation), a deficit ``cover`` (an outflow of a liquidation operation), anything else ``other``.
Amounts are exact integer base units (``> 0`` into the fund); ``balance_units`` is the fund's
balance of that asset just after the entry.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from solvent.ledger.liquidations import fund_entries
from solvent.ledger.model import Reason
from solvent.ledger.store import Ledger


@dataclass(frozen=True, slots=True)
class InsuranceEvent:
    """One movement of the fund (see the module docstring)."""

    operation: int
    time: datetime
    kind: str
    asset: str
    units: int
    balance_units: int
    account: str | None
    reference: str


@dataclass(frozen=True, slots=True)
class InsuranceHistory:
    """The fund's balance now (base units per asset, over the whole journal), the fees in and
    deficits covered (base units, ``>= 0``) and the events, for the window asked."""

    balance_units: Mapping[str, int]
    fees_in_units: Mapping[str, int]
    deficits_out_units: Mapping[str, int]
    events: tuple[InsuranceEvent, ...]


def _kind(operation_kind: str, units: int) -> str:
    if operation_kind == Reason.DEPOSIT.value:
        return "deposit"
    if operation_kind == Reason.WITHDRAWAL.value:
        return "withdrawal"
    if operation_kind in (Reason.LIQUIDATION.value, Reason.TRADE.value):
        return "fee" if units > 0 else "cover"
    return "other"


def insurance_fund_history(
    ledger: Ledger,
    *,
    asset: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
) -> InsuranceHistory:
    """The fund's history (see the module docstring): events at or after ``since`` and at or
    before ``until`` (the newest ``limit`` of them when given), balances as of ``until``."""
    balance: dict[str, int] = defaultdict(int)
    fees: dict[str, int] = defaultdict(int)
    covers: dict[str, int] = defaultdict(int)
    events: list[InsuranceEvent] = []
    for entry in fund_entries(ledger, asset=asset, until=until):
        balance[entry.asset] += entry.units
        if since is not None and entry.time < since:
            continue
        kind = _kind(entry.operation_kind, entry.units)
        if kind == "fee":
            fees[entry.asset] += entry.units
        elif kind == "cover":
            covers[entry.asset] -= entry.units
        events.append(
            InsuranceEvent(
                operation=entry.operation,
                time=entry.time,
                kind=kind,
                asset=entry.asset,
                units=entry.units,
                balance_units=balance[entry.asset],
                account=entry.account,
                reference=entry.reference,
            )
        )
    if limit is not None:
        events = events[-limit:] if limit > 0 else []
    return InsuranceHistory(dict(balance), dict(fees), dict(covers), tuple(events))
