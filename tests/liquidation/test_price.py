"""Liquidation prices (docs/formats.md 10): at the returned price, margining the moved market with
the engine's own pipeline gives equity = MM within 1e-6 relative, for every registered model."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import BTC, market
from solvent.engine.margin import margin_portfolios
from solvent.errors import SolventInputError
from solvent.liquidation.price import (
    GRID_STEP,
    TOLERANCE,
    LiquidationPrice,
    default_underlying,
    entered_at_marks,
    held_underlyings,
    liquidation_price,
)
from solvent.margin.registry import model_names
from solvent.market.moves import move_underlying
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.portfolio import Portfolio, Position

CALL = "BTC-27MAR26-110000-C"
PUT = "BTC-27MAR26-90000-P"

LEVERED = Portfolio(
    "lev",
    {"BTC": 0.4, "USDC": 8_000.0},
    (
        Position("BTC-PERPETUAL", 3.0, 97_000.0),
        Position(CALL, -2.0, 0.02),
        Position(PUT, 1.0),
        Position("ETH-PERPETUAL", -5.0, 4_100.0),
    ),
)


def _excess(
    pf: Portfolio, m: MarketSnapshot, model: str, underlying: str, price: float
) -> tuple[float, float]:
    """(equity, MM) of ``pf`` by the engine's own pipeline on the moved market (positions
    without an entry price entered at the mark before the move)."""
    entered = entered_at_marks(pf, m)
    (report,) = margin_portfolios([entered], move_underlying(m, underlying, price), model)
    return report.equity_usd, report.margin.maintenance_margin_usd


def _assert_at_mm(pf: Portfolio, m: MarketSnapshot, result: LiquidationPrice) -> None:
    for price in (result.down, result.up):
        if price is None:
            continue
        equity, mm = _excess(pf, m, result.model, result.underlying, price)
        assert abs(equity - mm) <= TOLERANCE * max(mm, 1.0), (price, equity, mm)


@pytest.mark.parametrize("model", model_names())
def test_every_model_returns_prices_where_equity_meets_mm(model: str) -> None:
    m = market()
    result = liquidation_price(LEVERED, m, model, underlying="BTC")
    assert result.model == model and result.underlying == "BTC" and result.index == BTC
    assert result.down is not None, "a levered long must have a price below"
    assert 0.01 * BTC <= result.down < BTC
    _assert_at_mm(LEVERED, m, result)
    # healthy now, and still healthy just inside the returned price
    assert result.equity_usd > result.maintenance_margin_usd
    equity, mm = _excess(LEVERED, m, model, "BTC", result.down * 1.001)
    assert equity > mm
    assert result.distance_down == pytest.approx((BTC - result.down) / BTC)


def test_a_short_has_a_price_above_and_the_distances_are_relative() -> None:
    pf = Portfolio("s", {"USDC": 20_000.0}, (Position("BTC_USDC-PERPETUAL", -1.0, 100_000.0),))
    m = market()
    result = liquidation_price(pf, m)
    assert result.down is None
    assert result.up is not None and result.up > BTC
    assert result.distance_up == pytest.approx(result.up / BTC - 1.0)
    assert result.distance_down is None
    _assert_at_mm(pf, m, result)


def test_entry_price_moves_the_liquidation_price() -> None:
    m = market()

    def down(entry: float | None) -> float:
        pf = Portfolio("a", {"USDC": 15_000.0}, (Position("BTC_USDC-PERPETUAL", 1.0, entry),))
        result = liquidation_price(pf, m)
        assert result.down is not None
        _assert_at_mm(pf, m, result)
        return result.down

    # bought higher: less profit behind the position, liquidated sooner: by the entry difference
    # over (1 - the MM rate), as MM scales with the price (P = (E - C) / (1 - rate))
    assert 10_000.0 < down(110_000.0) - down(100_000.0) < 10_500.0
    assert down(None) == pytest.approx(down(100_000.0), rel=1e-12)


def test_collateral_in_the_underlying_moves_with_it() -> None:
    pf = Portfolio("d", {"BTC": 1.0, "USDC": -50_000.0}, ())
    m = market()
    result = liquidation_price(pf, m)
    assert result.underlying == "BTC" and result.maintenance_margin_usd == 0.0
    assert result.down is not None and result.up is None
    assert 50_000.0 < result.down < 65_000.0  # the debt over one BTC after its haircut
    _assert_at_mm(pf, m, result)


def test_an_account_below_mm_gets_the_nearest_price_on_each_side() -> None:
    pf = Portfolio(
        "x",
        {"USDC": 1_000.0},
        (Position("BTC_USDC-PERPETUAL", 1.0, 120_000.0),),
    )
    m = market()
    result = liquidation_price(pf, m)
    assert result.equity_usd < result.maintenance_margin_usd
    assert result.up is not None and result.up > BTC  # back at MM once the long recovers
    _assert_at_mm(pf, m, result)
    assert result.down is None  # lower, the long only loses more


def test_no_price_between_1_percent_and_10x_is_null() -> None:
    pf = Portfolio("c", {"USDC": 1e6}, (Position("BTC_USDC-PERPETUAL", 0.01, 100_000.0),))
    result = liquidation_price(pf, market())
    assert (result.down, result.up, result.distance_down, result.distance_up) == (
        None,
        None,
        None,
        None,
    )


def test_default_and_held_underlyings() -> None:
    m = market()
    assert default_underlying(LEVERED, m) == "BTC"
    assert held_underlyings(LEVERED, m) == ["BTC", "ETH"]
    eth = Portfolio("e", {"ETH": 3.0, "USDC": 5.0}, ())
    assert default_underlying(eth, m) == "ETH"
    with pytest.raises(SolventInputError) as err:
        default_underlying(Portfolio("u", {"USDC": 5.0}, ()), m)
    assert err.value.field == "underlying"
    with pytest.raises(SolventInputError):
        liquidation_price(LEVERED, m, underlying="DOGE")
    with pytest.raises(SolventInputError):
        liquidation_price(LEVERED, m, model="nope")


_INSTRUMENTS = ["BTC-PERPETUAL", "BTC_USDC-PERPETUAL", "BTC-27MAR26", CALL, PUT]


@st.composite
def _books(draw: st.DrawFn) -> Portfolio:
    positions = []
    for name in draw(st.lists(st.sampled_from(_INSTRUMENTS), min_size=1, max_size=4)):
        q = draw(st.floats(-3.0, 3.0).filter(lambda x: abs(x) > 0.01))
        option = name in (CALL, PUT)
        entry = draw(
            st.none() | (st.floats(0.001, 0.2) if option else st.floats(60_000.0, 140_000.0))
        )
        positions.append(Position(name, q, entry))
    collateral = {
        "BTC": draw(st.floats(0.0, 2.0)),
        "USDC": draw(st.floats(-20_000.0, 100_000.0)),
    }
    return Portfolio("h", collateral, tuple(positions))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(pf=_books(), model=st.sampled_from(["standard", "deribit-pm"]))
def test_random_books_meet_mm_at_the_nearest_price(pf: Portfolio, model: str) -> None:
    _assert_nearest_price_at_mm(pf, model)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    pf=_books(),
    model=st.sampled_from(sorted(set(model_names()) - {"standard", "deribit-pm"})),
)
def test_random_books_meet_mm_at_the_nearest_price_under_every_other_model(
    pf: Portfolio, model: str
) -> None:
    """The same under the models whose search re-prepares through a faster path (fhs-es
    revalues only the moved rows from vol terms computed once; span, derive, simm)."""
    _assert_nearest_price_at_mm(pf, model)


def _assert_nearest_price_at_mm(pf: Portfolio, model: str) -> None:
    """The returned prices meet MM by the engine's own pipeline, and are the nearest: no grid
    price between the index and them is on the other side of MM."""
    m = market()
    result = liquidation_price(pf, m, model, underlying="BTC")
    _assert_at_mm(pf, m, result)
    sign = math.copysign(1.0, result.equity_usd - result.maintenance_margin_usd)
    for price in (result.down, result.up):
        if price is None:
            continue
        # nearest: no grid point between the index and the price is on the other side of MM
        ratio = price / BTC
        steps = int(abs(math.log(ratio)) / math.log(GRID_STEP))
        for k in range(1, steps):
            probe = BTC * (GRID_STEP ** (k if ratio > 1 else -k))
            equity, mm = _excess(pf, m, model, "BTC", probe)
            assert math.copysign(1.0, equity - mm) == sign or abs(equity - mm) < 1e-6
