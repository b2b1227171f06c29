"""The immutable market snapshot: index prices, rates, and a mark for every instrument.

Built once per market update from the market JSON of docs/formats.md 1 (:func:`parse_market`,
:func:`load_market`) or a Deribit chain (:mod:`solvent.market.deribit`); everything downstream
(pricing, risk arrays, margin) reads it and never changes it.

Units: index prices, forwards and strikes in USD per 1 unit of the asset; ``mark_price`` in the
instrument's settlement asset per 1 unit of the underlying (coin for inverse options, USD for
linear options, USD for futures, perpetuals and spot); vols as decimals; time in ACT/365 years.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from solvent.errors import SolventInputError
from solvent.files import read_json
from solvent.instruments.names import parse_instrument_name
from solvent.instruments.table import InstrumentTable
from solvent.instruments.terms import Instrument, InstrumentKind, OptionType, make_instrument
from solvent.market.order_book import OrderBook, parse_order_book
from solvent.pricing.black76 import black76_price
from solvent.pricing.columns import MarketColumns as MarketColumns
from solvent.pricing.implied_vol import implied_vol
from solvent.validation import (
    iso_timestamp,
    iso_utc,
    non_negative_number,
    number_in_range,
    positive_number,
    shown,
)

USD_ASSETS = frozenset({"USD", "USDC", "USDT"})
"""Assets valued at exactly 1 USD when the snapshot's index does not price them."""

# Plausibility limits (docs/formats.md, "Validation rules"): a snapshot outside them is refused,
# naming the field, rather than margined into absurd or non-finite numbers.
INDEX_BOUNDS = (1e-9, 1e12)
"""USD price of one unit of an asset in ``index``."""
RATE_BOUNDS = (-1.0, 1.0)
"""Continuously compounded rates in ``rates`` (-100 % to +100 % a year)."""
MARK_TO_INDEX_BOUNDS = {
    InstrumentKind.PERPETUAL: (0.5, 2.0),
    InstrumentKind.SPOT: (0.5, 2.0),
    InstrumentKind.FUTURE: (0.2, 5.0),
}
"""Mark price of a delta-one instrument over the index of its underlying, per kind."""
FORWARD_TO_INDEX_BOUNDS = (0.2, 5.0)
"""An option's forward over the index of its underlying."""
STRIKE_TO_INDEX_BOUNDS = (1e-3, 1e3)
"""An option's strike over the index of its underlying."""
MAX_MARK_IV = 10.0
"""Highest mark volatility accepted (1000 %)."""


@dataclass(frozen=True, slots=True)
class InstrumentQuote:
    """One instrument's terms and marks at the snapshot time.

    ``mark_price``: settlement-asset units per 1 unit of the underlying (see module docstring).
    ``forward``: USD forward of the underlying to the instrument's expiry (the mark itself for
    futures and perpetuals, the index for spot). ``mark_iv``: decimal, options only.
    ``time_to_expiry``: years; 0 for spot and perpetuals.
    """

    instrument: Instrument
    mark_price: float
    forward: float
    mark_iv: float | None
    time_to_expiry: float

    @property
    def mark_price_usd(self) -> float:
        """The mark in USD per 1 unit of the underlying."""
        if self.instrument.is_option and self.instrument.is_inverse:
            return self.mark_price * self.forward
        return self.mark_price


@dataclass(frozen=True)
class MarketSnapshot:
    """Immutable market state at ``as_of``. Build with :func:`parse_market` or a loader."""

    as_of: datetime
    index: Mapping[str, float]
    rates: Mapping[str, float]
    quotes: Mapping[str, InstrumentQuote]
    order_books: Mapping[str, OrderBook] = field(default_factory=lambda: MappingProxyType({}))

    def quote(self, name: str, field: str = "instrument") -> InstrumentQuote:
        """The quote of instrument ``name``; a clear error naming ``field`` when it is missing."""
        try:
            return self.quotes[name]
        except KeyError:
            raise SolventInputError(field, f"no market data for instrument {name!r}") from None

    def price_usd(self, asset: str, field: str = "asset") -> float:
        """USD price of one unit of ``asset`` (stablecoins at 1.0 unless the index prices them)."""
        if asset in self.index:
            return self.index[asset]
        if asset in USD_ASSETS:
            return 1.0
        raise SolventInputError(field, f"no index price for asset {asset!r}")

    def table(self, names: Sequence[str], field: str = "instrument") -> InstrumentTable:
        """Columnar terms of ``names`` (in that order)."""
        return InstrumentTable.from_instruments(
            [self.quote(n, f"{field}[{i}]").instrument for i, n in enumerate(names)]
        )

    def columns(self, table: InstrumentTable) -> MarketColumns:
        """Market columns aligned with ``table``'s rows."""
        quotes = [self.quote(n) for n in table.names]
        time = np.fromiter((q.time_to_expiry for q in quotes), np.float64, len(quotes))
        usd_rate = self.rates.get("USD", 0.0)
        rate = np.full(len(quotes), usd_rate)
        return MarketColumns(
            forward=np.fromiter((q.forward for q in quotes), np.float64, len(quotes)),
            spot=np.fromiter(
                (self.price_usd(q.instrument.underlying) for q in quotes), np.float64, len(quotes)
            ),
            time=time,
            vol=np.fromiter(
                (np.nan if q.mark_iv is None else q.mark_iv for q in quotes),
                np.float64,
                len(quotes),
            ),
            discount=np.exp(-rate * time),
            rate=rate,
            mark_price=np.fromiter((q.mark_price for q in quotes), np.float64, len(quotes)),
        )


# --- parsing -------------------------------------------------------------------------------------

_TOP_FIELDS = {"as_of", "index", "rates", "instruments", "order_books"}
_INSTRUMENT_FIELDS = {
    "name",
    "kind",
    "underlying",
    "settlement",
    "settlement_asset",
    "contract_size",
    "expiry",
    "strike",
    "option_type",
    "mark_price",
    "mark_iv",
    "forward",
}


def _asset_prices(raw: object, field: str, bounds: tuple[float, float]) -> dict[str, float]:
    if not isinstance(raw, dict):
        raise SolventInputError(field, "must be an object of asset -> number")
    return {str(k): number_in_range(v, f"{field}.{k}", *bounds) for k, v in raw.items()}


def _instrument_terms(raw: dict[str, Any], field: str) -> Instrument:
    """Terms from explicit fields, or from the Deribit-style name when kind, underlying and
    settlement are not all given. When the name is a Deribit-style name, every explicit field must
    agree with it (an option named ``-C`` is a call)."""
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise SolventInputError(f"{field}.name", "required (a non-empty string)")
    for key in ("kind", "underlying", "settlement", "settlement_asset", "option_type"):
        if key in raw and not isinstance(raw[key], str):
            raise SolventInputError(f"{field}.{key}", f"must be a string, got {shown(raw[key])}")
    explicit = {"kind", "underlying", "settlement"} <= raw.keys()
    try:
        parsed: Instrument | None = parse_instrument_name(name, f"{field}.name")
    except SolventInputError:
        if not explicit:
            raise
        parsed = None  # a name of the venue's own: the explicit fields are the terms
    expiry = raw.get("expiry")
    strike = raw.get("strike")
    # Explicit terms (kind, underlying and settlement given) are complete on their own: the name
    # fills no gap then, it is only checked against them.
    fallback = None if explicit else parsed
    inst = make_instrument(
        name=name,
        kind=raw.get("kind", fallback.kind if fallback else None),  # type: ignore[arg-type]
        underlying=raw.get("underlying", fallback.underlying if fallback else ""),
        settlement=raw.get("settlement", fallback.settlement if fallback else ""),
        settlement_asset=raw.get(
            "settlement_asset", fallback.settlement_asset if fallback else None
        ),
        contract_size=positive_number(raw.get("contract_size", 1.0), f"{field}.contract_size"),
        expiry=(
            iso_timestamp(expiry, f"{field}.expiry")
            if expiry is not None
            else (fallback.expiry if fallback else None)
        ),
        strike=(
            positive_number(strike, f"{field}.strike")
            if strike is not None
            else (fallback.strike if fallback else None)
        ),
        option_type=raw.get("option_type", fallback.option_type if fallback else None),
        field=field,
    )
    if parsed is not None:
        _check_agrees_with_name(inst, parsed, raw, field)
    return inst


def _check_agrees_with_name(
    inst: Instrument, parsed: Instrument, raw: Mapping[str, Any], field: str
) -> None:
    """Refuse explicit terms that contradict the instrument's name, naming both values."""
    pairs: list[tuple[str, object, object]] = [
        ("kind", inst.kind.value, parsed.kind.value),
        ("underlying", inst.underlying, parsed.underlying),
        ("settlement", inst.settlement.value, parsed.settlement.value),
        ("option_type", _value_of(inst.option_type), _value_of(parsed.option_type)),
    ]
    if "_" in inst.name.split("-")[0] or parsed.is_inverse:  # the name fixes the asset
        pairs.append(("settlement_asset", inst.settlement_asset, parsed.settlement_asset))
    if inst.expiry is not None and parsed.expiry is not None:  # the name carries the day only
        pairs.append(("expiry", inst.expiry.date().isoformat(), parsed.expiry.date().isoformat()))
    if inst.strike is not None and parsed.strike is not None:
        same = math.isclose(inst.strike, parsed.strike, rel_tol=1e-12)
        pairs.append(("strike", inst.strike, inst.strike if same else parsed.strike))
    for key, given, named in pairs:
        if key in raw and given != named:
            raise SolventInputError(
                f"{field}.{key}",
                f"{given!s} contradicts the instrument name {inst.name!r} ({key} {named!s})",
            )


def _value_of(option_type: OptionType | None) -> str | None:
    return None if option_type is None else option_type.value


def parse_market(raw: object) -> MarketSnapshot:
    """Validated snapshot from the parsed market JSON (docs/formats.md 1); errors name the field."""
    if not isinstance(raw, dict):
        raise SolventInputError("market", "must be a JSON object")
    unknown = set(raw) - _TOP_FIELDS
    if unknown:
        raise SolventInputError(sorted(unknown)[0], "unknown field")
    for required in ("as_of", "index", "instruments"):
        if required not in raw:
            raise SolventInputError(required, "required field is missing")
    as_of = iso_timestamp(raw["as_of"], "as_of")
    index = _asset_prices(raw["index"], "index", INDEX_BOUNDS)
    rates = _asset_prices(raw.get("rates", {}), "rates", RATE_BOUNDS)
    books_raw = raw.get("order_books", {})
    if not isinstance(books_raw, dict):
        raise SolventInputError("order_books", "must be an object of asset -> book")
    books = {a: parse_order_book(b, f"order_books.{a}") for a, b in books_raw.items()}
    for asset, book in books.items():
        _check_touch(book, index.get(asset), f"order_books.{asset}")
    instruments_raw = raw["instruments"]
    if not isinstance(instruments_raw, list):
        raise SolventInputError("instruments", "must be a list")
    return build_snapshot(as_of, index, rates, instruments_raw, books)


MAX_BOOK_SPREAD = 0.25
"""Widest order-book touch accepted: (best ask - best bid) / mid."""
TOUCH_TO_INDEX_BOUNDS = (0.5, 2.0)
"""Best bid and best ask over the index of the book's asset."""
MAX_BOOK_SIZE = 1e15
"""Largest size of one order-book level, in coin."""


def _check_touch(book: OrderBook, index: float | None, field: str) -> None:
    """Refuse a book whose touch is implausible: far from the index or absurdly wide."""
    for side, prices, sizes in (
        ("bids", book.bid_prices, book.bid_sizes),
        ("asks", book.ask_prices, book.ask_sizes),
    ):
        if sizes.size and float(sizes.max()) > MAX_BOOK_SIZE:
            raise SolventInputError(f"{field}.{side}", f"a size above {MAX_BOOK_SIZE:g} coin")
        if prices.size and index is not None:
            ratio = float(prices[0]) / index
            lo, hi = TOUCH_TO_INDEX_BOUNDS
            if not lo <= ratio <= hi:
                raise SolventInputError(
                    f"{field}.{side}[0]",
                    f"best price {float(prices[0])!r} is {ratio:.3g}x the index {index!r} "
                    f"(accepted: {lo}x to {hi}x)",
                )
    if book.bid_prices.size and book.ask_prices.size:
        bid, ask = float(book.bid_prices[0]), float(book.ask_prices[0])
        spread = (ask - bid) / ((ask + bid) / 2.0)
        if spread > MAX_BOOK_SPREAD:
            raise SolventInputError(
                field,
                f"best bid {bid!r} and ask {ask!r} are {spread:.1%} apart "
                f"(accepted: up to {MAX_BOOK_SPREAD:.0%} of the mid)",
            )


def _check_ratio(
    value: float, reference: float, bounds: tuple[float, float], field: str, what: str
) -> None:
    value, reference = float(value), float(reference)  # no numpy reprs in the message
    ratio = value / reference
    lo, hi = bounds
    if not lo <= ratio <= hi:
        raise SolventInputError(
            field,
            f"{what} {value!r} is {ratio:.3g}x the index {reference!r} (accepted: {lo:g}x to "
            f"{hi:g}x)",
        )


def build_snapshot(
    as_of: datetime,
    index: Mapping[str, float],
    rates: Mapping[str, float],
    instruments: Iterable[dict[str, Any]],
    order_books: Mapping[str, OrderBook] | None = None,
) -> MarketSnapshot:
    """Resolve raw instrument records into quotes: terms, forwards, and both of mark and IV."""
    records = list(instruments)
    terms: list[Instrument] = []
    seen: set[str] = set()
    for i, rec in enumerate(records):
        field = f"instruments[{i}]"
        if not isinstance(rec, dict):
            raise SolventInputError(field, "must be an object")
        unknown = set(rec) - _INSTRUMENT_FIELDS
        if unknown:
            raise SolventInputError(f"{field}.{sorted(unknown)[0]}", "unknown field")
        inst = _instrument_terms(rec, field)
        if inst.name in seen:
            raise SolventInputError(f"{field}.name", f"duplicate instrument {inst.name!r}")
        seen.add(inst.name)
        if inst.expiry is not None and inst.expiry <= as_of:
            raise SolventInputError(
                f"{field}.expiry",
                f"{inst.name} expired at {iso_utc(inst.expiry)} (as_of {iso_utc(as_of)})",
            )
        if inst.underlying not in index and inst.underlying not in USD_ASSETS:
            raise SolventInputError("index", f"no index price for {inst.underlying} ({inst.name})")
        terms.append(inst)

    # Futures marks are the forwards of their expiry for options without an explicit forward.
    future_marks: dict[tuple[str, datetime], float] = {}
    quotes: dict[str, InstrumentQuote] = {}
    for i, (rec, inst) in enumerate(zip(records, terms, strict=True)):
        if inst.kind in (InstrumentKind.FUTURE, InstrumentKind.PERPETUAL):
            if "mark_price" not in rec:
                raise SolventInputError(
                    f"instruments[{i}].mark_price", f"required for a {inst.kind}"
                )
            mark = positive_number(rec["mark_price"], f"instruments[{i}].mark_price")
            _check_mark(inst, mark, index, f"instruments[{i}].mark_price")
            if inst.expiry is not None:
                future_marks[(inst.underlying, inst.expiry)] = mark
            quotes[inst.name] = InstrumentQuote(inst, mark, mark, None, inst.time_to_expiry(as_of))
        elif inst.kind is InstrumentKind.SPOT:
            spot = index.get(inst.underlying, 1.0)
            mark = positive_number(rec.get("mark_price", spot), f"instruments[{i}].mark_price")
            _check_mark(inst, mark, index, f"instruments[{i}].mark_price")
            quotes[inst.name] = InstrumentQuote(inst, mark, mark, None, 0.0)

    option_rows = [
        (i, rec, inst)
        for i, (rec, inst) in enumerate(zip(records, terms, strict=True))
        if inst.is_option
    ]
    if option_rows:
        quotes.update(_option_quotes(option_rows, as_of, index, rates, future_marks))
    ordered = {inst.name: quotes[inst.name] for inst in terms}
    return MarketSnapshot(
        as_of=as_of,
        index=MappingProxyType(dict(index)),
        rates=MappingProxyType(dict(rates)),
        quotes=MappingProxyType(ordered),
        order_books=MappingProxyType(dict(order_books or {})),
    )


def _reference(underlying: str, index: Mapping[str, float]) -> float:
    """The index of ``underlying`` (1 USD for a stablecoin the index does not list)."""
    return index.get(underlying, 1.0)


def _check_mark(inst: Instrument, mark: float, index: Mapping[str, float], field: str) -> None:
    bounds = MARK_TO_INDEX_BOUNDS[inst.kind]
    _check_ratio(mark, _reference(inst.underlying, index), bounds, field, f"{inst.kind} mark")


def _option_quotes(
    rows: list[tuple[int, dict[str, Any], Instrument]],
    as_of: datetime,
    index: Mapping[str, float],
    rates: Mapping[str, float],
    future_marks: Mapping[tuple[str, datetime], float],
) -> dict[str, InstrumentQuote]:
    n = len(rows)
    forward = np.empty(n)
    strike = np.empty(n)
    time = np.empty(n)
    is_call = np.empty(n, dtype=bool)
    iv = np.full(n, np.nan)
    mark = np.full(n, np.nan)
    inverse = np.empty(n, dtype=bool)
    for j, (i, rec, inst) in enumerate(rows):
        field = f"instruments[{i}]"
        assert inst.expiry is not None and inst.strike is not None
        reference = _reference(inst.underlying, index)
        _check_ratio(inst.strike, reference, STRIKE_TO_INDEX_BOUNDS, f"{field}.strike", "strike")
        if "forward" in rec:
            forward[j] = positive_number(rec["forward"], f"{field}.forward")
            _check_ratio(
                forward[j], reference, FORWARD_TO_INDEX_BOUNDS, f"{field}.forward", "forward"
            )
        else:
            forward[j] = future_marks.get(
                (inst.underlying, inst.expiry), index.get(inst.underlying, 1.0)
            )
        strike[j] = inst.strike
        time[j] = inst.time_to_expiry(as_of)
        is_call[j] = inst.option_type == "call"
        inverse[j] = inst.is_inverse
        if "mark_price" in rec:  # validated even when mark_iv wins
            mark[j] = non_negative_number(rec["mark_price"], f"{field}.mark_price")
        if "mark_iv" in rec:
            iv[j] = positive_number(rec["mark_iv"], f"{field}.mark_iv")
            if iv[j] > MAX_MARK_IV:
                raise SolventInputError(
                    f"{field}.mark_iv", f"must be at most {MAX_MARK_IV:g}, got {float(iv[j])!r}"
                )
        elif "mark_price" not in rec:
            raise SolventInputError(f"{field}.mark_iv", "an option needs mark_iv or mark_price")
    discount = np.exp(-rates.get("USD", 0.0) * time)
    usd_price = black76_price(
        forward, strike, time, np.where(np.isnan(iv), 0.2, iv), is_call, discount
    )
    have_iv = ~np.isnan(iv)
    mark = np.where(have_iv, np.where(inverse, usd_price / forward, usd_price), mark)
    if (~have_iv).any():
        missing = ~have_iv
        usd_mark = np.where(inverse, mark * forward, mark)
        iv[missing] = implied_vol(
            usd_mark[missing],
            forward[missing],
            strike[missing],
            time[missing],
            is_call[missing],
            discount[missing],
        )
        bad = np.flatnonzero(missing & np.isnan(iv))
        if bad.size:
            i = rows[int(bad[0])][0]
            raise SolventInputError(
                f"instruments[{i}].mark_price",
                f"no volatility reproduces this premium ({float(mark[bad[0]])!r}): "
                "below intrinsic or above the bound",
            )
    return {
        inst.name: InstrumentQuote(
            inst, float(mark[j]), float(forward[j]), float(iv[j]), float(time[j])
        )
        for j, (_, _, inst) in enumerate(rows)
    }


def load_market(path: str | Path) -> MarketSnapshot:
    """Read and validate a market JSON file (docs/formats.md 1)."""
    # Bare NaN/Infinity are read as floats so that validation rejects them naming the field.
    return parse_market(read_json(path, "market"))
