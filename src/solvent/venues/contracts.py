"""Mapping another venue's contracts to Solvent's instruments (docs/cross-venue.md, "Imports").

An imported position is described by its :class:`ContractTerms` (underlying, kind, settlement,
expiry, strike, option type) and its exposure in coin. :class:`InstrumentMap` turns terms into an
instrument: without a market, the Deribit-style name the engine parses back into the same terms
(``BTC-PERPETUAL``, ``BTC_USDC-28JUN24-70000-C``); with a market, the market's instrument with
those terms (its own name, and the quantity divided by its ``contract_size``). Anything that
cannot be mapped raises :class:`~solvent.errors.SolventInputError` naming the venue's symbol.

Quantities follow docs/glossary.md: signed coins of the underlying (``> 0`` long). An inverse
delta-one contract is a USD notional ``N``; at the mark ``P`` it is ``N / P`` coins (the coin
exposure at the mark, the venues' own ``size_currency``): the imported positions carry no entry
price, because the venues' equity (the balances imported with them) already holds their P&L.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType

from solvent.collateral.assets import AssetRegistry, default_assets
from solvent.errors import SolventInputError
from solvent.instruments.names import SETTLEMENT_HOUR_UTC
from solvent.instruments.terms import Instrument, InstrumentKind, OptionType, Settlement
from solvent.market.snapshot import USD_ASSETS, MarketSnapshot
from solvent.validation import shown

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
STABLECOINS = frozenset({"USDC", "USDT"})
"""Settlement assets of linear contracts (USD stablecoins; plain ``USD`` is a quote, not an
asset one can hold)."""


@dataclass(frozen=True, slots=True)
class ContractTerms:
    """What a venue's contract is, in Solvent's terms (see :class:`Instrument`)."""

    kind: InstrumentKind
    underlying: str
    settlement: Settlement
    settlement_asset: str
    expiry: datetime | None = None
    strike: float | None = None
    option_type: OptionType | None = None

    @property
    def key(self) -> tuple[object, ...]:
        """The terms as a hashable key (what two instruments share when they are one)."""
        return (
            self.kind,
            self.underlying,
            self.settlement,
            self.settlement_asset,
            self.expiry,
            self.strike,
            self.option_type,
        )

    @property
    def name(self) -> str:
        """The Deribit-style name (docs/formats.md 1) the engine parses into these terms."""
        pair = self.underlying
        if self.settlement is Settlement.LINEAR:
            pair = f"{self.underlying}_{self.settlement_asset}"
        if self.kind is InstrumentKind.PERPETUAL:
            return f"{pair}-PERPETUAL"
        if self.expiry is None:
            raise ValueError("a future or option has an expiry")
        code = f"{self.expiry.day}{_MONTHS[self.expiry.month - 1]}{self.expiry.year % 100:02d}"
        if self.kind is InstrumentKind.FUTURE:
            return f"{pair}-{code}"
        strike = self.strike or 0.0
        text = f"{strike:.0f}" if strike == int(strike) else repr(strike).replace(".", "d")
        letter = "C" if self.option_type is OptionType.CALL else "P"
        return f"{pair}-{code}-{text}-{letter}"


def terms_of(instrument: Instrument) -> ContractTerms:
    """The :class:`ContractTerms` of one of Solvent's instruments."""
    return ContractTerms(
        instrument.kind,
        instrument.underlying,
        instrument.settlement,
        instrument.settlement_asset,
        instrument.expiry,
        instrument.strike,
        instrument.option_type,
    )


def settlement_of(base: str, settle: str, symbol: str, field: str) -> tuple[Settlement, str]:
    """Settlement of a contract on ``base`` paid in ``settle``: inverse when it pays in the coin
    itself, linear when it pays in a USD stablecoin; anything else cannot be mapped."""
    if settle == base:
        return Settlement.INVERSE, base
    if settle in STABLECOINS:
        return Settlement.LINEAR, settle
    raise SolventInputError(
        field, f"cannot map {symbol!r}: settled in {settle}, neither its coin nor a USD stablecoin"
    )


def expiry_at(year: int, month: int, day: int, symbol: str, field: str) -> datetime:
    """Expiry on that date at 08:00 UTC (Deribit's, OKX's and Bybit's settlement time)."""
    try:
        return datetime(year, month, day, SETTLEMENT_HOUR_UTC, tzinfo=UTC)
    except ValueError:
        raise SolventInputError(field, f"cannot map {symbol!r}: no such expiry date") from None


@dataclass(frozen=True, slots=True)
class MappedPosition:
    """An imported position: ``quantity`` (signed, units of ``instrument``: coins divided by its
    contract size) of ``instrument``, from the venue's ``symbol``."""

    symbol: str
    instrument: str
    quantity: float


class InstrumentMap:
    """Terms -> instrument name, checked against the known underlyings and, when given, the
    market (see the module docstring)."""

    def __init__(self, market: MarketSnapshot | None, assets: AssetRegistry | None = None):
        self.market = market
        self.assets = assets or default_assets()
        self._by_terms: Mapping[tuple[object, ...], Instrument] = MappingProxyType({})
        if market is not None:
            self._by_terms = MappingProxyType(
                {terms_of(q.instrument).key: q.instrument for q in market.quotes.values()}
            )

    def map(self, terms: ContractTerms, coins: float, symbol: str, field: str) -> MappedPosition:
        """``coins`` (signed) of the contract ``terms`` as a position in one of our instruments."""
        if terms.underlying not in self.assets or terms.underlying in USD_ASSETS:
            raise SolventInputError(
                field, f"cannot map {symbol!r}: unknown underlying {terms.underlying!r}"
            )
        if self.market is None:
            return MappedPosition(symbol, terms.name, coins)
        instrument = self._by_terms.get(terms.key)
        if instrument is None:
            raise SolventInputError(
                field, f"cannot map {symbol!r}: no {terms.name} (or the same terms) in the market"
            )
        return MappedPosition(symbol, instrument.name, coins / instrument.contract_size)

    def mark(self, terms: ContractTerms, given: object, symbol: str, field: str) -> float:
        """The USD mark of a delta-one contract: ``given`` (the venue's own mark) when it is a
        positive number, else the market's mark for those terms; an error naming the symbol when
        there is neither."""
        value = number_or_none(given)
        if value is not None and value > 0:
            return value
        if self.market is not None:
            instrument = self._by_terms.get(terms.key)
            if instrument is not None:
                return self.market.quotes[instrument.name].mark_price
        raise SolventInputError(
            field, f"cannot size {symbol!r}: no mark price to turn its USD notional into coin"
        )


def number_or_none(value: object) -> float | None:
    """A finite number from a JSON number or a venue's decimal string (OKX and Bybit send
    strings); ``None`` for null, an empty string or anything else."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        out = float(value)
    elif isinstance(value, str) and value.strip():
        try:
            out = float(value)
        except ValueError:
            return None
    else:
        return None
    return out if math.isfinite(out) else None


def required_number(value: object, field: str) -> float:
    """:func:`number_or_none`, or an error naming ``field``."""
    out = number_or_none(value)
    if out is None:
        raise SolventInputError(field, f"must be a finite number, got {shown(value)}")
    return out


def portfolio_json(
    account: str,
    venue: str,
    positions: Iterable[MappedPosition],
    balances: Mapping[str, float],
) -> dict[str, object]:
    """The imported portfolio (docs/formats.md 2): the venue's balances as collateral and every
    position with its venue. Positions are kept in input order; zero quantities are dropped."""
    return {
        "account": account,
        "collateral": dict(balances),
        "positions": [
            {"instrument": p.instrument, "quantity": p.quantity, "venue": venue}
            for p in positions
            if p.quantity != 0
        ],
    }
