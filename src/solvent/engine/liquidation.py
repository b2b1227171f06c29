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

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
import scipy.sparse as sp

from solvent.accounts.equity import book_equity, entry_pnl_amounts
from solvent.arrays import FloatArray, IntArray
from solvent.collateral.assets import MAX_UNITS, default_assets
from solvent.errors import SolventInputError
from solvent.executors import Executor
from solvent.liquidation.config import LiquidationConfig
from solvent.liquidation.deleverage import BookState, deleverage, socialize
from solvent.liquidation.outcome import (
    AccountOutcome,
    Action,
    AdlFill,
    InsuranceFundFlow,
    LiquidationOutcome,
    LiquidationStep,
    SocializedCharge,
)
from solvent.liquidation.policy import LiquidationPolicy, get_policy
from solvent.liquidation.units import LiquidationUnits, PreparedMargin
from solvent.liquidation.waterfall import BankruptcyFlows, InsuranceFund, close_bankrupt
from solvent.margin.protocol import Detail, PricedMarket
from solvent.margin.registry import get_model, resolve_alias
from solvent.margin.sharded import margin_sharded
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.account_book import AccountBook
from solvent.portfolio.book import Book, EntryCosts
from solvent.validation import number_in_range

MAX_FUND_USD = 1e13
"""Largest starting insurance fund accepted (USD)."""

MAX_FUND_UNITS = MAX_UNITS // 4
"""Largest starting insurance fund in base units of the fund asset: the planner's cash columns
are int64, with room for the run's flows on top (1e13 USD of a 6-decimal stablecoin would be
1e19 base units, beyond int64)."""


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
    insurance_fund_units: Mapping[str, int] | None = None,
) -> LiquidationOutcome:
    """:func:`liquidate_accounts` with the model already prepared (the real-time loop's path):
    ``margin`` may be prepared for any instruments that include the book's. ``rows``: the margin
    groups to consider (``accounts.groups()`` order; default all); only those below their
    maintenance margin are liquidated. With an ``executor`` the screening margin of the whole
    book (step 2) runs on it in shards (docs/scale-out.md), with the same result bit for bit;
    the policy's re-margins of the few liquidated units stay in this process.
    ``insurance_fund_units``: the fund's exact holdings, base units per asset (the ledger's
    ``@insurance`` balances: fees collected in coins included); when given it replaces
    ``insurance_fund_usd`` (which is ``fund_asset`` only)."""
    groups = accounts.groups()
    book, group_balances = accounts.group_book(groups)
    book = _on_prepared_columns(book, margin.market.instruments)
    held = {a: int(u) for a, u in (insurance_fund_units or {}).items() if int(u) > 0}
    assets = _assets(accounts, margin.market, config, tuple(held))
    balances = np.zeros((len(groups), len(assets)), dtype=np.float64)
    balances[:, [assets.index(a) for a in accounts.assets]] = group_balances
    if book.entry is not None:
        # unrealized P&L since entry settled into the balances: positions are then at the mark
        settled, amounts = entry_pnl_amounts(book.entry, margin.market)
        for k, asset in enumerate(settled):
            balances[:, assets.index(asset)] += amounts[:, k]
    if executor is None:
        maintenance, initial = margin.totals(book.accounts, book.quantities)
    else:
        screened = margin_sharded(
            margin.model, margin.prepared, book, detail=Detail.TOTALS, executor=executor
        )
        maintenance, initial = margin.in_force(
            screened.maintenance_margin_usd, screened.initial_margin_usd
        )
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
    if insurance_fund_units is None:
        fund_units = round(insurance_fund_usd * float(units.ledger.scale[fund_col]))
        if fund_units > MAX_FUND_UNITS:  # the planner's cash is int64 base units, with room
            raise SolventInputError(
                "insurance_fund",
                f"{insurance_fund_usd:g} USD is {fund_units} base units of {config.fund_asset}, "
                f"beyond the ledger's limit of {MAX_FUND_UNITS}",
            )
        fund_start[fund_col] = fund_units
    for asset, amount in held.items():
        fund_start[assets.index(asset)] = amount
    fund = InsuranceFund(units, fund_start)
    start_usd = fund.value_usd
    policy.liquidate(units)
    fees_in = float(units.fee_usd.sum())
    flows = BankruptcyFlows.zeros(len(liq_rows))
    needs = close_bankrupt(units, fund, flows)
    state = BookState(
        names=book.accounts,
        quantities=book.quantities,
        entry_price=_entry_prices(book, units.pricing.mark),
        balances=balances,
        equity_usd=equity.copy(),
        maintenance_usd=maintenance.copy(),
        excluded=below,
        cash=np.zeros((len(groups), len(assets)), dtype=np.int64),
    )
    fills = deleverage(units, state, needs, flows.adl) if needs.rows else []
    charges = socialize(units, state, needs, flows) if needs.rows else []
    return _outcome(
        accounts,
        groups.group_of,
        liq_rows,
        units,
        flows,
        policy.name,
        margin,
        InsuranceFundFlow(start_usd, fund.value_usd, fees_in, float(flows.insurance.sum())),
        (equity, maintenance, initial),
        state,
        (tuple(fills), tuple(charges)),
    )


def _on_prepared_columns(book: Book, instruments: tuple[str, ...]) -> Book:
    """``book`` with the prepared ``instruments`` as its columns (a caller may prepare the model
    for more instruments than the book holds, e.g. the whole market of a real-time loop). A column
    of ``book`` that holds nothing (no quantity, no entry cost: a position closed since) may be
    missing from ``instruments``: it is dropped."""
    if book.instruments == instruments:
        return book
    column = {name: j for j, name in enumerate(instruments)}
    matrices = [book.quantities] if book.entry is None else [book.quantities, book.entry.cost]
    held = np.zeros(len(book.instruments), dtype=bool)
    for matrix in matrices:
        held[np.asarray(matrix.indices)[np.asarray(matrix.data) != 0]] = True
    missing = [n for j, n in enumerate(book.instruments) if n not in column and held[j]]
    if missing:
        raise SolventInputError("instruments", f"not in the prepared market: {missing[0]!r}")
    remap = np.asarray([column.get(n, -1) for n in book.instruments], dtype=np.intp)
    shape = (len(book), len(instruments))

    def move(matrix: sp.csr_array) -> sp.csr_array:
        q = matrix.tocoo()
        kept = remap[q.col] >= 0
        return sp.csr_array((q.data[kept], (q.row[kept], remap[q.col[kept]])), shape=shape)

    entry = None
    if book.entry is not None:
        entry = EntryCosts(move(book.entry.quantity), move(book.entry.cost))
    return Book(book.accounts, instruments, move(book.quantities), entry)


def _entry_prices(book: Book, mark: FloatArray) -> sp.csr_array | None:
    """Average entry price of every stored position of ``book`` (same sparsity as its
    quantities; NaN where no position in it has an entry price), or ``None`` without any.

    ``mark`` (each column's mark, in its price unit) prices the positions that have no entry
    price: they count as entered at the mark (no P&L), so a column that mixes both averages
    ``(cost + (quantity - quantity with an entry) x mark) / quantity``. The P&L on the whole
    quantity at that average is the P&L of the positions with an entry price alone (long 2
    without an entry and short 1 entered at 3,500, mark 4,000: average 4,500, P&L -500).
    """
    if book.entry is None:
        return None
    q = book.quantities
    rows = np.repeat(np.arange(q.shape[0]), np.diff(q.indptr))
    cols = np.asarray(q.indices)
    total = np.asarray(q.data, dtype=np.float64)
    held = np.asarray(book.entry.quantity[rows, cols], dtype=np.float64).reshape(-1)
    cost = np.asarray(book.entry.cost[rows, cols], dtype=np.float64).reshape(-1)
    blended = cost + (total - held) * mark[cols]
    usable = (held != 0) & (total != 0)
    average = np.where(usable, blended / np.where(usable, total, 1.0), np.nan)
    return sp.csr_array((average, q.indices.copy(), q.indptr.copy()), shape=q.shape)


def _assets(
    accounts: AccountBook,
    market: PricedMarket,
    config: LiquidationConfig,
    fund_holds: tuple[str, ...] = (),
) -> tuple[str, ...]:
    """Balance columns of a run: the book's assets, every settlement asset, the fund asset and
    every asset the fund holds."""
    registry = default_assets()
    registry.get(config.fund_asset, "fund_asset")
    for asset in fund_holds:
        registry.get(asset, "insurance_fund")
    return tuple(
        sorted({*accounts.assets, *market.table.settlement_assets, config.fund_asset, *fund_holds})
    )


def _outcome(
    accounts: AccountBook,
    group_of: IntArray,
    liq_rows: IntArray,
    units: LiquidationUnits,
    flows: BankruptcyFlows,
    policy: str,
    margin: PreparedMargin,
    fund: InsuranceFundFlow,
    health: tuple[FloatArray, FloatArray, FloatArray],
    state: BookState,
    waterfall: tuple[tuple[AdlFill, ...], tuple[SocializedCharge, ...]],
) -> LiquidationOutcome:
    unit_of_group = np.full(int(group_of.max(initial=-1)) + 1, -1, dtype=np.int64)
    unit_of_group[liq_rows] = np.arange(liq_rows.size, dtype=np.int64)
    results: list[AccountOutcome] = []
    equity, maintenance = health[0].tolist(), health[1].tolist()
    targets = units.target_of(health[1], health[2]).tolist()
    unit_targets = units.target_usd
    multi = (np.bincount(group_of, minlength=len(unit_of_group)) > 1).tolist()
    member_steps = _split_members(accounts, group_of, liq_rows, units, multi)
    unit_of = unit_of_group[group_of].tolist()
    for name, r, g in zip(accounts.accounts, unit_of, group_of.tolist(), strict=True):
        if r < 0:
            results.append(
                AccountOutcome(name, Action.NONE, (), equity[g], maintenance[g], targets[g])
            )
            continue
        steps = member_steps.get(name, ()) if multi[g] else tuple(units.steps[r])
        results.append(
            AccountOutcome(
                account=name,
                action=_action(units, r, flows),
                steps=steps,
                equity_before_usd=float(units.equity_before_usd[r]),
                maintenance_margin_before_usd=float(units.maintenance_before_usd[r]),
                target_usd=float(unit_targets[r]),
                deficit_usd=float(flows.deficit[r]),
                insurance_covered_usd=float(flows.insurance[r]),
                adl_covered_usd=float(flows.adl[r]),
                socialized_usd=float(flows.socialized[r]),
                uncovered_usd=float(flows.uncovered[r]),
            )
        )
    ledger = units.ledger
    conservation = ledger.units.sum(axis=0) + ledger.fund + ledger.venue + state.cash.sum(axis=0)
    balances_after = np.zeros((len(accounts), len(units.assets)), dtype=np.float64)
    balances_after[:, [units.assets.index(a) for a in accounts.assets]] = accounts.collateral
    own_book = _on_prepared_columns(accounts.account_book(), margin.market.instruments)
    if own_book.entry is not None:  # the run's balances carry the P&L since entry
        settled, amounts = entry_pnl_amounts(own_book.entry, margin.market)
        for k, asset in enumerate(settled):
            balances_after[:, units.assets.index(asset)] += amounts[:, k]
    index = {name: i for i, name in enumerate(accounts.accounts)}
    tops = np.asarray([index[n] for n in units.names], dtype=np.int64)
    if tops.size:
        balances_after[tops] += ledger.coins(ledger.units)
    groups_tops = np.asarray([index[n] for n in state.names], dtype=np.int64)
    balances_after[groups_tops] += ledger.coins(state.cash)
    return LiquidationOutcome(
        policy=policy,
        model=margin.model.name,
        parameters=margin.parameters,
        accounts=tuple(results),
        insurance_fund=fund,
        adl=waterfall[0],
        socialized=waterfall[1],
        socialized_loss_usd=float(flows.socialized.sum()),
        transfers=tuple(ledger.transfers),
        conservation={a: int(conservation[j]) for j, a in enumerate(units.assets)},
        assets=units.assets,
        balances_after=balances_after,
    )


def _split_members(
    accounts: AccountBook,
    group_of: IntArray,
    liq_rows: IntArray,
    units: LiquidationUnits,
    multi: list[bool],
) -> dict[str, tuple[LiquidationStep, ...]]:
    """Steps of the liquidated cross groups, account by account: a group's trade in an
    instrument is shared among its members holding it on the side of the group's position when
    the run began, pro rata to their quantities (so no member trades more than it holds, and a
    member on the other side of the netted position is not traded). Amounts in USD (slippage,
    fee, relief, cost) are shared the same way; the margin and equity after are the group's."""
    out: dict[str, list[LiquidationStep]] = {}
    instruments = {name: j for j, name in enumerate(units.market.instruments)}
    for r, g in enumerate(liq_rows.tolist()):
        if not multi[g]:
            continue
        held = np.flatnonzero(group_of[accounts.position_account] == g)
        for step in units.steps[r]:
            j = instruments[step.instrument]
            net = units.start[r, j]
            code = accounts.instruments.index(step.instrument)
            mine = held[accounts.position_instrument[held] == code]
            qty = accounts.position_quantity[mine]
            same = np.sign(qty) == np.sign(net)
            mine, qty = mine[same], qty[same]
            total = float(qty.sum())
            by_account: dict[int, float] = {}
            for a, q in zip(accounts.position_account[mine].tolist(), qty.tolist(), strict=True):
                by_account[a] = by_account.get(a, 0.0) + q / total
            for a, share in by_account.items():
                out.setdefault(accounts.accounts[a], []).append(
                    dataclasses.replace(
                        step,
                        account=accounts.accounts[a],
                        quantity=step.quantity * share,
                        slippage_usd=step.slippage_usd * share,
                        fee_usd=step.fee_usd * share,
                        relief_usd=step.relief_usd * share,
                        cost_usd=step.cost_usd * share,
                    )
                )
    return {name: tuple(steps) for name, steps in out.items()}


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
            "uncovered_usd": a.uncovered_usd,
        }
    return out
