"""JSON views of engine results: the one place that decides what a result looks like on the wire.

Every edge renders through here (the CLI today, the HTTP API next), so an endpoint is "parse ->
engine -> view" and the shapes of docs/formats.md are written once. A view returns plain Python
objects (``dict``, ``list``, ``str``, ``float``, ``int``, ``None``) ready for ``json.dumps``;
it never prints.

- :func:`margin_json`: ``solvent margin`` (docs/formats.md 3) of a whole :class:`MarginRun`, built
  from its arrays (each group's pools rendered once, however many accounts share them);
- :func:`report_to_json`: one account's :class:`MarginReport`;
- :func:`pool_json`: one :class:`PoolMargin`;
- :func:`priced_to_json`: ``solvent price`` (docs/formats.md 4);
- the ``solvent account`` results (docs/formats.md 9): :func:`health_json`, :func:`position_json`,
  :func:`transfer_json`, :func:`trade_json`, :func:`check_json`, :func:`account_json` and
  :func:`audit_json`. Ledger amounts are rendered as exact decimal strings in the asset's
  precision; USD figures as numbers.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from solvent.engine.external import external_by_account

if TYPE_CHECKING:
    from solvent.accounts.health import Health
    from solvent.accounts.service import AccountView, CheckResult, Receipt
    from solvent.collateral.assets import AssetRegistry
    from solvent.engine.margin import MarginReport, MarginRun
    from solvent.engine.pricing import PricedInstruments
    from solvent.ledger.model import PositionState
    from solvent.ledger.store import AuditReport, TradeRecord
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
    external = external_by_account(run)
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
        if i in external:
            entry["external"] = external[i]
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


# --- accounts and the ledger (docs/formats.md 9) ----------------------------------------------


def health_json(health: Health) -> dict[str, Any]:
    """A margin unit's health: state and USD figures (``margin_ratio`` is MM / equity)."""
    return {
        "state": health.state.value,
        "equity_usd": health.equity_usd,
        "collateral_value_usd": health.collateral_value_usd,
        "initial_margin_usd": health.initial_margin_usd,
        "maintenance_margin_usd": health.maintenance_margin_usd,
        "excess_usd": health.excess_usd,
        "margin_ratio": health.margin_ratio,
    }


def position_json(position: PositionState) -> dict[str, Any]:
    """One ledger position: signed quantity, average price and realized P&L (settlement asset)."""
    return {
        "instrument": position.instrument,
        "quantity": float(position.quantity),
        "average_price": float(position.average_price),
        "realized_pnl": float(position.realized_pnl),
    }


def _replay(ref: str | None, replayed: bool) -> dict[str, Any]:
    """``ref`` and ``replayed``, present when the client gave a reference."""
    return {} if ref is None else {"ref": ref, "replayed": replayed}


def transfer_json(
    account: str,
    asset: str,
    amount: str,
    receipt: Receipt,
    balance: str,
    *,
    health: Health | None = None,
    ref: str | None = None,
) -> dict[str, Any]:
    """A deposit (no ``health``) or a withdrawal: the amount as given, the operation and the
    asset's balance after it (exact decimal strings)."""
    return {
        "account": account,
        "asset": asset,
        "amount": amount.strip(),
        "operation": receipt.operation_id,
        "balance": balance,
        **({} if health is None else health_json(health)),
        **_replay(ref, receipt.replayed),
    }


def trade_json(
    account: str,
    instrument: str,
    quantity: float,
    price: float,
    booked: TradeRecord,
    assets: AssetRegistry,
    health: Health,
    *,
    ref: str | None = None,
) -> dict[str, Any]:
    """A booked fill: fee and realized P&L in the settlement asset (exact decimal strings), the
    position after it and the unit's health."""
    asset = assets.get(booked.position.settlement_asset)
    return {
        "account": account,
        "instrument": instrument,
        "quantity": quantity,
        "price": price,
        "operation": booked.operation_id,
        "fee": asset.format(booked.fee_units),
        "realized_pnl": asset.format(booked.realized_units),
        "settlement_asset": asset.symbol,
        "position": position_json(booked.position),
        **health_json(health),
        **_replay(ref, booked.replayed),
    }


def check_json(result: CheckResult) -> dict[str, Any]:
    """A pre-trade check: accepted or not, why, and the unit's figures after the orders."""
    return {
        "accepted": result.accepted,
        "reason": result.reason,
        "initial_margin_usd": result.health.initial_margin_usd,
        "maintenance_margin_usd": result.health.maintenance_margin_usd,
        "excess_usd": result.health.excess_usd,
        "equity_usd": result.health.equity_usd,
        "state": result.health.state.value,
    }


def account_json(view: AccountView, assets: AssetRegistry) -> dict[str, Any]:
    """``account show``: the account, its balances and positions, its margin unit's health and
    the assets the market could not price (counted for zero)."""
    return {
        "account": view.account.id,
        "parent": view.account.parent,
        "mode": None if view.account.mode is None else view.account.mode.value,
        "model": view.account.model,
        "margin_unit": list(view.unit),
        "balances": {a: assets.get(a).format(u) for a, u in sorted(view.balances.items())},
        "positions": [position_json(p) for p in view.positions],
        **health_json(view.health),
        "unpriced": list(view.unpriced),
    }


def audit_json(report: AuditReport, assets: AssetRegistry) -> dict[str, Any]:
    """``account audit``: per asset deposited, withdrawn and held (coin numbers, and ``held``
    exact), every problem found, and the venue's own balances."""
    from solvent.collateral.assets import format_decimal

    def coin(symbol: str, units: int) -> float:
        return float(assets.get(symbol).to_decimal(units))

    return {
        "ok": report.ok,
        "assets": {
            s: {
                "deposited": coin(s, t.deposited),
                "withdrawn": coin(s, t.withdrawn),
                "held": coin(s, t.held),
                "held_exact": format_decimal(assets.get(s).to_decimal(t.held)),
            }
            for s, t in report.assets.items()
        },
        "problems": list(report.problems),
        "system": {
            account: {a: assets.get(a).format(u) for a, u in sorted(balances.items())}
            for account, balances in report.system.items()
        },
    }
