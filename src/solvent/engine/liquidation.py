"""The liquidation pipeline (``solvent liquidate``, the real-time loop, the HTTP API).

1. group the book into margin units and prepare the model once (:class:`PreparedMargin`);
2. margin every unit (one call) and value its equity: the units with equity < MM are liquidated
   (or only ``rows`` of them, for a caller that already knows which);
3. the policy drives those units (:mod:`solvent.liquidation.policy`);
4. the waterfall takes the bankrupt ones (:mod:`solvent.liquidation.waterfall`);
5. the outcome: every account in input order, the insurance fund, ADL fills, socialized
   charges, every transfer and the conservation per asset (docs/formats.md 10).

A healthy unit is never traded by its own liquidation; it can only be an ADL counterparty or pay
a socialized share, within the limits of the waterfall.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from solvent.accounts.equity import book_equity
from solvent.arrays import FloatArray, IntArray
from solvent.collateral.assets import default_assets
from solvent.executors import Executor
from solvent.liquidation.config import LiquidationConfig
from solvent.liquidation.outcome import (
    AccountOutcome,
    Action,
    InsuranceFundFlow,
    LiquidationOutcome,
)
from solvent.liquidation.policy import LiquidationPolicy, get_policy
from solvent.liquidation.units import LiquidationUnits, PreparedMargin
from solvent.liquidation.waterfall import BankruptcyFlows, InsuranceFund, close_bankrupt
from solvent.margin.protocol import Detail, PricedMarket
from solvent.margin.registry import get_model, resolve_alias
from solvent.margin.sharded import margin_sharded
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.account_book import AccountBook
from solvent.validation import number_in_range

MAX_FUND_USD = 1e13
"""Largest starting insurance fund accepted (USD)."""


def prepare_margin(
    accounts: AccountBook,
    market: MarketSnapshot,
    model: str = "standard",
    params: str | None = None,
) -> PreparedMargin:
    """Load the parameters, resolve the market for the book's margin groups and prepare the
    model once."""
    margin_model = get_model(resolve_alias(model, params))
    groups = accounts.groups()
    book, _ = accounts.group_book(groups)
    loaded = margin_model.load_params(params)
    priced = PricedMarket.resolve(market, book.instruments)
    prepared = margin_model.prepare(priced, book.instruments, loaded)
    label = getattr(getattr(loaded, "params_id", None), "label", margin_model.name)
    return PreparedMargin(margin_model, prepared, priced, str(label))


def liquidate_accounts(
    accounts: AccountBook,
    market: MarketSnapshot,
    model: str = "standard",
    params: str | None = None,
    *,
    policy: str | LiquidationPolicy = "partial",
    config: LiquidationConfig | None = None,
    insurance_fund_usd: float = 0.0,
    executor: Executor | None = None,
) -> LiquidationOutcome:
    """Liquidate every account of ``accounts`` below its maintenance margin (module docstring).
    Raises :class:`~solvent.errors.SolventInputError` for bad input, before anything moves.
    ``executor``: see :func:`liquidate_prepared`."""
    chosen = get_policy(policy) if isinstance(policy, str) else policy
    config = config if config is not None else LiquidationConfig()
    fund = number_in_range(insurance_fund_usd, "insurance_fund", 0.0, MAX_FUND_USD)
    margin = prepare_margin(accounts, market, model, params)
    return liquidate_prepared(
        accounts, margin, policy=chosen, config=config, insurance_fund_usd=fund, executor=executor
    )


def liquidate_prepared(
    accounts: AccountBook,
    margin: PreparedMargin,
    *,
    policy: LiquidationPolicy,
    config: LiquidationConfig,
    insurance_fund_usd: float = 0.0,
    rows: IntArray | None = None,
    executor: Executor | None = None,
) -> LiquidationOutcome:
    """:func:`liquidate_accounts` with the model already prepared for the book's groups (the
    real-time loop's path). ``rows``: the margin groups to consider (default: all); only those
    below their maintenance margin are liquidated. With an ``executor`` the screening margin of
    the whole book (step 2) runs on it in shards (docs/scale-out.md), with the same result bit for
    bit; the policy's re-margins of the few liquidated units stay in this process."""
    groups = accounts.groups()
    book, group_balances = accounts.group_book(groups)
    if book.instruments != margin.market.instruments:
        raise ValueError("the prepared margin is not for this book's instruments")
    assets = _assets(accounts, margin.market, config)
    balances = np.zeros((len(groups), len(assets)), dtype=np.float64)
    balances[:, [assets.index(a) for a in accounts.assets]] = group_balances
    if executor is None:
        maintenance, _ = margin.totals(book.accounts, book.quantities)
    else:
        screened = margin_sharded(
            margin.model, margin.prepared, book, detail=Detail.TOTALS, executor=executor
        )
        maintenance = np.asarray(screened.maintenance_margin_usd, dtype=np.float64)
    equity = np.asarray(
        book_equity(balances, assets, book.quantities, margin.market).equity_usd, dtype=np.float64
    )
    below = equity < maintenance
    if rows is not None:
        keep = np.zeros(len(groups), dtype=bool)
        keep[rows] = True
        below &= keep
    liq_rows = np.flatnonzero(below).astype(np.int64)
    dense = (
        book.quantities[liq_rows].toarray()
        if liq_rows.size
        else np.zeros((0, len(book.instruments)))
    )
    units = LiquidationUnits(
        tuple(book.accounts[r] for r in liq_rows.tolist()),
        margin,
        config,
        assets,
        balances[liq_rows],
        np.asarray(dense, dtype=np.float64),
    )
    fund_start = np.zeros(len(assets), dtype=np.int64)
    fund_col = assets.index(config.fund_asset)
    fund_start[fund_col] = round(insurance_fund_usd * float(units.ledger.scale[fund_col]))
    fund = InsuranceFund(units, fund_start)
    start_usd = fund.value_usd
    policy.liquidate(units)
    fees_in = float(units.fee_usd.sum())
    flows = BankruptcyFlows.zeros(len(liq_rows))
    close_bankrupt(units, fund, flows)
    return _outcome(
        accounts,
        groups.group_of,
        liq_rows,
        units,
        flows,
        policy.name,
        margin,
        InsuranceFundFlow(start_usd, fund.value_usd, fees_in, float(flows.insurance.sum())),
        (equity, maintenance),
    )


def _assets(
    accounts: AccountBook, market: PricedMarket, config: LiquidationConfig
) -> tuple[str, ...]:
    """Balance columns of a run: the book's assets, every settlement asset and the fund's."""
    default_assets().get(config.fund_asset, "fund_asset")
    return tuple(sorted({*accounts.assets, *market.table.settlement_assets, config.fund_asset}))


def _outcome(
    accounts: AccountBook,
    group_of: IntArray,
    liq_rows: IntArray,
    units: LiquidationUnits,
    flows: BankruptcyFlows,
    policy: str,
    margin: PreparedMargin,
    fund: InsuranceFundFlow,
    health: tuple[FloatArray, FloatArray],
) -> LiquidationOutcome:
    unit_of_group = np.full(int(group_of.max(initial=-1)) + 1, -1, dtype=np.int64)
    unit_of_group[liq_rows] = np.arange(liq_rows.size, dtype=np.int64)
    results: list[AccountOutcome] = []
    top = {name: i for i, name in enumerate(units.names)}
    for i, name in enumerate(accounts.accounts):
        r = int(unit_of_group[group_of[i]])
        if r < 0:
            g = int(group_of[i])
            eq, mm = float(health[0][g]), float(health[1][g])
            target = units.target_of(np.array([mm]), np.array([mm]))[0]
            results.append(AccountOutcome(name, Action.NONE, (), eq, mm, float(target)))
            continue
        steps = tuple(units.steps[r]) if top.get(name) == r else ()
        results.append(
            AccountOutcome(
                account=name,
                action=_action(units, r, flows),
                steps=steps,
                equity_before_usd=float(units.equity_before_usd[r]),
                maintenance_margin_before_usd=float(units.maintenance_before_usd[r]),
                target_usd=float(units.target_usd[r]),
                deficit_usd=float(flows.deficit[r]),
                insurance_covered_usd=float(flows.insurance[r]),
                adl_covered_usd=float(flows.adl[r]),
                socialized_usd=float(flows.socialized[r]),
            )
        )
    ledger = units.ledger
    conservation = ledger.units.sum(axis=0) + ledger.fund + ledger.venue
    balances_after = np.zeros((len(accounts), len(units.assets)), dtype=np.float64)
    balances_after[:, [units.assets.index(a) for a in accounts.assets]] = accounts.collateral
    tops = np.asarray([accounts.accounts.index(n) for n in units.names], dtype=np.int64)
    if tops.size:
        balances_after[tops] += ledger.coins(ledger.units)
    return LiquidationOutcome(
        policy=policy,
        model=margin.model.name,
        parameters=margin.parameters,
        accounts=tuple(results),
        insurance_fund=fund,
        adl=(),
        socialized=(),
        socialized_loss_usd=float(flows.socialized.sum()),
        transfers=tuple(ledger.transfers),
        conservation={a: int(conservation[j]) for j, a in enumerate(units.assets)},
        assets=units.assets,
        balances_after=balances_after,
    )


def _action(units: LiquidationUnits, row: int, flows: BankruptcyFlows) -> Action:
    if flows.deficit[row] > 0 or units.bankrupt[row]:
        return Action.BANKRUPT
    if not units.holds[row]:
        return Action.FULL
    return Action.PARTIAL if units.steps[row] else Action.NONE


def liquidation_json(outcome: LiquidationOutcome) -> dict[str, Any]:
    """docs/formats.md 10's ``solvent liquidate`` document (plus explanatory fields: each
    step's kind, relief, cost and reason; each account's deficit cover)."""
    fund = outcome.insurance_fund
    return {
        "policy": outcome.policy,
        "model": outcome.model,
        "parameters": outcome.parameters,
        "accounts": [_account_json(a) for a in outcome.accounts],
        "insurance_fund": {
            "start_usd": fund.start_usd,
            "end_usd": fund.end_usd,
            "fees_in_usd": fund.fees_in_usd,
            "deficits_covered_usd": fund.deficits_covered_usd,
        },
        "adl": [
            {
                "account": f.account,
                "instrument": f.instrument,
                "quantity": f.quantity,
                "price": f.price,
                "against": f.against,
                "loss_usd": f.loss_usd,
            }
            for f in outcome.adl
        ],
        "socialized_loss_usd": outcome.socialized_loss_usd,
        "socialized": [
            {
                "account": c.account,
                "asset": c.asset,
                "amount_usd": c.amount_usd,
                "against": c.against,
            }
            for c in outcome.socialized
        ],
        "conservation": dict(outcome.conservation),
    }


def _finite(x: float) -> float | None:
    return None if not np.isfinite(x) else float(x)


def _account_json(a: AccountOutcome) -> dict[str, Any]:
    out: dict[str, Any] = {
        "account": a.account,
        "action": a.action.value,
        "steps": [
            {
                "instrument": s.instrument,
                "quantity": s.quantity,
                "price": s.price,
                "slippage_usd": s.slippage_usd,
                "fee_usd": s.fee_usd,
                "maintenance_margin_after_usd": s.maintenance_margin_after_usd,
                "equity_after_usd": s.equity_after_usd,
                "kind": s.kind.value,
                "mark_price": s.mark_price,
                "relief_usd": s.relief_usd,
                "cost_usd": s.cost_usd,
                "reason": s.reason,
            }
            for s in a.steps
        ],
        "deficit_usd": a.deficit_usd,
    }
    if a.action is not Action.NONE:
        out |= {
            "equity_before_usd": _finite(a.equity_before_usd),
            "maintenance_margin_before_usd": _finite(a.maintenance_margin_before_usd),
            "target_usd": _finite(a.target_usd),
            "insurance_covered_usd": a.insurance_covered_usd,
            "adl_covered_usd": a.adl_covered_usd,
            "socialized_usd": a.socialized_usd,
        }
    return out
