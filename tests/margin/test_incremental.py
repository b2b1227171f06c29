"""Incremental preparation (``IncrementalCapable``): re-preparing only the instruments whose
market inputs changed gives the full ``prepare`` bit for bit, over random market moves and
random (over-covering) changed subsets."""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from functools import cache
from types import MappingProxyType
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import market as small_market
from solvent.errors import SolventInputError
from solvent.margin.protocol import (
    IncrementalCapable,
    PricedMarket,
    changed_rows,
    reprepare,
)
from solvent.margin.registry import get_model
from solvent.market.deribit import load_embedded_chain
from solvent.market.moves import move_underlyings
from solvent.market.snapshot import MarketSnapshot

MODELS = (("deribit-pm", None), ("deribit-pm", "deribit-xpm"), ("standard", None))


@cache
def _chain() -> MarketSnapshot:
    return load_embedded_chain()


def _markets() -> dict[str, MarketSnapshot]:
    return {"chain": _chain(), "small": small_market()}


def assert_identical(x: Any, y: Any, where: str = "prepared") -> None:
    """Every array equal bit for bit (dtype, shape, values; NaN where NaN), recursively."""
    if isinstance(x, np.ndarray):
        assert isinstance(y, np.ndarray), where
        assert x.dtype == y.dtype and x.shape == y.shape, where
        same = np.array_equal(x, y, equal_nan=x.dtype.kind == "f")
        assert same, f"{where} differs"
    elif dataclasses.is_dataclass(x) and not isinstance(x, type):
        assert type(x) is type(y), where
        for f in dataclasses.fields(x):
            assert_identical(getattr(x, f.name), getattr(y, f.name), f"{where}.{f.name}")
    elif isinstance(x, tuple):
        assert isinstance(y, tuple) and len(x) == len(y), where
        for k, (a, b) in enumerate(zip(x, y, strict=True)):
            assert_identical(a, b, f"{where}[{k}]")
    else:
        assert x == y, where


def _with_ivs(snapshot: MarketSnapshot, ivs: dict[str, float]) -> MarketSnapshot:
    quotes = dict(snapshot.quotes)
    for name, vol in ivs.items():
        quotes[name] = replace(quotes[name], mark_iv=vol)
    return replace(snapshot, quotes=MappingProxyType(quotes))


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[str, str | None, MarketSnapshot, tuple[str, ...], Any]:
    model, params = draw(st.sampled_from(MODELS))
    which = draw(st.sampled_from(sorted(_markets())))
    base = _markets()[which]
    names = sorted(base.quotes)
    picked = draw(
        st.lists(st.sampled_from(names), min_size=1, max_size=min(len(names), 120), unique=True)
    )
    # The move: some underlyings' index, then some options' IVs.
    moved_assets = draw(st.lists(st.sampled_from(sorted(base.index)), unique=True, max_size=2))
    prices = {a: base.index[a] * draw(st.floats(0.7, 1.3)) for a in moved_assets}
    after = move_underlyings(base, prices) if prices else base
    options = [n for n in picked if base.quotes[n].instrument.is_option]
    if options:
        bumped = draw(st.lists(st.sampled_from(options), unique=True, max_size=5))
        after = _with_ivs(
            after,
            {n: float(after.quotes[n].mark_iv or 0.5) * draw(st.floats(0.5, 2.0)) for n in bumped},
        )
    extra = draw(st.lists(st.integers(0, len(picked) - 1), max_size=10))
    return model, params, base, tuple(picked), (after, extra)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_incremental_update_equals_a_full_prepare(case: Any) -> None:
    name, spec, base, instruments, (after, extra) = case
    model = get_model(name)
    assert isinstance(model, IncrementalCapable)
    params = model.load_params(spec)
    before = PricedMarket.resolve(base, instruments)
    moved = PricedMarket.resolve(after, instruments)
    prepared = model.prepare(before, instruments, params)
    changed = changed_rows(before, moved)
    # Rows outside ``changed`` have the same inputs: changed_rows is exact on its columns.
    same = np.setdiff1d(np.arange(len(instruments)), changed)
    for f in dataclasses.fields(moved.columns):
        a, b = getattr(before.columns, f.name)[same], getattr(moved.columns, f.name)[same]
        assert np.array_equal(a, b, equal_nan=True)
    full = model.prepare(moved, instruments, params)
    for rows in (changed, np.union1d(changed, np.asarray(extra, dtype=np.intp))):
        updated = model.update(prepared, moved, rows.astype(np.intp))
        assert_identical(updated, full)
    again, count = reprepare(model, params, moved, (before, prepared))
    assert count == changed.size
    assert_identical(again, full)


@pytest.mark.parametrize(("name", "spec"), MODELS)
def test_update_leaves_the_previous_state_untouched(name: str, spec: str | None) -> None:
    model = get_model(name)
    assert isinstance(model, IncrementalCapable)
    params = model.load_params(spec)
    base = _chain()
    instruments = tuple(sorted(base.quotes))[::4]
    before = PricedMarket.resolve(base, instruments)
    prepared = model.prepare(before, instruments, params)
    copy = model.prepare(before, instruments, params)
    after = PricedMarket.resolve(
        move_underlyings(base, {"BTC": 0.8 * base.index["BTC"]}), instruments
    )
    changed = changed_rows(before, after)
    assert 0 < changed.size < len(instruments)  # the ETH rows did not change
    updated = model.update(prepared, after, changed)
    assert_identical(prepared, copy)  # the previous state is not modified
    assert_identical(updated, model.prepare(after, instruments, params))
    assert model.update(prepared, before, changed_rows(before, before)) is prepared


def test_an_index_move_changes_every_instrument_of_that_underlying() -> None:
    base = _chain()
    instruments = tuple(sorted(base.quotes))
    before = PricedMarket.resolve(base, instruments)
    after = PricedMarket.resolve(
        move_underlyings(base, {"ETH": 1.01 * base.index["ETH"]}), instruments
    )
    changed = changed_rows(before, after)
    eth = np.flatnonzero(
        np.array([base.quotes[n].instrument.underlying == "ETH" for n in instruments])
    )
    assert np.array_equal(changed, eth)


def test_changed_rows_needs_the_same_instruments() -> None:
    base = small_market()
    names = sorted(base.quotes)
    with pytest.raises(SolventInputError, match="same instruments"):
        changed_rows(PricedMarket.resolve(base, names), PricedMarket.resolve(base, names[::-1]))


def test_reprepare_falls_back_to_a_full_prepare() -> None:
    """A model without the capability, or other instruments: a full prepare."""
    base = small_market()
    names = tuple(sorted(base.quotes))
    model = get_model("standard")
    params = model.load_params(None)
    whole = PricedMarket.resolve(base, names)
    part = PricedMarket.resolve(base, names[:3])
    prepared, count = reprepare(model, params, part, (whole, model.prepare(whole, names, params)))
    assert count == 3
    assert_identical(prepared, model.prepare(part, names[:3], params))
    fresh, count = reprepare(model, params, whole)
    assert count == len(names)
    assert_identical(fresh, model.prepare(whole, names, params))
