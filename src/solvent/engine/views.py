"""JSON views of engine results: the one place that decides what a result looks like on the wire.

Every edge renders through here (the CLI today, the HTTP API next), so an endpoint is "parse ->
engine -> view" and the shapes of docs/formats.md are written once. A view returns plain Python
objects (``dict``, ``list``, ``str``, ``float``, ``int``, ``None``) ready for ``json.dumps``;
it never prints.

- :func:`margin_json`: ``solvent margin`` (docs/formats.md 3) of a whole :class:`MarginRun`, built
  from its arrays (each group's pools rendered once, however many accounts share them);
- :func:`report_to_json`: one account's :class:`MarginReport`;
- :func:`pool_json`: one :class:`PoolMargin`;
- :func:`priced_to_json`: ``solvent price`` (docs/formats.md 4).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from solvent.engine.margin import MarginReport, MarginRun
    from solvent.engine.pricing import PricedInstruments
    from solvent.margin.result import AccountMargin, PoolMargin


def pool_json(pool: PoolMargin, explain: bool = False) -> dict[str, Any]:
    """One margin pool: currency, IM, MM, components, worst scenario (where the model has one),
    risk measures (where it reports them); ``explain`` adds every scenario's P&L and each
    position's contribution."""
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


def _account_json(
    account: str,
    margin: AccountMargin,
    pools: list[dict[str, Any]],
    collateral_value_usd: float,
    equity_usd: float,
    margin_ratio: float | None,
    option_value_usd: float,
) -> dict[str, Any]:
    return {
        "account": account,
        "model": margin.model,
        "parameters": margin.parameters,
        "pools": pools,
        "initial_margin_usd": margin.initial_margin_usd,
        "maintenance_margin_usd": margin.maintenance_margin_usd,
        "collateral_value_usd": collateral_value_usd,
        "equity_usd": equity_usd,
        "margin_ratio": margin_ratio,
        "option_value_usd": option_value_usd,
    }


def report_to_json(report: MarginReport, explain: bool = False) -> dict[str, Any]:
    """docs/formats.md 3 rendering of one account's result (optional fields where they apply)."""
    out = _account_json(
        report.account,
        report.margin,
        [pool_json(p, explain) for p in report.margin.pools],
        report.collateral.value_usd,
        report.equity_usd,
        report.margin_ratio,
        report.option_value_usd,
    )
    if len(report.members) > 1:
        out["margin_group"] = report.margin_group or report.account
        out["group_members"] = list(report.members)
    return out


def margin_accounts_json(run: MarginRun, explain: bool = False) -> list[dict[str, Any]]:
    """Every account's docs/formats.md 3 result, in input order (the same objects
    :func:`report_to_json` gives account by account, built from the run's arrays)."""
    detail = run.detail
    group_of = run.groups.group_of.tolist()
    size = run.groups.size.tolist()
    collateral = run.equity.collateral_value_usd.tolist()
    equity = run.equity.equity_usd.tolist()
    positions = run.equity.position_value_usd.tolist()
    ratio = [None if math.isnan(r) else r for r in run.margin_ratio.tolist()]
    tops = run.book.accounts
    pools: dict[int, list[dict[str, Any]]] = {}
    members: dict[int, list[str]] = {}
    out = []
    for i, account in enumerate(run.accounts):
        g = group_of[i]
        m = detail[g]
        group_pools = pools.get(g)
        if group_pools is None:
            group_pools = [pool_json(p, explain) for p in m.pools]
            if size[g] > 1:
                pools[g] = group_pools
        entry = _account_json(
            account, m, group_pools, collateral[g], equity[g], ratio[g], positions[g]
        )
        if size[g] > 1:
            if g not in members:
                members[g] = list(run.members(g))
            entry["margin_group"] = tops[g]
            entry["group_members"] = members[g]
        out.append(entry)
    return out


def margin_json(run: MarginRun, explain: bool = False, *, is_book: bool = True) -> dict[str, Any]:
    """``solvent margin`` output: ``{"accounts": [...]}`` for a book, the one account's object
    for a portfolio (docs/formats.md 3)."""
    accounts = margin_accounts_json(run, explain)
    return {"accounts": accounts} if is_book else accounts[0]


def _nullable(x: float) -> float | None:
    return None if math.isnan(x) else x


def priced_to_json(as_of: str, priced: PricedInstruments) -> dict[str, Any]:
    """docs/formats.md 4 ``solvent price`` output (``delta_coin`` only where it applies)."""
    rows: list[dict[str, Any]] = []
    for i, name in enumerate(priced.table.names):
        row: dict[str, Any] = {
            "name": name,
            "mark_price": float(priced.mark_price[i]),
            "mark_price_usd": float(priced.mark_price_usd[i]),
            "mark_iv": _nullable(float(priced.mark_iv[i])),
            "forward": float(priced.forward[i]),
            "delta": float(priced.delta[i]),
            "gamma": float(priced.gamma[i]),
            "vega": float(priced.vega[i]),
            "theta": float(priced.theta[i]),
        }
        if not math.isnan(priced.delta_coin[i]):
            row["delta_coin"] = float(priced.delta_coin[i])
        rows.append(row)
    return {"as_of": as_of, "instruments": rows}
