"""The columnar instrument table mirrors the terms it was built from, row for row."""

from __future__ import annotations

import numpy as np

from solvent.instruments.names import parse_instrument_name
from solvent.instruments.table import KIND_CODES, InstrumentTable
from solvent.instruments.terms import InstrumentKind

NAMES = (
    "BTC-PERPETUAL",
    "ETH_USDC-PERPETUAL",
    "BTC-28JUN24",
    "BTC-28JUN24-70000-C",
    "ETH-28JUN24-3000-P",
    "SOL_USDC-28JUN24-150d5-C",
    "BTC",
)


def test_columns_match_the_terms() -> None:
    instruments = [parse_instrument_name(n) for n in NAMES]
    table = InstrumentTable.from_instruments(instruments)
    assert len(table) == len(NAMES) and table.names == NAMES
    assert table.kind.dtype == np.int8
    assert list(table.kind) == [KIND_CODES[i.kind] for i in instruments]
    np.testing.assert_array_equal(table.is_option, [False, False, False, True, True, True, False])
    np.testing.assert_array_equal(table.is_inverse, [True, False, True, True, True, False, False])
    np.testing.assert_array_equal(table.is_call, [False, False, False, True, False, True, False])
    np.testing.assert_array_equal(
        table.strike, [np.nan, np.nan, np.nan, 70_000.0, 3_000.0, 150.5, np.nan]
    )
    np.testing.assert_array_equal(table.contract_size, 1.0)
    assert table.underlyings == ("BTC", "ETH", "SOL")
    assert [table.underlyings[c] for c in table.underlying_code] == [
        i.underlying for i in instruments
    ]
    assert [table.settlement_assets[c] for c in table.settlement_code] == [
        i.settlement_asset for i in instruments
    ]
    assert set(table.settlement_assets) == {"BTC", "ETH", "USDC"}


def test_kind_codes_are_distinct_and_cover_every_kind() -> None:
    assert set(KIND_CODES) == set(InstrumentKind)
    assert len(set(KIND_CODES.values())) == len(KIND_CODES)


def test_empty_table() -> None:
    table = InstrumentTable.from_instruments([])
    assert len(table) == 0 and table.strike.shape == (0,) and table.underlyings == ()
