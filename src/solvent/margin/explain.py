"""Euler allocation: each position's share of a requirement that is not a single scenario's P&L.

For a requirement ``IM(q)`` that is positively homogeneous of degree 1 in the quantities (SIMM
without binding concentration thresholds, Derive's scenario losses), ``IM = sum_i q_i dIM/dq_i``:
the shares add up to the requirement. Each derivative is a central finite difference, with every
bumped copy of the account margined in one vectorized call of the model.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from solvent.margin.result import Contribution
from solvent.portfolio.book import Book

EULER_STEP = 1e-4
"""Relative bump of each position's quantity (central difference)."""


def euler_contributions(
    book: Book, account: int, requirement: Callable[[Book], NDArray[np.float64]]
) -> tuple[Contribution, ...]:
    """Each position of ``account`` with its Euler share of ``requirement`` (in ``initial_margin``).

    ``requirement(book)`` returns the requirement of every account of a book (one call margins
    all 2k bumped copies of the account's k positions)."""
    cols, qty = book.row(account)
    k = cols.size
    if k == 0:
        return ()
    scale = np.ones((2 * k, k))
    scale[np.arange(k), np.arange(k)] += EULER_STEP
    scale[k + np.arange(k), np.arange(k)] -= EULER_STEP
    bumped = Book.from_arrays(
        tuple(f"bump-{i}" for i in range(2 * k)),
        book.instruments,
        np.repeat(np.arange(2 * k), k),
        np.tile(cols, 2 * k),
        (scale * qty[None, :]).ravel(),
    )
    values = requirement(bumped)
    shares = (values[:k] - values[k:]) / (2 * EULER_STEP)
    return tuple(
        Contribution(book.instruments[c], float(q), initial_margin=float(s))
        for c, q, s in zip(cols, qty, shares, strict=True)
    )
