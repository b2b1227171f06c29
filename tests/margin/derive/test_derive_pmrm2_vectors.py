"""PMRM_2 (``derive-pm``) against every upstream portfolio case of derivexyz/v2-core.

Each record of tests/data/derive/derive_pmrm2_portfolio_cases.jsonl is one test: IM, MM, MtM,
option MtM, collateral MtM, every scenario P&L, the basis contingency, the MM/IM/confidence
contingency totals, and per expiry the static discounts and vol-shock multipliers, all within the
record's own tolerance (upstream assertApproxEqRel 1e-8; scenario P&L absolute 1e-8 when the
expected value is below 1e-10 in size; collateral MtM absolute 1e-8).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from solvent.margin.derive.pmrm2 import BASIS_LABEL, pmrm2_margin
from solvent.margin.derive.vectors import pmrm2_case

DATA = (
    Path(__file__).resolve().parents[2] / "data" / "derive" / "derive_pmrm2_portfolio_cases.jsonl"
)
RECORDS = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
REL = 1e-8
TINY = 1e-10
ABS_TINY = 1e-8

# derive-pmrm2-067 is commented out upstream (asserted_upstream false): its last scenario is a skew
# shock combined with a spot move, which PMRM_2.setScenarios rejects. Its IM, MM and the other 30
# scenario P&Ls reproduce; that one scenario's fixture value is not defined by the contract.
SKIP_SCENARIOS = {"derive-pmrm2-067": {30}}


def close(actual: float, expected: float, rel: float = REL) -> bool:
    if abs(expected) < TINY:
        return abs(actual - expected) <= ABS_TINY
    return abs(actual - expected) <= rel * abs(expected)


def test_all_records_present() -> None:
    assert len(RECORDS) == 139
    assert sum(r["asserted_upstream"] for r in RECORDS) == 138


@pytest.mark.parametrize("record", RECORDS, ids=[r["id"] for r in RECORDS])
def test_pmrm2_case(record: dict[str, Any]) -> None:
    portfolio, params = pmrm2_case(record)
    res = pmrm2_margin(portfolio, params)
    exp = record["expected"]
    failures: list[str] = []

    def check(name: str, actual: float, expected: float, rel: float = REL) -> None:
        if not close(actual, expected, rel):
            failures.append(f"{name}: got {actual!r}, expected {expected!r}")

    check("IM", res.im, exp["IM"])
    check("MM", res.mm, exp["MM"])
    check("MtM", res.mtm, exp["portfolio_mtm_incl_cash"])
    check("option_mtm", res.components["option_mtm"], exp["option_mtm"])
    if abs(res.components["collateral_mtm"] - exp["collateral_mtm"]) > ABS_TINY:
        failures.append(
            f"collateral_mtm: {res.components['collateral_mtm']} vs {exp['collateral_mtm']}"
        )
    check("basis_contingency", res.components["basis_contingency"], exp["basis_contingency"])
    check("MM_contingency_total", res.components["mm_contingency"], exp["MM_contingency_total"])
    check(
        "IM_contingency_total",
        res.components["mm_contingency"] + res.components["im_contingency"],
        exp["IM_contingency_total_incl_MM_part"],
    )
    check("oracle_conf", res.components["confidence_contingency"], exp["oracle_conf_contingency"])
    skip = SKIP_SCENARIOS.get(record["id"], set())
    assert len(res.scenario_pnl) == len(exp["scenario_pnls"])
    for i, (a, e) in enumerate(zip(res.scenario_pnl, exp["scenario_pnls"], strict=True)):
        if i not in skip:
            check(f"scenario[{i}] {res.scenario_labels[i]}", float(a), e)
    discounts = exp["static_discounts_pos_neg_per_expiry"]
    for j, (pos, neg) in enumerate(discounts):
        check(f"static_pos[{j}]", float(res.expiries.static_discount_pos[j]), pos)
        check(f"static_neg[{j}]", float(res.expiries.static_discount_neg[j]), neg)
    # The fixture lists the vol-shock multipliers once per option (of its expiry).
    ups, downs = exp["vol_shock_up_down_mult_per_expiry"]
    option_expiry = portfolio.market.options.expiry_index
    assert len(ups) == len(option_expiry)
    for i, (u, d) in enumerate(zip(ups, downs, strict=True)):
        j = int(option_expiry[i])
        check(f"vol_up[option {i}]", float(res.expiries.vol_shock_up[j]), u)
        check(f"vol_down[option {i}]", float(res.expiries.vol_shock_down[j]), d)
    # The reported worst scenario is the argmin rule (strict <, basis contingency first).
    pnl = np.asarray(res.scenario_pnl)
    if res.worst_index == len(pnl):
        assert res.worst_label == BASIS_LABEL
        assert not (pnl < res.components["basis_contingency"]).any()
    else:
        assert pnl[res.worst_index] == pnl.min() < res.components["basis_contingency"]
    assert not failures, "\n".join(failures)
