"""Dynamic multiplier: bounds, rate limit, signals, the log and the injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solvent.errors import SolventInputError
from solvent.market.history import embedded_price_history
from solvent.stress.dynamic import (
    ChangeReason,
    DynamicParams,
    initial_state,
    run,
    update,
    vol_ratios,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def fake_clock():  # type: ignore[no-untyped-def]
    ticks = count()
    return lambda: T0 + timedelta(days=next(ticks))


@given(
    st.lists(st.tuples(st.floats(0, 10), st.floats(0, 3)), min_size=1, max_size=80),
    st.floats(0.5, 1.5),
    st.floats(1.5, 5.0),
    st.floats(0.01, 0.5),
)
@settings(max_examples=150, deadline=None)
def test_bounds_rate_limit_and_log(
    steps: list[tuple[float, float]], floor: float, cap: float, max_step: float
) -> None:
    params = DynamicParams(floor=floor, cap=cap, max_step=max_step)
    state = initial_state(params)
    clock = fake_clock()
    for ratio, signal in steps:
        new = update(state, ratio, params, clock, signal)
        assert floor - 1e-12 <= new.multiplier <= cap + 1e-12
        assert abs(new.multiplier - state.multiplier) <= max_step + 1e-12
        if new.multiplier != state.multiplier:
            assert len(new.log) == len(state.log) + 1
            ev = new.log[-1]
            assert (ev.previous, ev.new) == (state.multiplier, new.multiplier)
        else:
            assert new.log == state.log
        state = new
    times = [e.time for e in state.log]
    assert times == sorted(times)


def test_signal_raises_preemptively_and_is_logged() -> None:
    params = DynamicParams(max_step=0.1)
    clock = fake_clock()
    s = initial_state(params)
    s = update(s, 1.0, params, clock, signal=0.0)
    assert s.multiplier == 1.0 and s.log == ()  # calm: nothing changes
    s = update(s, 1.0, params, clock, signal=0.25)
    assert s.multiplier == pytest.approx(1.1)
    ev = s.log[-1]
    assert ev.reason is ChangeReason.EXTERNAL_SIGNAL and ev.rate_limited and ev.target == 1.25
    assert ev.time == T0  # the clock is read only when a change is logged
    s = update(s, 1.5, params, clock)
    assert s.log[-1].reason is ChangeReason.VOL_REGIME
    with pytest.raises(SolventInputError, match="signal"):
        update(s, 1.0, params, clock, signal=-1.0)


def test_multiplier_tracks_vol_on_the_shipped_history() -> None:
    r = np.asarray(embedded_price_history().log_returns(["BTC"]).values)[:, 0]
    ratios = vol_ratios(r)
    path, state = run(ratios, DynamicParams(), fake_clock())
    assert np.all((path >= 1.0) & (path <= 3.0))
    assert np.max(np.abs(np.diff(path))) <= 0.1 + 1e-12
    assert len(state.log) == int(np.sum(np.diff(np.concatenate([[1.0], path])) != 0))
    # the March 2020 crash raises the multiplier within days
    dates = embedded_price_history().log_returns(["BTC"]).dates
    i = int(np.flatnonzero(dates == np.datetime64("2020-03-20"))[0])
    assert path[i] > 1.3
