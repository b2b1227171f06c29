"""Contract terms of the instruments Solvent margins.

Terms are what a contract *is* (kind, underlying, settlement, expiry, strike); prices live in the
market snapshot. Conventions (docs/glossary.md):

- A quantity of 1 is exposure to 1 unit of the underlying asset (1 option = an option on 1 coin),
  times ``contract_size`` when a venue's contract is not 1 coin.
- ``inverse`` instruments settle in the underlying coin (Deribit BTC-PERPETUAL, BTC options);
  ``linear`` instruments settle in a USD stablecoin (``settlement_asset``, USDC by default).
- Strikes are USD per 1 unit of the underlying; expiries are timezone-aware UTC datetimes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TypeVar

from solvent.errors import SolventInputError

SECONDS_PER_YEAR = 365.0 * 86400.0  # ACT/365


class InstrumentKind(StrEnum):
    SPOT = "spot"
    FUTURE = "future"
    PERPETUAL = "perpetual"
    OPTION = "option"


class Settlement(StrEnum):
    LINEAR = "linear"
    INVERSE = "inverse"


class OptionType(StrEnum):
    CALL = "call"
    PUT = "put"


DEFAULT_LINEAR_SETTLEMENT_ASSET = "USDC"

E = TypeVar("E", bound=StrEnum)


@dataclass(frozen=True, slots=True)
class Instrument:
    """The terms of one instrument. Build through :func:`make_instrument` to get validation."""

    name: str
    kind: InstrumentKind
    underlying: str
    settlement: Settlement
    settlement_asset: str
    contract_size: float = 1.0
    expiry: datetime | None = None
    strike: float | None = None
    option_type: OptionType | None = None

    @property
    def is_option(self) -> bool:
        return self.kind is InstrumentKind.OPTION

    @property
    def is_delta_one(self) -> bool:
        return self.kind is not InstrumentKind.OPTION

    @property
    def is_inverse(self) -> bool:
        return self.settlement is Settlement.INVERSE

    def time_to_expiry(self, as_of: datetime) -> float:
        """Years (ACT/365 in seconds) from ``as_of`` to expiry; 0 for spot and perpetuals."""
        if self.expiry is None:
            return 0.0
        return (self.expiry - as_of).total_seconds() / SECONDS_PER_YEAR


def make_instrument(
    *,
    name: str,
    kind: InstrumentKind | str,
    underlying: str,
    settlement: Settlement | str,
    settlement_asset: str | None = None,
    contract_size: float = 1.0,
    expiry: datetime | None = None,
    strike: float | None = None,
    option_type: OptionType | str | None = None,
    field: str = "instrument",
) -> Instrument:
    """Validated :class:`Instrument`; errors name ``field`` (e.g. ``instruments[3]``)."""
    if not name:
        raise SolventInputError(f"{field}.name", "must be a non-empty string")
    kind_ = _enum(InstrumentKind, kind, f"{field}.kind")
    settlement_ = _enum(Settlement, settlement, f"{field}.settlement")
    if not underlying or not underlying.isupper():
        raise SolventInputError(
            f"{field}.underlying", f"expected an asset code, got {underlying!r}"
        )
    if not (math.isfinite(contract_size) and contract_size > 0):
        raise SolventInputError(f"{field}.contract_size", f"must be > 0, got {contract_size!r}")
    if settlement_asset is None:
        settlement_asset = (
            underlying if settlement_ is Settlement.INVERSE else DEFAULT_LINEAR_SETTLEMENT_ASSET
        )
    if kind_ in (InstrumentKind.FUTURE, InstrumentKind.OPTION):
        if expiry is None:
            raise SolventInputError(f"{field}.expiry", f"required for a {kind_.value}")
        if expiry.tzinfo is None:
            raise SolventInputError(f"{field}.expiry", "must carry a timezone (UTC)")
        expiry = expiry.astimezone(UTC)
    elif expiry is not None:
        raise SolventInputError(f"{field}.expiry", f"a {kind_.value} has no expiry")
    option_type_: OptionType | None = None
    if kind_ is InstrumentKind.OPTION:
        if strike is None or not math.isfinite(strike) or strike <= 0:
            raise SolventInputError(f"{field}.strike", f"must be a positive number, got {strike!r}")
        if option_type is None:
            raise SolventInputError(f"{field}.option_type", "required for an option (call|put)")
        option_type_ = _enum(OptionType, option_type, f"{field}.option_type")
    elif strike is not None or option_type is not None:
        raise SolventInputError(f"{field}.strike", f"a {kind_.value} has no strike or option type")
    if kind_ is InstrumentKind.SPOT and settlement_ is Settlement.INVERSE:
        raise SolventInputError(f"{field}.settlement", "spot is linear (valued in USD)")
    return Instrument(
        name=name,
        kind=kind_,
        underlying=underlying,
        settlement=settlement_,
        settlement_asset=settlement_asset,
        contract_size=float(contract_size),
        expiry=expiry,
        strike=None if strike is None else float(strike),
        option_type=option_type_,
    )


def _enum(cls: type[E], value: E | str, field: str) -> E:
    try:
        return cls(value)
    except ValueError:
        allowed = " | ".join(member.value for member in cls)
        raise SolventInputError(field, f"unknown value {value!r} (expected {allowed})") from None
