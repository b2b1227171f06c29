"""The market snapshot of docs/formats.md 1: parsing, derived marks and forwards, rejection of bad
input with the offending field named, and immutability."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import QuantLib as ql

from solvent.errors import SolventInputError
from solvent.instruments.terms import InstrumentKind, Settlement
from solvent.market.snapshot import MarketSnapshot, load_market, parse_market

# docs/formats.md 1, verbatim.
EXAMPLE = """
{
  "as_of": "2024-06-17T10:22:20.501Z",
  "index": {"BTC": 65666.19, "ETH": 3512.40, "USDC": 1.0},
  "rates": {"USD": 0.0},
  "instruments": [
    {"name": "BTC-PERPETUAL", "kind": "perpetual", "underlying": "BTC", "settlement": "inverse",
     "mark_price": 65910.57},
    {"name": "BTC-28JUN24", "kind": "future", "underlying": "BTC", "settlement": "inverse",
     "expiry": "2024-06-28T08:00:00Z", "mark_price": 67371.75},
    {"name": "BTC-28JUN24-70000-C", "kind": "option", "underlying": "BTC", "settlement": "inverse",
     "expiry": "2024-06-28T08:00:00Z", "strike": 70000, "option_type": "call",
     "forward": 67371.75, "mark_iv": 0.45},
    {"name": "BTC", "kind": "spot", "underlying": "BTC", "settlement": "linear"}
  ]
}
"""
AS_OF = datetime(2024, 6, 17, 10, 22, 20, 501000, tzinfo=UTC)
EXPIRY = datetime(2024, 6, 28, 8, tzinfo=UTC)
T_EXAMPLE = (EXPIRY - AS_OF).total_seconds() / (365 * 86400)


def example() -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(EXAMPLE)
    return raw


def ql_black(
    is_call: bool, strike: float, forward: float, vol: float, t: float, discount: float = 1.0
) -> float:
    kind = ql.Option.Call if is_call else ql.Option.Put
    return float(ql.blackFormula(kind, strike, forward, vol * math.sqrt(t), discount))


def test_formats_example_parses() -> None:
    m = parse_market(example())
    assert m.as_of == AS_OF
    assert dict(m.index) == {"BTC": 65666.19, "ETH": 3512.40, "USDC": 1.0}
    assert list(m.quotes) == ["BTC-PERPETUAL", "BTC-28JUN24", "BTC-28JUN24-70000-C", "BTC"]
    perp = m.quote("BTC-PERPETUAL")
    assert perp.instrument.kind is InstrumentKind.PERPETUAL
    assert perp.mark_price == perp.forward == 65910.57 and perp.time_to_expiry == 0.0
    fut = m.quote("BTC-28JUN24")
    assert fut.mark_price == 67371.75 and fut.time_to_expiry == pytest.approx(T_EXAMPLE, rel=1e-15)
    opt = m.quote("BTC-28JUN24-70000-C")
    assert opt.instrument.settlement is Settlement.INVERSE
    assert opt.mark_iv == 0.45 and opt.forward == 67371.75
    usd = ql_black(True, 70_000.0, 67371.75, 0.45, T_EXAMPLE)
    assert opt.mark_price == pytest.approx(usd / 67371.75, rel=1e-12)
    assert opt.mark_price_usd == pytest.approx(usd, rel=1e-12)
    spot = m.quote("BTC")
    assert spot.mark_price == 65666.19 and spot.instrument.kind is InstrumentKind.SPOT
    assert m.price_usd("USDC") == 1.0 and m.price_usd("USDT") == 1.0
    with pytest.raises(SolventInputError) as err:
        m.price_usd("DOGE", "collateral.DOGE")
    assert err.value.field == "collateral.DOGE"
    with pytest.raises(SolventInputError) as err:
        m.quote("BTC-PERP", "positions[0].instrument")
    assert err.value.field == "positions[0].instrument"


def test_load_market_from_file(tmp_path: Path) -> None:
    path = tmp_path / "market.json"
    path.write_text(EXAMPLE, encoding="utf-8")
    assert load_market(path).quotes == parse_market(example()).quotes


def test_mark_from_iv_and_iv_from_mark_round_trip() -> None:
    first = parse_market(example()).quote("BTC-28JUN24-70000-C")
    raw = example()
    opt = raw["instruments"][2]
    del opt["mark_iv"]
    opt["mark_price"] = first.mark_price
    back = parse_market(raw).quote("BTC-28JUN24-70000-C")
    assert back.mark_iv == pytest.approx(0.45, rel=1e-10)
    assert back.mark_price == first.mark_price


def test_linear_option_mark_is_usd_and_rates_discount() -> None:
    raw = example()
    raw["rates"] = {"USD": 0.05}
    raw["instruments"].append(
        {"name": "BTC_USDC-28JUN24-60000-P", "mark_iv": 0.5, "forward": 67000.0}
    )
    q = parse_market(raw).quote("BTC_USDC-28JUN24-60000-P")
    assert q.instrument.settlement is Settlement.LINEAR and q.instrument.settlement_asset == "USDC"
    df = math.exp(-0.05 * T_EXAMPLE)
    expected = ql_black(False, 60_000.0, 67_000.0, 0.5, T_EXAMPLE, df)
    assert q.mark_price == pytest.approx(expected, rel=1e-12)
    assert q.mark_price_usd == q.mark_price
    # And back: a USD mark gives the same vol.
    raw["instruments"][-1] = {
        "name": "BTC_USDC-28JUN24-60000-P",
        "mark_price": expected,
        "forward": 67000.0,
    }
    assert parse_market(raw).quote(q.instrument.name).mark_iv == pytest.approx(0.5, rel=1e-10)


def test_forward_defaults_to_same_expiry_future_else_index() -> None:
    raw = example()
    del raw["instruments"][2]["forward"]
    raw["instruments"] += [
        {"name": "BTC-26JUL24-70000-P", "mark_iv": 0.5},  # no future of that expiry
        {"name": "ETH-28JUN24-3500-C", "mark_iv": 0.6},  # BTC's future is not ETH's forward
        {
            "name": "ETH-28JUN24",
            "mark_price": 3530.0,
            "kind": "future",
            "underlying": "ETH",
            "settlement": "inverse",
            "expiry": "2024-06-28T08:00:00Z",
        },  # listed after the option
    ]
    m = parse_market(raw)
    assert m.quote("BTC-28JUN24-70000-C").forward == 67371.75
    assert m.quote("BTC-26JUL24-70000-P").forward == 65666.19
    assert m.quote("ETH-28JUN24-3500-C").forward == 3530.0
    # An explicit forward wins over the future.
    raw["instruments"][2]["forward"] = 67000.0
    assert parse_market(raw).quote("BTC-28JUN24-70000-C").forward == 67000.0


def test_names_alone_are_parsed() -> None:
    raw = example()
    raw["instruments"] = [
        {"name": "BTC-PERPETUAL", "mark_price": 65910.57},
        {"name": "ETH_USDC-PERPETUAL", "mark_price": 3515.0},
        {"name": "BTC-28JUN24-70000-C", "mark_iv": 0.45},
    ]
    m = parse_market(raw)
    assert m.quote("ETH_USDC-PERPETUAL").instrument.settlement is Settlement.LINEAR
    opt = m.quote("BTC-28JUN24-70000-C").instrument
    assert opt.expiry == EXPIRY and opt.strike == 70_000.0 and opt.is_inverse


def _rejects(raw: Any, field: str) -> None:
    before = copy.deepcopy(raw)
    with pytest.raises(SolventInputError) as err:
        parse_market(raw)
    assert err.value.field == field, str(err.value)
    assert str(err.value).startswith(field)
    assert raw == before or raw is None  # the input is never modified


def _set(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    raw = example()
    target: Any = raw
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return raw


BAD_VALUES = [
    (("index", "BTC"), float("nan"), "index.BTC"),
    (("index", "BTC"), "NaN", "index.BTC"),
    (("index", "BTC"), float("inf"), "index.BTC"),
    (("index", "BTC"), -1.0, "index.BTC"),
    (("index", "BTC"), 0.0, "index.BTC"),
    (("index", "ETH"), "3512.40", "index.ETH"),
    (("index", "ETH"), True, "index.ETH"),
    (("rates", "USD"), float("nan"), "rates.USD"),
    (("instruments", 0, "mark_price"), float("nan"), "instruments[0].mark_price"),
    (("instruments", 0, "mark_price"), -65910.57, "instruments[0].mark_price"),
    (("instruments", 1, "mark_price"), float("-inf"), "instruments[1].mark_price"),
    (("instruments", 1, "mark_price"), "NaN", "instruments[1].mark_price"),
    (("instruments", 2, "mark_iv"), float("nan"), "instruments[2].mark_iv"),
    (("instruments", 2, "mark_iv"), -0.45, "instruments[2].mark_iv"),
    (("instruments", 2, "mark_iv"), 0.0, "instruments[2].mark_iv"),
    (("instruments", 2, "mark_iv"), float("inf"), "instruments[2].mark_iv"),
    (("instruments", 2, "forward"), float("nan"), "instruments[2].forward"),
    (("instruments", 2, "forward"), -1.0, "instruments[2].forward"),
    (("instruments", 2, "strike"), float("nan"), "instruments[2].strike"),
    (("instruments", 2, "strike"), -70000, "instruments[2].strike"),
    (("instruments", 2, "mark_price"), float("nan"), "instruments[2].mark_price"),
    (("instruments", 2, "contract_size"), 0, "instruments[2].contract_size"),
    (("instruments", 3, "mark_price"), float("nan"), "instruments[3].mark_price"),
    (("instruments", 1, "kind"), "swap", "instruments[1].kind"),
    (("instruments", 1, "settlement"), "quanto", "instruments[1].settlement"),
    (("instruments", 2, "option_type"), "straddle", "instruments[2].option_type"),
    (("instruments", 1, "expiry"), "2024-06-01T08:00:00Z", "instruments[1].expiry"),
    (("instruments", 2, "expiry"), "2024-06-17T10:22:20.501Z", "instruments[2].expiry"),
    (("instruments", 2, "expiry"), "2024-06-28T08:00:00", "instruments[2].expiry"),
    (("instruments", 2, "expiry"), "28 June", "instruments[2].expiry"),
    (("instruments", 0, "colour"), "red", "instruments[0].colour"),
    (("as_of",), "2024-06-17T10:22:20", "as_of"),
    (("as_of",), 1718619740, "as_of"),
    (("surprise",), 1, "surprise"),
    (("instruments",), {"a": 1}, "instruments"),
    (("instruments", 0), "BTC-PERPETUAL", "instruments[0]"),
    (("index",), [65666.19], "index"),
]


@pytest.mark.parametrize(("path", "value", "field"), BAD_VALUES)
def test_bad_values_are_rejected_naming_the_field(
    path: tuple[Any, ...], value: Any, field: str
) -> None:
    _rejects(_set(path, value), field)


@pytest.mark.parametrize(
    ("index", "key", "field"),
    [
        (None, "as_of", "as_of"),
        (None, "index", "index"),
        (None, "instruments", "instruments"),
        (0, "mark_price", "instruments[0].mark_price"),
        (1, "mark_price", "instruments[1].mark_price"),
        (1, "expiry", "instruments[1].expiry"),
        (2, "mark_iv", "instruments[2].mark_iv"),  # neither mark_iv nor mark_price left
        (2, "strike", "instruments[2].strike"),
        (2, "option_type", "instruments[2].option_type"),
        (2, "name", "instruments[2].name"),
    ],
)
def test_missing_fields_are_rejected(index: int | None, key: str, field: str) -> None:
    raw = example()
    del (raw if index is None else raw["instruments"][index])[key]
    _rejects(raw, field)


def test_other_rejections() -> None:
    # An underlying without an index price.
    raw = example()
    raw["instruments"].append({"name": "SOL-PERPETUAL", "mark_price": 150.0})
    _rejects(raw, "index")
    # Duplicate instruments.
    raw = example()
    raw["instruments"].append(dict(raw["instruments"][0]))
    _rejects(raw, "instruments[4].name")
    # A premium that no volatility can produce (below intrinsic value).
    raw = example()
    opt = raw["instruments"][2]
    del opt["mark_iv"]
    opt["strike"], opt["mark_price"] = 60_000, 0.01  # intrinsic is 0.109 coin
    opt["name"] = "BTC-28JUN24-60000-C"  # (the name must agree with the strike)
    _rejects(raw, "instruments[2].mark_price")
    # A name that cannot be parsed when the explicit fields are missing.
    raw = example()
    raw["instruments"].append({"name": "BTC-SOMETIME", "mark_price": 1.0})
    _rejects(raw, "instruments[4].name")
    # Not an object at all.
    _rejects(None, "market")


def test_json_nan_and_infinity_are_refused_naming_the_field(tmp_path: Path) -> None:
    """Python's json module reads bare NaN/Infinity; the snapshot must still refuse them, and say
    where they were."""
    cases = [
        ('"BTC": 65666.19', '"BTC": NaN', "index.BTC"),
        ('"BTC": 65666.19', '"BTC": "NaN"', "index.BTC"),
        ('"BTC": 65666.19', '"BTC": Infinity', "index.BTC"),
        ('"BTC": 65666.19', '"BTC": 1e999', "index.BTC"),
        ('"BTC": 65666.19', '"BTC": 1' + "0" * 400, "index.BTC"),
        ('"mark_iv": 0.45', '"mark_iv": NaN', "instruments[2].mark_iv"),
        ('"mark_price": 65910.57', '"mark_price": -Infinity', "instruments[0].mark_price"),
    ]
    for old, new, field in cases:
        assert old in EXAMPLE
        path = tmp_path / "market.json"
        path.write_text(EXAMPLE.replace(old, new), encoding="utf-8")
        with pytest.raises(SolventInputError) as err:
            load_market(path)
        assert err.value.field == field, (new, str(err.value))


def test_snapshot_is_immutable() -> None:
    raw = example()
    m = parse_market(raw)
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.as_of = AS_OF  # type: ignore[misc]
    with pytest.raises(TypeError):
        m.index["BTC"] = 1.0  # type: ignore[index]
    with pytest.raises(TypeError):
        m.rates["USD"] = 1.0  # type: ignore[index]
    with pytest.raises(TypeError):
        del m.quotes["BTC"]  # type: ignore[attr-defined]
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.quote("BTC").mark_price = 1.0  # type: ignore[misc]
    # Changing the input afterwards changes nothing in the snapshot.
    raw["index"]["BTC"] = 1.0
    raw["instruments"][0]["mark_price"] = 1.0
    assert m.index["BTC"] == 65666.19 and m.quote("BTC-PERPETUAL").mark_price == 65910.57


def test_columns_follow_the_table() -> None:
    raw = example()
    raw["rates"] = {"USD": 0.03}
    m: MarketSnapshot = parse_market(raw)
    names = ["BTC-28JUN24-70000-C", "BTC-PERPETUAL", "BTC"]
    table = m.table(names)
    cols = m.columns(table)
    assert list(table.names) == names
    assert list(cols.forward) == [67371.75, 65910.57, 65666.19]
    assert list(cols.spot) == [65666.19] * 3
    assert cols.time[0] == pytest.approx(T_EXAMPLE) and cols.time[1] == cols.time[2] == 0.0
    assert cols.vol[0] == 0.45 and math.isnan(cols.vol[1])
    assert cols.discount[0] == pytest.approx(math.exp(-0.03 * T_EXAMPLE))
    assert cols.rate[0] == 0.03
    with pytest.raises(SolventInputError) as err:
        m.table(["BTC", "NOPE-PERPETUAL"], "positions")
    assert err.value.field == "positions[1]"


def test_order_books_are_parsed_into_the_snapshot() -> None:
    raw = example()
    raw["order_books"] = {
        "BTC": {"bids": [[65660.0, 1.5], [65650.0, 3.0]], "asks": [[65670.0, 2.0]]}
    }
    book = parse_market(raw).order_books["BTC"]
    assert list(book.bid_prices) == [65660.0, 65650.0] and list(book.ask_sizes) == [2.0]
    raw["order_books"]["BTC"]["asks"] = [[65670.0, float("nan")]]
    _rejects(raw, "order_books.BTC.asks[0][1]")
