"""Adapters from the Derive test-vector records to our inputs and parameter sets.

The records (one JSON object per line; copies in tests/data/derive/) hold the inputs, parameters
and expected outputs read from derivexyz/v2-core's own test fixtures (facts, no upstream code).
These functions map one record onto :class:`DerivePortfolio` / :class:`DeriveSRMPortfolio` and the
matching parameter dataclasses, so the vectors can be re-run by tests, benchmarks or the docs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from solvent.errors import SolventInputError
from solvent.margin.derive.params import (
    PMRM1Params,
    PMRM2Params,
    SRMParams,
    pmrm1_params_from_mapping,
    pmrm2_params_from_mapping,
    srm_params_from_mapping,
)
from solvent.margin.derive.portfolio import (
    SECONDS_PER_DAY,
    DeriveCollateral,
    DeriveExpiry,
    DeriveMarket,
    DeriveOptions,
    DerivePortfolio,
    DeriveSRMPortfolio,
)

ONE_WEI = 1e-18


def _conf(value: object) -> float:
    """A confidence from a record: numbers, or the ``"0.4 - 1e-18 (...)"`` one-wei notation."""
    if isinstance(value, int | float):
        return float(value)
    text = str(value)
    if text.startswith("0.4 - 1e-18"):
        # 0.4e18 - 1 wei: strictly below a 0.4 threshold. A float cannot hold 0.4 - 1e-18, so use
        # the next float below 0.4, which keeps the strict comparison the fixture exercises.
        import math

        return math.nextafter(0.4, 0.0)
    raise SolventInputError("confidence", f"unrecognised confidence {value!r}")


def _expiry(raw: Mapping[str, Any]) -> DeriveExpiry:
    if "forward_variable_portion" in raw:
        fixed = float(raw.get("forward_fixed_portion", 0.0))
        variable = float(raw["forward_variable_portion"])
    else:
        fixed, variable = 0.0, float(raw["forward"])
    return DeriveExpiry(
        sec_to_expiry=float(raw["sec_to_expiry"]),
        forward_fixed=fixed,
        forward_variable=variable,
        forward_confidence=_conf(raw.get("forward_conf", 1.0)),
        rate=float(raw.get("rate", 0.0)),
        rate_confidence=_conf(raw.get("rate_conf", 1.0)),
        vol_confidence=_conf(raw.get("vol_conf", 1.0)),
    )


def _pm_market(inputs: Mapping[str, Any]) -> DeriveMarket:
    expiries = tuple(_expiry(e) for e in inputs["expiries"])
    index = {e.sec_to_expiry: i for i, e in enumerate(expiries)}
    rows = inputs["options_sec_strike_type_amount_vol"]
    return DeriveMarket(
        spot=float(inputs["spot"]),
        spot_confidence=_conf(inputs.get("spot_conf", 1.0)),
        perp_position=float(inputs.get("perp_position", 0.0)),
        perp_price=float(inputs.get("perp_price", 0.0)),
        perp_confidence=_conf(inputs.get("perp_conf", 1.0)),
        perp_value=float(inputs.get("perp_value_unsettled", 0.0)),
        base_position=float(inputs.get("base_position", 0.0)),
        expiries=expiries,
        options=DeriveOptions.from_columns(
            [index[float(r[0])] for r in rows],
            [float(r[1]) for r in rows],
            [r[2] == "C" for r in rows],
            [float(r[3]) for r in rows],
            [float(r[4]) for r in rows],
        ),
    )


def pmrm2_case(record: Mapping[str, Any]) -> tuple[DerivePortfolio, PMRM2Params]:
    """Portfolio and parameter set of one ``derive_pmrm2_portfolio_cases.jsonl`` record."""
    inputs = record["inputs"]
    collaterals = tuple(
        DeriveCollateral(c["name"], float(c["amount"]), float(c["price"]), _conf(c["conf"]))
        for c in inputs["collaterals"]
    )
    specs = {
        c["name"]: {
            "mm_haircut": c["MMHaircut"],
            "im_haircut": c["IMHaircut"],
            "risk_cancelling": c["risk_cancelling"],
        }
        for c in inputs["collaterals"]
    }
    p = record["params"]
    table = {
        "name": record["id"],
        "version": "fixture",
        "vol_shock": p["vol_shock"],
        "margin": p["margin"],
        "basis": p["basis"],
        "other": p["other"],
        "skew": p["skew"],
        "scenarios": record["scenarios"],
        "collaterals": specs,
    }
    params = pmrm2_params_from_mapping(
        table, allow_skew_spot_move=not record.get("asserted_upstream", True)
    )
    portfolio = DerivePortfolio(
        market=_pm_market(inputs),
        cash=float(inputs["cash"]),
        stable_price=float(inputs["stable_price"]),
        collaterals=collaterals,
    )
    return portfolio, params


def pmrm1_case(record: Mapping[str, Any]) -> tuple[DerivePortfolio, PMRM1Params]:
    """Portfolio and parameter set of one ``derive_pmrm1_cases.jsonl`` record."""
    inputs = record["inputs"]
    p = record["params"]
    vol = dict(p["vol"])
    if "dteFloorSec" in vol:
        vol["dteFloorDays"] = float(vol.pop("dteFloorSec")) / SECONDS_PER_DAY
    table = {
        "name": record["id"],
        "version": "fixture",
        "basis": p["basis"],
        "other": p["other"],
        "margin": p["margin"],
        "vol": vol,
        "scenarios": record["scenarios"],
    }
    params = pmrm1_params_from_mapping(table)
    portfolio = DerivePortfolio(
        market=_pm_market(inputs),
        cash=float(inputs["cash"]),
        stable_price=float(inputs["stable_price"]),
    )
    return portfolio, params


def srm_case(record: Mapping[str, Any]) -> tuple[DeriveSRMPortfolio, SRMParams]:
    """Portfolio and parameter set of one ``derive_srm_cases.jsonl`` record."""
    inputs = record["inputs"]
    markets = []
    for name, m in inputs["markets"].items():
        expiries = tuple(_expiry(e) for e in m["expiries"])
        idx: list[int] = []
        k: list[float] = []
        cp: list[bool] = []
        amt: list[float] = []
        vol: list[float] = []
        for j, e in enumerate(m["expiries"]):
            for r in e["options_strike_type_amount_vol"]:
                idx.append(j)
                k.append(float(r[0]))
                cp.append(r[1] == "C")
                amt.append(float(r[2]))
                vol.append(float(r[3]))
        markets.append(
            DeriveMarket(
                name=str(name).upper(),
                spot=float(m["spot"]),
                spot_confidence=_conf(m.get("spot_conf", 1.0)),
                perp_position=float(m.get("perp_position", 0.0)),
                perp_price=float(m.get("perp_price", 0.0)),
                perp_confidence=_conf(m.get("perp_conf", 1.0)),
                perp_value=float(m.get("perp_value_unsettled", 0.0)),
                base_position=float(m.get("base_position", 0.0)),
                expiries=expiries,
                options=DeriveOptions.from_columns(idx, k, cp, amt, vol),
            )
        )
    params = srm_params_from_mapping(
        {"name": record["id"], "version": "fixture", **record["params"]}
    )
    portfolio = DeriveSRMPortfolio(
        markets=tuple(markets),
        cash=float(inputs["cash"]),
        stable_price=float(inputs["stable_price"]),
    )
    return portfolio, params
