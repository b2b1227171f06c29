"""``solvent import ccxt`` refuses absurd numbers naming the field instead of printing them, or a
traceback (found by driving the command with hostile inputs)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from solvent.errors import SolventInputError
from solvent.venues.imports import import_ccxt

DATA = Path(__file__).resolve().parents[1] / "data" / "venues"


def _export() -> dict[str, Any]:
    raw: dict[str, Any] = json.loads((DATA / "ccxt-deribit.json").read_text())
    return raw


def _first(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    raw = _export()
    change(raw["positions"][0])
    return raw


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        # 1e308 contracts overflowed to an infinite quantity: a traceback when printed
        (_first(lambda p: p.update(contracts=1e308)), "positions[0].contracts"),
        # a negative count on a long position was silently turned into a small long
        (_first(lambda p: p.update(contracts=-5)), "positions[0].contracts"),
        # an infinite contract size was taken as 1
        (_first(lambda p: p.update(contractSize="inf")), "positions[0].contractSize"),
        ({**_export(), "balance": {"total": {"XYZ": 5}}}, "balance.XYZ"),
        ({**_export(), "balance": {"total": {"BTC": 1e300}}}, "balance.BTC"),
    ],
)
def test_an_absurd_number_is_refused_naming_its_field(raw: dict[str, Any], field: str) -> None:
    with pytest.raises(SolventInputError) as caught:
        import_ccxt(raw)
    assert caught.value.field == field


def test_a_short_given_as_negative_contracts_and_a_debt_still_import() -> None:
    raw = _first(lambda p: p.update(contracts=-14000.0, side="short"))
    raw["balance"] = {"total": {"BTC": -0.5}}
    portfolio = import_ccxt(raw)
    assert portfolio["positions"][0]["quantity"] < 0
    assert portfolio["collateral"] == {"BTC": -0.5}
