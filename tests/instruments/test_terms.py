"""Contract terms: validation errors name the field; time to expiry is ACT/365 in seconds."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from solvent.errors import SolventInputError
from solvent.instruments.terms import (
    SECONDS_PER_YEAR,
    InstrumentKind,
    Settlement,
    make_instrument,
)

EXPIRY = datetime(2024, 6, 28, 8, tzinfo=UTC)
OPTION: dict[str, Any] = {
    "name": "BTC-28JUN24-70000-C",
    "kind": "option",
    "underlying": "BTC",
    "settlement": "inverse",
    "expiry": EXPIRY,
    "strike": 70_000.0,
    "option_type": "call",
}


def test_option_terms_and_defaults() -> None:
    inst = make_instrument(**OPTION)
    assert inst.kind is InstrumentKind.OPTION and inst.settlement is Settlement.INVERSE
    assert inst.settlement_asset == "BTC" and inst.contract_size == 1.0
    assert inst.is_option and inst.is_inverse and not inst.is_delta_one
    linear = make_instrument(**{**OPTION, "settlement": "linear"})
    assert linear.settlement_asset == "USDC" and not linear.is_inverse


def test_terms_are_frozen() -> None:
    inst = make_instrument(**OPTION)
    with pytest.raises(dataclasses.FrozenInstanceError):
        inst.strike = 1.0  # type: ignore[misc]


def test_expiry_is_normalised_to_utc_and_time_is_act365() -> None:
    tokyo = timezone(timedelta(hours=9))
    inst = make_instrument(**{**OPTION, "expiry": datetime(2024, 6, 28, 17, tzinfo=tokyo)})
    assert inst.expiry == EXPIRY and inst.expiry.tzinfo is UTC
    as_of = EXPIRY - timedelta(days=365)
    assert inst.time_to_expiry(as_of) == 1.0
    assert inst.time_to_expiry(EXPIRY - timedelta(hours=12)) == 0.5 / 365
    assert SECONDS_PER_YEAR == 31_536_000.0
    perp = make_instrument(
        name="BTC-PERPETUAL", kind="perpetual", underlying="BTC", settlement="inverse"
    )
    assert perp.time_to_expiry(as_of) == 0.0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "instruments[2].name"),
        ({"kind": "swap"}, "instruments[2].kind"),
        ({"settlement": "quanto"}, "instruments[2].settlement"),
        ({"underlying": "btc"}, "instruments[2].underlying"),
        ({"underlying": ""}, "instruments[2].underlying"),
        ({"contract_size": 0.0}, "instruments[2].contract_size"),
        ({"contract_size": float("nan")}, "instruments[2].contract_size"),
        ({"contract_size": -1.0}, "instruments[2].contract_size"),
        ({"expiry": None}, "instruments[2].expiry"),
        ({"expiry": datetime(2024, 6, 28, 8)}, "instruments[2].expiry"),  # naive
        ({"strike": None}, "instruments[2].strike"),
        ({"strike": -5.0}, "instruments[2].strike"),
        ({"strike": 0.0}, "instruments[2].strike"),
        ({"strike": float("inf")}, "instruments[2].strike"),
        ({"strike": float("nan")}, "instruments[2].strike"),
        ({"option_type": None}, "instruments[2].option_type"),
        ({"option_type": "straddle"}, "instruments[2].option_type"),
    ],
)
def test_option_validation_names_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(SolventInputError) as err:
        make_instrument(**{**OPTION, **change}, field="instruments[2]")
    assert err.value.field == field


def test_delta_one_validation() -> None:
    base: dict[str, Any] = {"name": "X", "underlying": "BTC", "field": "i"}
    with pytest.raises(SolventInputError) as err:
        make_instrument(**base, kind="future", settlement="inverse")
    assert err.value.field == "i.expiry"
    with pytest.raises(SolventInputError) as err:
        make_instrument(**base, kind="perpetual", settlement="inverse", expiry=EXPIRY)
    assert err.value.field == "i.expiry"
    with pytest.raises(SolventInputError) as err:
        make_instrument(**base, kind="future", settlement="linear", expiry=EXPIRY, strike=1.0)
    assert err.value.field == "i.strike"
    with pytest.raises(SolventInputError) as err:
        make_instrument(**base, kind="spot", settlement="inverse")
    assert err.value.field == "i.settlement"
    spot = make_instrument(**base, kind="spot", settlement="linear")
    assert spot.is_delta_one and spot.settlement_asset == "USDC"
