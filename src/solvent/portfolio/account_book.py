"""A book of accounts as columns (docs/formats.md 2): what the engine margins in one pass.

:class:`AccountBook` holds the same content as a list of :class:`Portfolio` (accounts, parents
and modes, collateral, positions) as arrays: collateral as an ``(accounts, assets)`` matrix,
positions as coordinate arrays in input order. Grouping cross sub-accounts with their parent and
building the sparse :class:`Book` of the margin groups are array operations on it.

:func:`parse_account_book` reads the parsed JSON of a portfolio or a book straight into columns.
Its fast path accepts only input that :func:`parse_portfolio_or_book` accepts unchanged; anything
else (a wrong type, an unknown field, a non-finite number, a duplicate account, an unknown
parent...) is handed to :func:`parse_portfolio_or_book`, so every error message and every rule is
the one of that function (tests check that both agree on malformed books).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from operator import itemgetter
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from solvent.arrays import BoolArray, FloatArray, IntArray
from solvent.files import read_json
from solvent.portfolio.book import Book
from solvent.portfolio.external import ExternalHolding
from solvent.portfolio.groups import MarginGroups, resolve_groups
from solvent.portfolio.portfolio import (
    MAX_AMOUNT,
    MAX_ENTRY_PRICE,
    Portfolio,
    Position,
    SubAccountMode,
    parse_portfolio_or_book,
)

_ACCOUNT_FIELDS = frozenset({"account", "collateral", "positions", "parent", "mode"})
_MODES = {"cross": SubAccountMode.CROSS, "isolated": SubAccountMode.ISOLATED}
_instrument = itemgetter("instrument")
_quantity = itemgetter("quantity")
_NO_ENTRY = float("nan")


@dataclass(frozen=True, slots=True)
class AccountBook:
    """A book as columns; ``quantity > 0`` is long (units of the underlying), balances in coin.

    ``parent[i]``: input index of account ``i``'s parent (-1: none, or not in the book; its id is
    still in ``parent_id``); ``mode[i]``: its
    :class:`SubAccountMode` or ``None``. ``collateral[i, j]``: balance of ``assets[j]`` (sorted).
    ``listed[i, j]``: whether account ``i`` named asset ``j`` (a listed zero is kept, as in a
    :class:`Portfolio`). Position ``k`` is ``position_quantity[k]`` of
    ``instruments[position_instrument[k]]`` held by account ``position_account[k]``, in input
    order; ``instruments`` are in order of first appearance. ``position_entry_price[k]``: its
    entry price (docs/formats.md 2; NaN: none), or ``None`` when no position has one.
    ``position_venue[k]`` is the venue holding position ``k`` (empty tuple: every position is
    held here). ``external[e]`` is collateral held elsewhere by account ``external_account[e]``
    (docs/formats.md 13), in input order (so ``external_account`` is sorted, like
    ``position_account``)."""

    accounts: tuple[str, ...]
    parent: IntArray
    parent_id: tuple[str | None, ...]
    mode: tuple[SubAccountMode | None, ...]
    assets: tuple[str, ...]
    collateral: FloatArray
    listed: BoolArray
    instruments: tuple[str, ...]
    position_account: IntArray
    position_instrument: IntArray
    position_quantity: FloatArray
    position_entry_price: FloatArray | None = None
    position_venue: tuple[str | None, ...] = ()
    external: tuple[ExternalHolding, ...] = ()
    external_account: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))

    def __len__(self) -> int:
        return len(self.accounts)

    @property
    def cross(self) -> BoolArray:
        """Whether each account is margined with its parent (a ``cross`` sub-account)."""
        return np.fromiter(
            (m is SubAccountMode.CROSS for m in self.mode), dtype=bool, count=len(self.mode)
        )

    def groups(self) -> MarginGroups:
        """The margin groups (a parent with its cross sub-accounts), in linear time."""
        return resolve_groups(self.parent, self.cross)

    @classmethod
    def from_portfolios(cls, portfolios: Sequence[Portfolio]) -> AccountBook:
        """Columns of ``portfolios`` (account ids are taken as unique; a parent that is not in
        the list counts as none)."""
        index = {p.account: i for i, p in enumerate(portfolios)}
        parent = [index.get(p.parent, -1) if p.parent is not None else -1 for p in portfolios]
        counts = [len(p.positions) for p in portfolios]
        positions = [pos for p in portfolios for pos in p.positions]
        codes: dict[str, int] = {}
        inst = [codes.setdefault(pos.instrument, len(codes)) for pos in positions]
        qty = [pos.quantity for pos in positions]
        entry = [_NO_ENTRY if pos.entry_price is None else pos.entry_price for pos in positions]
        collateral = [dict(p.collateral) for p in portfolios]
        venues = tuple(pos.venue for pos in positions)
        external = tuple(h for p in portfolios for h in p.external)
        owner = [i for i, p in enumerate(portfolios) for _ in p.external]
        columns = _assemble(
            tuple(p.account for p in portfolios),
            parent,
            tuple(p.parent for p in portfolios),
            tuple(p.mode for p in portfolios),
            collateral,
            tuple(codes),
            counts,
            inst,
            qty,
            entry,
        )
        if not external and all(v is None for v in venues):
            return columns
        return replace(
            columns,
            position_venue=venues if any(v is not None for v in venues) else (),
            external=external,
            external_account=np.asarray(owner, dtype=np.intp).reshape(len(owner)),
        )

    def portfolio(self, i: int) -> Portfolio:
        """Account ``i`` as a :class:`Portfolio` (collateral keys: its listed assets)."""
        start, stop = np.searchsorted(self.position_account, [i, i + 1])
        entry = (
            [None] * int(stop - start)
            if self.position_entry_price is None
            else [
                None if np.isnan(e) else e for e in self.position_entry_price[start:stop].tolist()
            ]
        )
        venues = self.position_venue[start:stop] or (None,) * (stop - start)
        positions = tuple(
            Position(self.instruments[c], q, e, venue=v)
            for c, q, e, v in zip(
                self.position_instrument[start:stop].tolist(),
                self.position_quantity[start:stop].tolist(),
                entry,
                venues,
                strict=True,
            )
        )
        collateral = {
            self.assets[j]: float(self.collateral[i, j]) for j in np.flatnonzero(self.listed[i])
        }
        return Portfolio(
            self.accounts[i],
            MappingProxyType(collateral),
            positions,
            self.parent_id[i],
            self.mode[i],
            self.external[slice(*np.searchsorted(self.external_account, [i, i + 1]).tolist())],
        )

    def portfolios(self) -> list[Portfolio]:
        """Every account as a :class:`Portfolio`, in input order."""
        return [self.portfolio(i) for i in range(len(self))]

    def account_book(self) -> Book:
        """The sparse book of the accounts themselves (one row per account)."""
        return Book.from_arrays(
            self.accounts,
            self.instruments,
            self.position_account,
            self.position_instrument,
            self.position_quantity,
            self.position_entry_price,
        )

    def group_book(self, groups: MarginGroups) -> tuple[Book, FloatArray]:
        """The book of the margin groups (one row per group, named after its top account) and
        each group's collateral (``(groups, assets)``, members' balances added in input order).

        Columns are the instruments in order of first appearance when the groups' positions are
        read group by group (members in input order), as :meth:`Book.from_portfolios` does for
        the merged portfolios; a group's repeated positions are summed."""
        row = groups.group_of[self.position_account]
        order = np.argsort(row, kind="stable")  # group by group, input order inside a group
        codes = self.position_instrument[order]
        none = np.iinfo(np.intp).max
        first = np.full(len(self.instruments), none, dtype=np.intp)
        np.minimum.at(first, codes, np.arange(len(codes), dtype=np.intp))
        held = np.flatnonzero(first != none)
        column_order = held[np.argsort(first[held], kind="stable")]
        column = np.full(len(self.instruments), -1, dtype=np.intp)
        column[column_order] = np.arange(len(column_order), dtype=np.intp)
        names = tuple(self.instruments[c] for c in column_order.tolist())
        top_names = tuple(self.accounts[t] for t in groups.tops.tolist())
        book = Book.from_arrays(
            top_names,
            names,
            row[order].astype(np.intp),
            column[codes],
            self.position_quantity[order],
            None if self.position_entry_price is None else self.position_entry_price[order],
        )
        balances = np.zeros((len(groups), len(self.assets)), dtype=np.float64)
        np.add.at(balances, groups.group_of, self.collateral)
        return book, balances


def _assemble(
    accounts: tuple[str, ...],
    parent: list[int],
    parent_id: tuple[str | None, ...],
    mode: tuple[SubAccountMode | None, ...],
    collateral: list[dict[str, float]],
    instruments: tuple[str, ...],
    counts: list[int],
    instrument_codes: list[int],
    quantities: list[float] | FloatArray,
    entry_prices: list[float] | FloatArray | None = None,
) -> AccountBook:
    n = len(accounts)
    assets = tuple(sorted({a for c in collateral for a in c}))
    column = {a: j for j, a in enumerate(assets)}
    balances = np.zeros((n, len(assets)), dtype=np.float64)
    listed = np.zeros((n, len(assets)), dtype=bool)
    rows = [i for i, c in enumerate(collateral) for _ in c]
    cols = [column[a] for c in collateral for a in c]
    balances[rows, cols] = [v for c in collateral for v in c.values()]
    listed[rows, cols] = True
    entry = None if entry_prices is None else np.asarray(entry_prices, dtype=np.float64)
    if entry is not None and np.isnan(entry).all():
        entry = None  # no position has an entry price
    return AccountBook(
        accounts=accounts,
        parent=np.asarray(parent, dtype=np.intp).reshape(n),
        parent_id=parent_id,
        mode=mode,
        assets=assets,
        collateral=balances,
        listed=listed,
        instruments=instruments,
        position_account=np.repeat(np.arange(n, dtype=np.intp), counts),
        position_instrument=np.asarray(instrument_codes, dtype=np.intp).reshape(-1),
        position_quantity=np.asarray(quantities, dtype=np.float64).reshape(-1),
        position_entry_price=None if entry is None else entry.reshape(-1),
    )


def _fast_columns(raw: object) -> tuple[AccountBook, bool] | None:
    """Columns of a well-formed portfolio or book, or ``None`` when anything is unusual (the
    caller then lets :func:`parse_portfolio_or_book` decide and word the error)."""
    if type(raw) is not dict:
        return None
    is_book = "accounts" in raw
    if is_book:
        if raw.keys() != {"accounts"} or type(raw["accounts"]) is not list:
            return None
        records: list[Any] = raw["accounts"]
    else:
        records = [raw]
    names: list[str] = []
    parents: list[str | None] = []
    modes: list[SubAccountMode | None] = []
    collateral: list[dict[str, float]] = []
    counts: list[int] = []
    positions: list[Any] = []
    for rec in records:
        if type(rec) is not dict or not rec.keys() <= _ACCOUNT_FIELDS:
            return None
        account = rec.get("account")
        if type(account) is not str or not account or account[0] == "@":
            return None
        coll = rec.get("collateral")  # a missing key is the slow path's (it warns)
        if type(coll) is not dict:
            return None
        pos = rec.get("positions")
        if type(pos) is not list:
            return None
        parent = rec.get("parent")
        mode_raw = rec.get("mode")
        if parent is None:
            if mode_raw is not None:
                return None
            mode = None
        else:
            if type(parent) is not str or not parent:
                return None
            if mode_raw is None:
                mode = SubAccountMode.CROSS
            elif type(mode_raw) is str and mode_raw in _MODES:
                mode = _MODES[mode_raw]
            else:
                return None
        names.append(account)
        parents.append(parent)
        modes.append(mode)
        collateral.append(coll)
        counts.append(len(pos))
        positions.extend(pos)
    balances = [v for c in collateral for v in c.values()]
    if not set(map(type, balances)) <= {int, float}:
        return None
    try:
        held = np.array(balances, dtype=np.float64)
        if not np.all(np.abs(held) <= MAX_AMOUNT):  # NaN fails too
            return None
    except OverflowError:  # a JSON integer beyond the float range
        return None
    if not set(map(type, positions)) <= {dict}:
        return None
    sizes = set(map(len, positions))
    if not sizes <= {2, 3}:
        return None
    entry = _fast_entry_prices(positions) if 3 in sizes else None
    if 3 in sizes and entry is None:
        return None
    try:
        instruments = list(map(_instrument, positions))
        quantities = list(map(_quantity, positions))
    except KeyError:
        return None
    if not set(map(type, instruments)) <= {str} or "" in instruments:
        return None
    if not set(map(type, quantities)) <= {int, float}:
        return None
    try:
        qty = np.array(quantities, dtype=np.float64)
    except OverflowError:
        return None
    if not np.all(np.abs(qty) <= MAX_AMOUNT):  # NaN and inf fail too
        return None
    index: dict[str, int] = {}
    for i, name in enumerate(names):
        if index.setdefault(name, i) != i:
            return None  # duplicate account
    parent_index: list[int] = []
    for p in parents:
        if p is None:
            parent_index.append(-1)
        elif p in index:
            parent_index.append(index[p])
        elif is_book:
            return None  # unknown parent
        else:
            parent_index.append(-1)
    if _loops(parent_index):
        return None  # an account that is its own parent, directly or through others
    codes: dict[str, int] = {}
    instrument_codes = [codes.setdefault(n, len(codes)) for n in instruments]
    book = _assemble(
        tuple(names),
        parent_index,
        tuple(parents),
        tuple(modes),
        collateral,
        tuple(codes),
        counts,
        instrument_codes,
        qty,
        entry,
    )
    return book, is_book


def _fast_entry_prices(positions: list[Any]) -> FloatArray | None:
    """Entry prices of positions that are ``{instrument, quantity}`` or ``{instrument,
    quantity, entry_price}`` (NaN where absent), or ``None`` when any is unusual (a third key that
    is not ``entry_price``, a value that is not a number in ``(0, MAX_ENTRY_PRICE]``)."""
    raw: list[Any] = []
    given: list[bool] = []
    for p in positions:
        if len(p) == 2:
            raw.append(_NO_ENTRY)
            given.append(False)
        elif "entry_price" in p:
            value = p["entry_price"]
            if type(value) is not float and type(value) is not int:
                return None
            raw.append(value)
            given.append(True)
        else:
            return None
    try:
        entry = np.array(raw, dtype=np.float64)
    except OverflowError:
        return None
    priced = entry[np.asarray(given, dtype=bool)]
    if not np.all((priced > 0) & (priced <= MAX_ENTRY_PRICE)):  # NaN and inf fail too
        return None
    return entry


def _loops(parent: list[int]) -> bool:
    """Whether following parents from some account comes back to an account already on its way
    (linear time: each account is walked once)."""
    state = [0] * len(parent)  # 0 unseen, 1 on the current walk, 2 done
    for start in range(len(parent)):
        walk = []
        node = start
        while node >= 0 and state[node] == 0:
            state[node] = 1
            walk.append(node)
            node = parent[node]
        if node >= 0 and state[node] == 1:
            return True
        for k in walk:
            state[k] = 2
    return False


def parse_account_book(raw: object) -> tuple[AccountBook, bool]:
    """Columns of the parsed JSON of a portfolio or a book, and whether it was a book.

    Same rules and errors as :func:`parse_portfolio_or_book` (which decides every input the fast
    path does not recognize as well formed)."""
    fast = _fast_columns(raw)
    if fast is not None:
        return fast
    portfolios, is_book = parse_portfolio_or_book(raw)
    return AccountBook.from_portfolios(portfolios), is_book


def load_account_book(path: str | Path) -> tuple[AccountBook, bool]:
    """Read a portfolio or book JSON file (docs/formats.md 2) into columns."""
    return parse_account_book(read_json(path, "portfolio"))
