"""dYdX v4's liquidation arithmetic, exact: margin requirements, liquidity tiers, the fillable and
bankruptcy prices of a liquidation order, the insurance-fund delta of a fill, block limits, the
risk ordering and deleveraging (docs/methodology/adl-and-auctions.md; research note 2).

Written from dYdX's published formulas (protocol/x/clob/keeper/liquidations.go,
deleveraging.go, x/perpetuals, lib/margin as summarised in our research note) and checked
against the 113 vectors of dydxprotocol/v4-chain's own tests (tests/data/dydx). No code was
copied (v4-chain is AGPL-3.0).

Units, as dYdX's: **quote quantums** (qq) = 1e-6 USDC; a perpetual position is an integer of
**base quantums** = 10^atomic_resolution units of the underlying; an oracle price is
``price_int x 10^exponent`` USD. Every amount is a Python ``int`` (no overflow at any size) and
the fillable price an exact :class:`fractions.Fraction` (qq per base quantum). Signs: a quote
amount > 0 is received by the subaccount; positions > 0 long.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction
from types import MappingProxyType

from solvent.errors import SolventError, SolventInputError

PPM = 1_000_000
QUOTE_ATOMIC_RESOLUTION = -6  # quote quantums are 1e-6 USDC


class UpdateRefusedError(SolventError):
    """A subaccount update dYdX refuses (the new state is not initially collateralized and is
    worse than the old one: its ``IsValidStateTransitionForUndercollateralizedSubaccount``)."""


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


def _trunc_div(a: int, b: int) -> int:
    """Integer division toward zero (Go's big.Int Quo)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


@dataclass(frozen=True)
class LiquidityTier:
    """A perpetual's margin tier: initial margin fraction (ppm), maintenance fraction of it (ppm)
    and the open-interest caps (qq) between which the IMF rises linearly to 100 % (0/0 = none)."""

    initial_margin_ppm: int
    maintenance_fraction_ppm: int
    open_interest_lower_cap: int = 0
    open_interest_upper_cap: int = 0

    def maintenance_margin_ppm(self) -> int:
        """``floor(IMF x MF / 1e6)`` (reporting)."""
        return self.initial_margin_ppm * self.maintenance_fraction_ppm // PPM

    def adjusted_initial_margin_ppm(self, open_interest_notional: int) -> int:
        """The open-interest-scaled IMF (ppm): IMF below the lower cap (or with no upper cap),
        1e6 at or above the upper cap, linear (truncated) in between."""
        lower, upper = self.open_interest_lower_cap, self.open_interest_upper_cap
        imf = self.initial_margin_ppm
        if upper == 0 or open_interest_notional <= lower:
            return imf
        if open_interest_notional >= upper:
            return PPM
        return imf + (PPM - imf) * (open_interest_notional - lower) // (upper - lower)

    def initial_margin(self, notional: int, open_interest_notional: int = 0) -> int:
        """``ceil(|notional| x adjusted IMF / 1e6)`` qq."""
        adjusted = self.adjusted_initial_margin_ppm(open_interest_notional)
        return _ceil_div(abs(notional) * adjusted, PPM)

    def maintenance_margin(self, notional: int) -> int:
        """``ceil(ceil(|notional| x IMF / 1e6) x MF / 1e6)`` qq: from the base IMF, never the
        open-interest-scaled one."""
        base = _ceil_div(abs(notional) * self.initial_margin_ppm, PPM)
        return _ceil_div(base * self.maintenance_fraction_ppm, PPM)


@dataclass(frozen=True)
class PerpetualMarket:
    """One perpetual: ``atomic_resolution`` (base quantum = 10^AR units), oracle price
    ``price_int x 10^price_exponent`` USD, its liquidity tier and open interest (base quantums)."""

    atomic_resolution: int
    price_int: int
    price_exponent: int
    tier: LiquidityTier
    open_interest: int = 0

    def quote_quantums(self, base_quantums: int) -> int:
        """Signed notional (qq) of ``base_quantums`` at the oracle, truncated toward zero."""
        exponent = self.price_exponent + self.atomic_resolution - QUOTE_ATOMIC_RESOLUTION
        raw = base_quantums * self.price_int
        return raw * 10**exponent if exponent >= 0 else _trunc_div(raw, 10**-exponent)

    def margin_requirements(self, base_quantums: int) -> tuple[int, int]:
        """``(IMR, MMR)`` in qq of a position of ``base_quantums``."""
        notional = self.quote_quantums(base_quantums)
        oi = self.quote_quantums(self.open_interest)
        return self.tier.initial_margin(notional, oi), self.tier.maintenance_margin(notional)

    def usd_per_unit(self, qq_per_base_quantum: Fraction) -> Fraction:
        """A price in qq per base quantum as USD per unit of the underlying."""
        return qq_per_base_quantum * Fraction(10) ** (
            QUOTE_ATOMIC_RESOLUTION - self.atomic_resolution
        )


@dataclass(frozen=True)
class Risk:
    """Net collateral (NC), initial and maintenance requirements, all qq."""

    nc: int
    imr: int
    mmr: int

    def is_initially_collateralized(self) -> bool:
        return self.nc >= self.imr

    def is_liquidatable(self) -> bool:
        """``MMR > 0 and MMR > NC``."""
        return is_liquidatable(self.nc, self.mmr)


def is_liquidatable(nc: int, mmr: int) -> bool:
    """dYdX's liquidation trigger: a positive maintenance requirement above net collateral."""
    return mmr > 0 and mmr > nc


def compare_risk(first: tuple[int, int], second: tuple[int, int]) -> int:
    """+1 when ``first = (NC, MMR)`` is riskier than ``second`` (a lower NC / MMR), -1 when less,
    0 when equal: ``sign(b.NC a.MMR - a.NC b.MMR)``; on a tie with both MMR 0 the lower NC is
    riskier, otherwise the higher MMR."""
    (a_nc, a_mmr), (b_nc, b_mmr) = first, second
    cross = b_nc * a_mmr - a_nc * b_mmr
    if cross:
        return 1 if cross > 0 else -1
    if a_mmr == 0 and b_mmr == 0:
        return (a_nc < b_nc) - (a_nc > b_nc)
    return (a_mmr > b_mmr) - (a_mmr < b_mmr)


@dataclass(frozen=True)
class Subaccount:
    """A cross-margined subaccount: a USDC balance (qq) and perpetual positions (base quantums)
    over ``markets`` (by name)."""

    usdc: int
    positions: Mapping[str, int]
    markets: Mapping[str, PerpetualMarket] = field(repr=False)

    def __post_init__(self) -> None:
        for name in self.positions:
            if name not in self.markets:
                raise SolventInputError(f"positions.{name}", "no such perpetual market")
        object.__setattr__(self, "positions", MappingProxyType(dict(self.positions)))

    def risk(self) -> Risk:
        """Total NC (USDC + signed notionals), IMR and MMR of the subaccount."""
        nc, imr, mmr = self.usdc, 0, 0
        for name, q in self.positions.items():
            market = self.markets[name]
            nc += market.quote_quantums(q)
            i, m = market.margin_requirements(q)
            imr += i
            mmr += m
        return Risk(nc, imr, mmr)

    def position_risk(self, name: str, base_quantums: int | None = None) -> tuple[int, int]:
        """``(signed notional, MMR)`` of position ``name`` (or of ``base_quantums`` of it)."""
        market = self.markets[name]
        q = self.positions.get(name, 0) if base_quantums is None else base_quantums
        return market.quote_quantums(q), market.margin_requirements(q)[1]

    def traded(self, name: str, delta: int, quote: int) -> Subaccount:
        """The subaccount after trading ``delta`` base quantums of ``name`` receiving ``quote``
        qq (negative when paying)."""
        positions = dict(self.positions)
        new = positions.get(name, 0) + delta
        if new:
            positions[name] = new
        else:
            positions.pop(name, None)
        return replace(self, usdc=self.usdc + quote, positions=positions)


def bankruptcy_price(account: Subaccount, name: str, delta: int) -> int:
    """The quote (qq, signed: received by the account) at which closing ``delta`` base quantums
    of ``name`` leaves the account's NC/MMR unchanged: ``-DNNV - floor(TNC |DMMR| / TMMR)``,
    ``DNNV`` and ``DMMR`` the changes of the position's notional and MMR (new minus old)."""
    risk = account.risk()
    if risk.mmr == 0:
        raise SolventInputError("positions", "the account has no maintenance requirement")
    q = account.positions.get(name, 0)
    if delta == 0 or q == 0 or (q > 0) == (delta > 0) or abs(delta) > abs(q):
        raise SolventInputError("delta", f"must reduce the position {q} of {name}")
    old_nnv, old_mmr = account.position_risk(name)
    new_nnv, new_mmr = account.position_risk(name, q + delta)
    d_nnv, d_mmr = new_nnv - old_nnv, new_mmr - old_mmr
    return -d_nnv - (risk.nc * abs(d_mmr)) // risk.mmr


def fillable_price(
    account: Subaccount,
    name: str,
    *,
    bankruptcy_adjustment_ppm: int = PPM,
    spread_to_maintenance_margin_ratio_ppm: int = 100_000,
) -> Fraction:
    """Limit price (qq per base quantum, exact) of the liquidation order closing ``name``:
    ``(PNNV - ABR x SMMR x PMMR) / PS`` with ``ABR = clamp(BA (1 - TNC / TMMR), 0, 1)``. Longs
    sell below the oracle, shorts buy above it."""
    risk = account.risk()
    ps = account.positions.get(name, 0)
    if ps == 0:
        raise SolventInputError("perpetual", f"no position in {name}")
    if risk.mmr == 0:
        raise SolventInputError("positions", "the account has no maintenance requirement")
    pnnv, pmmr = account.position_risk(name)
    ba = Fraction(bankruptcy_adjustment_ppm, PPM)
    smmr = Fraction(spread_to_maintenance_margin_ratio_ppm, PPM)
    abr = min(max(ba * (1 - Fraction(risk.nc, risk.mmr)), Fraction(0)), Fraction(1))
    return (pnnv - abr * smmr * pmmr) / ps


def insurance_fund_delta(
    account: Subaccount,
    name: str,
    *,
    is_buy: bool,
    fill_base_quantums: int,
    fill_quote_quantums: int,
    max_liquidation_fee_ppm: int = 5_000,
) -> int:
    """Change of the insurance fund (qq) when a liquidation order closing ``name`` fills
    ``fill_base_quantums`` for ``fill_quote_quantums`` (both absolute): ``delta = Q -
    bankruptcy`` with Q the signed quote the account receives; when ``delta <= 0`` the fund pays
    ``-delta``, else the account pays the fund ``min(|Q| x max fee, delta)``."""
    if fill_base_quantums < 0 or fill_quote_quantums < 0:
        raise SolventInputError("fill", "base and quote quantums are absolute (>= 0)")
    delta_q = fill_base_quantums if is_buy else -fill_base_quantums
    quote = -fill_quote_quantums if is_buy else fill_quote_quantums
    surplus = quote - bankruptcy_price(account, name, delta_q)
    if surplus <= 0:
        return surplus
    return min(abs(quote) * max_liquidation_fee_ppm // PPM, surplus)


def position_notional_limits(
    market: PerpetualMarket,
    base_quantums: int,
    *,
    min_position_notional_liquidated: int,
    max_position_portion_liquidated_ppm: int,
) -> tuple[int, int]:
    """``(min, max)`` notional (qq) one liquidation may close of a position: min =
    ``min(MinPositionNotionalLiquidated, N)``, max = ``max(min, N x portion / 1e6)``."""
    notional = abs(market.quote_quantums(base_quantums))
    low = min(min_position_notional_liquidated, notional)
    return low, max(low, notional * max_position_portion_liquidated_ppm // PPM)


def is_valid_transition(before: Risk, after: Risk) -> bool:
    """dYdX's update rule: allowed when the new state is initially collateralized; otherwise only
    if the MMR does not increase, a zero MMR (before or after) has both zero and NC strictly
    rising, and the NC/MMR ratio does not get worse."""
    if after.is_initially_collateralized():
        return True
    if after.mmr > before.mmr:
        return False
    if before.mmr == 0 or after.mmr == 0:
        return before.mmr == 0 and after.mmr == 0 and after.nc > before.nc
    return after.nc * before.mmr >= before.nc * after.mmr


def deleverage(
    liquidated: Subaccount, offsetting: Subaccount, name: str, delta: int
) -> tuple[Subaccount, Subaccount]:
    """Close ``delta`` base quantums of the liquidated account's ``name`` against ``offsetting``
    (which trades ``-delta``), both at the liquidated account's bankruptcy price. Raises
    :class:`UpdateRefusedError` when either side's update breaks :func:`is_valid_transition` (for
    example non-overlapping bankruptcy prices)."""
    other = offsetting.positions.get(name, 0)
    if other == 0 or (other > 0) == (delta < 0) or abs(delta) > abs(other):
        raise SolventInputError("offsetting", f"must hold at least {abs(delta)} opposite of {name}")
    quote = bankruptcy_price(liquidated, name, delta)
    after_liq = liquidated.traded(name, delta, quote)
    after_off = offsetting.traded(name, -delta, -quote)
    for label, before, after in (
        ("liquidated", liquidated, after_liq),
        ("offsetting", offsetting, after_off),
    ):
        if not is_valid_transition(before.risk(), after.risk()):
            raise UpdateRefusedError(f"the {label} subaccount's update is not allowed")
    return after_liq, after_off
