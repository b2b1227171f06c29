"""The protocol's market form: a subset of a priced market equals resolving it afresh."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from helpers import market
from solvent.errors import SolventInputError
from solvent.margin.protocol import PricedMarket

NAMES = ("BTC-PERPETUAL", "ETH-27MAR26-4000-C", "BTC_USDC-PERPETUAL", "BTC-27MAR26-90000-P")


def test_subset_equals_a_fresh_resolution() -> None:
    snapshot = market()
    whole = PricedMarket.resolve(snapshot, NAMES)
    assert whole.subset(NAMES) is whole
    for names in (NAMES[::-1], NAMES[1:3], ("BTC-27MAR26-90000-P",)):
        part, fresh = whole.subset(names), PricedMarket.resolve(snapshot, names)
        assert part.instruments == fresh.instruments == names
        for f in dataclasses.fields(fresh.table):
            x, y = getattr(part.table, f.name), getattr(fresh.table, f.name)
            assert np.array_equal(x, y, equal_nan=True) if isinstance(x, np.ndarray) else x == y
        for f in dataclasses.fields(fresh.columns):
            x, y = getattr(part.columns, f.name), getattr(fresh.columns, f.name)
            assert np.array_equal(x, y, equal_nan=True), f.name
        assert np.array_equal(part.settlement_usd, fresh.settlement_usd)


def test_subset_refuses_an_instrument_it_did_not_price() -> None:
    whole = PricedMarket.resolve(market(), NAMES)
    with pytest.raises(SolventInputError, match="ETH-PERPETUAL"):
        whole.subset(("BTC-PERPETUAL", "ETH-PERPETUAL"))
