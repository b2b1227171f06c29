"""Backtest statistics against textbook values and hand-computed sequences."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import chi2

from solvent.errors import SolventInputError
from solvent.stress.statistics import (
    christoffersen_independence,
    kupiec_pof,
    procyclicality,
    transition_counts,
)


def test_kupiec_by_hand() -> None:
    n, x, p = 250, 5, 0.01
    lr = -2 * (
        245 * math.log(0.99) + 5 * math.log(0.01) - 245 * math.log(0.98) - 5 * math.log(0.02)
    )
    res = kupiec_pof(n, x, p)
    assert res.lr == pytest.approx(lr, rel=1e-12)
    assert res.lr == pytest.approx(1.9568, abs=1e-4)
    assert res.p_value == pytest.approx(chi2.sf(lr, 1), rel=1e-12)


@pytest.mark.parametrize(
    ("n", "lo", "hi"),
    [(255, None, 6), (510, 2, 10), (1000, 5, 16)],  # Jorion, Value at Risk, table 6-3 (p = 1 %)
)
def test_kupiec_non_rejection_regions(n: int, lo: int | None, hi: int) -> None:
    # Jorion: T = 255 "N < 7" (no lower bound printed), 510 "1 < N < 11", 1000 "4 < N < 17".
    accepted = [x for x in range(0, 40) if kupiec_pof(n, x, 0.01).p_value > 0.05]
    assert accepted[-1] == hi and accepted == list(range(accepted[0], hi + 1))
    if lo is not None:
        assert accepted[0] == lo


def test_kupiec_edge_cases() -> None:
    assert kupiec_pof(100, 0, 0.01).lr == pytest.approx(-2 * 100 * math.log(0.99))
    assert kupiec_pof(10, 10, 0.01).lr == pytest.approx(-2 * 10 * math.log(0.01))
    assert kupiec_pof(100, 1, 0.01).lr == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(SolventInputError):
        kupiec_pof(10, 11, 0.01)


def test_christoffersen_independent_sequence_has_zero_lr() -> None:
    seq = np.array([0, 0, 1, 1, 0, 0, 0, 1, 0, 0], dtype=bool)
    assert transition_counts(seq) == (4, 2, 2, 1)
    res = christoffersen_independence(seq)  # pi01 = pi11 = pi = 1/3
    assert res.lr == pytest.approx(0.0, abs=1e-12) and res.p_value == pytest.approx(1.0)


def test_christoffersen_clustered_sequence_by_hand() -> None:
    seq = np.array([0] * 5 + [1] * 3 + [0] * 5, dtype=bool)
    assert transition_counts(seq) == (8, 1, 1, 2)
    ll0 = 9 * math.log(3 / 4) + 3 * math.log(1 / 4)
    ll1 = 8 * math.log(8 / 9) + math.log(1 / 9) + math.log(1 / 3) + 2 * math.log(2 / 3)
    res = christoffersen_independence(seq)
    assert res.lr == pytest.approx(-2 * (ll0 - ll1), rel=1e-12)
    assert res.lr == pytest.approx(3.398, abs=1e-3)
    assert res.p_value == pytest.approx(chi2.sf(res.lr, 1))


def test_christoffersen_zero_count_edges() -> None:
    assert christoffersen_independence(np.zeros(50, dtype=bool)).p_value == 1.0
    last = np.zeros(20, dtype=bool)
    last[-1] = True  # the only breach is the last observation: never a state-1 transition
    res = christoffersen_independence(last)
    n00, n01 = 18, 1
    pi = 1 / 19
    expected = -2 * (
        18 * math.log(1 - pi) + math.log(pi) - n00 * math.log(18 / 19) - n01 * math.log(1 / 19)
    )
    assert res.lr == pytest.approx(expected, abs=1e-12)  # = 0: pi01 equals pi
    assert christoffersen_independence(np.ones(10, dtype=bool)).lr == pytest.approx(0.0)


def test_procyclicality_measures() -> None:
    p = procyclicality(np.array([1.0, 2.0, 1.0, 3.0]))
    assert p.max_1d_increase == pytest.approx(2.0)
    assert p.max_30d_increase == pytest.approx(2.0)
    assert p.peak_to_trough == pytest.approx(3.0)
    g = procyclicality(1.1 ** np.arange(40))
    assert g.max_1d_increase == pytest.approx(0.1)
    assert g.max_30d_increase == pytest.approx(1.1**30 - 1)
    assert g.peak_to_trough == pytest.approx(1.1**39)
    assert procyclicality(np.array([1.0, 0.0])).peak_to_trough is None
