"""``GET /v1/accounts``' rows in one read: every user account with its margin unit's health.

The per-account way (:meth:`solvent.accounts.service.AccountService.show` for each account) opens
a transaction and margins the unit once per account: O(accounts) round trips and margin calls.
Here the ledger is read once (:meth:`solvent.realtime.book_state.BookState.from_ledger`: every
user account, its balances and open positions with their average prices, in one transaction),
the margin units are grouped as the real-time engine groups them, each model margins all of its
units in one call (``Detail.TOTALS``, prepared once on the book's instruments), and every unit's
equity and collateral value is :func:`solvent.accounts.equity.book_equity` over the whole book.
The figures are those of ``show`` (the same definitions: balances pooled over the unit, futures
P&L since the ledger's average price, options at their mark, the default haircuts; a balance in
an asset the market cannot price counts for zero; no dynamic multiplier), up to the last bits
of float summation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from solvent.accounts.equity import book_equity
from solvent.accounts.health import STATES, Health, health_codes
from solvent.engine.views import health_json
from solvent.errors import SolventInputError
from solvent.ledger.store import Ledger
from solvent.margin.protocol import Detail, PricedMarket
from solvent.margin.registry import get_model
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.portfolio import SubAccountMode
from solvent.realtime.book_state import BookState
from solvent.realtime.tick import sub_book


def account_rows(ledger: Ledger, market: MarketSnapshot) -> list[dict[str, Any]]:
    """One JSON row per user account of ``ledger``, in order of id: ``account``, ``parent``,
    ``mode``, ``model``, ``margin_unit`` (its unit's accounts, top first then by id) and the
    unit's health (:func:`solvent.engine.views.health_json`, USD) on ``market``."""
    state = BookState.from_ledger(ledger)
    accounts = state.accounts
    if len(accounts) == 0:
        return []
    grouped = state.grouped()
    book = grouped.book
    groups = grouped.groups
    priced = PricedMarket.resolve(market, book.instruments)
    initial = np.zeros(len(book), dtype=np.float64)
    maintenance = np.zeros(len(book), dtype=np.float64)
    for name, rows in grouped.model_rows().items():
        model = get_model(name)
        held = rows[np.diff(book.quantities[rows].indptr) > 0]
        if held.size == 0:
            continue  # no position: no requirement (the model is still checked above)
        prepared = model.prepare(priced, book.instruments, model.load_params(None))
        result = model.margin(prepared, sub_book(book, held), detail=Detail.TOTALS)
        initial[held] = result.initial_margin_usd
        maintenance[held] = result.maintenance_margin_usd
    balances = _priced_only(grouped.balances, accounts.assets, market)
    equity = book_equity(balances, accounts.assets, book.quantities, priced, entry=book.entry)
    equity_usd = np.asarray(equity.equity_usd, dtype=np.float64)
    collateral_usd = np.asarray(equity.collateral_value_usd, dtype=np.float64)
    codes = health_codes(equity_usd, initial, maintenance)
    units = [
        _unit(accounts.accounts, accounts.mode, groups.members(g), int(groups.tops[g]))
        for g in range(len(groups))
    ]
    health = [
        health_json(
            Health(
                equity_usd=float(equity_usd[g]),
                collateral_value_usd=float(collateral_usd[g]),
                initial_margin_usd=float(initial[g]),
                maintenance_margin_usd=float(maintenance[g]),
                excess_usd=float(equity_usd[g] - initial[g]),
                margin_ratio=float(maintenance[g] / equity_usd[g]) if equity_usd[g] > 0 else None,
                state=STATES[int(codes[g])],
            )
        )
        for g in range(len(groups))
    ]
    out: list[dict[str, Any]] = []
    for i, account in enumerate(accounts.accounts):
        g = int(groups.group_of[i])
        mode = accounts.mode[i]
        out.append(
            {
                "account": account,
                "parent": accounts.parent_id[i],
                "mode": None if mode is None else mode.value,
                "model": state.models[i],
                "margin_unit": list(units[g]),
                **health[g],
            }
        )
    return out


def _unit(
    names: Sequence[str],
    modes: Sequence[SubAccountMode | None],
    members: Any,
    top: int,
) -> tuple[str, ...]:
    """A margin unit's accounts as ``show`` lists them: its top first, then the others by id."""
    ids = sorted(names[m] for m in members.tolist() if m != top)
    if modes[top] is SubAccountMode.ISOLATED:
        return (names[top],)
    return (names[top], *ids)


def _priced_only(
    balances: Any, assets: Sequence[str], market: MarketSnapshot
) -> np.ndarray[Any, Any]:
    """``balances`` (groups x ``assets``, coin) with the columns ``market`` cannot price set to
    zero: such a balance counts for nothing (never a debt), as in ``show``."""
    out = np.array(balances, dtype=np.float64)
    for j, asset in enumerate(assets):
        try:
            market.price_usd(asset)
        except SolventInputError:
            out[:, j] = 0.0
    return out
