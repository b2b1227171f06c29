"""PMRM v1 against every upstream vector of derivexyz/v2-core (tests/data/derive/).

- 44 portfolio cases (test-cases-portfolio-pm.json): upstream asserts int(margin / 1e18), the
  18-decimal margin truncated toward zero. Our float margin carries ~1e-13 of rounding noise where
  the decimal value is an exact integer (e.g. 824.9999999999998 for 825), so we truncate the value
  rounded to 1e-9, i.e. we require the float to sit within 1e-9 of the upstream decimal's integer
  part interval.
- 21 high-precision cases (testAndVerifyScenarios.json): IM, MM, basis and static contingency
  and MtM within 1e-10 absolute, as upstream asserts.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from solvent.margin.derive.pmrm1 import pmrm1_margin
from solvent.margin.derive.vectors import pmrm1_case

DATA = Path(__file__).resolve().parents[2] / "data" / "derive" / "derive_pmrm1_cases.jsonl"
RECORDS = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]


def truncated(x: float) -> int:
    """Upstream's int(margin / 1e18): toward zero, after removing float noise below 1e-9."""
    return math.trunc(round(x, 9))


def test_all_records_present() -> None:
    assert len(RECORDS) == 65


@pytest.mark.parametrize("record", RECORDS, ids=[r["id"] for r in RECORDS])
def test_pmrm1_case(record: dict[str, Any]) -> None:
    portfolio, params = pmrm1_case(record)
    res = pmrm1_margin(portfolio, params)
    exp = record["expected"]
    if "IM_trunc_int" in exp:
        assert (truncated(res.im), truncated(res.mm)) == (exp["IM_trunc_int"], exp["MM_trunc_int"])
        return
    got = {
        "IM": res.im,
        "MM": res.mm,
        "basis_contingency": res.components["basis_contingency"],
        "static_contingency": res.components["static_contingency"],
        "portfolio_mtm_incl_cash": res.mtm,
    }
    for key, value in got.items():
        assert abs(value - exp[key]) <= 1e-10, f"{key}: got {value!r}, expected {exp[key]!r}"
