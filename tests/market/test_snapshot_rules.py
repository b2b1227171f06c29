"""Issue 8, items 5 and 8: explicit terms agree with the name; marks, forwards, strikes, vols,
rates and order books inside documented plausibility limits (docs/formats.md, validation rules)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from solvent.errors import SolventInputError
from solvent.market.snapshot import parse_market

BASE: dict[str, Any] = {
    "as_of": "2026-01-05T08:00:00Z",
    "index": {"BTC": 100_000.0, "USDC": 1.0},
    "rates": {"USD": 0.05},
    "instruments": [
        {"name": "BTC-PERPETUAL", "mark_price": 100_050.0},
        {"name": "BTC-27MAR26", "mark_price": 101_000.0},
        {
            "name": "BTC-27MAR26-110000-C",
            "kind": "option",
            "underlying": "BTC",
            "settlement": "inverse",
            "expiry": "2026-03-27T08:00:00Z",
            "strike": 110_000,
            "option_type": "call",
            "mark_iv": 0.5,
        },
    ],
    "order_books": {"BTC": {"bids": [[99_990.0, 1.0]], "asks": [[100_010.0, 1.0]]}},
}


def _market(**changes: Any) -> dict[str, Any]:
    raw = copy.deepcopy(BASE)
    for path, value in changes.items():
        *parents, last = path.split("__")
        node: Any = raw
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        node[int(last) if last.isdigit() else last] = value
    return raw


def _refused(raw: dict[str, Any], field: str, *words: str) -> None:
    with pytest.raises(SolventInputError) as info:
        parse_market(raw)
    assert info.value.field == field, str(info.value)
    for word in words:
        assert word in info.value.message, info.value.message


def test_the_base_market_loads() -> None:
    assert len(parse_market(_market()).quotes) == 3


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("option_type", "put", "call"),
        ("strike", 100_000, "110000.0"),
        ("expiry", "2026-06-26T08:00:00Z", "2026-03-27"),
        ("underlying", "ETH", "BTC"),
        ("settlement", "linear", "inverse"),
    ],
)
def test_explicit_terms_contradicting_the_name_are_refused(
    key: str, value: Any, named: str
) -> None:
    raw = _market(**{f"instruments__2__{key}": value})
    raw["index"]["ETH"] = 4_000.0
    _refused(raw, f"instruments[2].{key}", str(value) if key != "expiry" else "2026-06-26", named)


def test_kind_and_settlement_asset_contradictions() -> None:
    raw = _market()
    raw["instruments"][0].update(kind="future", expiry="2026-03-27T08:00:00Z")
    _refused(raw, "instruments[0].kind", "future", "perpetual")
    raw = _market()
    raw["instruments"].append(
        {"name": "BTC_USDC-PERPETUAL", "settlement_asset": "USDT", "mark_price": 100_000.0}
    )
    _refused(raw, "instruments[3].settlement_asset", "USDT", "USDC")


def test_a_name_of_the_venues_own_keeps_its_explicit_terms() -> None:
    raw = _market()
    raw["instruments"].append(
        {"name": "MY-CUSTOM-PERP", "kind": "perpetual", "underlying": "BTC",
         "settlement": "linear", "mark_price": 100_000.0}
    )  # fmt: skip
    assert parse_market(raw).quotes["MY-CUSTOM-PERP"].instrument.settlement.value == "linear"


def test_marks_far_from_the_index_are_refused() -> None:
    _refused(_market(instruments__0__mark_price=1e10), "instruments[0].mark_price", "100000")
    _refused(_market(instruments__1__mark_price=10.0), "instruments[1].mark_price", "future mark")
    assert parse_market(_market(instruments__1__mark_price=180_000.0))  # a wide basis is fine


def test_forwards_strikes_and_vols_out_of_bounds_are_refused() -> None:
    _refused(_market(instruments__2__forward=1e-300), "instruments[2].forward", "forward")
    raw = _market(instruments__2__strike=1e300)
    raw["instruments"][2]["name"] = "BTC-27MAR26-" + "1" + "0" * 300 + "-C"
    _refused(raw, "instruments[2].strike", "strike")
    _refused(_market(instruments__2__mark_iv=50.0), "instruments[2].mark_iv", "at most 10")


@pytest.mark.parametrize(("rate", "ok"), [(5.0, False), (-2.0, False), (0.9, True)])
def test_rates_are_bounded(rate: float, ok: bool) -> None:
    raw = _market(rates__USD=rate)
    if ok:
        assert parse_market(raw).rates["USD"] == rate
    else:
        _refused(raw, "rates.USD", "must be in [-1.0, 1.0]")


def test_an_absurd_order_book_touch_is_refused() -> None:
    _refused(
        _market(order_books__BTC={"bids": [[1.0, 1.0]], "asks": [[1e9, 1.0]]}),
        "order_books.BTC.bids[0]",
        "the index",
    )
    _refused(
        _market(order_books__BTC={"bids": [[80_000.0, 1.0]], "asks": [[120_000.0, 1.0]]}),
        "order_books.BTC",
        "apart",
    )
    _refused(
        _market(order_books__BTC={"bids": [[99_990.0, 1e100]], "asks": [[100_010.0, 1.0]]}),
        "order_books.BTC.bids",
        "size",
    )


def test_index_prices_are_bounded() -> None:
    _refused(_market(index__BTC=1e300), "index.BTC", "must be in")
