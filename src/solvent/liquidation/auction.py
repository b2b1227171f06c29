"""Derive's Dutch auction of a fraction of an account (docs/methodology/adl-and-auctions.md).

Written from Derive v2's published mechanism (research note 1.8; DutchAuction in
derivexyz/v2-core, BUSL-1.1: no code copied) and checked against its unit tests and multi-step
liquidation simulations (tests/data/derive/derive_auction_liquidation.jsonl).

An account whose maintenance margin ``MM`` (= equity - requirement, USD; < 0 is a shortfall) is
negative is auctioned. With ``MtM`` its mark-to-market value (USD, cash included):

- **buffer margin** ``BM = MM + (MM - MtM) x buffer_margin_percentage``: the auction sells just
  enough of the account to bring BM back to 0, a cushion beyond MM = 0;
- **solvent auction** (MtM > 0): the price of 100 % of the account falls from
  ``starting_mtm_percentage x MtM`` linearly to ``fast_auction_cutoff_percentage x MtM`` over
  ``fast_auction_length``, then to 0 over ``slow_auction_length`` (:func:`discount`). A bidder
  buys a fraction ``f`` of *every* balance of the account (positions and cash alike) for
  ``(MtM - R) x d x f`` (:func:`solvent_bid`), ``R`` the cash earlier bidders already paid in
  (reserved: not part of what is sold). ``f`` is capped by :func:`max_fraction`, the fraction
  after which BM = 0; a liquidator fee ``fMax(d = 1) x |MtM| x liquidator_fee_rate`` goes to the
  security module (insurance fund) when the auction starts (:func:`start_fee`);
- **insolvent auction** (MtM <= 0): the bidder is *paid* to take the account; the payment grows
  from ``-min(MtM, 0)`` to ``-MM`` over ``insolvent_auction_length`` (:func:`insolvent_bid_price`)
  and is drawn from the security module, any shortfall socialized.

Amounts are USD floats (Derive's fixed-point results reproduce to 1e-12); fractions are
decimals (0.25 = 25 %); times in seconds since the auction started.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np

from solvent.arrays import FloatArray
from solvent.errors import SolventInputError
from solvent.validation import finite_number, number_in_range, shown


@dataclass(frozen=True, slots=True)
class AuctionParams:
    """Derive's ``SolventAuctionParams``/``InsolventAuctionParams`` and buffer (defaults: Derive
    mainnet, research note 1.8). Percentages are decimals, lengths in seconds."""

    starting_mtm_percentage: float = 0.95
    fast_auction_cutoff_percentage: float = 0.7
    fast_auction_length_s: float = 900.0
    slow_auction_length_s: float = 43_200.0
    insolvent_auction_length_s: float = 3_600.0
    liquidator_fee_rate: float = 0.1
    buffer_margin_percentage: float = 0.15

    def __post_init__(self) -> None:
        for name in ("starting_mtm_percentage", "fast_auction_cutoff_percentage"):
            number_in_range(getattr(self, name), name, 0.0, 1.0)
        if self.fast_auction_cutoff_percentage > self.starting_mtm_percentage:
            raise SolventInputError(
                "fast_auction_cutoff_percentage", "must not exceed starting_mtm_percentage"
            )
        for name in (
            "fast_auction_length_s",
            "slow_auction_length_s",
            "insolvent_auction_length_s",
        ):
            number_in_range(getattr(self, name), name, 1e-9, 1e9)
        number_in_range(self.liquidator_fee_rate, "liquidator_fee_rate", 0.0, 1.0)
        number_in_range(self.buffer_margin_percentage, "buffer_margin_percentage", 0.0, 10.0)

    @staticmethod
    def from_upstream(raw: Mapping[str, object]) -> AuctionParams:
        """From Derive's field names (``startingMtMPercentage``, ``fastAuctionLength`` ...);
        missing fields keep the defaults, an unknown one is refused."""
        names = {
            "startingMtMPercentage": "starting_mtm_percentage",
            "fastAuctionCutoffPercentage": "fast_auction_cutoff_percentage",
            "fastAuctionLength": "fast_auction_length_s",
            "slowAuctionLength": "slow_auction_length_s",
            "insolventAuctionLength": "insolvent_auction_length_s",
            "liquidatorFeeRate": "liquidator_fee_rate",
            "bufferMarginPercentage": "buffer_margin_percentage",
        }
        values: dict[str, float] = {}
        for key, value in raw.items():
            if key not in names:
                raise SolventInputError(key, "unknown auction parameter")
            values[names[key]] = finite_number(value, key)
        return AuctionParams(**values)

    def as_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def discount(params: AuctionParams, elapsed_s: float) -> float:
    """The share of MtM a bidder pays at ``elapsed_s`` seconds into a solvent auction: linear
    from ``starting_mtm_percentage`` to ``fast_auction_cutoff_percentage`` over the fast phase,
    then to 0 over the slow phase, 0 afterwards."""
    t = number_in_range(elapsed_s, "elapsed_s", 0.0, math.inf)
    start, cutoff = params.starting_mtm_percentage, params.fast_auction_cutoff_percentage
    fast, slow = params.fast_auction_length_s, params.slow_auction_length_s
    if t < fast:
        return start - (start - cutoff) * t / fast
    if t < fast + slow:
        return cutoff * (1.0 - (t - fast) / slow)
    return 0.0


def buffer_margin(mm: float, mtm: float, params: AuctionParams) -> float:
    """``BM = MM + (MM - MtM) x buffer_margin_percentage`` (USD; < 0 while the auction runs)."""
    return mm + (mm - mtm) * params.buffer_margin_percentage


def max_fraction(bm: float, mtm: float, d: float, reserved_cash: float = 0.0) -> float:
    """The largest fraction of the (current) account one bid may take: the fraction after which
    the buffer margin is back to 0, ``BM / (BM - MtM d - R (1 - d))`` with BM clamped to <= 0
    (0 when BM >= 0), capped to [0, 1]."""
    bm = min(bm, 0.0)
    if bm == 0.0:
        return 0.0
    denominator = bm - mtm * d - reserved_cash * (1.0 - d)
    if denominator >= 0.0:  # the bid cannot restore the buffer: everything may be taken
        return 1.0
    return min(max(bm / denominator, 0.0), 1.0)


def start_fee(mm: float, mtm: float, params: AuctionParams) -> float:
    """Fee a solvent auction pays the security module when it starts (USD, >= 0):
    ``fMax(d = 1, R = 0) x |MtM| x liquidator_fee_rate`` (0 for an insolvent auction)."""
    if mtm <= 0.0:
        return 0.0
    f = max_fraction(buffer_margin(mm, mtm, params), mtm, 1.0)
    return f * abs(mtm) * params.liquidator_fee_rate


@dataclass(frozen=True, slots=True)
class SolventBid:
    """One bid on a solvent auction: the ``fraction`` of the current account taken (of every
    balance), the ``cash`` the bidder pays for it (USD, >= 0), the ``max_fraction`` that capped
    it and whether the bid ``terminates`` the auction (it took the whole allowed fraction)."""

    fraction: float
    cash: float
    max_fraction: float
    discount: float
    terminates: bool


def solvent_bid(
    mm: float,
    mtm: float,
    elapsed_s: float,
    requested: float,
    params: AuctionParams,
    reserved_cash: float = 0.0,
) -> SolventBid:
    """A bid for ``requested`` (a fraction of the current account, (0, 1]) at ``elapsed_s``:
    ``f = min(requested, fMax)``, ``cash = (MtM - R) x d x f``."""
    number_in_range(requested, "requested", 0.0, 1.0)
    if requested == 0.0:
        raise SolventInputError("requested", "must be > 0")
    if mtm <= 0.0:
        raise SolventInputError("mtm", f"a solvent auction needs MtM > 0, got {shown(mtm)}")
    d = discount(params, elapsed_s)
    f_max = max_fraction(buffer_margin(mm, mtm, params), mtm, d, reserved_cash)
    f = min(requested, f_max)
    return SolventBid(
        fraction=f,
        cash=(mtm - reserved_cash) * d * f,
        max_fraction=f_max,
        discount=d,
        terminates=f >= f_max,
    )


def insolvent_bid_price(mm: float, mtm: float, elapsed_s: float, params: AuctionParams) -> float:
    """Price of 100 % of an insolvent account (USD, <= 0: paid *to* the bidder): from
    ``min(MtM, 0)`` at the start linearly to ``MM`` at ``insolvent_auction_length``, then MM."""
    t = number_in_range(elapsed_s, "elapsed_s", 0.0, math.inf)
    floor = min(mtm, 0.0)
    length = params.insolvent_auction_length_s
    if t >= length:
        return mm
    return (mm - floor) * t / length + floor


def insolvent_bid_payout(
    mm: float, mtm: float, elapsed_s: float, fraction: float, params: AuctionParams
) -> float:
    """What the bidder receives (USD, >= 0) for ``fraction`` of an insolvent account:
    ``-price x fraction``."""
    number_in_range(fraction, "fraction", 0.0, 1.0)
    return max(-insolvent_bid_price(mm, mtm, elapsed_s, params) * fraction, 0.0)


def insolvent_bid(
    mm: float,
    mtm: float,
    elapsed_s: float,
    fraction: float,
    params: AuctionParams,
    *,
    price_limit: float = 0.0,
) -> float:
    """What the bidder receives for ``fraction`` of an insolvent account (USD, >= 0), refused
    (naming ``price_limit``) when a non-zero ``price_limit`` is below ``-payout``: the bidder's
    way to say "pay me at least ``-price_limit``"."""
    payout = insolvent_bid_payout(mm, mtm, elapsed_s, fraction, params)
    if price_limit != 0.0 and -payout > price_limit:
        raise SolventInputError(
            "price_limit", f"the auction pays {payout:.6f}, less than {-price_limit:.6f} asked"
        )
    return payout


def insolvent_payout_split(payout: float, fund_cash: float) -> tuple[float, float]:
    """``(paid by the fund, socialized)`` of an insolvent bid's ``payout`` (USD): the security
    module (insurance fund) pays what it holds, the rest is socialized."""
    from_fund = min(max(fund_cash, 0.0), payout)
    return from_fund, payout - from_fund


def can_terminate(mm: float, mtm: float, params: AuctionParams, *, insolvent: bool) -> bool:
    """A solvent auction ends once BM >= 0 (or MtM <= 0, to restart as insolvent); an insolvent
    one once MM >= 0."""
    if insolvent:
        return mm >= 0.0
    return buffer_margin(mm, mtm, params) >= 0.0 or mtm <= 0.0


def withdrawals_blocked(insolvent_mms: Sequence[float], fund_cash: float) -> bool:
    """Whether the insurance fund must refuse withdrawals: while it holds less than the total
    shortfall ``sum(-MM)`` of the insolvent auctions outstanding."""
    return fund_cash < sum(-min(mm, 0.0) for mm in insolvent_mms)


def cash_after_bid(cash: float, reserved_cash: float, fraction: float, bid_cash: float) -> float:
    """The auctioned account's cash after a solvent bid (USD): the bidder takes ``fraction`` of
    the cash not reserved by earlier bids and pays ``bid_cash`` in, which is then reserved too;
    every other balance is scaled by ``1 - fraction``."""
    return cash - (cash - reserved_cash) * fraction + bid_cash


def discounts(params: AuctionParams, elapsed_s: FloatArray) -> FloatArray:
    """:func:`discount` of each elapsed time (seconds, >= 0), vectorized."""
    t = np.asarray(elapsed_s, dtype=np.float64)
    start, cutoff = params.starting_mtm_percentage, params.fast_auction_cutoff_percentage
    fast, slow = params.fast_auction_length_s, params.slow_auction_length_s
    out = np.where(
        t < fast,
        start - (start - cutoff) * t / fast,
        np.where(t < fast + slow, cutoff * (1.0 - (t - fast) / slow), 0.0),
    )
    return np.asarray(out, dtype=np.float64)


def elapsed_for(params: AuctionParams, d: FloatArray) -> FloatArray:
    """The first time (seconds) at which the auction's discount has fallen to ``d`` (the inverse
    of :func:`discount`; ``d`` above the starting percentage gives 0, ``d <= 0`` the end)."""
    d = np.asarray(d, dtype=np.float64)
    start, cutoff = params.starting_mtm_percentage, params.fast_auction_cutoff_percentage
    fast, slow = params.fast_auction_length_s, params.slow_auction_length_s
    in_fast = fast * (start - d) / max(start - cutoff, 1e-300)
    in_slow = fast + slow * (1.0 - d / cutoff) if cutoff > 0 else np.full_like(d, fast)
    t = np.where(d >= cutoff, np.where(start > cutoff, in_fast, 0.0), in_slow)
    return np.asarray(np.clip(t, 0.0, fast + slow), dtype=np.float64)


def max_fractions(bm: FloatArray, mtm: FloatArray, d: FloatArray) -> FloatArray:
    """:func:`max_fraction` of each account (no reserved cash), vectorized."""
    bm = np.minimum(np.asarray(bm, dtype=np.float64), 0.0)
    denominator = bm - np.asarray(mtm, dtype=np.float64) * np.asarray(d, dtype=np.float64)
    safe = np.where(denominator < 0.0, denominator, -1.0)
    f = np.where(denominator < 0.0, bm / safe, 1.0)
    return np.asarray(np.where(bm == 0.0, 0.0, np.clip(f, 0.0, 1.0)), dtype=np.float64)
