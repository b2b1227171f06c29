"""The engine's accounts as arrays: what every tick re-margins, rebuilt from the ledger.

:class:`BookState` holds the venue's user accounts as one :class:`AccountBook` (columns: balances
in coin, positions as coordinate arrays with their average entry prices) plus each account's
margin model, and the margin groups (a root with its ``cross`` sub-accounts) derived from it.
The ledger is the source of truth: :meth:`BookState.from_ledger` reads every user account, its
balances (base units -> coin) and open positions in one transaction; after an account change the
engine calls :meth:`BookState.reload` for the accounts it touched, which replaces their rows
(balances and positions) and nothing else. The grouped book is built once per change, not per
tick (:meth:`BookState.grouped`).

Units: balances in coin of each asset; quantities signed (> 0 long) in units of the underlying;
entry prices in the instrument's price unit (USD for futures and perpetuals, the premium in the
settlement asset for options), NaN where a position carries none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select

from solvent.arrays import FloatArray, IntArray
from solvent.errors import SolventInputError
from solvent.ledger import schema
from solvent.ledger.model import AccountKind, PositionState
from solvent.ledger.store import Ledger
from solvent.portfolio.account_book import AccountBook
from solvent.portfolio.book import Book
from solvent.portfolio.groups import MarginGroups
from solvent.portfolio.portfolio import SubAccountMode

CHANGE_LOG = 1024
"""Changes remembered by :meth:`BookState.changed_since` (a reader further behind rebuilds)."""


@dataclass(frozen=True, slots=True)
class GroupedBook:
    """The margin groups of a :class:`BookState` version: the sparse book of the groups (rows
    named after their top accounts), each group's balances ``(groups, assets)`` in coin, and
    each group's model (its top account's)."""

    accounts: AccountBook
    groups: MarginGroups
    book: Book
    balances: FloatArray
    models: tuple[str, ...]

    def model_rows(self) -> dict[str, IntArray]:
        """Group rows per model, each in increasing order."""
        names = np.asarray(self.models, dtype=object)
        return {m: np.flatnonzero(names == m).astype(np.intp) for m in sorted(set(self.models))}


@dataclass(frozen=True, slots=True)
class AccountRows:
    """New content of some accounts (from the ledger): balances in coin and open positions."""

    balances: Mapping[str, Mapping[str, float]]
    positions: Mapping[str, Sequence[PositionState]]


class BookState:
    """The accounts the engine margins (see the module docstring). Not thread-safe: the engine
    mutates it only between ticks, on its own event loop."""

    def __init__(self, accounts: AccountBook, models: Sequence[str]) -> None:
        if len(models) != len(accounts):
            raise SolventInputError("models", f"need {len(accounts)} models, got {len(models)}")
        self._accounts = accounts
        self._models = tuple(models)
        self._index = {a: i for i, a in enumerate(accounts.accounts)}
        self._grouped: GroupedBook | None = None
        self.version = 0
        """Increases with every change of the accounts (new rows, balances or positions)."""
        self._log: list[tuple[int, tuple[str, ...]]] = []
        """The last :data:`CHANGE_LOG` changes: (version it made, accounts it touched)."""

    # --- construction ----------------------------------------------------------------------

    @classmethod
    def from_ledger(cls, ledger: Ledger, model: str | None = None) -> BookState:
        """Every user account of ``ledger`` with its balances and open positions; ``model``
        overrides every account's stored model (a replay's ``--model``)."""
        with ledger.transaction() as tx:
            conn = tx.connection
            rows = conn.execute(
                select(schema.accounts).where(schema.accounts.c.kind == AccountKind.USER.value)
            ).all()
            records = sorted((r._mapping for r in rows), key=lambda r: str(r["id"]))
            ids = [str(r["id"]) for r in records]
            balances = tx.balances(ids)
            positions = tx.positions(ids)
        scale = {a.symbol: 10.0 ** (-a.decimals) for a in ledger.assets}
        coin = {a: {s: u * scale[s] for s, u in held.items() if u} for a, held in balances.items()}
        parents = {str(r["id"]): r["parent_id"] for r in records}
        modes = {
            str(r["id"]): None if r["mode"] is None else SubAccountMode(r["mode"]) for r in records
        }
        models = [model or str(r["model"]) for r in records]
        book = _assemble(ids, parents, modes, coin, positions)
        return cls(book, models)

    # --- reads ---------------------------------------------------------------------------------

    @property
    def accounts(self) -> AccountBook:
        """The accounts as columns (one row per account)."""
        return self._accounts

    @property
    def models(self) -> tuple[str, ...]:
        """Each account's margin model."""
        return self._models

    def index(self, account: str, field: str = "account") -> int:
        """Row of ``account``; an unknown account raises naming ``field``."""
        try:
            return self._index[account]
        except KeyError:
            raise SolventInputError(field, f"unknown account {account!r}") from None

    def __contains__(self, account: object) -> bool:
        return account in self._index

    def __len__(self) -> int:
        return len(self._accounts)

    def grouped(self) -> GroupedBook:
        """The margin groups of the current version (built once per version)."""
        if self._grouped is None:
            accounts = self._accounts
            groups = accounts.groups()
            book, balances = accounts.group_book(groups)
            models = tuple(self._models[t] for t in groups.tops.tolist())
            self._grouped = GroupedBook(accounts, groups, book, balances, models)
        return self._grouped

    def changed_since(self, version: int) -> frozenset[str] | None:
        """The accounts added or changed after ``version`` of this state (empty when it is the
        current one); ``None`` when that is no longer known (older than the change log)."""
        if version == self.version:
            return frozenset()
        if version > self.version or not self._log or self._log[0][0] > version + 1:
            return None
        return frozenset(a for v, accounts in self._log if v > version for a in accounts)

    # --- changes -------------------------------------------------------------------------------

    def reload(self, ledger: Ledger, account_ids: Iterable[str]) -> None:
        """Replace the rows of ``account_ids`` (and add accounts new to the state) with what the
        ledger holds now."""
        ids = sorted(set(account_ids))
        if not ids:
            return
        with ledger.transaction() as tx:
            records = tx.accounts(ids)
            balances = tx.balances(ids)
            positions = tx.positions(ids)
        users = [r for r in records if r.kind is AccountKind.USER]
        scale = {a.symbol: 10.0 ** (-a.decimals) for a in ledger.assets}
        rows = AccountRows(
            balances={
                r.id: {s: u * scale[s] for s, u in balances[r.id].items() if u} for r in users
            },
            positions={r.id: positions[r.id] for r in users},
        )
        new = [r for r in users if r.id not in self._index]
        if new:
            self._add_accounts(
                [r.id for r in new],
                {r.id: r.parent for r in new},
                {r.id: r.mode for r in new},
                [r.model for r in new],
            )
        self.replace(rows)

    def _add_accounts(
        self,
        ids: Sequence[str],
        parents: Mapping[str, str | None],
        modes: Mapping[str, SubAccountMode | None],
        models: Sequence[str],
    ) -> None:
        old = self._accounts
        names = old.accounts + tuple(ids)
        index = {a: i for i, a in enumerate(names)}
        parent_id = old.parent_id + tuple(parents[a] for a in ids)
        parent = np.array([-1 if p is None else index.get(p, -1) for p in parent_id], dtype=np.intp)
        n_new = len(ids)
        self._accounts = AccountBook(
            accounts=names,
            parent=parent,
            parent_id=parent_id,
            mode=old.mode + tuple(modes[a] for a in ids),
            assets=old.assets,
            collateral=np.vstack([old.collateral, np.zeros((n_new, len(old.assets)))]),
            listed=np.vstack([old.listed, np.zeros((n_new, len(old.assets)), dtype=bool)]),
            instruments=old.instruments,
            position_account=old.position_account,
            position_instrument=old.position_instrument,
            position_quantity=old.position_quantity,
            position_entry_price=old.position_entry_price,
        )
        self._models = self._models + tuple(models)
        self._index = index
        self._changed(ids)

    def replace(self, rows: AccountRows) -> None:
        """Set the balances and positions of the accounts named in ``rows`` (already in the
        state); every other account is unchanged."""
        old = self._accounts
        touched = sorted({self.index(a) for a in (*rows.balances, *rows.positions)})
        if not touched:
            return
        assets = sorted(set(old.assets) | {s for b in rows.balances.values() for s in b})
        collateral = np.zeros((len(old), len(assets)), dtype=np.float64)
        listed = np.zeros((len(old), len(assets)), dtype=bool)
        columns = [assets.index(s) for s in old.assets]
        collateral[:, columns] = old.collateral
        listed[:, columns] = old.listed
        for account, held in rows.balances.items():
            i = self._index[account]
            collateral[i, :] = 0.0
            listed[i, :] = False
            for symbol, amount in held.items():
                collateral[i, assets.index(symbol)] = amount
                listed[i, assets.index(symbol)] = True
        instruments = list(old.instruments)
        code = {n: j for j, n in enumerate(instruments)}
        keep = ~np.isin(old.position_account, np.asarray(touched, dtype=np.intp))
        new_account: list[int] = []
        new_instrument: list[int] = []
        new_quantity: list[float] = []
        new_entry: list[float] = []
        for account, held_positions in rows.positions.items():
            i = self._index[account]
            for pos in held_positions:
                if pos.quantity == 0:
                    continue
                if pos.instrument not in code:
                    code[pos.instrument] = len(instruments)
                    instruments.append(pos.instrument)
                new_account.append(i)
                new_instrument.append(code[pos.instrument])
                new_quantity.append(float(pos.quantity))
                new_entry.append(float(pos.average_price) if pos.average_price else np.nan)
        account_col = np.concatenate(
            [old.position_account[keep], np.asarray(new_account, dtype=np.intp)]
        )
        order = np.argsort(account_col, kind="stable")
        self._accounts = AccountBook(
            accounts=old.accounts,
            parent=old.parent,
            parent_id=old.parent_id,
            mode=old.mode,
            assets=tuple(assets),
            collateral=collateral,
            listed=listed,
            instruments=tuple(instruments),
            position_account=account_col[order],
            position_instrument=np.concatenate(
                [old.position_instrument[keep], np.asarray(new_instrument, dtype=np.intp)]
            )[order],
            position_quantity=np.concatenate(
                [old.position_quantity[keep], np.asarray(new_quantity, dtype=np.float64)]
            )[order],
            position_entry_price=np.concatenate(
                [_entry_prices(old)[keep], np.asarray(new_entry, dtype=np.float64)]
            )[order],
        )
        self._changed(old.accounts[i] for i in touched)

    def _changed(self, accounts: Iterable[str]) -> None:
        self._grouped = None
        self.version += 1
        self._log.append((self.version, tuple(accounts)))
        if len(self._log) > CHANGE_LOG:
            del self._log[: len(self._log) - CHANGE_LOG]


def _entry_prices(book: AccountBook) -> FloatArray:
    """Each position's entry price (NaN: none), whether or not the book has any."""
    if book.position_entry_price is None:
        return np.full(book.position_quantity.size, np.nan)
    return book.position_entry_price


def _assemble(
    ids: Sequence[str],
    parents: Mapping[str, str | None],
    modes: Mapping[str, SubAccountMode | None],
    balances: Mapping[str, Mapping[str, float]],
    positions: Mapping[str, Sequence[PositionState]],
) -> AccountBook:
    """An :class:`AccountBook` of ledger accounts (rows in ``ids`` order)."""
    index = {a: i for i, a in enumerate(ids)}
    n = len(ids)
    assets = tuple(sorted({s for held in balances.values() for s in held}))
    column = {s: j for j, s in enumerate(assets)}
    collateral = np.zeros((n, len(assets)), dtype=np.float64)
    listed = np.zeros((n, len(assets)), dtype=bool)
    for account, held in balances.items():
        for symbol, amount in held.items():
            collateral[index[account], column[symbol]] = amount
            listed[index[account], column[symbol]] = True
    codes: dict[str, int] = {}
    account_col: list[int] = []
    instrument_col: list[int] = []
    quantity: list[float] = []
    entry: list[float] = []
    for account in ids:
        for pos in positions.get(account, ()):
            if pos.quantity == 0:
                continue
            account_col.append(index[account])
            instrument_col.append(codes.setdefault(pos.instrument, len(codes)))
            quantity.append(float(pos.quantity))
            entry.append(float(pos.average_price) if pos.average_price else np.nan)
    parent_id = tuple(parents.get(a) for a in ids)
    return AccountBook(
        accounts=tuple(ids),
        parent=np.array([-1 if p is None else index.get(p, -1) for p in parent_id], np.intp),
        parent_id=parent_id,
        mode=tuple(modes.get(a) for a in ids),
        assets=assets,
        collateral=collateral,
        listed=listed,
        instruments=tuple(codes),
        position_account=np.asarray(account_col, dtype=np.intp),
        position_instrument=np.asarray(instrument_col, dtype=np.intp),
        position_quantity=np.asarray(quantity, dtype=np.float64),
        position_entry_price=np.asarray(entry, dtype=np.float64),
    )
