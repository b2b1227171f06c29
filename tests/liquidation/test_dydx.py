"""dYdX v4 liquidation arithmetic against the 113 vectors of dydxprotocol/v4-chain's own tests
(tests/data/dydx/README.md): one test per record."""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from solvent.errors import SolventInputError
from solvent.liquidation.dydx import (
    LiquidityTier,
    PerpetualMarket,
    Risk,
    Subaccount,
    UpdateRefusedError,
    bankruptcy_price,
    compare_risk,
    deleverage,
    fillable_price,
    insurance_fund_delta,
    is_liquidatable,
    is_valid_transition,
    position_notional_limits,
)

DATA = Path(__file__).parents[1] / "data" / "dydx" / "dydx_v4_cases.jsonl"
RECORDS = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
BTC = PerpetualMarket(-8, 5_000_000_000, -5, LiquidityTier(200_000, 500_000))


def of(engine: str) -> list[dict[str, Any]]:
    chosen = [r for r in RECORDS if r["engine"].endswith(engine)]
    assert chosen, engine
    return chosen


def ids(record: dict[str, Any]) -> str:
    return str(record["id"])


def market(raw: dict[str, Any]) -> PerpetualMarket:
    tier = raw["liquidity_tier"]
    return PerpetualMarket(
        atomic_resolution=raw["atomic_resolution"],
        price_int=raw["price_int"],
        price_exponent=raw["price_exponent"],
        tier=LiquidityTier(tier["initial_margin_ppm"], tier["maintenance_fraction_ppm"]),
    )


def subaccount(inputs: dict[str, Any]) -> Subaccount:
    markets = {m["ticker"].split("-")[0]: market(m) for m in inputs["markets"]}
    return Subaccount(inputs["usdc_quote_quantums"], inputs["positions_base_quantums"], markets)


def test_all_records_covered() -> None:
    assert len(RECORDS) == 113
    engines = {r["engine"] for r in RECORDS}
    covered = (
        "GetBankruptcyPriceInQuoteQuantums",
        "GetFillablePrice",
        "GetLiquidationInsuranceFundDelta",
        "GetMarginRequirementsInQuoteQuantums",
        "GetMaintenanceMarginPpm",
        "GetAdjustedInitialMarginPpm",
        "GetInitialMarginQuoteQuantums",
        "GetMaxAndMinPositionNotionalLiquidatable",
        "IsLiquidatable",
        "Cmp",
        "(at liquidated bankruptcy price)",
    )
    assert all(any(e.endswith(c) for c in covered) for e in engines)
    assert sum(len(of(c)) for c in covered) == 113


@pytest.mark.parametrize("record", of("GetBankruptcyPriceInQuoteQuantums"), ids=ids)
def test_bankruptcy_price(record: dict[str, Any]) -> None:
    inputs = record["inputs"]
    got = bankruptcy_price(subaccount(inputs), inputs["perpetual"], inputs["delta_quantums"])
    assert got == record["expected"]["bankruptcy_quote_quantums"]


@pytest.mark.parametrize("record", of("GetFillablePrice"), ids=ids)
def test_fillable_price(record: dict[str, Any]) -> None:
    inputs = record["inputs"]
    account = subaccount(inputs)
    got = fillable_price(
        account,
        inputs["perpetual"],
        bankruptcy_adjustment_ppm=inputs["bankruptcy_adjustment_ppm"],
        spread_to_maintenance_margin_ratio_ppm=inputs["spread_to_mmr_ratio_ppm"],
    )
    expected = record["expected"]
    assert got == Fraction(expected["fillable_price_quote_quantums_per_base_quantum"])
    usd = account.markets[inputs["perpetual"]].usd_per_unit(got)
    assert usd == Fraction(Decimal(str(expected["fillable_price_usd"])))


@pytest.mark.parametrize("record", of("GetLiquidationInsuranceFundDelta"), ids=ids)
def test_insurance_fund_delta(record: dict[str, Any]) -> None:
    inputs = record["inputs"]
    got = insurance_fund_delta(
        subaccount(inputs),
        "BTC",
        is_buy=inputs["is_buy"],
        fill_base_quantums=inputs["fill_base_quantums"],
        fill_quote_quantums=inputs["fill_quote_quantums_abs"],
        max_liquidation_fee_ppm=inputs["max_liquidation_fee_ppm"],
    )
    assert got == record["expected"]["insurance_fund_delta_quote_quantums"]


@pytest.mark.parametrize("record", of("GetMarginRequirementsInQuoteQuantums"), ids=ids)
def test_margin_requirements(record: dict[str, Any]) -> None:
    i = record["inputs"]
    tier = LiquidityTier(
        i["initial_margin_ppm"],
        i["maintenance_fraction_ppm"],
        i["oi_lower_cap_qq"],
        i["oi_upper_cap_qq"],
    )
    perp = PerpetualMarket(
        i["atomic_resolution"],
        i["price_int"],
        i["price_exponent"],
        tier,
        i["open_interest_base_quantums"],
    )
    imr, mmr = perp.margin_requirements(i["base_quantums"])
    assert (imr, mmr) == (
        int(record["expected"]["IMR_quote_quantums"]),
        int(record["expected"]["MMR_quote_quantums"]),
    )


@pytest.mark.parametrize("record", of("GetMaintenanceMarginPpm"), ids=ids)
def test_maintenance_margin_ppm(record: dict[str, Any]) -> None:
    i = record["inputs"]
    tier = LiquidityTier(i["initial_margin_ppm"], i["maintenance_fraction_ppm"])
    assert tier.maintenance_margin_ppm() == record["expected"]["maintenance_margin_ppm"]


@pytest.mark.parametrize("record", of("GetAdjustedInitialMarginPpm"), ids=ids)
def test_adjusted_initial_margin_ppm(record: dict[str, Any]) -> None:
    i = record["inputs"]
    tier = LiquidityTier(i["initial_margin_ppm"], 0, i["oi_lower_cap"], i["oi_upper_cap"])
    got = tier.adjusted_initial_margin_ppm(i["oi_notional"])
    assert got == record["expected"]["adjusted_imf_ppm"]


@pytest.mark.parametrize("record", of("GetInitialMarginQuoteQuantums"), ids=ids)
def test_initial_margin_quote_quantums(record: dict[str, Any]) -> None:
    i = record["inputs"]
    tier = LiquidityTier(i["initial_margin_ppm"], 0, i["oi_lower_cap"], i["oi_upper_cap"])
    got = tier.initial_margin(i["position_notional_qq"], i["oi_notional_qq"])
    assert got == record["expected"]["initial_margin_qq"]


@pytest.mark.parametrize("record", of("GetMaxAndMinPositionNotionalLiquidatable"), ids=ids)
def test_position_notional_limits(record: dict[str, Any]) -> None:
    i = record["inputs"]
    assert i["market"].startswith("BTC $50,000")
    got = position_notional_limits(
        BTC,
        i["position_base_quantums"],
        min_position_notional_liquidated=i["min_position_notional_liquidated"],
        max_position_portion_liquidated_ppm=i["max_position_portion_liquidated_ppm"],
    )
    assert got == (record["expected"]["min_notional_qq"], record["expected"]["max_notional_qq"])


@pytest.mark.parametrize("record", of("IsLiquidatable"), ids=ids)
def test_is_liquidatable(record: dict[str, Any]) -> None:
    i = record["inputs"]
    assert is_liquidatable(i["NC"], i["MMR"]) is record["expected"]["liquidatable"]


@pytest.mark.parametrize("record", of("Cmp"), ids=ids)
def test_compare_risk(record: dict[str, Any]) -> None:
    a, b = record["inputs"]["first"], record["inputs"]["second"]
    got = compare_risk((a["NC"], a["MMR"]), (b["NC"], b["MMR"]))
    assert got == record["expected"]["cmp"]
    assert compare_risk((b["NC"], b["MMR"]), (a["NC"], a["MMR"])) == -got


USDC = 10**6
SATS = 10**8


def units(value: float, scale: int) -> int:
    return int(Decimal(str(value)) * scale)


@pytest.mark.parametrize("record", of("(at liquidated bankruptcy price)"), ids=ids)
def test_deleverage(record: dict[str, Any]) -> None:
    i = record["inputs"]
    markets = {"BTC": market(i["market"])}
    liq = Subaccount(
        units(i["liquidated"]["usdc"], USDC), {"BTC": i["liquidated"]["btc"] * SATS}, markets
    )
    off = Subaccount(
        units(i["offsetting"]["usdc"], USDC), {"BTC": i["offsetting"]["btc"] * SATS}, markets
    )
    delta = units(i["delta_btc_for_liquidated"], SATS)
    expected = record["expected"]
    if expected["offsetting_usdc_after"] == "ErrFailedToUpdateSubaccounts":
        with pytest.raises(UpdateRefusedError):
            deleverage(liq, off, "BTC", delta)
        return
    liq_after, off_after = deleverage(liq, off, "BTC", delta)
    assert off_after.usdc == units(expected["offsetting_usdc_after"], USDC)
    # conservation: what one side pays the other receives, positions net out
    assert liq_after.usdc + off_after.usdc == liq.usdc + off.usdc
    assert liq_after.positions.get("BTC", 0) + off_after.positions.get("BTC", 0) == 0
    if "partial" in expected["liquidated_after"] and delta < SATS:
        assert liq_after.usdc == units(49499.1, USDC)
        assert liq_after.positions["BTC"] == -90_000_000
        assert off_after.positions["BTC"] == 90_000_000
    else:
        assert "BTC" not in liq_after.positions and "BTC" not in off_after.positions


def test_bad_input_named() -> None:
    account = Subaccount(-4_501_000_000, {"BTC": 10_000_000}, {"BTC": BTC})
    with pytest.raises(SolventInputError, match="delta"):
        bankruptcy_price(account, "BTC", 10_000_000)  # increases the long
    with pytest.raises(SolventInputError, match="perpetual"):
        fillable_price(account, "ETH")
    with pytest.raises(SolventInputError, match=r"positions\.ETH"):
        Subaccount(0, {"ETH": 1}, {"BTC": BTC})


def test_transition_rule() -> None:
    assert is_valid_transition(Risk(-10, 0, 100), Risk(0, 0, 0))
    assert not is_valid_transition(Risk(50, 200, 100), Risk(50, 300, 150))  # MMR up
    assert is_valid_transition(Risk(50, 200, 100), Risk(30, 100, 50))  # ratio 0.5 -> 0.6
    assert not is_valid_transition(Risk(50, 200, 100), Risk(20, 100, 50))  # ratio worse
