"""Price bands: a booked trade's price must sit near the instrument's mark.

Without a band, a fill at any price moves money from the venue to the account (buy at 1 USD what is
marked at 93,700, sell it back at the mark, withdraw the difference). The band is a parameter per
instrument kind, as versioned data (``data/price-bands.toml``), overridable by a file:

``|price - mark| <= max(relative * mark, underlying * unit)``

with ``mark`` and ``price`` in the instrument's price unit (USD for futures, perpetuals and spot;
settlement asset per unit of underlying for options) and ``unit`` one unit of the underlying in that
price unit (the forward in USD for USD-quoted instruments, 1 for inverse options).
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from solvent.errors import SolventInputError
from solvent.files import is_directory, read_toml
from solvent.instruments.terms import InstrumentKind
from solvent.market.snapshot import InstrumentQuote

#: Largest value accepted for a band fraction (a band of 1000 % of the mark is already no band).
MAX_FRACTION = 10.0


@dataclass(frozen=True, slots=True)
class Band:
    """One kind's band: ``relative`` fraction of the mark, floored at ``underlying`` fraction of
    one unit of the underlying (both >= 0, dimensionless)."""

    relative: float
    underlying: float


@dataclass(frozen=True, slots=True)
class PriceBands:
    """The bands of every instrument kind, with the version of the set they come from."""

    version: str
    bands: Mapping[InstrumentKind, Band]

    def limits(self, quote: InstrumentQuote) -> tuple[float, float]:
        """``(low, high)`` prices allowed for ``quote``'s instrument (its price unit)."""
        terms = quote.instrument
        band = self.bands[terms.kind]
        unit = 1.0 if terms.is_option and terms.is_inverse else quote.forward
        half = max(band.relative * quote.mark_price, band.underlying * unit)
        return quote.mark_price - half, quote.mark_price + half

    def check(self, quote: InstrumentQuote, price: Decimal, field: str = "price") -> None:
        """Refuse ``price`` outside the band of ``quote``'s instrument, naming ``field``."""
        low, high = self.limits(quote)
        value = float(price)
        if not low <= value <= high:
            kind = quote.instrument.kind.value
            raise SolventInputError(
                field,
                f"{format(price, 'f')} is outside the {kind} price band of "
                f"{quote.instrument.name} (mark {quote.mark_price:.10g}, allowed "
                f"{max(low, 0.0):.10g} to {high:.10g}, bands {self.version})",
            )


def _fraction(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SolventInputError(field, "must be a number")
    number = float(value)
    if not math.isfinite(number) or not 0.0 <= number <= MAX_FRACTION:
        raise SolventInputError(field, f"{value} is outside [0, {MAX_FRACTION:g}]")
    return number


def parse_price_bands(
    raw: Mapping[str, Any], source: str, base: PriceBands | None = None
) -> PriceBands:
    """Validate a bands mapping; with ``base``, given fields replace the base's, kind by kind."""
    unknown = sorted(set(raw) - {"version", "kinds"})
    if unknown:
        raise SolventInputError(f"{source}.{unknown[0]}", "unknown field")
    version = raw.get("version", None if base is None else f"{base.version}+{source}")
    if not isinstance(version, str):
        raise SolventInputError(f"{source}.version", "must be a string")
    kinds = raw.get("kinds", {})
    if not isinstance(kinds, dict):
        raise SolventInputError(f"{source}.kinds", "must be a table")
    bands: dict[InstrumentKind, Band] = {}
    for kind in InstrumentKind:
        field = f"{source}.kinds.{kind.value}"
        spec = kinds.get(kind.value, {})
        if not isinstance(spec, dict):
            raise SolventInputError(field, "must be a table")
        extra = sorted(set(spec) - {"relative", "underlying"})
        if extra:
            raise SolventInputError(f"{field}.{extra[0]}", "unknown field")
        fallback = None if base is None else base.bands[kind]
        values = {}
        for name in ("relative", "underlying"):
            if name in spec:
                values[name] = _fraction(spec[name], f"{field}.{name}")
            elif fallback is not None:
                values[name] = getattr(fallback, name)
            else:
                raise SolventInputError(f"{field}.{name}", "missing")
        bands[kind] = Band(**values)
    extra_kinds = sorted(set(kinds) - {k.value for k in InstrumentKind})
    if extra_kinds:
        raise SolventInputError(f"{source}.kinds.{extra_kinds[0]}", "unknown instrument kind")
    return PriceBands(version, bands)


@cache
def default_price_bands() -> PriceBands:
    """The built-in bands (``data/price-bands.toml``)."""
    text = resources.files("solvent.ledger").joinpath("data/price-bands.toml").read_text("utf-8")
    return parse_price_bands(tomllib.loads(text), "price-bands")


def load_price_bands(path: str | Path | None = None) -> PriceBands:
    """The built-in bands, with the fields of the TOML file at ``path`` (if any) replacing them."""
    if path is None:
        return default_price_bands()
    file = Path(path)
    if is_directory(file, "price_bands") or not file.exists():
        raise SolventInputError("price_bands", f"{str(path)!r} is not a file")
    raw = read_toml(file, "price_bands")  # binary, not UTF-8, bad TOML: one line
    return parse_price_bands(raw, file.name, default_price_bands())
