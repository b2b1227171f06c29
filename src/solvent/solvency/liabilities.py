"""What the venue owes each account, per asset, in base units: the leaves of the proof.

For every user account (sub-accounts included, each its own leaf) and the insurance fund
(``@insurance``), per asset of the ledger:

    net[asset]     = balance[asset] + sum of the account's positions settled at the mark in asset
    balance[asset] = max(net, 0)        (equity net of debt: what the venue owes the account)
    debt[asset]    = max(-net, 0)       (what the account owes the venue in that asset)

A position settled at the mark is what the ledger would book if it were closed there now: a future
or perpetual realizes ``quantity x (mark - average entry)`` per contract size (linear, USD) or that
amount divided by the mark (inverse, in coin); an option is worth ``quantity x contract size x
mark`` in its settlement asset (a long option is owed to the holder, a short one owed by it). Each
amount is floored to the base unit, as the ledger floors realized P&L. Balances are the ledger's
exact integers; the venue's own accounts ``@venue`` and ``@fees`` are not liabilities and are left
out; ``@external`` is the outside world.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, Table, select

from solvent.accounts.service import trade_terms
from solvent.errors import SolventInputError
from solvent.instruments.terms import Settlement
from solvent.ledger import schema
from solvent.ledger.model import (
    DECIMAL_PRECISION,
    EXTERNAL,
    INSURANCE,
    AccountKind,
    PositionState,
    TradeStyle,
    apply_fill,
    to_units_floor,
)
from solvent.ledger.store import Ledger, id_chunks
from solvent.market.snapshot import MarketSnapshot

I64 = npt.NDArray[np.int64]
LEAF_LIMIT = 1 << 63


@dataclass(frozen=True, slots=True)
class AssetInfo:
    """An asset of the tree: its symbol and the decimals of its base unit."""

    asset: str
    decimals: int


@dataclass(frozen=True, slots=True)
class Liabilities:
    """Per-account liabilities: row ``i`` is ``accounts[i]``, column ``j`` is ``assets[j]``;
    ``balances`` and ``debts`` are non-negative integers of base units (< 2^63)."""

    assets: tuple[AssetInfo, ...]
    accounts: tuple[str, ...]
    balances: I64
    debts: I64

    def __post_init__(self) -> None:
        shape = (len(self.accounts), len(self.assets))
        if self.balances.shape != shape or self.debts.shape != shape:
            raise ValueError("balances and debts must be accounts x assets")
        if len(set(self.accounts)) != len(self.accounts):
            raise ValueError("an account is listed twice")

    @property
    def symbols(self) -> tuple[str, ...]:
        """The asset symbols, in column order."""
        return tuple(a.asset for a in self.assets)

    def values(self) -> I64:
        """``(n, 2 x assets)``: balances and debts interleaved, the tree's leaf columns."""
        out = np.empty((len(self.accounts), 2 * len(self.assets)), dtype=np.int64)
        out[:, 0::2] = self.balances
        out[:, 1::2] = self.debts
        return out


def settled_units(position: PositionState, market: MarketSnapshot, decimals: int) -> int:
    """Base units of the settlement asset the ledger would book if ``position`` were closed at
    the mark of ``market`` now (floored; negative when the account would pay)."""
    field = f"positions.{position.instrument}"
    terms = trade_terms(market, position.instrument, field)
    mark = Decimal(repr(market.quote(position.instrument, field).mark_price))
    with localcontext() as ctx:
        ctx.prec = DECIMAL_PRECISION
        if terms.style is TradeStyle.PREMIUM:
            amount = position.quantity * terms.contract_size * mark
        elif mark <= 0 and terms.settlement is Settlement.INVERSE:
            raise SolventInputError(field, f"mark price {mark} cannot settle an inverse position")
        else:
            amount = apply_fill(position, terms, -position.quantity, mark).realized
    return to_units_floor(amount, decimals)


def read_liabilities(
    ledger: Ledger, market: MarketSnapshot, accounts: Iterable[str] | None = None
) -> Liabilities:
    """The liabilities of every user account and of the insurance fund, read in one
    transaction (a consistent snapshot of the ledger), positions marked with ``market``. The
    assets are those the ledger has ever held or settles positions in, sorted by symbol. With
    ``accounts``, only those of them that are users or the insurance fund (in sorted order)."""
    registry = ledger.assets
    with ledger.transaction() as tx:
        conn = tx.connection
        used = set(conn.execute(select(schema.balances.c.asset).distinct()).scalars())
        used |= set(conn.execute(select(schema.positions.c.settlement_asset).distinct()).scalars())
        assets = tuple(AssetInfo(s, registry.get(s, "ledger").decimals) for s in sorted(used))
        column = {a.asset: j for j, a in enumerate(assets)}
        rows = conn.execute(select(schema.accounts.c.id, schema.accounts.c.kind)).all()
        wanted = None if accounts is None else set(accounts)
        chosen = sorted(
            r.id
            for r in rows
            if (r.kind == AccountKind.USER.value or r.id == INSURANCE)
            and (wanted is None or r.id in wanted)
        )
        index = {a: i for i, a in enumerate(chosen)}
        net: dict[tuple[int, int], int] = defaultdict(int)
        for row in _rows(conn, schema.balances, wanted):
            i = index.get(row.account_id)
            if i is None or row.amount == 0:
                continue
            if row.asset not in column:
                raise SolventInputError("ledger", f"unknown asset {row.asset!r} in the balances")
            net[(i, column[row.asset])] += int(row.amount)
        for row in _rows(conn, schema.positions, wanted):
            i = index.get(row.account_id)
            if i is None:
                continue
            state = PositionState(
                row.instrument,
                Decimal(row.quantity),
                Decimal(row.average_price),
                Decimal(row.realized_pnl),
                row.settlement_asset,
            )
            if state.quantity == 0:
                continue
            asset = state.settlement_asset
            if asset not in column:
                raise SolventInputError("ledger", f"unknown settlement asset {asset!r}")
            net[(i, column[asset])] += settled_units(state, market, registry.get(asset).decimals)
    balances = np.zeros((len(chosen), len(assets)), dtype=np.int64)
    debts = np.zeros_like(balances)
    for (i, j), units in net.items():
        if abs(units) >= LEAF_LIMIT:
            raise SolventInputError(
                "ledger", f"{chosen[i]!r} owes or is owed beyond 2^63 base units of {assets[j]}"
            )
        if units > 0:
            balances[i, j] = units
        else:
            debts[i, j] = -units
    return Liabilities(assets, tuple(chosen), balances, debts)


def _rows(conn: Connection, table: Table, accounts: set[str] | None) -> Iterator[Any]:
    """Rows of ``table`` (balances or positions): all, or those of ``accounts`` (in chunks)."""
    if accounts is None:
        yield from conn.execute(select(table)).all()
        return
    for chunk in id_chunks(sorted(accounts)):
        yield from conn.execute(select(table).where(table.c.account_id.in_(chunk))).all()


def ledger_holdings(ledger: Ledger) -> dict[str, int]:
    """What the ledger says the venue holds per asset (base units): deposited - withdrawn, i.e.
    minus the balance of ``@external``. The reserves a report uses when no statement is given."""
    held = {a.symbol: 0 for a in ledger.assets}
    with ledger.transaction() as tx:
        for row in tx.connection.execute(
            select(schema.balances).where(schema.balances.c.account_id == EXTERNAL)
        ).all():
            held[row.asset] = -int(row.amount)
    return held
