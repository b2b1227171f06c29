"""Deribit-style instrument names: every shape, and bad names rejected naming the field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from solvent.errors import SolventInputError
from solvent.instruments.names import parse_expiry, parse_instrument_name
from solvent.instruments.terms import InstrumentKind, OptionType, Settlement


def test_inverse_option() -> None:
    inst = parse_instrument_name("BTC-28JUN24-70000-C")
    assert inst.name == "BTC-28JUN24-70000-C"
    assert inst.kind is InstrumentKind.OPTION
    assert inst.underlying == "BTC"
    assert inst.settlement is Settlement.INVERSE and inst.settlement_asset == "BTC"
    assert inst.expiry == datetime(2024, 6, 28, 8, 0, tzinfo=UTC)
    assert inst.strike == 70_000.0
    assert inst.option_type is OptionType.CALL
    assert inst.contract_size == 1.0
    put = parse_instrument_name("ETH-5JAN26-3200-P")
    assert put.option_type is OptionType.PUT and put.expiry == datetime(2026, 1, 5, 8, tzinfo=UTC)


def test_inverse_perpetual() -> None:
    inst = parse_instrument_name("BTC-PERPETUAL")
    assert inst.kind is InstrumentKind.PERPETUAL
    assert inst.settlement is Settlement.INVERSE and inst.settlement_asset == "BTC"
    assert inst.expiry is None and inst.strike is None and inst.option_type is None


def test_linear_perpetual() -> None:
    inst = parse_instrument_name("BTC_USDC-PERPETUAL")
    assert inst.kind is InstrumentKind.PERPETUAL
    assert inst.underlying == "BTC"
    assert inst.settlement is Settlement.LINEAR and inst.settlement_asset == "USDC"
    assert parse_instrument_name("ETH_USDT-PERPETUAL").settlement_asset == "USDT"


def test_dated_futures() -> None:
    inst = parse_instrument_name("ETH-27MAR26")
    assert inst.kind is InstrumentKind.FUTURE
    assert inst.underlying == "ETH" and inst.settlement is Settlement.INVERSE
    assert inst.expiry == datetime(2026, 3, 27, 8, 0, tzinfo=UTC)
    linear = parse_instrument_name("BTC_USDC-9JAN26")
    assert linear.settlement is Settlement.LINEAR and linear.settlement_asset == "USDC"
    assert linear.expiry == datetime(2026, 1, 9, 8, tzinfo=UTC)


def test_strikes_with_a_decimal_d() -> None:
    inst = parse_instrument_name("SOL_USDC-28JUN24-150d5-C")
    assert inst.strike == 150.5
    assert inst.settlement is Settlement.LINEAR and inst.underlying == "SOL"
    assert parse_instrument_name("XRP_USDC-27MAR26-2d25-P").strike == 2.25
    assert parse_instrument_name("XRP_USDC-27MAR26-0d5-P").strike == 0.5


def test_spot() -> None:
    for name, settle in (("BTC", "USDC"), ("BTC_USDT", "USDT")):
        inst = parse_instrument_name(name)
        assert inst.kind is InstrumentKind.SPOT
        assert inst.settlement is Settlement.LINEAR and inst.settlement_asset == settle


def test_every_month_code() -> None:
    months = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
    for i, code in enumerate(months, start=1):
        assert parse_expiry(f"1{code}27") == datetime(2027, i, 1, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "-PERPETUAL",
        "btc-PERPETUAL",
        "BTC-PERP",
        "BTC-28JUN",
        "BTC-28XYZ24",
        "BTC-32JAN24",
        "BTC-29FEB23",  # not a leap year
        "BTC-28JUN24-70000",
        "BTC-28JUN24-70000-X",
        "BTC-28JUN24-abc-C",
        "BTC-28JUN24-70.5-C",  # Deribit writes the decimal point as d
        "BTC-28JUN24-0-C",
        "BTC-28JUN24-70000-C-X",
        "BTC_BTC",
        "BTC__USDC-PERPETUAL",
        "BTC-PERPETUAL-C",
    ],
)
def test_bad_names_raise_naming_the_field(name: str) -> None:
    with pytest.raises(SolventInputError) as err:
        parse_instrument_name(name, field="positions[3].instrument")
    assert err.value.field.startswith("positions[3].instrument")
    assert str(err.value).startswith("positions[3].instrument")


def test_leap_day_is_fine() -> None:
    assert parse_instrument_name("BTC-29FEB28").expiry == datetime(2028, 2, 29, 8, tzinfo=UTC)
