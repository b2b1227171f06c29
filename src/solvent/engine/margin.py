"""The margin pipeline every interface calls: portfolios + market -> margin results (FORMATS.md 3).

Steps: group cross sub-accounts with their parent (one portfolio, shared collateral), build the
sparse book, run the model over the whole book, value each group's collateral with haircuts, and
assemble per-account results with USD totals.

Definitions (docs/glossary.md): ``collateral_value_usd`` is the haircut value of the collateral
(debts counted in full); ``equity_usd`` is that plus the mark-to-market of option positions (long
options add their value, short options subtract it; futures and perpetuals carry no entry price in
a portfolio, so their unrealized P&L is taken as already settled into the collateral);
``margin_ratio = maintenance_margin_usd / equity_usd`` (``None`` when equity is not positive).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from solvent.collateral.valuation import CollateralValuation, value_collateral
from solvent.margin.protocol import Detail, PricedMarket
from solvent.margin.registry import get_model, resolve_alias
from solvent.margin.result import AccountMargin, PoolMargin
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.book import Book
from solvent.portfolio.groups import merge_cross_groups
from solvent.portfolio.portfolio import Portfolio


@dataclass(frozen=True, slots=True)
class MarginReport:
    """One account's result: the model's requirement and the account's collateral and equity.

    ``margin_group`` names the account whose portfolio this one was margined with (its cross
    parent), or ``None`` when it was margined on its own (or is the parent).
    """

    account: str
    margin: AccountMargin
    collateral: CollateralValuation
    option_value_usd: float
    equity_usd: float
    margin_ratio: float | None
    margin_group: str | None
    members: tuple[str, ...]


def margin_portfolios(
    portfolios: Sequence[Portfolio],
    market: MarketSnapshot,
    model: str = "standard",
    params: str | None = None,
    *,
    explain: bool = False,
) -> list[MarginReport]:
    """Margin every portfolio (FORMATS.md 2) under ``model``; results in input order."""
    margin_model = get_model(resolve_alias(model, params))
    loaded = margin_model.load_params(params)
    merged, group_of = merge_cross_groups(portfolios)
    book = Book.from_portfolios(merged)
    priced = PricedMarket.resolve(market, book.instruments)
    prepared = margin_model.prepare(priced, book.instruments, loaded)
    result = margin_model.margin(
        prepared, book, detail=Detail.EXPLAIN if explain else Detail.ACCOUNTS
    )
    assert result.detail is not None
    table, cols = priced.table, priced.columns
    mark_usd = np.where(
        table.is_option & table.is_inverse, cols.mark_price * cols.forward, cols.mark_price
    )
    option_value = np.asarray(book.quantities @ np.where(table.is_option, mark_usd, 0.0))
    valuations = [value_collateral(dict(p.collateral), market) for p in merged]
    reports = []
    for i, p in enumerate(portfolios):
        g = group_of[i]
        top = merged[g]
        equity = valuations[g].value_usd + float(option_value[g])
        mm = result.detail[g].maintenance_margin_usd
        members = tuple(q.account for k, q in enumerate(portfolios) if group_of[k] == g)
        reports.append(
            MarginReport(
                account=p.account,
                margin=result.detail[g],
                collateral=valuations[g],
                option_value_usd=float(option_value[g]),
                equity_usd=equity,
                margin_ratio=mm / equity if equity > 0 else None,
                margin_group=top.account if top.account != p.account else None,
                members=members,
            )
        )
    return reports


margin = margin_portfolios
"""The Python API's name for :func:`margin_portfolios`: ``margin(book, market, model, params)``."""


def _pool_json(pool: PoolMargin, explain: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "currency": pool.currency,
        "initial_margin": pool.initial_margin,
        "maintenance_margin": pool.maintenance_margin,
        "components": dict(pool.components),
    }
    if pool.worst_scenario is not None:
        out["worst_scenario"] = {
            "index": pool.worst_scenario.index,
            "label": pool.worst_scenario.label,
        }
    if pool.risk_measures is not None:
        out["risk_measures"] = dict(pool.risk_measures)
    if explain:
        out.setdefault("worst_scenario", None)
        out["scenarios"] = [{"label": label, "pnl": pnl} for label, pnl in pool.scenarios or ()]
        contributions = []
        for c in pool.contributions or ():
            entry: dict[str, Any] = {"instrument": c.instrument, "quantity": c.quantity}
            if c.pnl is not None:
                entry["pnl"] = c.pnl
            if c.initial_margin is not None:
                entry["initial_margin"] = c.initial_margin
            contributions.append(entry)
        out["contributions"] = contributions
    return out


def report_to_json(report: MarginReport, explain: bool = False) -> dict[str, Any]:
    """FORMATS.md 3 rendering of one account's result (optional fields only where they apply)."""
    m = report.margin
    out: dict[str, Any] = {
        "account": report.account,
        "model": m.model,
        "parameters": m.parameters,
        "pools": [_pool_json(p, explain) for p in m.pools],
        "initial_margin_usd": m.initial_margin_usd,
        "maintenance_margin_usd": m.maintenance_margin_usd,
        "collateral_value_usd": report.collateral.value_usd,
        "equity_usd": report.equity_usd,
        "margin_ratio": report.margin_ratio,
        "option_value_usd": report.option_value_usd,
    }
    if len(report.members) > 1:
        out["margin_group"] = report.margin_group or report.account
        out["group_members"] = list(report.members)
    return out
