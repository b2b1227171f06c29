"""The book: every account's positions as one sparse matrix (accounts x instruments).

``quantities[a, i]`` is account ``a``'s signed quantity of instrument ``i`` (> 0 long). Every
account's scenario P&L is ``quantities @ risk_array.pnl``; one account is the one-row case.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from solvent.errors import SolventInputError
from solvent.portfolio.portfolio import Portfolio


@dataclass(frozen=True, slots=True)
class Book:
    """``quantities`` is CSR (accounts x instruments); ``instruments`` names its columns."""

    accounts: tuple[str, ...]
    instruments: tuple[str, ...]
    quantities: sp.csr_array

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
        q = sp.csr_array(
            (
                np.asarray(vals, dtype=np.float64),
                (np.asarray(rows, np.intp), np.asarray(cols, np.intp)),
            ),
            shape=(len(portfolios), len(instruments)),
        )
        q.sum_duplicates()
        return cls(tuple(p.account for p in portfolios), tuple(instruments), q)

    @classmethod
    def from_arrays(
        cls,
        accounts: Sequence[str],
        instruments: Sequence[str],
        account_index: NDArray[np.intp],
        instrument_index: NDArray[np.intp],
        quantity: NDArray[np.float64],
    ) -> Book:
        """Book from coordinate arrays (one entry per position), for large synthetic books."""
        q = sp.csr_array(
            (quantity, (account_index, instrument_index)), shape=(len(accounts), len(instruments))
        )
        q.sum_duplicates()
        return cls(tuple(accounts), tuple(instruments), q)

    def __len__(self) -> int:
        return len(self.accounts)

    def slice(self, start: int, stop: int) -> Book:
        """The accounts ``start:stop`` as a book over the same instruments."""
        return Book(self.accounts[start:stop], self.instruments, self.quantities[start:stop])

    def row(self, account: int) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
        """(instrument columns, quantities) of one account's non-zero positions."""
        start, stop = self.quantities.indptr[account], self.quantities.indptr[account + 1]
        cols = np.asarray(self.quantities.indices[start:stop], dtype=np.intp)
        qty = np.asarray(self.quantities.data[start:stop], dtype=np.float64)
        return cols, qty
