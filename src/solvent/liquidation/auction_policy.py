"""The ``auction`` liquidation policy (``solvent liquidate --policy auction``): Derive's Dutch
auction of a fraction of the whole account (:mod:`solvent.liquidation.auction`,
docs/methodology/adl-and-auctions.md), on Solvent's margin units.

For every unit below its target at once (vectorized over the units):

1. **Buffer margin** ``BM = equity - target`` (< 0): with the default maintenance target
   ``MM x (1 + buffer)`` this is Derive's ``MM + (MM - MtM) x buffer`` with MM the margin
   (equity - requirement) and MtM the equity.
2. **When the bidder bids.** The auction's price of 100 % of the unit falls as ``d(t) x equity``
   (the Derive schedule of :class:`AuctionParams`). A liquidator bids as soon as the discount it
   earns, ``(1 - d) x f x equity``, covers what unwinding the slice costs it in the market
   snapshot's order book (its slippage: ``units.quote`` less the liquidation fee) for the fraction
   ``f = fMax(d) = BM / (BM - equity x d)`` (capped at 1): ``d* = 1 - cost / (f x equity)``,
   no later than the end of the auction and no earlier than its start.
3. **The bid.** The bidder takes ``f`` of every position of the unit; the unit pays the discount
   ``(1 - d*) x f x equity`` (USD), embedded in the trade prices (spread over the positions in
   proportion to their underlying notional, so booking the trades reproduces it exactly), plus
   nothing else: the discount is the auction's fee, to the bidder (the venue's per-notional
   liquidation fee is not charged on top, and Derive's start fee to the security module is not
   modelled). Collateral stays with the unit, which is worth the same as Derive's transfer of
   ``f`` of the cash against the bid.
4. Models whose requirement is not proportional to the position (size terms, netting) may leave
   the unit short of its target after one bid: the auction goes on (the clock where it was) for
   at most :attr:`AuctionPolicy.max_rounds` bids.

A unit with negative equity is insolvent: like every policy, it is left to the waterfall
(bankruptcy closes at its bankruptcy price, insurance fund, ADL, socialized loss), which plays the
role of Derive's insolvent auction paid by the security module.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from solvent.arrays import FloatArray, IntArray
from solvent.liquidation.auction import AuctionParams, discounts, elapsed_for, max_fractions
from solvent.liquidation.outcome import StepKind
from solvent.liquidation.units import LiquidationUnits

_TINY = 1e-12
_MAX_PREMIUM_SHARE = 0.95
"""An option sold by the unit keeps at least 5 % of its mark (the discount beyond moves to the
unit's other positions): a price never goes to or below zero."""
_MAX_INVERSE_SHARE = 0.5
"""An inverse contract bought back at most at twice its mark for the same reason."""


def _held(units: LiquidationUnits, rows: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    k, cols = np.nonzero(units.quantities[rows])
    return k.astype(np.int64), rows[k], cols.astype(np.int64)


def _prices(
    units: LiquidationUnits,
    k: IntArray,
    cols: IntArray,
    trade: FloatArray,
    discount_usd: FloatArray,
) -> FloatArray:
    """Fill price of each trade such that the slippage (USD, the unit's cost against the mark)
    of unit ``k``'s trades adds up to ``discount_usd[k]``, shared in proportion to underlying
    notional; a share that would take a price past its bound moves to the unit's other trades
    (two passes), any rest is dropped (documented bound)."""
    table, pricing, market = units.market.table, units.pricing, units.market
    mark = pricing.mark[cols]
    per_unit_usd = np.abs(trade) * table.contract_size[cols] * market.settlement_usd[cols]
    notional = np.abs(trade) * table.contract_size[cols] * pricing.forward[cols]
    inverse = table.is_inverse[cols] & ~table.is_option[cols]
    option = table.is_option[cols]
    # largest slippage each trade can carry (USD)
    capacity = np.full(trade.size, np.inf)
    sells_option = option & (trade < 0)
    capacity[sells_option] = _MAX_PREMIUM_SHARE * mark[sells_option] * per_unit_usd[sells_option]
    buys_inverse = inverse & (trade > 0)
    capacity[buys_inverse] = _MAX_INVERSE_SHARE * per_unit_usd[buys_inverse]
    slippage = np.zeros(trade.size)
    remaining = np.asarray(discount_usd, dtype=np.float64).copy()
    open_ = np.ones(trade.size, dtype=bool)
    for _ in range(3):
        weight = np.where(open_, notional, 0.0)
        total = np.bincount(k, weights=weight, minlength=remaining.size)
        share = np.divide(weight, total[k], out=np.zeros_like(weight), where=total[k] > 0)
        want = slippage + share * remaining[k]
        capped = want > capacity
        slippage = np.minimum(want, capacity)
        remaining = np.asarray(discount_usd, dtype=np.float64) - np.bincount(
            k, weights=slippage, minlength=remaining.size
        )
        open_ &= ~capped
        if not np.any(remaining > _TINY):
            break
    x = np.divide(slippage, per_unit_usd, out=np.zeros_like(slippage), where=per_unit_usd > 0)
    sign = np.sign(trade)
    linear_price = mark + sign * x
    # inverse: slippage = trade cs (1 - mark / price) usd  ->  price = mark / (1 - sign x)
    inverse_price = mark / np.maximum(1.0 - sign * x, _TINY)
    return np.asarray(np.where(inverse, inverse_price, linear_price), dtype=np.float64)


@dataclass(frozen=True)
class AuctionPolicy:
    """Derive's Dutch auction of a fraction of the account (module docstring)."""

    params: AuctionParams = field(default_factory=AuctionParams)
    max_rounds: int = 8
    name: str = "auction"

    def liquidate(self, units: LiquidationUnits) -> None:
        elapsed = np.zeros(len(units.names), dtype=np.float64)
        for _ in range(self.max_rounds):
            act = units.active
            if act.size == 0:
                return
            self._bid(units, act, elapsed)

    def _bid(self, units: LiquidationUnits, act: IntArray, elapsed: FloatArray) -> None:
        equity = units.equity_usd[act]
        bm = equity - units.target_usd[act]
        d_now = discounts(self.params, elapsed[act])
        f_now = max_fractions(bm, equity, d_now)
        k, rows, cols = _held(units, act)
        probe = -units.quantities[rows, cols] * f_now[k]
        _, cost = units.quote(rows, cols, probe)
        slippage = cost - units.config.fee_rate * units.notional_usd(cols, probe)
        cost_usd = np.bincount(k, weights=np.maximum(slippage, 0.0), minlength=act.size)
        # the bidder bids once its discount covers its cost of unwinding the slice
        stake = np.maximum(f_now * equity, _TINY)
        d_bid = np.clip(1.0 - cost_usd / stake, 0.0, d_now)
        t_bid = np.maximum(elapsed_for(self.params, d_bid), elapsed[act])
        d_bid = np.minimum(d_bid, discounts(self.params, t_bid))
        elapsed[act] = t_bid
        f = max_fractions(bm, equity, d_bid)
        f = np.where(f > 0.0, f, f_now)
        discount_usd = (1.0 - d_bid) * f * equity
        trade = -units.quantities[rows, cols] * f[k]
        keep = trade != 0.0
        k, rows, cols, trade = k[keep], rows[keep], cols[keep], trade[keep]
        price = _prices(units, k, cols, trade, discount_usd)
        reasons = {
            int(r): (
                f"Dutch auction bid after {t_bid[i]:.0f} s at {d_bid[i]:.4f} of equity: "
                f"{f[i]:.2%} of every position (the fraction that restores the buffer margin "
                f"{bm[i]:.2f} USD to 0), discount {discount_usd[i]:.2f} USD to the bidder "
                f"against its unwinding cost {cost_usd[i]:.2f} USD"
            )
            for i, r in enumerate(act.tolist())
        }
        rank = np.zeros(rows.size, dtype=np.int64)
        for i in range(1, rows.size):
            rank[i] = rank[i - 1] + 1 if rows[i] == rows[i - 1] else 0
        for j in range(int(rank.max(initial=-1)) + 1):
            sel = np.flatnonzero((rank == j) & ~units.bankrupt[rows])
            units.execute(
                rows[sel],
                cols[sel],
                trade[sel],
                StepKind.AUCTION,
                price=price[sel],
                fee=False,
                reasons=[reasons[int(r)] for r in rows[sel].tolist()],
            )


POLICY = AuctionPolicy()
"""What ``get_policy("auction")`` returns."""
