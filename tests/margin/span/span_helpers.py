"""Builders shared by the SPAN tests (standard futures arrays, small parameter files)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[2] / "data" / "span"

#: A future's loss per unit of price scan range in the 16 scenarios (35 % of 2x for 15/16).
FUTURE_SHAPE = [
    0,
    0,
    -1 / 3,
    -1 / 3,
    1 / 3,
    1 / 3,
    -2 / 3,
    -2 / 3,
    2 / 3,
    2 / 3,
    -1,
    -1,
    1,
    1,
    -0.7,
    0.7,
]


def future(name: str, scan: float, tier: int = 1, delta: float = 1.0) -> dict[str, Any]:
    """A future with price scan range ``scan`` (its outright requirement)."""
    return {
        "name": name,
        "tier": tier,
        "delta": delta,
        "is_option": False,
        "risk_array": [scan * x for x in FUTURE_SHAPE],
    }


def option(
    name: str, risk_array: list[float], delta: float, som: float = 0.0, tier: int = 1
) -> dict[str, Any]:
    return {
        "name": name,
        "tier": tier,
        "delta": delta,
        "is_option": True,
        "risk_array": risk_array,
        "short_option_minimum": som,
    }
