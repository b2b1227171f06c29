"""Oracle index: a robust USD price of an asset from several venues' quotes, with a breaker.

Pipeline for one update (all prices in USD per 1 unit of the asset, times in epoch seconds UTC):

1. **Validate** the quotes: the list is non-empty, source names are unique, weights are finite and
   > 0, timestamps are aware datetimes or finite epoch seconds. A price that is NaN, inf or <= 0
   raises (default) or, with ``InvalidQuotePolicy.EXCLUDE``, excludes that source as ``INVALID``.
2. **Staleness**: a quote older than ``max_age_s`` at ``as_of`` is ``STALE``; one stamped more than
   ``max_future_skew_s`` after ``as_of`` is ``FUTURE``. Fewer than ``min_sources`` fresh quotes
   raise :class:`StaleDataError`.
3. **Outliers**: with ``m`` the weighted median of the fresh prices and ``MAD`` the weighted median
   of ``|p_i - m|`` (same weights), a quote is an ``OUTLIER`` when
   ``|p_i - m| > outlier_k * max(MAD, min_relative_mad * m)``. The floor keeps identical or nearly
   identical quotes from turning every small difference into an outlier (default band:
   5 x 0.1 % = +-0.5 % of the median). One pass, no iteration. Fewer than ``min_sources`` quotes
   left raise :class:`StaleDataError`.
4. **Index** = the weighted median (:func:`weighted_median`) of the remaining quotes.
5. **Circuit breaker** (:func:`update_oracle`): if the index moves more than ``max_jump``
   (relative) from the last published price, the update is *tripped*: the result keeps the
   previous price, says why, and counts the trip. The move is published (``CONFIRMED``) once it has
   persisted for ``confirm_updates`` consecutive updates on the same side, or at once when
   ``confirm_fraction`` is set and used sources holding at least that fraction of the submitted
   weight are each individually beyond the bound on that side. A move back inside the band is
   published and resets the count.

Everything is a pure function of its inputs: the clock is the ``as_of`` argument, and the breaker
state is an immutable :class:`OracleState` returned with each result. An error changes nothing: the
caller still holds the previous state.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from solvent.errors import SolventInputError, StaleDataError

Timestamp = datetime | float | int
"""An aware :class:`datetime` or epoch seconds (UTC)."""

_TIE_RTOL = 1e-12


class ExclusionReason(StrEnum):
    """Why a venue's quote did not enter the index."""

    STALE = "stale"
    """Older than ``max_age_s`` at ``as_of``."""
    FUTURE = "future"
    """Stamped more than ``max_future_skew_s`` after ``as_of`` (clock skew or a bad feed)."""
    OUTLIER = "outlier"
    """Further than ``outlier_k`` floored MADs from the weighted median of the fresh quotes."""
    INVALID = "invalid"
    """Price NaN, inf or <= 0 (only with ``InvalidQuotePolicy.EXCLUDE``; the default raises)."""


class InvalidQuotePolicy(StrEnum):
    """What a NaN, infinite or non-positive venue price does."""

    RAISE = "raise"
    """Raise :class:`SolventInputError` naming ``quotes[i].price`` (the default: fail fast)."""
    EXCLUDE = "exclude"
    """Exclude that source with reason ``INVALID`` and carry on (for a live multi-venue feed)."""


class IndexStatus(StrEnum):
    """What :func:`update_oracle` did with the new candidate index."""

    INITIAL = "initial"
    """No previous price: the candidate is published as is."""
    PUBLISHED = "published"
    """Within ``max_jump`` of the previous price: published."""
    TRIPPED = "tripped"
    """Beyond ``max_jump`` and not yet confirmed: the previous price is kept."""
    CONFIRMED = "confirmed"
    """Beyond ``max_jump`` but confirmed (persistence or breadth): published."""


@dataclass(frozen=True)
class VenueQuote:
    """One venue's price of the asset.

    ``price`` in USD per unit; ``timestamp`` an aware datetime or epoch seconds (UTC); ``weight``
    > 0 (relative, e.g. the venue's volume share; only ratios matter). Validated by
    :func:`compute_index`, which can then name the offending ``quotes[i]`` field.
    """

    source: str
    price: float
    timestamp: Timestamp
    weight: float = 1.0


@dataclass(frozen=True, kw_only=True)
class OracleConfig:
    """Oracle parameters (frozen, validated on construction; see docs/methodology).

    Attributes:
        max_age_s: a quote older than this many seconds at ``as_of`` is stale.
        max_future_skew_s: tolerated clock skew for quotes stamped after ``as_of`` (seconds).
        outlier_k: outlier threshold in (floored) median absolute deviations.
        min_relative_mad: floor of the MAD as a fraction of the median (0.001 = 10 bp).
        min_sources: minimum number of quotes that must survive staleness and outlier filters.
        max_jump: relative move of the index versus the last published price beyond which the
            circuit breaker trips (0.10 = 10 %).
        confirm_updates: consecutive same-side tripped updates after which a move is published
            (1 disables the breaker).
        confirm_fraction: if set, a jump is published at once when used sources holding at least
            this fraction of the total submitted weight are each beyond the bound on its side.
        invalid_quotes: what a NaN/inf/non-positive price does.
    """

    max_age_s: float = 30.0
    max_future_skew_s: float = 2.0
    outlier_k: float = 5.0
    min_relative_mad: float = 0.001
    min_sources: int = 3
    max_jump: float = 0.10
    confirm_updates: int = 3
    confirm_fraction: float | None = None
    invalid_quotes: InvalidQuotePolicy = InvalidQuotePolicy.RAISE

    def __post_init__(self) -> None:
        _check_real("oracle.max_age_s", self.max_age_s, minimum=0.0, inclusive=False)
        _check_real("oracle.max_future_skew_s", self.max_future_skew_s, minimum=0.0)
        _check_real("oracle.outlier_k", self.outlier_k, minimum=0.0, inclusive=False)
        _check_real("oracle.min_relative_mad", self.min_relative_mad, minimum=0.0, maximum=1.0)
        _check_int("oracle.min_sources", self.min_sources, minimum=1)
        _check_real("oracle.max_jump", self.max_jump, minimum=0.0, inclusive=False)
        _check_int("oracle.confirm_updates", self.confirm_updates, minimum=1)
        if self.confirm_fraction is not None:
            _check_real(
                "oracle.confirm_fraction",
                self.confirm_fraction,
                minimum=0.0,
                inclusive=False,
                maximum=1.0,
            )
        try:
            object.__setattr__(self, "invalid_quotes", InvalidQuotePolicy(self.invalid_quotes))
        except ValueError:
            raise SolventInputError(
                "oracle.invalid_quotes",
                f"must be one of {[p.value for p in InvalidQuotePolicy]}, "
                f"got {self.invalid_quotes!r}",
            ) from None

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> OracleConfig:
        """Build from a parsed TOML/JSON table; unknown keys raise naming ``oracle.<key>``."""
        known = {f.name for f in fields(cls)}
        for key in mapping:
            if key not in known:
                raise SolventInputError(f"oracle.{key}", f"unknown field; known: {sorted(known)}")
        return cls(**dict(mapping))


@dataclass(frozen=True)
class UsedSource:
    """A quote that entered the index: price (USD), weight, and age at ``as_of`` (seconds)."""

    source: str
    price: float
    weight: float
    age_s: float


@dataclass(frozen=True)
class ExcludedSource:
    """A quote left out of the index, with the reason and a human-readable detail."""

    source: str
    reason: ExclusionReason
    detail: str


@dataclass(frozen=True)
class IndexCandidate:
    """The filtered weighted median of one set of quotes, before the circuit breaker.

    ``price`` (USD) is the weighted median of ``used``; ``fresh_median`` and ``outlier_band``
    (USD, the maximum allowed ``|p - fresh_median|``) document the outlier filter.
    """

    price: float
    used: tuple[UsedSource, ...]
    excluded: tuple[ExcludedSource, ...]
    fresh_median: float
    outlier_band: float
    as_of_s: float
    total_weight: float


@dataclass(frozen=True)
class OracleState:
    """Circuit-breaker memory between updates (immutable; each result carries the next one).

    ``price``: last published index (USD), None before the first update. ``published_at_s``: its
    ``as_of`` (epoch s). ``pending_direction``: +1 / -1 while a jump up / down is being held, 0
    otherwise. ``pending_count``: consecutive tripped updates on that side.
    """

    price: float | None = None
    published_at_s: float | None = None
    last_update_s: float | None = None
    pending_direction: int = 0
    pending_count: int = 0


@dataclass(frozen=True)
class OracleResult:
    """One oracle update: the price to use, what was done, and the next state.

    ``price`` is the published index in USD (the previous one when ``status`` is ``TRIPPED``);
    ``candidate`` is what the quotes alone say; ``breaker`` explains a trip or a confirmation.
    """

    price: float
    status: IndexStatus
    candidate: IndexCandidate
    breaker: str | None
    state: OracleState

    @property
    def used(self) -> tuple[UsedSource, ...]:
        """The quotes that entered the candidate index."""
        return self.candidate.used

    @property
    def excluded(self) -> tuple[ExcludedSource, ...]:
        """The quotes left out, each with its reason."""
        return self.candidate.excluded


# -------------------------------------------------------------------------------- weighted median


def weighted_median(values: ArrayLike, weights: ArrayLike) -> float:
    """Weighted median of ``values`` with positive ``weights``.

    Definition: sort by value (ties by weight, so the result does not depend on input order), let
    ``C_i`` be the cumulative weight through the i-th sorted value and ``W`` the total. The median
    is the first value with ``C_i >= W / 2``; when ``C_i`` equals ``W / 2`` (to a relative 1e-12)
    the weight splits exactly between two values and the median is the midpoint of that value and
    the next. With equal weights this is the ordinary median (middle value for an odd count, mean
    of the two middle values for an even count). The result lies between the smallest and the
    largest value and scales with them.
    """
    v = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if v.ndim != 1 or v.shape != w.shape or v.size == 0:
        raise SolventInputError("values", "need two 1-d arrays of the same, non-zero length")
    if not bool(np.all(np.isfinite(v))):
        raise SolventInputError("values", "must be finite")
    if not bool(np.all(np.isfinite(w) & (w > 0.0))):
        raise SolventInputError("weights", "must be finite and > 0")
    order = np.lexsort((w, v))
    v, w = v[order], w[order]
    cumulative = np.cumsum(w)
    half = 0.5 * cumulative[-1]
    tolerance = _TIE_RTOL * cumulative[-1]
    i = int(np.searchsorted(cumulative, half - tolerance, side="left"))
    if i + 1 < v.size and cumulative[i] <= half + tolerance:
        return float(0.5 * (v[i] + v[i + 1]))
    return float(v[i])


# ------------------------------------------------------------------------------------ the index


def compute_index(
    quotes: Sequence[VenueQuote], as_of: Timestamp, config: OracleConfig
) -> IndexCandidate:
    """Filter stale, future-stamped and outlying quotes and take the weighted median (USD).

    Raises :class:`SolventInputError` for malformed quotes (naming ``quotes[i].<field>``) and
    :class:`StaleDataError` when fewer than ``config.min_sources`` quotes survive the filters.
    """
    now = epoch_seconds(as_of, "as_of")
    if len(quotes) == 0:
        raise StaleDataError("quotes", "no quotes: the oracle has no source")
    names = [_check_source(q, i) for i, q in enumerate(quotes)]
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            raise SolventInputError(
                f"quotes[{i}].source", f"duplicate source {name!r} (also quotes[{seen[name]}])"
            )
        seen[name] = i
    weights = np.array([_check_weight(q.weight, i) for i, q in enumerate(quotes)])
    times = np.array(
        [epoch_seconds(q.timestamp, f"quotes[{i}].timestamp") for i, q in enumerate(quotes)]
    )
    prices = np.array([_as_float(q.price, f"quotes[{i}].price") for i, q in enumerate(quotes)])

    excluded: dict[int, ExcludedSource] = {}
    invalid = ~(np.isfinite(prices) & (prices > 0.0))
    for i in np.flatnonzero(invalid).tolist():
        if config.invalid_quotes is InvalidQuotePolicy.RAISE:
            raise SolventInputError(
                f"quotes[{i}].price", f"must be finite and > 0, got {quotes[i].price!r}"
            )
        excluded[int(i)] = ExcludedSource(
            names[i], ExclusionReason.INVALID, f"price {quotes[i].price!r} is not finite and > 0"
        )

    ages = now - times
    stale = ~invalid & (ages > config.max_age_s)
    future = ~invalid & (ages < -config.max_future_skew_s)
    for i in np.flatnonzero(stale).tolist():
        excluded[int(i)] = ExcludedSource(
            names[i], ExclusionReason.STALE, f"age {ages[i]:.3f} s > max_age_s {config.max_age_s} s"
        )
    for i in np.flatnonzero(future).tolist():
        excluded[int(i)] = ExcludedSource(
            names[i],
            ExclusionReason.FUTURE,
            f"stamped {-ages[i]:.3f} s after as_of > max_future_skew_s "
            f"{config.max_future_skew_s} s",
        )
    fresh = ~(invalid | stale | future)
    _require_sources(int(fresh.sum()), config, "fresh", excluded)

    median = weighted_median(prices[fresh], weights[fresh])
    deviations = np.abs(prices - median)
    mad = weighted_median(deviations[fresh], weights[fresh])
    band = config.outlier_k * max(mad, config.min_relative_mad * median)
    outlier = fresh & (deviations > band)
    for i in np.flatnonzero(outlier).tolist():
        excluded[int(i)] = ExcludedSource(
            names[i],
            ExclusionReason.OUTLIER,
            f"price {prices[i]:.10g} is {deviations[i]:.6g} from the median {median:.6g}, "
            f"beyond the band {band:.6g} ({config.outlier_k} x max(MAD {mad:.6g}, "
            f"{config.min_relative_mad} x median))",
        )
    used = fresh & ~outlier
    _require_sources(int(used.sum()), config, "non-outlier", excluded)

    idx = np.flatnonzero(used)
    return IndexCandidate(
        price=weighted_median(prices[idx], weights[idx]),
        used=tuple(
            UsedSource(names[i], float(prices[i]), float(weights[i]), float(ages[i])) for i in idx
        ),
        excluded=tuple(excluded[i] for i in sorted(excluded)),
        fresh_median=median,
        outlier_band=float(band),
        as_of_s=now,
        total_weight=float(weights.sum()),
    )


def update_oracle(
    state: OracleState, quotes: Sequence[VenueQuote], as_of: Timestamp, config: OracleConfig
) -> OracleResult:
    """One oracle update with the circuit breaker; returns the price to use and the next state.

    ``state`` is :class:`OracleState()` before the first update. On error nothing changes (the
    caller keeps ``state``). ``as_of`` must not go back before the previous update.
    """
    candidate = compute_index(quotes, as_of, config)
    now = candidate.as_of_s
    if state.last_update_s is not None and now < state.last_update_s:
        raise SolventInputError(
            "as_of", f"{now} s is before the previous update at {state.last_update_s} s"
        )
    previous = state.price
    if previous is None:
        return _publish(candidate, IndexStatus.INITIAL, None)
    move = candidate.price / previous - 1.0
    if abs(move) <= config.max_jump:
        return _publish(candidate, IndexStatus.PUBLISHED, None)

    direction = 1 if move > 0.0 else -1
    count = state.pending_count + 1 if state.pending_direction == direction else 1
    bound = previous * (1.0 + direction * config.max_jump)
    beyond = sum(u.weight for u in candidate.used if direction * (u.price - bound) > 0.0)
    breadth = beyond / candidate.total_weight
    what = (
        f"candidate {candidate.price:.6g} moved {move:+.2%} from the published {previous:.6g}, "
        f"beyond max_jump {config.max_jump:.2%}"
    )
    if count >= config.confirm_updates:
        return _publish(
            candidate,
            IndexStatus.CONFIRMED,
            f"{what}; confirmed: persisted for {count} consecutive update(s) "
            f"(confirm_updates {config.confirm_updates})",
        )
    if config.confirm_fraction is not None and breadth >= config.confirm_fraction:
        return _publish(
            candidate,
            IndexStatus.CONFIRMED,
            f"{what}; confirmed: sources holding {breadth:.1%} of the weight are beyond the "
            f"bound (confirm_fraction {config.confirm_fraction:.1%})",
        )
    return OracleResult(
        price=previous,
        status=IndexStatus.TRIPPED,
        candidate=candidate,
        breaker=(
            f"{what}; held at {previous:.6g}: {count} of {config.confirm_updates} consecutive "
            f"update(s) needed to confirm"
        ),
        state=OracleState(
            price=previous,
            published_at_s=state.published_at_s,
            last_update_s=now,
            pending_direction=direction,
            pending_count=count,
        ),
    )


def _publish(candidate: IndexCandidate, status: IndexStatus, why: str | None) -> OracleResult:
    now = candidate.as_of_s
    return OracleResult(
        price=candidate.price,
        status=status,
        candidate=candidate,
        breaker=why,
        state=OracleState(price=candidate.price, published_at_s=now, last_update_s=now),
    )


# ----------------------------------------------------------------------------------- validation


def _require_sources(
    count: int, config: OracleConfig, what: str, excluded: Mapping[int, ExcludedSource]
) -> None:
    if count >= config.min_sources:
        return
    reasons = ", ".join(f"{e.source}: {e.reason.value}" for e in excluded.values()) or "none"
    raise StaleDataError(
        "quotes",
        f"only {count} {what} source(s), min_sources is {config.min_sources} (excluded: {reasons})",
    )


def _as_float(value: object, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise SolventInputError(field, f"must be a number, got {value!r}")
    return float(value)


def _check_weight(value: object, i: int) -> float:
    weight = _as_float(value, f"quotes[{i}].weight")
    if not (math.isfinite(weight) and weight > 0.0):
        raise SolventInputError(f"quotes[{i}].weight", f"must be finite and > 0, got {value!r}")
    return weight


def _check_source(quote: object, i: int) -> str:
    if not isinstance(quote, VenueQuote):
        raise SolventInputError(f"quotes[{i}]", f"must be a VenueQuote, got {type(quote).__name__}")
    if not isinstance(quote.source, str) or not quote.source.strip():
        raise SolventInputError(f"quotes[{i}].source", "must be a non-empty string")
    return quote.source


def epoch_seconds(value: object, field: str) -> float:
    """Epoch seconds (UTC) from an aware datetime or a finite number of seconds."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise SolventInputError(field, "datetime must be timezone-aware")
        return value.timestamp()
    seconds = _as_float(value, field)
    if not math.isfinite(seconds):
        raise SolventInputError(field, f"must be finite, got {value!r}")
    return seconds


def _check_real(
    field: str,
    value: object,
    *,
    minimum: float,
    inclusive: bool = True,
    maximum: float | None = None,
) -> None:
    number = _as_float(value, field)
    low_ok = number >= minimum if inclusive else number > minimum
    if not (math.isfinite(number) and low_ok and (maximum is None or number <= maximum)):
        low = f"{'>=' if inclusive else '>'} {minimum}"
        high = "" if maximum is None else f" and <= {maximum}"
        raise SolventInputError(field, f"must be finite, {low}{high}; got {value!r}")


def _check_int(field: str, value: object, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise SolventInputError(field, f"must be an integer >= {minimum}, got {value!r}")
