"""Parsing of Deribit-style instrument names into contract terms.

Accepted shapes (expiries at 08:00 UTC, Deribit's settlement time):

- ``BTC-PERPETUAL``            inverse perpetual on BTC
- ``BTC_USDC-PERPETUAL``       linear perpetual on BTC settled in USDC
- ``ETH-27MAR26``              inverse dated future
- ``BTC_USDC-27MAR26``         linear dated future
- ``BTC-28JUN24-70000-C``      inverse European option (``-P`` for a put)
- ``SOL_USDC-28JUN24-150d5-C`` linear option; ``d`` stands for the decimal point in a strike
- ``BTC``, ``BTC_USDC``        spot (linear, valued in USD)
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from solvent.errors import SolventInputError
from solvent.instruments.terms import Instrument, InstrumentKind, Settlement, make_instrument

_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
    )
}
_ASSET = r"[A-Z][A-Z0-9]*"
_PAIR = re.compile(rf"^(?P<base>{_ASSET})(?:_(?P<quote>{_ASSET}))?$")
_DATE = re.compile(r"^(?P<day>\d{1,2})(?P<month>[A-Z]{3})(?P<year>\d{2})$")
_STRIKE = re.compile(r"^\d+(?:d\d+)?$")
SETTLEMENT_HOUR_UTC = 8


def parse_expiry(code: str, field: str = "name") -> datetime:
    """``28JUN24`` -> 2024-06-28 08:00 UTC."""
    match = _DATE.match(code)
    if match is None or match["month"] not in _MONTHS:
        raise SolventInputError(field, f"bad expiry code {code!r} (expected e.g. 28JUN24)")
    try:
        return datetime(
            2000 + int(match["year"]),
            _MONTHS[match["month"]],
            int(match["day"]),
            SETTLEMENT_HOUR_UTC,
            tzinfo=UTC,
        )
    except ValueError as exc:
        raise SolventInputError(field, f"bad expiry date {code!r}: {exc}") from None


def parse_instrument_name(name: str, field: str = "name") -> Instrument:
    """Terms of a Deribit-style instrument name; raises naming ``field`` when it is not one."""
    parts = name.strip().split("-")
    pair = _PAIR.match(parts[0])
    if pair is None:
        raise SolventInputError(field, f"cannot parse instrument name {name!r}")
    underlying, quote = pair["base"], pair["quote"]
    settlement = Settlement.INVERSE if quote is None else Settlement.LINEAR
    settlement_asset = underlying if quote is None else quote
    if len(parts) == 1:
        if quote is not None and quote == underlying:
            raise SolventInputError(field, f"cannot parse instrument name {name!r}")
        return make_instrument(
            name=name,
            kind=InstrumentKind.SPOT,
            underlying=underlying,
            settlement=Settlement.LINEAR,
            settlement_asset=quote or "USDC",
            field=field,
        )
    if len(parts) == 2 and parts[1] == "PERPETUAL":
        return make_instrument(
            name=name,
            kind=InstrumentKind.PERPETUAL,
            underlying=underlying,
            settlement=settlement,
            settlement_asset=settlement_asset,
            field=field,
        )
    if len(parts) == 2:
        return make_instrument(
            name=name,
            kind=InstrumentKind.FUTURE,
            underlying=underlying,
            settlement=settlement,
            settlement_asset=settlement_asset,
            expiry=parse_expiry(parts[1], field),
            field=field,
        )
    if len(parts) == 4 and parts[3] in ("C", "P") and _STRIKE.match(parts[2]):
        return make_instrument(
            name=name,
            kind=InstrumentKind.OPTION,
            underlying=underlying,
            settlement=settlement,
            settlement_asset=settlement_asset,
            expiry=parse_expiry(parts[1], field),
            strike=float(parts[2].replace("d", ".")),
            option_type="call" if parts[3] == "C" else "put",
            field=field,
        )
    raise SolventInputError(field, f"cannot parse instrument name {name!r}")
