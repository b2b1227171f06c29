"""The book: every account's positions as one sparse matrix (accounts x instruments).

``quantities[a, i]`` is account ``a``'s signed quantity of instrument ``i`` (> 0 long). Every
account's scenario P&L is ``quantities @ risk_array.pnl``; one account is the one-row case.

Entry prices (docs/formats.md 2) travel as :class:`EntryCosts`: two sparse matrices of the same
shape that are additive like the quantities, so repeated positions and netted margin groups stay
exact (the P&L formulas of :mod:`solvent.accounts.equity` are linear in both).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from solvent.arrays import FloatArray
from solvent.errors import SolventInputError
from solvent.portfolio.portfolio import Portfolio


@dataclass(frozen=True, slots=True)
class EntryCosts:
    """The positions that carry an entry price, as two CSR matrices shaped like the book's.

    ``quantity[a, i]``: signed quantity (units of the underlying) of account ``a``'s positions in
    instrument ``i`` that have an entry price; ``cost[a, i]``: the sum of ``quantity x
    entry_price`` over them (entry-price units x units of the underlying: USD for futures and
    perpetuals, the settlement asset for options). Positions without an entry price are in
    neither (they are marked at the mark)."""

    quantity: sp.csr_array
    cost: sp.csr_array

    def __post_init__(self) -> None:
        q, c = self.quantity, self.cost
        if (
            q.shape != c.shape
            or not np.array_equal(q.indptr, c.indptr)
            or not np.array_equal(q.indices, c.indices)
        ):
            raise ValueError("entry quantity and cost must have the same sparsity structure")

    def entries(self) -> tuple[NDArray[np.intp], NDArray[np.intp], FloatArray, FloatArray]:
        """The stored entries as ``(rows, columns, quantity, cost)`` arrays."""
        q = self.quantity
        rows = np.repeat(np.arange(q.shape[0], dtype=np.intp), np.diff(q.indptr))
        cols = np.asarray(q.indices, dtype=np.intp)
        return rows, cols, np.asarray(q.data, np.float64), np.asarray(self.cost.data, np.float64)

    def rows(self, start: int, stop: int) -> EntryCosts:
        """Rows ``start:stop``."""
        return EntryCosts(self.quantity[start:stop], self.cost[start:stop])


def entry_costs(
    shape: tuple[int, int],
    rows: NDArray[np.intp],
    cols: NDArray[np.intp],
    quantity: NDArray[np.float64],
    entry_price: NDArray[np.float64] | None,
) -> EntryCosts | None:
    """:class:`EntryCosts` of positions in coordinate form (``entry_price`` NaN: none), or
    ``None`` when no position has an entry price."""
    if entry_price is None:
        return None
    has = ~np.isnan(entry_price)
    if not has.any():
        return None
    r, c, q = rows[has], cols[has], quantity[has]
    qty = sp.csr_array((q, (r, c)), shape=shape)
    cost = sp.csr_array((q * entry_price[has], (r, c)), shape=shape)
    qty.sum_duplicates()
    cost.sum_duplicates()
    return EntryCosts(qty, cost)


@dataclass(frozen=True, slots=True)
class Book:
    """``quantities`` is CSR (accounts x instruments); ``instruments`` names its columns;
    ``entry`` the positions' entry prices (``None``: no position has one)."""

    accounts: tuple[str, ...]
    instruments: tuple[str, ...]
    quantities: sp.csr_array
    entry: EntryCosts | None = None

    @classmethod
    def from_portfolios(
        cls, portfolios: Sequence[Portfolio], instruments: Sequence[str] | None = None
    ) -> Book:
        """Book of ``portfolios``; columns are ``instruments`` (default: every held instrument,
        in order of first appearance). Repeated positions in one instrument are summed."""
        if instruments is None:
            seen: dict[str, None] = {}
            for p in portfolios:
                for pos in p.positions:
                    seen.setdefault(pos.instrument, None)
            instruments = list(seen)
        column = {name: j for j, name in enumerate(instruments)}
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        entries: list[float] = []
        for a, p in enumerate(portfolios):
            for k, pos in enumerate(p.positions):
                j = column.get(pos.instrument)
                if j is None:
                    raise SolventInputError(
                        f"accounts[{a}].positions[{k}].instrument",
                        f"unknown instrument {pos.instrument!r}",
                    )
                rows.append(a)
                cols.append(j)
                vals.append(pos.quantity)
                entries.append(np.nan if pos.entry_price is None else pos.entry_price)
        return cls.from_arrays(
            tuple(p.account for p in portfolios),
            tuple(instruments),
            np.asarray(rows, np.intp),
            np.asarray(cols, np.intp),
            np.asarray(vals, dtype=np.float64),
            np.asarray(entries, dtype=np.float64),
        )

    @classmethod
    def from_arrays(
        cls,
        accounts: Sequence[str],
        instruments: Sequence[str],
        account_index: NDArray[np.intp],
        instrument_index: NDArray[np.intp],
        quantity: NDArray[np.float64],
        entry_price: NDArray[np.float64] | None = None,
    ) -> Book:
        """Book from coordinate arrays (one entry per position; ``entry_price`` per position,
        NaN where it has none). Repeated positions in one instrument are summed."""
        shape = (len(accounts), len(instruments))
        q = sp.csr_array((quantity, (account_index, instrument_index)), shape=shape)
        q.sum_duplicates()
        entry = entry_costs(shape, account_index, instrument_index, quantity, entry_price)
        return cls(tuple(accounts), tuple(instruments), q, entry)

    def __len__(self) -> int:
        return len(self.accounts)

    def slice(self, start: int, stop: int) -> Book:
        """The accounts ``start:stop`` as a book over the same instruments."""
        entry = None if self.entry is None else self.entry.rows(start, stop)
        return Book(self.accounts[start:stop], self.instruments, self.quantities[start:stop], entry)

    def row(self, account: int) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
        """(instrument columns, quantities) of one account's non-zero positions."""
        start, stop = self.quantities.indptr[account], self.quantities.indptr[account + 1]
        cols = np.asarray(self.quantities.indices[start:stop], dtype=np.intp)
        qty = np.asarray(self.quantities.data[start:stop], dtype=np.float64)
        return cols, qty
