"""Derive's Standard Manager against every upstream vector of derivexyz/v2-core.

- 42 portfolio cases (test-cases-portfolio.json): upstream asserts int(margin / 1e18) (truncation
  toward zero); we truncate our float rounded to 1e-9 (see the PMRM v1 test for why).
- 28 "Cases" (test-cases.json): IM, MM and MtM within 0.1 % relative (assertApproxEqRel 0.001e18;
  an expected 0 must be matched exactly, which we read as |got| <= 1e-9).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from solvent.margin.derive.srm import srm_margin
from solvent.margin.derive.vectors import srm_case

DATA = Path(__file__).resolve().parents[2] / "data" / "derive" / "derive_srm_cases.jsonl"
RECORDS = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]


def truncated(x: float) -> int:
    return math.trunc(round(x, 9))


def test_all_records_present() -> None:
    assert len(RECORDS) == 70


@pytest.mark.parametrize("record", RECORDS, ids=[r["id"] for r in RECORDS])
def test_srm_case(record: dict[str, Any]) -> None:
    portfolio, params = srm_case(record)
    res = srm_margin(portfolio, params)
    exp = record["expected"]
    if "IM_trunc_int" in exp:
        assert (truncated(res.im), truncated(res.mm)) == (exp["IM_trunc_int"], exp["MM_trunc_int"])
        return
    for name, got, want in (
        ("IM", res.im, exp["IM"]),
        ("MM", res.mm, exp["MM"]),
        ("MtM", res.mtm, exp["MtM_incl_cash"]),
    ):
        if want == 0.0:
            assert abs(got) <= 1e-9, f"{name}: got {got!r}, expected 0"
        else:
            assert abs(got - want) <= 1e-3 * abs(want), f"{name}: got {got!r}, expected {want!r}"
