"""Liquidation cash flows beyond the ledger's 64-bit range are refused, never wrapped around (a
replay along a path that took BTC to 1e-7 USD once ended in a numpy cast warning's traceback)."""

from __future__ import annotations

import numpy as np
import pytest

from solvent.errors import SolventInputError
from solvent.liquidation.units import Ledger


def test_a_cash_flow_beyond_the_ledger_range_is_refused_naming_the_market() -> None:
    ledger = Ledger(("BTC", "USDC"), rows=2)
    cols = np.array([0, 1], dtype=np.intp)
    with pytest.raises(SolventInputError) as caught:
        ledger.to_units(np.array([-1.9e13, 5.0]), cols)
    assert caught.value.field == "market"
    with pytest.raises(SolventInputError):
        ledger.to_units(np.array([np.nan, 5.0]), cols)


def test_cash_flows_within_the_range_are_floored_to_base_units() -> None:
    ledger = Ledger(("BTC", "USDC"), rows=2)
    units = ledger.to_units(np.array([-0.000000015, 1.2345678]), np.array([0, 1], dtype=np.intp))
    assert units.tolist() == [-2, 1_234_567]
