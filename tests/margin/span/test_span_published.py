"""Published SPAN worked examples (tests/data/span/published_cases.json): the source's answers."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from span_helpers import DATA

from solvent.margin.span import load_span_params, parse_span_portfolio, span_book, span_margin

CASES: list[dict[str, Any]] = json.loads((DATA / "published_cases.json").read_text())["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_published_case(case: dict[str, Any]) -> None:
    params = load_span_params(DATA / case["params"])
    portfolio = parse_span_portfolio({"positions": case["positions"]}, params)
    result = span_margin(params, portfolio.quantities)
    expected = case["expected"]
    assert result.requirement == pytest.approx(expected["requirement"], abs=1e-9)
    by_code = {cc.code: cc for cc in result.combined_commodities}
    for code, fields in expected.get("combined_commodities", {}).items():
        for key, value in fields.items():
            assert getattr(by_code[code], key) == pytest.approx(value, abs=1e-9)
    if "inter_spread_credit_total" in expected:
        total = sum(cc.inter_spread_credit for cc in result.combined_commodities)
        assert total == pytest.approx(expected["inter_spread_credit_total"], abs=1e-9)
    if "scenario_pnl" in expected:
        # the source prints P&L (profit positive); SPAN losses are its negative
        (cc,) = result.combined_commodities
        np.testing.assert_allclose(cc.scenario_losses, -np.asarray(expected["scenario_pnl"]))


def test_mcmillan_ratio_write_is_the_weighted_sum_of_the_printed_arrays() -> None:
    # McMillan p. 671: long 3 futures, short 5 calls = 3 x future array + 5 x (-call array)
    params = load_span_params(DATA / "mcmillan_sp500.json")
    book = span_book(params, np.array([3.0, -5.0]))
    arrays = params.table.risk_arrays
    np.testing.assert_allclose(book.scenario_losses[0, 0], 3 * arrays[0] - 5 * arrays[1])
    assert book.scan_risk[0, 0] == pytest.approx(max((3 * arrays[0] - 5 * arrays[1]).max(), 0))
