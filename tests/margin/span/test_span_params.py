"""SPAN.json and portfolio validation: every defect names its field by path."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest
from span_helpers import DATA, future

from solvent.errors import SolventInputError
from solvent.margin.span import load_span_params, parse_span_params, parse_span_portfolio


def _base() -> dict[str, Any]:
    return {
        "currency": "USD",
        "combined_commodities": [
            {"code": "C", "products": [future("C1", 1000), future("C2", 900, tier=2)]},
            {"code": "S", "products": [future("S1", 2000)]},
        ],
        "inter_spreads": [
            {
                "priority": 1,
                "credit_rate": 0.5,
                "legs": [{"cc": "C", "delta_ratio": 1}, {"cc": "S", "delta_ratio": 1}],
            }
        ],
    }


def _field_error(raw: dict[str, Any]) -> str:
    with pytest.raises(SolventInputError) as info:
        parse_span_params(raw)
    return info.value.field


def test_formats_example_parses() -> None:
    raw = json.loads(
        """{"currency": "USD",
 "combined_commodities": [
   {"code": "SP",
    "products": [{"name": "SP-DEC", "tier": 1, "delta": 1.0, "is_option": false,
                  "risk_array": [0, 0, -3330, -3330, 3330, 3330, -6670, -6670, 6670, 6670,
                                 -10000, -10000, 10000, 10000, -7000, 7000],
                  "short_option_minimum": 0.0}],
    "intra_spreads": [{"tier_a": 1, "tier_b": 2, "charge": 200.0}],
    "maintenance_to_initial": 1.0}]}"""
    )
    params = parse_span_params(raw)
    assert params.table.names == ("SP-DEC",)
    assert params.table.risk_arrays.shape == (1, 16)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda r: r.update(extra=1), "extra"),
        (lambda r: r["combined_commodities"][0].update(margin=1), "combined_commodities[0].margin"),
        (
            lambda r: r["combined_commodities"][0]["products"][1].update(colour="red"),
            "combined_commodities[0].products[1].colour",
        ),
        (
            lambda r: r["combined_commodities"][0]["products"][1]["risk_array"].pop(),
            "combined_commodities[0].products[1].risk_array",
        ),
        (
            lambda r: r["combined_commodities"][0]["products"][1]["risk_array"].__setitem__(
                3, math.nan
            ),
            "combined_commodities[0].products[1].risk_array[3]",
        ),
        (
            lambda r: r["combined_commodities"][1]["products"][0]["risk_array"].__setitem__(
                0, math.inf
            ),
            "combined_commodities[1].products[0].risk_array[0]",
        ),
        (
            lambda r: r["combined_commodities"][0]["products"][0].update(delta="1"),
            "combined_commodities[0].products[0].delta",
        ),
        (
            lambda r: r["combined_commodities"][0]["products"][0].update(is_option=1),
            "combined_commodities[0].products[0].is_option",
        ),
        (
            lambda r: r["combined_commodities"][0]["products"][0].update(short_option_minimum=-1),
            "combined_commodities[0].products[0].short_option_minimum",
        ),
        (
            lambda r: r["combined_commodities"][0]["products"][0].pop("risk_array"),
            "combined_commodities[0].products[0].risk_array",
        ),
        (
            lambda r: r["combined_commodities"][1]["products"][0].update(name="C1"),
            "combined_commodities[1].products[0].name",
        ),
        (lambda r: r["combined_commodities"][1].update(code="C"), "combined_commodities[1].code"),
        (
            lambda r: r["combined_commodities"][0].update(maintenance_to_initial=0.9),
            "combined_commodities[0].maintenance_to_initial",
        ),
        (
            lambda r: r["combined_commodities"][0].update(
                intra_spreads=[{"tier_a": 1, "tier_b": 1, "charge": 5}]
            ),
            "combined_commodities[0].intra_spreads[0].tier_b",
        ),
        (
            lambda r: r["combined_commodities"][0].update(
                intra_spreads=[{"tier_a": 1, "tier_b": 2, "charge": -5}]
            ),
            "combined_commodities[0].intra_spreads[0].charge",
        ),
        (lambda r: r["inter_spreads"][0]["legs"][1].update(cc="W"), "inter_spreads[0].legs[1].cc"),
        (lambda r: r["inter_spreads"][0].update(credit_rate=1.2), "inter_spreads[0].credit_rate"),
        (
            lambda r: r["inter_spreads"][0]["legs"][0].update(delta_ratio=0),
            "inter_spreads[0].legs[0].delta_ratio",
        ),
        (lambda r: r["inter_spreads"][0]["legs"].pop(), "inter_spreads[0].legs"),
        (
            lambda r: r["inter_spreads"][0]["legs"][1].update(side="A"),
            "inter_spreads[0].legs",
        ),
        (lambda r: r["inter_spreads"][0]["legs"][1].update(cc="C"), "inter_spreads[0].legs[1].cc"),
        (lambda r: r.pop("currency"), "currency"),
    ],
)
def test_defects_name_their_field(mutate: Any, field: str) -> None:
    raw = copy.deepcopy(_base())
    mutate(raw)
    assert _field_error(raw) == field


def test_non_finite_numbers_in_the_json_text_are_rejected(tmp_path: Path) -> None:
    text = json.dumps(_base()).replace('"delta": 1.0', '"delta": Infinity', 1)
    path = tmp_path / "SPAN.json"
    path.write_text(text)
    with pytest.raises(SolventInputError) as info:
        load_span_params(path)
    assert info.value.field == "combined_commodities[0].products[0].delta"


def test_portfolio_names_unknown_products_and_bad_quantities() -> None:
    params = load_span_params(DATA / "cme_corn_soybeans.json")
    with pytest.raises(SolventInputError) as info:
        parse_span_portfolio(
            {
                "positions": [
                    {"instrument": "C-DEC", "quantity": 1},
                    {"instrument": "W-DEC", "quantity": 1},
                ]
            },
            params,
        )
    assert info.value.field == "positions[1].instrument"
    assert "W-DEC" in info.value.message
    with pytest.raises(SolventInputError) as info:
        parse_span_portfolio({"positions": [{"instrument": "C-DEC", "quantity": math.nan}]}, params)
    assert info.value.field == "positions[0].quantity"


def test_repeated_positions_add_up() -> None:
    params = load_span_params(DATA / "cme_corn_soybeans.json")
    portfolio = parse_span_portfolio(
        {
            "account": "a",
            "collateral": {"USD": 1.0},
            "positions": [
                {"instrument": "C-DEC", "quantity": 1.5},
                {"instrument": "C-DEC", "quantity": 0.5},
            ],
        },
        params,
    )
    assert portfolio.account == "a"
    assert portfolio.quantities.tolist() == [2.0, 0.0]
