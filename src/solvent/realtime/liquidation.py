"""Liquidation in the tick: the waterfall's planner on the tick's prepared state, booked.

:class:`WaterfallLiquidator` is the engine's :class:`~solvent.realtime.engine.Liquidator`: for the
units that are in liquidation at a tick it runs
:func:`solvent.engine.liquidation.liquidate_prepared` (the policy, bankruptcy closes, insurance
fund, ADL, socialization) with each model's prepared state of that tick (no second prepare),
books the outcome on the ledger with ``book`` (one idempotent ledger operation per step: a crash
leaves the ledger before or after each whole step),
and reports what it did: the accounts touched (reloaded by the engine), one JSON record per
liquidated unit, and the replay's totals (USD): ``liquidated``, ``bankrupt``, ``volume_usd`` (the
traded notional at fill prices), ``slippage_usd``, ``fees_usd``, ``adl_events``,
``socialized_loss_usd``.

Units are liquidated per model (a book whose accounts use several models gives one planner run per
model, each over that model's units; the others stay ADL counterparties of nobody in that run).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from solvent.engine.liquidation import liquidate_prepared
from solvent.ledger.store import Ledger
from solvent.liquidation.config import LiquidationConfig
from solvent.liquidation.outcome import Action, LiquidationOutcome
from solvent.liquidation.policy import LiquidationPolicy, get_policy
from solvent.liquidation.units import PreparedMargin
from solvent.market.snapshot import MarketSnapshot
from solvent.realtime.engine import Breach, LiquidationContext, LiquidationReport

Booker = Callable[[Ledger, LiquidationOutcome, MarketSnapshot], object]
"""Books an outcome on the ledger (every step its own idempotent operation)."""


class WaterfallLiquidator:
    """See the module docstring. ``fund_usd``: a callable giving the insurance fund's current
    value (USD), the planner's starting fund."""

    def __init__(
        self,
        ledger: Ledger,
        book: Booker,
        fund_usd: Callable[[], float],
        *,
        policy: str | LiquidationPolicy = "partial",
        config: LiquidationConfig | None = None,
    ) -> None:
        self.ledger = ledger
        self.book = book
        self.fund_usd = fund_usd
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
        outcomes: dict[str, dict[str, Any]] = {}
        totals: dict[str, float] = {}
        priced = context.market.priced
        for model, rows in sorted(by_model.items()):
            runtime = context.runtimes[model]
            margin = PreparedMargin(
                runtime.model,
                runtime.prepared(priced, context.market_version),
                priced,
                str(getattr(getattr(runtime.params, "params_id", None), "label", model)),
            )
            outcome = liquidate_prepared(
                grouped.accounts,
                margin,
                policy=self.policy,
                config=self.config,
                insurance_fund_usd=max(self.fund_usd(), 0.0),
                rows=np.asarray(sorted(rows), dtype=np.intp),
            )
            if not outcome.liquidated:
                continue
            self.book(self.ledger, outcome, context.market.snapshot)
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
        return LiquidationReport(tuple(sorted(touched)), outcomes, totals)


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
    for account in outcome.liquidated:
        for step in account.steps:
            j = column[step.instrument]
            volume += abs(
                step.quantity
                * step.price
                * table.contract_size[j]
                * (priced.settlement_usd[j] if table.is_option[j] else 1.0)
            )
            slippage += step.slippage_usd
            fees += step.fee_usd
    return {
        "liquidated": float(len(outcome.liquidated)),
        "bankrupt": float(sum(a.action is Action.BANKRUPT for a in outcome.liquidated)),
        "volume_usd": volume,
        "slippage_usd": slippage,
        "fees_usd": fees,
        "adl_events": float(len(outcome.adl)),
        "socialized_loss_usd": float(outcome.socialized_loss_usd),
    }
