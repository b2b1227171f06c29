"""Socialized loss: the last step of the loss waterfall, after the insurance fund and ADL.

A loss left uncovered is shared pro rata among the accounts that can bear it, by profit (as
Crypto.com publishes) or by equity, in exact integers of the asset's base unit: each account pays
the floor of its exact share, and the few units the floors leave are handed out one each by
largest remainder (ties to the account listed first), so the charges add up to the loss exactly
and the result never depends on float rounding or on anything but the inputs' order.

Crypto.com's published example (10,000 USD over profits 50,000 / 45,000 / 30,000 / 30,000 /
15,000 / 1,000) comes out as 2,923.98 / 2,631.58 / 1,754.39 / 1,754.39 / 877.19 / 58.48 when the
loss is shared in USDC base units (1e-6) and shown to the cent
(docs/methodology/adl-and-auctions.md).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from solvent.arrays import IntArray
from solvent.errors import SolventInputError


class SocializeBasis(enum.StrEnum):
    """What a socialized loss is shared by: each account's profit, or its equity."""

    PROFIT = "profit"
    EQUITY = "equity"


@dataclass(frozen=True)
class Socialization:
    """The charge of each account (base units, >= 0, aligned with the basis given) and the part
    of the loss nobody could bear (``uncovered`` >= 0: the basis added up to less than it)."""

    charges: IntArray
    uncovered: int

    @property
    def charged(self) -> int:
        """Sum of the charges (base units)."""
        return int(self.charges.sum())


def _integers(values: ArrayLike, field: str) -> list[int]:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise SolventInputError(field, "must be a flat list of integers of base units")
    if arr.dtype.kind not in "iuO" and arr.size:
        raise SolventInputError(field, "must be integers of base units")
    out: list[int] = []
    for i, v in enumerate(arr.tolist()):
        if isinstance(v, bool) or not isinstance(v, int):
            raise SolventInputError(f"{field}[{i}]", "must be an integer of base units")
        out.append(v)
    return out


def socialize_loss(
    loss_units: int, basis_units: ArrayLike, *, field: str = "basis"
) -> Socialization:
    """Share ``loss_units`` (base units, >= 0) pro rata over ``max(basis, 0)`` (base units).

    Exact: ``charges[i] = floor(L w_i / W)`` plus one unit for the ``L - sum floor`` largest
    remainders ``L w_i mod W`` (ties: lower index first), with ``L = min(loss, W)`` and ``W`` the
    sum of the weights. So ``sum(charges) = L``, ``charges[i] <= w_i`` and
    ``uncovered = loss - L``. Arithmetic is on Python integers (no overflow at any size).
    """
    if isinstance(loss_units, bool) or not isinstance(loss_units, int | np.integer):
        raise SolventInputError("loss", "must be an integer of base units")
    loss = int(loss_units)
    if loss < 0:
        raise SolventInputError("loss", f"must be >= 0, got {loss}")
    weights = [max(w, 0) for w in _integers(basis_units, field)]
    total = sum(weights)
    covered = min(loss, total)
    n = len(weights)
    if covered == 0:
        return Socialization(charges=np.zeros(n, dtype=np.int64), uncovered=loss)
    exact = np.array([covered * w for w in weights], dtype=object)
    floors = exact // total
    remainders = exact - floors * total
    residual = covered - int(floors.sum())
    # largest remainder first; ties to the lower index (a stable sort of the negated remainders)
    order = sorted(range(n), key=lambda i: (-remainders[i], i))
    charges = [int(f) for f in floors]
    for i in order[:residual]:
        charges[i] += 1
    return Socialization(charges=np.array(charges, dtype=np.int64), uncovered=loss - covered)
