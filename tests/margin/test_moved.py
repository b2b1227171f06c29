"""Prepared states on a market moved along one underlying (``prepared_mover``, ``MoveCapable``):
the state at every price is the one ``prepare`` gives on the moved market, bit for bit, and so
is every margin figure computed from it, for every registered model."""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_incremental import assert_identical

from helpers import market as small_market
from solvent.margin.fhs_es.moved import FhsMover, moved_rows
from solvent.margin.moved import move_priced, prepared_mover
from solvent.margin.protocol import Detail, MoveCapable, PricedMarket
from solvent.margin.registry import get_model, model_names
from solvent.market.deribit import load_embedded_chain
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.book import Book
from solvent.portfolio.portfolio import Portfolio, Position


@cache
def _chain() -> MarketSnapshot:
    return load_embedded_chain()


def _markets() -> dict[str, MarketSnapshot]:
    return {"chain": _chain(), "small": small_market()}


@st.composite
def _cases(draw: st.DrawFn, models: tuple[str, ...]) -> tuple[Any, ...]:
    model = draw(st.sampled_from(models))
    base = _markets()[draw(st.sampled_from(sorted(_markets())))]
    names = sorted(base.quotes)
    picked = draw(st.lists(st.sampled_from(names), min_size=1, max_size=12, unique=True))
    held = sorted({base.quote(n).instrument.underlying for n in picked})
    # The book's own underlyings, ETH (not always held) and a settlement stablecoin.
    others = ["ETH", "USDC"] if "USDC" in base.index else ["ETH"]
    underlying = draw(st.sampled_from(sorted({*held, *others})))
    ratios = draw(st.lists(st.floats(0.01, 10.0), min_size=1, max_size=3))
    if underlying == "USDC":
        ratios = [0.9 + 0.02 * r for r in ratios]
    quantities = [draw(st.floats(-5.0, 5.0).filter(lambda q: abs(q) > 1e-3)) for _ in picked]
    return model, base, tuple(picked), underlying, ratios, quantities


def _book(instruments: tuple[str, ...], quantities: list[float]) -> Book:
    positions = tuple(Position(n, q) for n, q in zip(instruments, quantities, strict=True))
    return Book.from_portfolios([Portfolio("a", {}, positions)])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=_cases(tuple(model_names())))
def test_every_model_margins_a_moved_market_as_a_full_prepare(case: Any) -> None:
    name, base, instruments, underlying, ratios, quantities = case
    model = get_model(name)
    params = model.load_params(None)
    priced = PricedMarket.resolve(base, instruments)
    book = _book(instruments, quantities)
    mover = prepared_mover(
        model, params, priced, model.prepare(priced, instruments, params), underlying
    )
    for ratio in ratios:
        moved = move_priced(priced, underlying, base.index[underlying] * ratio)
        fast = model.margin(mover(moved), book, detail=Detail.ACCOUNTS)
        full = model.margin(model.prepare(moved, instruments, params), book, detail=Detail.ACCOUNTS)
        assert_identical(fast.initial_margin_usd, full.initial_margin_usd, "IM")
        assert_identical(fast.maintenance_margin_usd, full.maintenance_margin_usd, "MM")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=_cases(("fhs-es",)), spec=st.sampled_from([None, "fhs-es-apc"]))
def test_fhs_es_mover_gives_prepare_bit_for_bit(case: Any, spec: str | None) -> None:
    """The whole prepared state, with and without the overlays' scenario blocks."""
    _, base, instruments, underlying, ratios, _ = case
    model = get_model("fhs-es")
    assert isinstance(model, MoveCapable)
    params = model.load_params(spec)
    priced = PricedMarket.resolve(base, instruments)
    prepared = model.prepare(priced, instruments, params)
    copy = model.prepare(priced, instruments, params)
    mover = model.mover(prepared, priced, underlying)
    for ratio in ratios:
        moved = move_priced(priced, underlying, base.index[underlying] * ratio)
        assert_identical(mover(moved), model.prepare(moved, instruments, params))
    assert_identical(prepared, copy)  # never modified


def test_fhs_es_revalues_only_the_rows_the_move_changes() -> None:
    base = small_market()
    instruments = ("BTC-PERPETUAL", "ETH-PERPETUAL", "BTC_USDC-PERPETUAL", "ETH-27MAR26-4000-C")
    priced = PricedMarket.resolve(base, instruments)
    # BTC: its two perpetuals; ETH: the ETH perpetual and option (both settled in ETH).
    assert moved_rows(priced, "BTC").tolist() == [0, 2]
    assert moved_rows(priced, "ETH").tolist() == [1, 3]
    assert moved_rows(priced, "USDC").tolist() == [2]  # settled in USDC, on BTC
    assert moved_rows(priced, "SOL").tolist() == []
    model = get_model("fhs-es")
    params = model.load_params(None)
    prepared = model.prepare(priced, instruments, params)
    mover = model.mover(prepared, priced, "BTC")
    assert isinstance(mover, FhsMover)
    moved = mover(move_priced(priced, "BTC", 80_000.0))
    for row in (1, 3):  # ETH rows: the very same numbers
        assert np.array_equal(moved.r_eval[row], prepared.r_eval[row])
    assert not np.array_equal(moved.r_eval[0], prepared.r_eval[0])
    # A move of the settlement asset alone re-prices the row in USD.
    usdc = model.mover(prepared, priced, "USDC")(move_priced(priced, "USDC", 1.01))
    assert np.allclose(usdc.r_eval[2], 1.01 * prepared.r_eval[2], rtol=1e-12, atol=0.0)


@pytest.mark.parametrize("spec", [None, "fhs-es-apc"])
def test_fhs_es_prepares_only_the_scenarios_its_parameters_use(spec: str | None) -> None:
    model = get_model("fhs-es")
    params = model.load_params(spec)
    base = small_market()
    instruments = tuple(sorted(base.quotes))
    prepared = model.prepare(PricedMarket.resolve(base, instruments), instruments, params)
    fhs = prepared.scenarios
    used = [fhs.main]
    if params.overlays.floor:
        used.append(fhs.floor)
    if params.overlays.stressed_weight > 0:
        used.append(fhs.stressed)
    assert prepared.r_eval.shape == (len(instruments), sum(b.stop - b.start for b in used))
    assert len(prepared.evaluated) == prepared.r_eval.shape[1]
    assert prepared.evaluated.labels[prepared.blocks["main"]] == fhs.scenarios.labels[fhs.main]
