"""P&L of delta-1 instruments (futures, perpetuals, spot) for a move of their price.

Per 1 unit of the underlying held long (multiply by a signed quantity; short is negative):

- linear (USD-settled): ``P1 - P0`` in USD;
- inverse (coin-settled, Deribit style): ``1 - P0 / P1`` in coin. An inverse position of q coin at
  price P0 is a contract on ``q * P0`` USD, whose P&L in coin at P1 is ``q * P0 * (1/P0 - 1/P1)``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from solvent.arrays import FloatArray


def linear_pnl(entry_price: ArrayLike, exit_price: ArrayLike) -> FloatArray:
    """USD P&L of 1 unit long of a linear contract from ``entry_price`` to ``exit_price`` (USD)."""
    return np.asarray(
        np.asarray(exit_price, dtype=np.float64) - np.asarray(entry_price), dtype=np.float64
    )


def inverse_pnl(entry_price: ArrayLike, exit_price: ArrayLike) -> FloatArray:
    """Coin P&L of 1 coin long of an inverse contract between two USD prices."""
    p0 = np.asarray(entry_price, dtype=np.float64)
    return np.asarray(1.0 - p0 / np.asarray(exit_price, dtype=np.float64), dtype=np.float64)


def linear_pnl_total(
    quantity: ArrayLike, entry_cost: ArrayLike, exit_price: ArrayLike
) -> FloatArray:
    """USD P&L of linear positions summed: ``quantity x exit_price - entry_cost``, where
    ``quantity`` is their signed total and ``entry_cost`` the sum of ``quantity x entry_price``
    (USD); equals the sum of :func:`linear_pnl` x quantity over the positions."""
    q = np.asarray(quantity, dtype=np.float64)
    return np.asarray(q * np.asarray(exit_price) - np.asarray(entry_cost), dtype=np.float64)


def inverse_pnl_total(
    quantity: ArrayLike, entry_cost: ArrayLike, exit_price: ArrayLike
) -> FloatArray:
    """Coin P&L of inverse positions summed: ``quantity - entry_cost / exit_price`` (``quantity``
    in coin, ``entry_cost`` the sum of ``quantity x entry_price`` in USD); equals the sum of
    :func:`inverse_pnl` x quantity over the positions."""
    q = np.asarray(quantity, dtype=np.float64)
    return np.asarray(q - np.asarray(entry_cost) / np.asarray(exit_price), dtype=np.float64)
