"""Apply stress scenarios to a book: loss per margin unit (USD), negative equity, total shortfall.

Margin units are the ones ``solvent margin`` margins (:meth:`AccountBook.groups
<solvent.portfolio.account_book.AccountBook.groups>`): a parent and its ``cross`` sub-accounts form
one unit (shared collateral, netted positions), an ``isolated`` sub-account or a lone account is a
unit of its own. Every account is reported with its unit's figures (like ``solvent margin``), and
the totals count each unit once.

For each scenario and every unit at once:

- ``equity_usd`` before: the one definition of docs/glossary.md, the same function as ``solvent
  margin`` (:func:`solvent.accounts.equity.book_equity`): collateral after haircuts plus the
  positions' mark-to-market;
- a future's or perpetual's unrealized P&L since its entry price is part of that equity; it is a
  USD P&L ``q x (M - E)`` (paid in coin at the mark for inverse contracts), so the scenario's
  full revaluation below (``q x (P1 - M)`` in USD) carries it on without a separate term;
- positions: full revaluation (:func:`compute_risk_array`, instantaneous: no time passes) of one
  unit of every instrument at the scenario's moves and vol shocks; settlement-asset P&L is
  converted to USD at the scenario's price of the settlement asset (a coin at its moved price, a
  stablecoin at its possibly depegged price). An option's value also changes with a depeg of its
  settlement stablecoin: ``value x (d - 1)`` is added for a linear option settled in it.
- collateral: each balance revalued at the scenario price (coins moved, stablecoins at their
  scenario price), gross (no haircut): ``sum b (P1 - P0)``; the haircut is already out of the
  equity, the loss is what the holdings lose in value.
- ``loss_usd = -(position P&L + collateral change)``; ``equity_after_usd = equity_usd -
  loss_usd``; ``shortfall_usd = max(0, -equity_after_usd)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from solvent.accounts.equity import book_equity, unit_settlement_value
from solvent.arrays import FloatArray, IntArray
from solvent.executors import Executor, shard_bounds
from solvent.margin.protocol import PricedMarket
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.account_book import AccountBook
from solvent.portfolio.book import Book
from solvent.portfolio.portfolio import Portfolio
from solvent.scenarios.risk_array import compute_risk_array
from solvent.scenarios.scenario_set import ScenarioSet, VolShockKind, VolShockRule
from solvent.stress.library import STABLECOINS, StressScenario


@dataclass(frozen=True, slots=True)
class StressResult:
    """One scenario over the book. ``accounts`` are the input accounts, ``units`` the margin
    units (named after their top account) and ``unit_of[i]`` account ``i``'s unit. The arrays
    are per unit (USD): index them with ``unit_of`` for an account's figures."""

    scenario: StressScenario
    accounts: tuple[str, ...]
    units: tuple[str, ...]
    unit_of: IntArray
    equity_usd: FloatArray
    position_pnl_usd: FloatArray
    collateral_change_usd: FloatArray
    loss_usd: FloatArray
    equity_after_usd: FloatArray
    shortfall_usd: FloatArray

    def members(self) -> list[list[str]]:
        """The accounts of each margin unit, in input order."""
        out: list[list[str]] = [[] for _ in self.units]
        for account, unit in zip(self.accounts, self.unit_of.tolist(), strict=True):
            out[unit].append(account)
        return out

    def to_json(self) -> dict[str, object]:
        s = self.scenario
        members = self.members()
        rows = []
        for i, a in enumerate(self.accounts):
            u = int(self.unit_of[i])
            row: dict[str, object] = {
                "account": a,
                "equity_usd": float(self.equity_usd[u]),
                "position_pnl_usd": float(self.position_pnl_usd[u]),
                "collateral_change_usd": float(self.collateral_change_usd[u]),
                "loss_usd": float(self.loss_usd[u]),
                "equity_after_usd": float(self.equity_after_usd[u]),
                "shortfall_usd": float(self.shortfall_usd[u]),
            }
            if len(members[u]) > 1:
                row["margin_group"] = self.units[u]
                row["group_members"] = members[u]
            rows.append(row)
        negative = self.equity_after_usd[self.unit_of] < 0
        return {
            "name": s.name,
            "kind": str(s.kind),
            "description": s.description,
            "start": s.start,
            "end": s.end,
            "moves": dict(s.moves),
            "default_move": s.default_move,
            "vol_shocks": dict(s.vol_shocks),
            "default_vol_shock": s.default_vol_shock,
            "stablecoin_prices": dict(s.stablecoin_prices),
            "proxied": list(s.proxied),
            "accounts": rows,
            "total_loss_usd": float(self.loss_usd.sum()),
            "negative_equity_accounts": [
                a for a, n in zip(self.accounts, negative, strict=True) if n
            ],
            "total_shortfall_usd": float(self.shortfall_usd.sum()),
        }


def _price(market: MarketSnapshot, asset: str, field: str) -> float:
    return market.price_usd(asset, field)


def _scenario_price(market: MarketSnapshot, asset: str, s: StressScenario, field: str) -> float:
    if asset in STABLECOINS:
        return s.stable_price(asset)
    return _price(market, asset, field) * (1.0 + s.move(asset))


def shard_pnl(r_usd: FloatArray, quantities: sp.csr_array) -> FloatArray:
    """Scenario P&L (USD) of some margin units: their rows of the book times the USD risk array
    (instruments x scenarios); each row on its own, so shards join bit for bit."""
    out: FloatArray = np.asarray(quantities @ r_usd).reshape(quantities.shape[0], r_usd.shape[1])
    return out


def position_pnl(
    book: Book, r_usd: FloatArray, executor: Executor | None, shards: int | None
) -> FloatArray:
    """``book.quantities @ r_usd`` (units x scenarios, USD), in this process or on ``executor``
    in ``shards`` shards of units (default: one per worker), ``r_usd`` broadcast once."""
    if executor is None:
        return shard_pnl(r_usd, book.quantities)
    bounds = shard_bounds(len(book), shards if shards is not None else executor.workers)
    if not bounds:
        return shard_pnl(r_usd, book.quantities)
    parts = executor.map(
        shard_pnl, executor.share(r_usd), [book.quantities[a:b] for a, b in bounds]
    )
    return np.concatenate(parts, axis=0)


def stress_book(
    accounts: Sequence[Portfolio] | AccountBook,
    market: MarketSnapshot,
    scenarios: Sequence[StressScenario],
    *,
    executor: Executor | None = None,
    shards: int | None = None,
) -> list[StressResult]:
    """Every scenario applied to every margin unit (see the module docstring). With an
    ``executor`` the positions' scenario P&L (the book times the risk array) is computed on it in
    shards of units; the result is the same, bit for bit."""
    if not isinstance(accounts, AccountBook):
        accounts = AccountBook.from_portfolios(accounts)
    groups = accounts.groups()
    book, bal = accounts.group_book(groups)
    priced = PricedMarket.resolve(market, book.instruments)
    table, cols = priced.table, priced.columns
    n_s = len(scenarios)
    und = table.underlyings
    moves = np.array([[s.move(u) for u in und] for s in scenarios]).reshape(n_s, len(und))
    shocks = np.array([[s.vol_shock(u) for u in und] for s in scenarios]).reshape(n_s, len(und))
    if len(table):
        sset = ScenarioSet(
            name="stress",
            underlyings=und,
            moves=moves,
            vol_shocks=shocks,
            weights=np.ones(n_s),
            vol_rule=VolShockRule(kind=VolShockKind.RELATIVE),
            labels=tuple(s.name for s in scenarios),
        )
        pnl = compute_risk_array(table, cols, sset).pnl  # (I, S) settlement units
    else:
        pnl = np.zeros((0, n_s))
    settle = table.settlement_assets
    p1 = np.array(
        [[_scenario_price(market, a, s, "settlement_asset") for a in settle] for s in scenarios]
    ).reshape(n_s, len(settle))
    p0 = np.array([_price(market, a, "settlement_asset") for a in settle])
    code = table.settlement_code
    # An option's current value in its settlement asset (per unit of position, contract size
    # included): the equity's position value.
    value_settle = unit_settlement_value(priced)
    # USD P&L per unit: scenario P&L at the scenario price of the settlement asset, plus the
    # revaluation of the option's current value when the settlement asset's price changes.
    r_usd = pnl * p1[:, code].T + value_settle[:, None] * (p1[:, code].T - p0[code][:, None])
    pos_pnl = position_pnl(book, r_usd, executor, shards)
    assets = accounts.assets
    c0 = np.array(
        [
            _price(market, a, f"collateral.{a}") if np.any(bal[:, j]) else 0.0
            for j, a in enumerate(assets)
        ]
    ).reshape(len(assets))
    c1 = np.array(
        [
            [
                _scenario_price(market, a, s, f"collateral.{a}") if c0[j] else 0.0
                for j, a in enumerate(assets)
            ]
            for s in scenarios
        ]
    ).reshape(n_s, len(assets))
    coll_change = bal @ (c1 - c0[None, :]).T  # (units, S), gross
    equity = book_equity(bal, assets, book.quantities, priced, entry=book.entry).equity_usd
    out = []
    for k, s in enumerate(scenarios):
        loss = -(pos_pnl[:, k] + coll_change[:, k])
        after = equity - loss
        out.append(
            StressResult(
                s,
                accounts.accounts,
                book.accounts,
                groups.group_of,
                equity,
                pos_pnl[:, k],
                coll_change[:, k],
                loss,
                after,
                np.maximum(-after, 0.0),
            )
        )
    return out
