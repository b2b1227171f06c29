"""Collateral haircuts and valuation, against hand computations and an independent book walk."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solvent.collateral.assets import default_assets, parse_amount
from solvent.collateral.liquidity import bid_depth, liquidity_haircut
from solvent.collateral.schedule import default_schedule, load_schedule, parse_schedule
from solvent.collateral.valuation import HaircutRule, value_collateral, value_collateral_matrix
from solvent.errors import SolventInputError
from solvent.market.snapshot import parse_market

BOOK = (
    Path(__file__).resolve().parents[1]
    / "data"
    / "orderbook"
    / "binance_spot_btcusdt_20240808.json"
)


@pytest.fixture(scope="module")
def book() -> dict[str, list[list[float]]]:
    raw = json.loads(BOOK.read_text())
    return {"bids": raw["bids"], "asks": raw["asks"]}


def market(index: dict[str, float], books: dict[str, object] | None = None):  # type: ignore[no-untyped-def]
    raw: dict[str, object] = {"as_of": "2024-08-08T23:54:00Z", "index": index, "instruments": []}
    if books:
        raw["order_books"] = books
    return parse_market(raw)


def walk_book(bids: list[list[float]], quantity: Decimal) -> Decimal:
    """Independent reference: sell level by level in exact decimals (no numpy, no interpolation)."""
    left, proceeds = quantity, Decimal(0)
    for price, size in bids:
        take = min(left, Decimal(repr(size)))
        proceeds += take * Decimal(repr(price))
        left -= take
        if left == 0:
            break
    return proceeds  # whatever is left unfilled is worth 0 (unfilled_haircut = 1)


def test_class_haircuts_sit_in_the_seed_ranges() -> None:
    s = default_schedule()
    seed = {
        "stablecoin": (0.0, 0.05),
        "major": (0.10, 0.15),
        "midcap": (0.25, 0.50),
        "longtail": (0.70, 0.90),
    }
    for asset_class, rule in s.classes.items():
        low, high = seed[asset_class.value]
        assert low <= rule.haircut <= high
    for asset in default_assets():
        assert seed[asset.asset_class.value][0] <= s.class_haircut(asset.symbol, asset.asset_class)


def test_concentration_tiers_are_marginal_hand_computed() -> None:
    tiers = (
        default_schedule()
        .classes[next(c for c in default_schedule().classes if c.value == "major")]
        .tiers
    )
    # 60 M USD of BTC: 10 M at 10 %, 40 M at 12.5 %, 10 M at 15 % = 1 + 5 + 1.5 = 7.5 M USD.
    amount = tiers.haircut_amount_usd(np.array([60e6, 5e6, 250e6]))
    assert amount[0] == pytest.approx(7.5e6)
    assert amount[1] == pytest.approx(0.5e6)
    # 250 M: 1 + 5 + 22.5 (150 M at 15 %) + 15 (50 M at 30 %) = 43.5 M.
    assert amount[2] == pytest.approx(43.5e6)


def test_btc_holding_value_hand_computed() -> None:
    m = market({"BTC": 60_000.0})
    # 1,000 BTC = 60 M USD -> concentration 7.5 M / 60 M = 12.5 % > class 10 %.
    v = value_collateral({"BTC": 1000.0, "USDC": 5000.0}, m)
    btc = next(a for a in v.assets if a.asset == "BTC")
    assert btc.rule is HaircutRule.CONCENTRATION
    assert btc.haircut == pytest.approx(0.125)
    assert btc.value_usd == pytest.approx(60e6 - 7.5e6)
    assert v.value_usd == pytest.approx(60e6 - 7.5e6 + 5000.0)
    small = value_collateral({"BTC": 1.0}, m).assets[0]
    assert small.rule is HaircutRule.CLASS and small.value_usd == pytest.approx(54_000.0)


def test_debt_gets_no_haircut_benefit() -> None:
    m = market({"BTC": 60_000.0})
    v = value_collateral({"BTC": 2.0, "USDC": -50_000.0}, m)
    assert v.debt_usd == pytest.approx(50_000.0)
    assert v.value_usd == pytest.approx(2 * 60_000 * 0.9 - 50_000.0)
    usdc = next(a for a in v.assets if a.asset == "USDC")
    assert usdc.rule is HaircutRule.DEBT and usdc.haircut == 0.0
    # A debt in a volatile asset is valued at full price too (no haircut reduces it).
    v2 = value_collateral({"BTC": -1.0, "USDC": 100_000.0}, m)
    assert v2.value_usd == pytest.approx(100_000.0 - 60_000.0)


@pytest.mark.parametrize("quantity", ["0.001", "3.78826", "10", "50", "111", "150"])
def test_liquidity_haircut_matches_an_exact_book_walk(book, quantity) -> None:  # type: ignore[no-untyped-def]
    depth = bid_depth(book["bids"], book["asks"])
    q = Decimal(quantity)
    mid = (Decimal(repr(book["bids"][0][0])) + Decimal(repr(book["asks"][0][0]))) / 2
    expected = 1 - walk_book(book["bids"], q) / (q * mid)
    got = liquidity_haircut(depth, np.array([float(q)]))[0]
    assert got == pytest.approx(float(expected), rel=1e-9, abs=1e-12)


def test_liquidity_haircut_rises_as_the_book_thins(book) -> None:  # type: ignore[no-untyped-def]
    depth = bid_depth(book["bids"], book["asks"])
    q = np.linspace(0.001, 200.0, 400)
    h = liquidity_haircut(depth, q)
    assert np.all(np.diff(h) >= -1e-15)
    # a tiny sale costs half the 0.01 USD spread
    assert h[0] == pytest.approx(0.005 / depth.mid, rel=1e-6)
    # a thinner book (every level halved) cuts deeper for the same holding
    thin = bid_depth([[p, s / 2] for p, s in book["bids"]], book["asks"])
    thin_h = liquidity_haircut(thin, q)
    assert np.all(thin_h >= h - 1e-15)
    beyond_best_level = q > 2 * book["bids"][0][1]
    assert np.all(thin_h[beyond_best_level] > h[beyond_best_level])


def test_liquidity_rule_wins_when_the_book_cannot_absorb(book) -> None:  # type: ignore[no-untyped-def]
    m = market({"BTC": 61_837.635}, {"BTC": book})
    # 200 BTC: the visible book holds ~111.8 BTC; the rest is worth nothing -> haircut ~ 44 %.
    v = value_collateral({"BTC": 200.0}, m).assets[0]
    assert v.rule is HaircutRule.LIQUIDITY
    expected = 1 - float(walk_book(book["bids"], Decimal(200))) / (200 * 61_837.635)
    assert v.haircut == pytest.approx(expected, rel=1e-9)
    small = value_collateral({"BTC": 1.0}, m).assets[0]
    assert small.rule is HaircutRule.CLASS and small.liquidity_haircut is not None
    assert small.liquidity_haircut < 0.001


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e4, 1e4, allow_nan=False), min_size=3, max_size=3))
def test_matrix_equals_single_account_and_haircut_bounds(row: list[float]) -> None:
    m = market({"BTC": 60_000.0, "ETH": 3_000.0})
    symbols = ["BTC", "ETH", "USDC"]
    arrays = value_collateral_matrix(np.array([row, row]), symbols, m)
    single = value_collateral(dict(zip(symbols, row, strict=True)), m)
    assert arrays.value_usd[1] == pytest.approx(single.value_usd)
    gross_long = sum(max(b, 0.0) * p for b, p in zip(row, (60_000.0, 3_000.0, 1.0), strict=True))
    debt = -sum(min(b, 0.0) * p for b, p in zip(row, (60_000.0, 3_000.0, 1.0), strict=True))
    assert single.debt_usd == pytest.approx(debt)
    assert -debt - 1e-6 <= single.value_usd <= gross_long - debt + 1e-6


def test_amount_parsing_is_exact_and_refuses_bad_input() -> None:
    btc = default_assets().get("BTC")
    assert parse_amount(btc, "1.5") == 150_000_000
    assert parse_amount(btc, "0.00000001") == 1
    assert parse_amount(btc, "20999999.99999999") == 2_099_999_999_999_999
    for bad in ("0.000000001", "0", "-1", "abc", "NaN", "inf", "1e3", ""):
        with pytest.raises(SolventInputError):
            parse_amount(btc, bad)
    with pytest.raises(SolventInputError, match="unknown asset"):
        default_assets().get("NOPE")


def test_schedule_validation_names_the_field(tmp_path: Path) -> None:
    assert load_schedule("2026-02").label == "solvent-haircuts@2026-02"
    import tomllib

    raw = tomllib.loads(
        (
            Path(__file__).resolve().parents[2]
            / "src/solvent/collateral/data/haircuts-2026-02.toml"
        ).read_text()
    )
    raw["classes"]["major"]["haircut"] = 0.2
    with pytest.raises(SolventInputError, match=r"classes\.major\.haircut"):
        parse_schedule(raw)
    raw["classes"]["major"]["haircut"] = 0.1
    raw["bogus"] = 1
    with pytest.raises(SolventInputError, match="bogus"):
        parse_schedule(raw)
