"""Socialized loss: exact integers, largest remainder, Crypto.com's published example."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solvent.errors import SolventInputError
from solvent.liquidation.socialize import socialize_loss

USDC = 10**6  # base units per USDC (collateral/data/assets.toml)


def test_crypto_com_published_example() -> None:
    """10,000 USD over profits 50,000 / 45,000 / 30,000 / 30,000 / 15,000 / 1,000 (Crypto.com
    Exchange, "Socialized loss" help article): shown to the cent, each share is the published
    one, and in base units the charges add up to the loss exactly."""
    profits = [50_000, 45_000, 30_000, 30_000, 15_000, 1_000]
    out = socialize_loss(10_000 * USDC, [p * USDC for p in profits])
    cents = [(Decimal(int(c)) / USDC).quantize(Decimal("0.01")) for c in out.charges.tolist()]
    assert cents == [
        Decimal("2923.98"),
        Decimal("2631.58"),
        Decimal("1754.39"),
        Decimal("1754.39"),
        Decimal("877.19"),
        Decimal("58.48"),
    ]
    assert out.charged == 10_000 * USDC
    assert out.uncovered == 0


def test_largest_remainder_and_ties() -> None:
    # 10 units over 3 equal weights: floors 3/3/3, one residual to the first (tie -> lower index)
    assert socialize_loss(10, [5, 5, 5]).charges.tolist() == [4, 3, 3]
    # remainders 0.6 / 0.3 / 0.1 of a unit: residual goes to the largest
    assert socialize_loss(10, [6, 3, 1]).charges.tolist() == [6, 3, 1]
    assert socialize_loss(1, [1, 6, 3]).charges.tolist() == [0, 1, 0]


def test_negative_basis_pays_nothing_and_uncovered() -> None:
    out = socialize_loss(100, [30, -50, 20])
    assert out.charges.tolist() == [30, 0, 20]
    assert out.uncovered == 50
    assert socialize_loss(0, [1, 2]).charges.tolist() == [0, 0]
    empty = socialize_loss(5, [])
    assert empty.charges.tolist() == [] and empty.uncovered == 5


@pytest.mark.parametrize(
    ("loss", "basis", "field"),
    [
        (-1, [1], "loss"),
        (1.5, [1], "loss"),
        (True, [1], "loss"),
        (1, [1.5], "basis"),
        (1, [[1]], "basis"),
    ],
)
def test_bad_input(loss: object, basis: object, field: str) -> None:
    with pytest.raises(SolventInputError) as err:
        socialize_loss(loss, basis)  # type: ignore[arg-type]
    assert err.value.field == field


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 2**62),
    st.lists(st.integers(-(2**62), 2**62), max_size=40),
)
def test_properties(loss: int, basis: list[int]) -> None:
    """Sums exact, nobody charged beyond its profit/equity (or below 0), each charge within one
    unit of its exact share, deterministic."""
    out = socialize_loss(loss, basis)
    weights = [max(b, 0) for b in basis]
    total = sum(weights)
    covered = min(loss, total)
    assert out.charged == covered
    assert out.uncovered == loss - covered
    for c, w in zip(out.charges.tolist(), weights, strict=True):
        assert 0 <= c <= w
        if total:
            exact = covered * w / total
            assert abs(c - exact) <= 1.0 + 1e-9 * exact
    again = socialize_loss(loss, np.array(basis, dtype=object))
    assert again.charges.tolist() == out.charges.tolist()
