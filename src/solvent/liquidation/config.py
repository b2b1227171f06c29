"""Settings of a liquidation run (validated once, frozen)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from solvent.errors import SolventInputError


class Target(StrEnum):
    """What a partial liquidation restores: ``maintenance`` (equity >= MM x (1 + buffer), the
    default) or ``initial`` (equity >= IM)."""

    MAINTENANCE = "maintenance"
    INITIAL = "initial"


@dataclass(frozen=True, slots=True)
class LiquidationConfig:
    """Policy settings (fractions are decimals: 0.10 = 10 %).

    - ``buffer``: the maintenance target is ``MM x (1 + buffer)``;
    - ``target``: :class:`Target`; ``initial`` aims at IM instead;
    - ``slice_fraction``: a partial liquidation closes positions in slices of this fraction of
      each position as it was when the liquidation started;
    - ``fee_rate``: liquidation fee, a fraction of the traded delta-equivalent notional (USD),
      paid by the liquidated account to the insurance fund, never more than its equity left;
    - ``beyond_depth_penalty``: the part of a trade the visible order book cannot absorb fills at
      the book's last level made this much worse (relative);
    - ``fund_asset``: the asset the insurance fund holds and covers deficits in (a USD stablecoin
      valued at 1 USD without haircut below the concentration tiers);
    - ``adl_ranking``: ``bitmex`` | ``binance`` | ``hyperliquid`` (solvent.liquidation.adl);
    - ``socialize_basis``: ``profit`` | ``equity`` (solvent.liquidation.socialize).
    """

    buffer: float = 0.10
    target: Target = Target.MAINTENANCE
    slice_fraction: float = 0.25
    fee_rate: float = 0.005
    beyond_depth_penalty: float = 0.05
    fund_asset: str = "USDC"
    adl_ranking: str = "bitmex"
    socialize_basis: str = "profit"

    def __post_init__(self) -> None:
        _fraction("buffer", self.buffer, 0.0, 10.0)
        _fraction("slice_fraction", self.slice_fraction, 1e-3, 1.0, open_low=False)
        _fraction("fee_rate", self.fee_rate, 0.0, 0.5)
        _fraction("beyond_depth_penalty", self.beyond_depth_penalty, 0.0, 0.99)
        if not isinstance(self.target, Target):
            raise SolventInputError("target", "must be maintenance or initial")
        if self.adl_ranking not in ("bitmex", "binance", "hyperliquid"):
            raise SolventInputError("adl_ranking", "must be bitmex, binance or hyperliquid")
        if self.socialize_basis not in ("profit", "equity"):
            raise SolventInputError("socialize_basis", "must be profit or equity")


def _fraction(field: str, value: float, low: float, high: float, *, open_low: bool = False) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < low or value > high or (open_low and value == low):
        raise SolventInputError(field, f"must be a number in [{low}, {high}], got {value!r}")


def parse_target(text: str, field: str = "target") -> Target:
    """:class:`Target` from its name; an error naming ``field`` otherwise."""
    try:
        return Target(text)
    except ValueError:
        raise SolventInputError(field, f"unknown target {text!r} (maintenance, initial)") from None
