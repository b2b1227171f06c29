"""unit_greeks: Black-76 greeks for options, delta 1 for delta-1 rows, times contract size."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import market
from solvent.pricing.black76 import black76_greeks
from solvent.pricing.unit_greeks import unit_greeks


def test_options_and_delta_one_rows() -> None:
    m = market([{"name": "BTC-27MAR26-100000-C", "mark_iv": 0.5, "contract_size": 0.1}])
    names = ["BTC-PERPETUAL", "BTC-27MAR26", "BTC-27MAR26-100000-C", "BTC-27MAR26-90000-P"]
    table = m.table(names)
    cols = m.columns(table)
    g = unit_greeks(table, cols)
    np.testing.assert_array_equal(g.delta[:2], [1.0, 1.0])
    np.testing.assert_array_equal(g.vega[:2], [0.0, 0.0])
    ref = black76_greeks(
        cols.forward[2:], table.strike[2:], cols.time[2:], cols.vol[2:], table.is_call[2:]
    )
    assert g.delta[2] == pytest.approx(0.1 * ref.delta[0], rel=1e-14)  # contract size 0.1
    assert g.vega[3] == pytest.approx(ref.vega[1], rel=1e-14)
    assert g.delta[3] < 0
