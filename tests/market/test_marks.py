"""Delta-1 marks: time-aware basis EMA and the clamp around the index.

External references: the EMA recursion computed by hand, and its closed form for a constant basis,
``ema(T) = b + (e0 - b) * 2 ** (-T / half_life)``, which must hold for any spacing of the updates.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solvent.errors import SolventInputError, StaleDataError
from solvent.market.marks import (
    MarkConfig,
    MarkKind,
    MarkState,
    clamp_marks,
    ema_alpha,
    ema_path,
    ema_update,
)


def test_alpha_is_one_minus_half_per_half_life() -> None:
    alphas = ema_alpha([0.0, 10.0, 20.0, 5.0], 10.0)
    np.testing.assert_allclose(alphas, [0.0, 0.5, 0.75, 1 - 2**-0.5], rtol=1e-15)


def test_ema_against_a_hand_computed_sequence() -> None:
    h = 10.0
    times = [0.0, 10.0, 30.0, 35.0, 35.0]
    basis = [10.0, 20.0, 0.0, 10.0, 50.0]
    e1 = 10.0  # first observation initialises
    e2 = e1 + 0.5 * (20.0 - e1)  # dt = h: alpha 1/2 -> 15
    e3 = e2 + 0.75 * (0.0 - e2)  # dt = 2h: alpha 3/4 -> 3.75
    e4 = e3 + (1 - 2**-0.5) * (10.0 - e3)  # dt = h/2
    e5 = e4  # dt = 0: alpha 0, a second print at the same instant has no weight
    assert (e2, e3) == (15.0, 3.75)
    np.testing.assert_allclose(ema_path(times, basis, h), [e1, e2, e3, e4, e5], rtol=1e-14)


@settings(max_examples=150, deadline=None)
@given(
    st.floats(min_value=-500.0, max_value=500.0),
    st.floats(min_value=-500.0, max_value=500.0),
    st.lists(st.floats(min_value=0.0, max_value=200.0), min_size=1, max_size=30),
    st.floats(min_value=1.0, max_value=600.0),
)
def test_constant_basis_matches_the_closed_form_for_any_spacing(
    e0: float, b: float, gaps: list[float], half_life: float
) -> None:
    times = np.concatenate([[0.0], np.cumsum(gaps)])
    basis = np.array([e0] + [b] * len(gaps))
    path = ema_path(times, basis, half_life)
    closed = b + (e0 - b) * 2.0 ** (-times / half_life)
    np.testing.assert_allclose(path, closed, rtol=1e-9, atol=1e-9)


def test_ema_update_handles_missing_history_and_observations() -> None:
    out = ema_update([np.nan, 5.0, 5.0], [2.0, np.nan, 9.0], [7.0, 7.0, 10.0], 10.0)
    np.testing.assert_allclose(out, [2.0, 5.0, 7.0])


def test_ema_update_is_elementwise() -> None:
    rng = np.random.default_rng(7)
    ema, obs = rng.normal(size=200), rng.normal(size=200)
    dt, hl = rng.uniform(0, 100, 200), rng.uniform(1, 100, 200)
    vector = ema_update(ema, obs, dt, hl)
    scalar = [
        e + (1 - math.exp(-d * math.log(2) / h)) * (o - e)
        for e, o, d, h in zip(ema, obs, dt, hl, strict=True)
    ]
    np.testing.assert_allclose(vector, scalar, rtol=1e-12, atol=1e-15)


def test_ema_path_two_dimensional_matches_columns() -> None:
    times = [0.0, 1.0, 4.0, 9.0]
    basis = np.array([[1.0, np.nan], [2.0, 3.0], [np.nan, 1.0], [0.0, 2.0]])
    both = ema_path(times, basis, 3.0)
    np.testing.assert_allclose(both[:, 0], ema_path(times, basis[:, 0], 3.0))
    # A column first observed at t = 1 starts there; its NaN rows before that stay NaN.
    assert math.isnan(both[0, 1])
    np.testing.assert_allclose(both[1:, 1], ema_path(times[1:], basis[1:, 1], 3.0))


@pytest.mark.parametrize(
    ("ema", "band", "expected"),
    [
        (2.0, 0.005, 100.5),
        (-2.0, 0.005, 99.5),
        (0.3, 0.005, 100.3),
        (12.0, 0.10, 110.0),
        (-4.0, 0.10, 96.0),
        (1.0, 0.0, 100.0),
    ],
)
def test_marks_are_clamped_to_the_band(ema: float, band: float, expected: float) -> None:
    assert clamp_marks(100.0, ema, band) == pytest.approx(expected, rel=1e-15)


def test_clamp_is_vectorised_with_broadcasting() -> None:
    marks = clamp_marks(np.array([100.0, 3000.0]), np.array([1.0, -40.0]), np.array([0.005, 0.01]))
    np.testing.assert_allclose(marks, [100.5, 2970.0])


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"index": 0.0, "basis_ema": 0.0, "band": 0.1}, "index"),
        ({"index": np.nan, "basis_ema": 0.0, "band": 0.1}, "index"),
        ({"index": 1.0, "basis_ema": np.nan, "band": 0.1}, "basis_ema"),
        ({"index": 1.0, "basis_ema": np.inf, "band": 0.1}, "basis_ema"),
        ({"index": 1.0, "basis_ema": 0.0, "band": 1.0}, "band"),
    ],
)
def test_clamp_rejects_bad_input(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(SolventInputError) as info:
        clamp_marks(**kwargs)
    assert info.value.field == field


def test_alpha_rejects_negative_time_steps_and_half_lives() -> None:
    with pytest.raises(SolventInputError, match="dt_s"):
        ema_alpha(-1.0, 10.0)
    with pytest.raises(SolventInputError, match="half_life_s"):
        ema_alpha(1.0, 0.0)
    with pytest.raises(SolventInputError, match="times_s"):
        ema_path([1.0, 0.0], [1.0, 2.0], 10.0)


def test_config_validation_and_bands() -> None:
    cfg = MarkConfig()
    assert cfg.band(MarkKind.PERPETUAL) == 0.005 and cfg.band("future") == 0.10
    with pytest.raises(SolventInputError, match="kind"):
        cfg.band("option")
    with pytest.raises(SolventInputError) as info:
        MarkConfig(half_life_s=0.0)
    assert info.value.field == "marks.half_life_s"
    with pytest.raises(SolventInputError) as info:
        MarkConfig(perpetual_band=1.2)
    assert info.value.field == "marks.perpetual_band"
    with pytest.raises(SolventInputError) as info:
        MarkConfig.from_mapping({"halflife": 3})
    assert info.value.field == "marks.halflife"


# ------------------------------------------------------------------------------------- the state


def test_state_updates_match_the_array_functions() -> None:
    cfg = MarkConfig(half_life_s=10.0)
    state0 = MarkState.initial(["BTC-PERPETUAL", "BTC-28JUN24"], ["perpetual", "future"], cfg)
    index = [100.0, 101.0, 99.0]
    fair = np.array([[100.2, 103.0], [101.1, np.nan], [99.3, 102.0]])
    times = [0.0, 10.0, 30.0]
    state = state0
    for t, ix, f in zip(times, index, fair, strict=True):
        state = state.update(t, ix, f)
    basis = fair - np.array(index)[:, None]
    np.testing.assert_allclose(state.basis_ema, ema_path(times, basis, 10.0)[-1], rtol=1e-14)
    np.testing.assert_array_equal(state.observed_at_s, [30.0, 30.0])
    marks = state.marks(99.0)
    np.testing.assert_allclose(marks, clamp_marks(99.0, state.basis_ema, [0.005, 0.10]))
    assert marks[0] == pytest.approx(99.0 + state.basis_ema[0])  # inside the 0.5 % band
    # the original state is untouched and the arrays are read-only
    assert np.isnan(state0.basis_ema).all()
    with pytest.raises(ValueError, match="read-only"):
        state.basis_ema[0] = 0.0


def test_state_clamps_a_large_basis() -> None:
    state = MarkState.initial(["ETH-PERPETUAL"], [MarkKind.PERPETUAL]).update(0.0, 3000.0, [3090.0])
    assert state.basis_ema[0] == 90.0
    assert state.marks(3000.0)[0] == pytest.approx(3015.0)  # +0.5 % cap, not +3 %


def test_state_requires_observations_and_time_order() -> None:
    state = MarkState.initial(["A", "B"], ["perpetual", "future"])
    with pytest.raises(StaleDataError) as stale:
        state.update(5.0, 100.0, [100.1, np.nan]).marks(100.0)
    assert stale.value.field == "marks[B]"
    later = state.update(5.0, 100.0, [100.1, 100.4])
    with pytest.raises(SolventInputError, match="before the last observation of A"):
        later.update(4.0, 100.0, [100.1, np.nan])
    with pytest.raises(SolventInputError) as info:
        later.update(6.0, 100.0, [100.1, -1.0])
    assert info.value.field == "fair[B]"
    with pytest.raises(SolventInputError, match="kinds"):
        MarkState.initial(["A"], ["option"])


def test_default_bands_leave_real_deribit_marks_unclamped(shared_dir: Path) -> None:
    """Deribit's own perpetual and term-future marks (four snapshots, Dec 2025 - Jan 2026) sit
    inside the default bands, so marking them as index + basis reproduces them exactly."""
    folder = shared_dir / "data" / "deribit"
    index: dict[tuple[str, str], float] = {}
    for snapshot in sorted(folder.glob("deribit_options_snapshot_*.csv")):
        with snapshot.open(newline="") as f:
            for row in csv.DictReader(f):
                index[(snapshot.name, row["currency"])] = float(row["index_price"])
    rows: list[tuple[float, float, MarkKind]] = []
    with (folder / "perpetual_futures_prices.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            key = (row["snapshot_file"], row["coin"])
            if key in index and row["perp_futures_mark_price"]:
                rows.append((index[key], float(row["perp_futures_mark_price"]), MarkKind.PERPETUAL))
    with (folder / "term_futures_marks.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            key = (row["snapshot_file"], row["currency"])
            if key in index:
                rows.append((index[key], float(row["snapshot_term_mark_price"]), MarkKind.FUTURE))
    assert len(rows) >= 60
    idx, mark, kinds = (np.array(c) for c in zip(*rows, strict=True))
    cfg = MarkConfig()
    bands = np.array([cfg.band(k) for k in kinds])
    np.testing.assert_allclose(clamp_marks(idx, mark - idx, bands), mark, rtol=1e-15)
