"""Oracle index: weighted median, staleness and outlier filters, source counts, circuit breaker.

External references: hand-computed weighted medians from the definition; the L1 characterisation
of the weighted median (it minimises sum_i w_i |x - v_i|); exact invariances (order, scaling by
powers of two) that any correct implementation must satisfy.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solvent.errors import SolventInputError, StaleDataError
from solvent.market.oracle import (
    ExclusionReason,
    IndexStatus,
    InvalidQuotePolicy,
    OracleConfig,
    OracleState,
    VenueQuote,
    compute_index,
    update_oracle,
    weighted_median,
)

NOW = 1_718_619_740.0  # 2024-06-17T10:22:20Z, epoch seconds
CFG = OracleConfig()


def fresh(prices: list[float], weights: list[float] | None = None) -> list[VenueQuote]:
    ws = weights if weights is not None else [1.0] * len(prices)
    return [
        VenueQuote(f"v{i}", p, NOW - 1.0, w)
        for i, (p, w) in enumerate(zip(prices, ws, strict=True))
    ]


# ------------------------------------------------------------------------------ weighted median


@pytest.mark.parametrize(
    ("values", "weights", "expected"),
    [
        ([3.0, 1.0, 2.0], [1, 1, 1], 2.0),  # odd count: the middle value
        ([4.0, 1.0, 3.0, 2.0], [1, 1, 1, 1], 2.5),  # even count: mean of the two middle values
        ([1.0, 2.0, 3.0], [1, 1, 3], 3.0),  # C = 1, 2, 5; W/2 = 2.5 first reached at 3
        ([1.0, 2.0, 3.0], [3, 1, 1], 1.0),  # C = 3 >= 2.5 at the first value
        ([10.0, 20.0, 30.0, 40.0], [1, 2, 3, 4], 30.0),  # C = 1, 3, 6 > 5 at 30
        ([10.0, 20.0, 30.0, 40.0], [1, 2, 2, 5], 35.0),  # C = 1, 3, 5 = W/2 exactly: midpoint
        ([5.0, 5.0, 5.0, 9.0], [1, 1, 1, 1], 5.0),  # ties: split between two equal values
        ([1.0, 1.0, 2.0], [1, 2, 3], 1.5),  # C = 1, 3 = W/2 at the last tied value: midpoint
        ([1.0, 1.0, 2.0], [2, 1, 3], 1.5),  # same quotes in another order
        ([1.0, 2.0, 3.0], [0.1, 0.2, 0.3], 2.5),  # 0.1 + 0.2 != 0.3 in floats: still a split
        ([7.0], [0.3], 7.0),
    ],
)
def test_weighted_median_hand_computed(
    values: list[float], weights: list[float], expected: float
) -> None:
    assert weighted_median(values, weights) == expected


def test_weighted_median_rejects_bad_input() -> None:
    with pytest.raises(SolventInputError, match="weights"):
        weighted_median([1.0, 2.0], [1.0, 0.0])
    with pytest.raises(SolventInputError, match="values"):
        weighted_median([1.0, np.nan], [1.0, 1.0])
    with pytest.raises(SolventInputError, match="values"):
        weighted_median([], [])


values_st = st.lists(
    st.floats(min_value=1.0, max_value=1e6, allow_nan=False), min_size=1, max_size=12
)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_weighted_median_minimises_weighted_l1(data: st.DataObject) -> None:
    values = data.draw(values_st)
    weights = data.draw(
        st.lists(st.integers(min_value=1, max_value=20), min_size=len(values), max_size=len(values))
    )
    v, w = np.array(values), np.array(weights, dtype=float)
    m = weighted_median(v, w)

    def cost(x: float) -> float:
        return float(np.sum(w * np.abs(x - v)))

    best = min(cost(x) for x in v)  # the L1 cost is piecewise linear with kinks at the values
    assert cost(m) <= best * (1 + 1e-12) + 1e-9
    assert v.min() <= m <= v.max()


@settings(max_examples=100, deadline=None)
@given(values_st, st.floats(min_value=1e-3, max_value=1e3))
def test_weighted_median_scales_with_prices(values: list[float], c: float) -> None:
    weights = np.arange(1.0, len(values) + 1.0)
    assert weighted_median(np.array(values) * c, weights) == pytest.approx(
        c * weighted_median(values, weights), rel=1e-12
    )


# ---------------------------------------------------------------------------- staleness & outliers


def test_stale_and_future_quotes_are_excluded_with_reasons() -> None:
    quotes = [
        VenueQuote("fresh_a", 100.0, NOW - 5.0),
        VenueQuote("at_limit", 100.2, NOW - 30.0),  # exactly max_age_s: still fresh
        VenueQuote("fresh_b", 99.9, datetime.fromtimestamp(NOW, tz=UTC)),
        VenueQuote("stale", 100.1, NOW - 30.5),
        VenueQuote("future", 100.1, NOW + 5.0),
        VenueQuote("skewed", 100.05, NOW + 1.5),  # within max_future_skew_s = 2 s
    ]
    result = compute_index(quotes, NOW, CFG)
    assert {u.source for u in result.used} == {"fresh_a", "at_limit", "fresh_b", "skewed"}
    assert {(e.source, e.reason) for e in result.excluded} == {
        ("stale", ExclusionReason.STALE),
        ("future", ExclusionReason.FUTURE),
    }
    # equal weights over 99.9, 100.0, 100.05, 100.2: mean of the two middle values
    assert result.price == pytest.approx(100.025, rel=1e-15)
    ages = {u.source: u.age_s for u in result.used}
    assert ages["fresh_a"] == 5.0
    assert ages["skewed"] == -1.5


def test_datetime_and_epoch_timestamps_agree() -> None:
    t = datetime(2024, 6, 17, 12, 22, 15, tzinfo=timezone(timedelta(hours=2)))
    as_epoch = [VenueQuote(f"v{i}", 100.0 + i, t.timestamp()) for i in range(3)]
    as_dt = [VenueQuote(f"v{i}", 100.0 + i, t) for i in range(3)]
    as_of = datetime(2024, 6, 17, 10, 22, 20, tzinfo=UTC)
    a = compute_index(as_epoch, as_of, CFG)
    b = compute_index(as_dt, as_of.timestamp(), CFG)
    assert a.price == b.price == 101.0
    assert [u.age_s for u in a.used] == [u.age_s for u in b.used] == [5.0] * 3


def test_outlier_is_excluded_with_reason() -> None:
    # Sorted 99.9 100.0 100.2 100.3 130: median 100.2; |dev| sorted 0 .1 .2 .3 29.8: MAD 0.2,
    # above the floor 0.001 x 100.2, so the band is 5 x 0.2 = 1.0 and only 130 is out.
    quotes = fresh([100.0, 100.2, 99.9, 100.3, 130.0])
    result = compute_index(quotes, NOW, CFG)
    assert [e.source for e in result.excluded] == ["v4"]
    assert result.excluded[0].reason is ExclusionReason.OUTLIER
    assert "130" in result.excluded[0].detail
    assert result.fresh_median == pytest.approx(100.2)
    assert result.outlier_band == pytest.approx(1.0)
    assert result.price == pytest.approx(100.1)  # median of 99.9, 100.0, 100.2, 100.3


def test_mad_floor_keeps_identical_quotes_from_flagging_small_moves() -> None:
    # Four identical quotes: MAD = 0, so the band is k * min_relative_mad * median = 0.5 % of 100.
    inside = compute_index(fresh([100.0, 100.0, 100.0, 100.0, 100.45]), NOW, CFG)
    assert inside.excluded == ()
    assert inside.outlier_band == pytest.approx(0.5)
    outside = compute_index(fresh([100.0, 100.0, 100.0, 100.0, 100.55]), NOW, CFG)
    assert [(e.source, e.reason) for e in outside.excluded] == [("v4", ExclusionReason.OUTLIER)]


def test_weights_move_the_index() -> None:
    quotes = fresh([100.0, 100.1, 100.2], weights=[1.0, 1.0, 5.0])
    assert compute_index(quotes, NOW, CFG).price == 100.2
    quotes = fresh([100.0, 100.1, 100.2], weights=[3.0, 1.0, 2.0])  # C = 3 = W/2: midpoint
    assert compute_index(quotes, NOW, CFG).price == pytest.approx(100.05)


# ----------------------------------------------------------------------------- failures


def test_too_few_fresh_sources_raises_stale_data() -> None:
    quotes = [*fresh([100.0, 100.1]), VenueQuote("old", 100.0, NOW - 300.0)]
    with pytest.raises(StaleDataError, match="only 2 fresh source") as info:
        compute_index(quotes, NOW, CFG)
    assert info.value.field == "quotes"
    assert "old: stale" in info.value.message


def test_too_few_sources_after_outliers_raises_stale_data() -> None:
    with pytest.raises(StaleDataError, match="non-outlier"):
        compute_index(fresh([100.0, 100.0, 100.1, 150.0]), NOW, OracleConfig(min_sources=4))


def test_empty_oracle_raises_stale_data() -> None:
    with pytest.raises(StaleDataError, match="no quotes"):
        compute_index([], NOW, CFG)


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (VenueQuote("x", float("nan"), NOW), "quotes[2].price"),
        (VenueQuote("x", float("inf"), NOW), "quotes[2].price"),
        (VenueQuote("x", -1.0, NOW), "quotes[2].price"),
        (VenueQuote("x", 0.0, NOW), "quotes[2].price"),
        (VenueQuote("x", 100.0, NOW, 0.0), "quotes[2].weight"),
        (VenueQuote("x", 100.0, NOW, -1.0), "quotes[2].weight"),
        (VenueQuote("x", 100.0, NOW, float("nan")), "quotes[2].weight"),
        (VenueQuote("v0", 100.0, NOW), "quotes[2].source"),
        (VenueQuote("", 100.0, NOW), "quotes[2].source"),
        (VenueQuote("x", 100.0, datetime(2024, 6, 17)), "quotes[2].timestamp"),
        (VenueQuote("x", 100.0, float("nan")), "quotes[2].timestamp"),
    ],
)
def test_bad_quotes_raise_naming_the_field(bad: VenueQuote, field: str) -> None:
    with pytest.raises(SolventInputError) as info:
        compute_index([*fresh([100.0, 100.1]), bad], NOW, CFG)
    assert info.value.field == field
    assert not isinstance(info.value, StaleDataError)


def test_invalid_prices_can_be_excluded_instead() -> None:
    cfg = OracleConfig(invalid_quotes=InvalidQuotePolicy.EXCLUDE)
    quotes = [*fresh([100.0, 100.1, 100.2]), VenueQuote("broken", float("nan"), NOW)]
    result = compute_index(quotes, NOW, cfg)
    assert result.price == 100.1
    assert [(e.source, e.reason) for e in result.excluded] == [("broken", ExclusionReason.INVALID)]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"max_age_s": 0.0}, "oracle.max_age_s"),
        ({"max_age_s": float("inf")}, "oracle.max_age_s"),
        ({"max_future_skew_s": -1.0}, "oracle.max_future_skew_s"),
        ({"outlier_k": 0.0}, "oracle.outlier_k"),
        ({"min_relative_mad": -0.1}, "oracle.min_relative_mad"),
        ({"min_sources": 0}, "oracle.min_sources"),
        ({"min_sources": 2.5}, "oracle.min_sources"),
        ({"max_jump": 0.0}, "oracle.max_jump"),
        ({"confirm_updates": 0}, "oracle.confirm_updates"),
        ({"confirm_fraction": 1.5}, "oracle.confirm_fraction"),
        ({"invalid_quotes": "ignore"}, "oracle.invalid_quotes"),
    ],
)
def test_config_is_validated(params: dict[str, object], field: str) -> None:
    with pytest.raises(SolventInputError) as info:
        OracleConfig.from_mapping(params)
    assert info.value.field == field


def test_config_from_mapping_rejects_unknown_fields() -> None:
    with pytest.raises(SolventInputError) as info:
        OracleConfig.from_mapping({"max_age": 10})
    assert info.value.field == "oracle.max_age"
    cfg = OracleConfig.from_mapping({"max_age_s": 10, "invalid_quotes": "exclude"})
    assert cfg.max_age_s == 10 and cfg.invalid_quotes is InvalidQuotePolicy.EXCLUDE


# ------------------------------------------------------------------------------ circuit breaker


def quotes_at(price: float, t: float, n: int = 5) -> list[VenueQuote]:
    return [VenueQuote(f"v{i}", price * (1 + 0.0001 * (i - 2)), t - 0.5) for i in range(n)]


def test_breaker_trips_then_confirms_a_persistent_move() -> None:
    first = update_oracle(OracleState(), quotes_at(100.0, NOW), NOW, CFG)
    assert first.status is IndexStatus.INITIAL and first.price == pytest.approx(100.0)
    small = update_oracle(first.state, quotes_at(105.0, NOW + 1), NOW + 1, CFG)
    assert small.status is IndexStatus.PUBLISHED and small.price == pytest.approx(105.0)

    state = small.state
    for k in (1, 2):
        held = update_oracle(state, quotes_at(84.0, NOW + 1 + k), NOW + 1 + k, CFG)
        assert held.status is IndexStatus.TRIPPED
        assert held.price == small.price  # the previous published price is kept
        assert held.candidate.price == pytest.approx(84.0)
        assert held.breaker is not None and "-20.00%" in held.breaker
        assert f"{k} of 3" in held.breaker
        assert held.state.pending_direction == -1 and held.state.pending_count == k
        assert held.state.published_at_s == NOW + 1
        state = held.state
    done = update_oracle(state, quotes_at(84.0, NOW + 4), NOW + 4, CFG)
    assert done.status is IndexStatus.CONFIRMED and done.price == pytest.approx(84.0)
    assert done.breaker is not None and "persisted for 3" in done.breaker
    assert done.state == OracleState(
        price=done.price, published_at_s=NOW + 4, last_update_s=NOW + 4
    )


def test_breaker_glitch_reverts_without_being_published() -> None:
    start = update_oracle(OracleState(), quotes_at(100.0, NOW), NOW, CFG)
    glitch = update_oracle(start.state, quotes_at(150.0, NOW + 1), NOW + 1, CFG)
    assert glitch.status is IndexStatus.TRIPPED and glitch.price == start.price
    back = update_oracle(glitch.state, quotes_at(101.0, NOW + 2), NOW + 2, CFG)
    assert back.status is IndexStatus.PUBLISHED and back.price == pytest.approx(101.0)
    assert back.state.pending_count == 0 and back.state.pending_direction == 0


def test_breaker_count_restarts_when_the_jump_changes_side() -> None:
    start = update_oracle(OracleState(), quotes_at(100.0, NOW), NOW, CFG)
    up = update_oracle(start.state, quotes_at(130.0, NOW + 1), NOW + 1, CFG)
    up2 = update_oracle(up.state, quotes_at(130.0, NOW + 2), NOW + 2, CFG)
    down = update_oracle(up2.state, quotes_at(70.0, NOW + 3), NOW + 3, CFG)
    assert [r.status for r in (up, up2, down)] == [IndexStatus.TRIPPED] * 3
    assert (down.state.pending_direction, down.state.pending_count) == (-1, 1)
    assert down.price == start.price


def test_breaker_breadth_confirmation() -> None:
    cfg = OracleConfig(confirm_fraction=0.8)
    start = update_oracle(OracleState(), quotes_at(100.0, NOW), NOW, cfg)
    # All five venues fresh and beyond -10 %: 100 % of the weight confirms at once.
    crash = update_oracle(start.state, quotes_at(80.0, NOW + 1), NOW + 1, cfg)
    assert crash.status is IndexStatus.CONFIRMED and crash.price == pytest.approx(80.0)
    assert crash.breaker is not None and "100.0% of the weight" in crash.breaker
    # Three of five venues jump (the other two went stale): 60 % < 80 %, held.
    partial = quotes_at(100.0, NOW + 2)[:3] + [
        VenueQuote(q.source, q.price, NOW - 100.0) for q in quotes_at(100.0, NOW)[3:]
    ]
    held = update_oracle(crash.state, partial, NOW + 2, cfg)
    assert held.status is IndexStatus.TRIPPED and held.price == crash.price


def test_breaker_disabled_with_one_confirmation() -> None:
    cfg = OracleConfig(confirm_updates=1)
    start = update_oracle(OracleState(), quotes_at(100.0, NOW), NOW, cfg)
    jump = update_oracle(start.state, quotes_at(50.0, NOW + 1), NOW + 1, cfg)
    assert jump.status is IndexStatus.CONFIRMED and jump.price == pytest.approx(50.0)


def test_update_errors_leave_the_state_usable_and_time_cannot_go_back() -> None:
    start = update_oracle(OracleState(), quotes_at(100.0, NOW), NOW, CFG)
    with pytest.raises(StaleDataError):
        update_oracle(start.state, quotes_at(100.0, NOW - 100.0), NOW + 1, CFG)
    with pytest.raises(SolventInputError, match="before the previous update"):
        update_oracle(start.state, quotes_at(100.0, NOW - 1), NOW - 1, CFG)
    again = update_oracle(start.state, quotes_at(100.5, NOW + 2), NOW + 2, CFG)
    assert again.status is IndexStatus.PUBLISHED


# --------------------------------------------------------------------------------- properties

quote_sets = st.lists(
    st.tuples(
        st.floats(min_value=50.0, max_value=200.0, allow_nan=False),
        st.floats(min_value=0.01, max_value=100.0, allow_nan=False),
        st.floats(min_value=-1.9, max_value=29.9, allow_nan=False),
    ),
    min_size=3,
    max_size=10,
)
LOOSE = OracleConfig(outlier_k=3.0, min_sources=1)


def _quotes(raw: list[tuple[float, float, float]], scale: float = 1.0) -> list[VenueQuote]:
    return [VenueQuote(f"s{i}", p * scale, NOW - age, w) for i, (p, w, age) in enumerate(raw)]


@settings(max_examples=200, deadline=None)
@given(quote_sets)
def test_index_lies_within_the_used_quotes(raw: list[tuple[float, float, float]]) -> None:
    result = compute_index(_quotes(raw), NOW, LOOSE)
    prices = [u.price for u in result.used]
    assert min(prices) <= result.price <= max(prices)
    assert len(result.used) + len(result.excluded) == len(raw)


@settings(max_examples=200, deadline=None)
@given(quote_sets, st.randoms(use_true_random=False))
def test_permuting_quotes_changes_nothing(
    raw: list[tuple[float, float, float]], rng: object
) -> None:
    quotes = _quotes(raw)
    shuffled = list(quotes)
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    a, b = compute_index(quotes, NOW, LOOSE), compute_index(shuffled, NOW, LOOSE)
    assert a.price == b.price
    assert {u.source for u in a.used} == {u.source for u in b.used}
    assert {(e.source, e.reason) for e in a.excluded} == {(e.source, e.reason) for e in b.excluded}


@settings(max_examples=200, deadline=None)
@given(quote_sets, st.integers(min_value=-20, max_value=20))
def test_scaling_prices_by_a_power_of_two_scales_the_index_exactly(
    raw: list[tuple[float, float, float]], exponent: int
) -> None:
    # Multiplying by 2**n is exact in binary floating point, so every comparison is unchanged.
    c = 2.0**exponent
    a, b = compute_index(_quotes(raw), NOW, LOOSE), compute_index(_quotes(raw, c), NOW, LOOSE)
    assert b.price == c * a.price
    assert [u.source for u in a.used] == [u.source for u in b.used]


@settings(max_examples=100, deadline=None)
@given(quote_sets, st.floats(min_value=0.01, max_value=100.0))
def test_scaling_prices_scales_the_index(raw: list[tuple[float, float, float]], c: float) -> None:
    no_outliers = OracleConfig(outlier_k=1e9, min_sources=1)
    a = compute_index(_quotes(raw), NOW, no_outliers)
    b = compute_index(_quotes(raw, c), NOW, no_outliers)
    assert b.price == pytest.approx(c * a.price, rel=1e-12)
