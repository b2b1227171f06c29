"""Liquidation in the tick: the waterfall's planner on the tick's prepared state, booked.

:class:`WaterfallLiquidator` is the engine's :class:`~solvent.realtime.engine.Liquidator`: for the
units that are in liquidation at a tick it runs
:func:`solvent.engine.liquidation.liquidate_prepared` (the policy, bankruptcy closes, insurance
fund, ADL, socialization) with each model's prepared state of that tick (no second prepare),
plans its booking (:func:`solvent.liquidation.booking.plan_booking`: one idempotent ledger
operation per step), which the engine persists with its checkpoint and then has executed
(:meth:`WaterfallLiquidator.execute`, many steps per transaction: a crash leaves the ledger before
or after each whole step, and a restart books the steps left),
and reports what it did: the accounts touched (reloaded by the engine), one JSON record per
liquidated unit, and the replay's totals (USD): ``liquidated``, ``bankrupt``, ``volume_usd`` (the
traded notional at fill prices), ``slippage_usd`` (the market fills' cost of walking the order
book; a bankruptcy close's gap to the mark is not slippage but the deficit the waterfall covers,
``deficit_usd``), ``fees_usd``, ``adl_events``,
``socialized_loss_usd``, ``deficit_usd`` and how it was covered (``insurance_covered_usd``,
``adl_covered_usd``); the engine counts the units liquidated and bankrupt.

Units are liquidated per model (a book whose accounts use several models gives one planner run per
model, each over that model's units; the others stay ADL counterparties of nobody in that run).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import numpy as np

from solvent.engine.liquidation import liquidate_prepared
from solvent.errors import PlanRefusedError, SolventInputError
from solvent.ledger.model import INSURANCE
from solvent.ledger.store import Ledger
from solvent.liquidation.booking import (
    BookingKind,
    LedgerStep,
    book_steps,
    gains_first,
    plan_booking,
    settle_variation_margin,
)
from solvent.liquidation.config import LiquidationConfig
from solvent.liquidation.outcome import LiquidationOutcome, StepKind
from solvent.liquidation.policy import LiquidationPolicy, get_policy
from solvent.liquidation.units import PreparedMargin
from solvent.market.snapshot import MarketSnapshot
from solvent.realtime.engine import Breach, LiquidationContext, LiquidationReport


class WaterfallLiquidator:
    """See the module docstring. The planner's starting insurance fund is ``@insurance``'s
    balances on the ledger, every asset in exact base units (the fund asset and the fees it
    collected in coins), valued at the tick's index."""

    def __init__(
        self,
        ledger: Ledger,
        *,
        policy: str | LiquidationPolicy = "partial",
        config: LiquidationConfig | None = None,
    ) -> None:
        self.ledger = ledger
        self.policy = get_policy(policy) if isinstance(policy, str) else policy
        self.config = config if config is not None else LiquidationConfig()

    def liquidate(
        self, breaches: Sequence[Breach], context: LiquidationContext
    ) -> LiquidationReport:
        grouped = context.grouped
        row_of = {a: r for r, a in enumerate(grouped.book.accounts)}
        by_model: dict[str, list[int]] = {}
        for breach in breaches:
            r = row_of[breach.account]
            by_model.setdefault(grouped.models[r], []).append(r)
        touched: set[str] = set()
        plan: list[dict[str, Any]] = []
        outcomes: dict[str, dict[str, Any]] = {}
        totals: dict[str, float] = {}
        priced = context.market.priced
        for model, rows in sorted(by_model.items()):
            runtime = context.runtimes[model]
            multiplier = context.multipliers.get(model)
            margin = PreparedMargin(
                runtime.model,
                runtime.prepared(priced, context.market_version),
                priced,
                str(getattr(getattr(runtime.params, "params_id", None), "label", model)),
                # the requirements the engine breached the unit on: the multiplier in force
                initial_factor=1.0 if multiplier is None else multiplier.initial,
                maintenance_factor=1.0 if multiplier is None else multiplier.maintenance,
            )
            outcome = liquidate_prepared(
                grouped.accounts,
                margin,
                policy=self.policy,
                config=self.config,
                rows=np.asarray(sorted(rows), dtype=np.intp),
                insurance_fund_units=self.ledger.balances(INSURANCE),
            )
            if not outcome.liquidated:
                continue
            steps = plan_booking(outcome)
            if steps:
                plan.append(
                    {
                        "run_id": steps[0].step_id.split(":")[0],
                        "steps": [_step_json(step) for step in steps],
                    }
                )
            touched |= _touched(outcome)
            for key, value in _totals(outcome, priced.instruments, priced).items():
                totals[key] = totals.get(key, 0.0) + value
            for account in outcome.liquidated:
                outcomes[account.account] = {
                    "action": account.action.value,
                    "steps": len(account.steps),
                    "deficit_usd": account.deficit_usd,
                    "insurance_covered_usd": account.insurance_covered_usd,
                    "adl_covered_usd": account.adl_covered_usd,
                    "socialized_usd": account.socialized_usd,
                }
        # the booking settles variation margin and draws cash across a unit's cross family:
        # every member of a touched unit changes on the ledger
        accounts = grouped.accounts
        index = {a: i for i, a in enumerate(accounts.accounts)}
        groups = grouped.groups
        for name in list(touched):
            i = index.get(name)
            if i is not None:
                members = groups.members(int(groups.group_of[i])).tolist()
                touched |= {accounts.accounts[m] for m in members}
        return LiquidationReport(tuple(sorted(touched)), outcomes, totals, tuple(plan))

    def execute(self, plan: Sequence[Mapping[str, Any]], market: MarketSnapshot) -> None:
        """Book every step of ``plan`` not booked yet, in order, many steps per transaction
        (:func:`~solvent.liquidation.booking.book_steps`: a crash leaves the ledger before or
        after each whole batch of whole steps), after settling the variation margin of the
        accounts it touches (the planner counts their P&L since entry as cash:
        :func:`~solvent.liquidation.booking.settle_variation_margin`). A step the ledger
        refuses raises :class:`~solvent.errors.PlanRefusedError` (exit 3), not an input error:
        the plan is the engine's own."""
        for run in plan:
            steps = [_step_from_json(raw) for raw in run["steps"]]
            run_id = str(run["run_id"])
            touched = {s.account for s in steps}
            try:
                settle_variation_margin(self.ledger, touched, market, f"vm:{run_id}")
                book_steps(self.ledger, gains_first(self.ledger, steps, market), market, run_id)
            except SolventInputError as refusal:  # the engine's own plan: not the user's input
                raise PlanRefusedError(
                    "liquidation",
                    f"the ledger refused a step of run {run_id} that the planner decided "
                    f"(planner and ledger disagree; the steps before it are booked, the ledger "
                    f"is consistent): {refusal}",
                ) from refusal


def _step_json(step: LedgerStep) -> dict[str, Any]:
    """A ledger step as JSON (decimals as strings, exact)."""
    return {
        "step_id": step.step_id,
        "seq": step.seq,
        "kind": step.kind.value,
        "account": step.account,
        "against": step.against,
        "instrument": step.instrument,
        "quantity": None if step.quantity is None else str(step.quantity),
        "price": None if step.price is None else str(step.price),
        "source": step.source,
        "destination": step.destination,
        "asset": step.asset,
        "units": step.units,
    }


def _step_from_json(raw: Mapping[str, Any]) -> LedgerStep:
    return LedgerStep(
        step_id=str(raw["step_id"]),
        seq=int(raw["seq"]),
        kind=BookingKind(raw["kind"]),
        account=str(raw["account"]),
        against=str(raw["against"]),
        instrument=raw["instrument"],
        quantity=None if raw["quantity"] is None else Decimal(raw["quantity"]),
        price=None if raw["price"] is None else Decimal(raw["price"]),
        source=raw["source"],
        destination=raw["destination"],
        asset=raw["asset"],
        units=None if raw["units"] is None else int(raw["units"]),
    )


def _touched(outcome: LiquidationOutcome) -> set[str]:
    accounts = {a.account for a in outcome.liquidated}
    accounts |= {s.account for a in outcome.liquidated for s in a.steps}
    accounts |= {f.account for f in outcome.adl}
    accounts |= {c.account for c in outcome.socialized}
    accounts |= {t.source for t in outcome.transfers} | {t.destination for t in outcome.transfers}
    return {a for a in accounts if not a.startswith("@")}


def _totals(
    outcome: LiquidationOutcome, instruments: Sequence[str], priced: Any
) -> dict[str, float]:
    column = {n: j for j, n in enumerate(instruments)}
    table = priced.table
    volume = slippage = fees = 0.0
    deficit = sum(a.deficit_usd for a in outcome.liquidated)
    insured = sum(a.insurance_covered_usd for a in outcome.liquidated)
    adl = sum(a.adl_covered_usd for a in outcome.liquidated)
    for account in outcome.liquidated:
        for step in account.steps:
            j = column[step.instrument]
            volume += abs(
                step.quantity
                * step.price
                * table.contract_size[j]
                * (priced.settlement_usd[j] if table.is_option[j] else 1.0)
            )
            if step.kind is not StepKind.BANKRUPTCY:  # its gap to the mark is the deficit
                slippage += step.slippage_usd
            fees += step.fee_usd
    return {
        "volume_usd": volume,
        "slippage_usd": slippage,
        "fees_usd": fees,
        "adl_events": float(len(outcome.adl)),
        "socialized_loss_usd": float(outcome.socialized_loss_usd),
        "deficit_usd": float(deficit),
        "insurance_covered_usd": float(insured),
        "adl_covered_usd": float(adl),
    }
