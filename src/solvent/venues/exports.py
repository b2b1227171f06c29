"""Deribit, OKX and Bybit position exports (their documented API JSON) -> positions and balances.

Each reader takes the response of the venue's positions endpoint as the venue returns it (the
whole JSON envelope or just its list) and, optionally, the response of its balance endpoint:

- **Deribit** ``private/get_positions`` (``{"jsonrpc", "result": [...]}``): ``instrument_name`` is
  already a Deribit name; ``size`` is signed, in USD for inverse futures and perpetuals (turned
  into coin at ``mark_price``) and in coin for options and linear (``_USDC``) contracts.
  Balance: ``private/get_account_summary`` (one currency) or ``get_account_summaries``
  (``summaries``): each currency's ``equity``.
- **OKX** ``GET /api/v5/account/positions`` (``{"code": "0", "data": [...]}``): ``instId``
  ``BTC-USD-SWAP`` (inverse perpetual), ``BTC-USDT-SWAP`` (linear), ``BTC-USD-240628`` (future),
  ``BTC-USD-240628-70000-C`` (option); ``posSide`` ``long``/``short`` or ``net`` (the sign of
  ``pos``); the size in coin is OKX's ``notionalUsd`` over the price it is computed at
  (``markPx`` for swaps and futures, ``idxPx`` for options), so no contract-value table is
  needed. Balance: ``GET /api/v5/account/balance``: ``data[0].details[].eq`` per ``ccy``.
- **Bybit** ``GET /v5/position/list`` (``{"retCode": 0, "result": {"category", "list"}}``):
  ``category`` ``linear`` (``BTCUSDT`` and ``BTCPERP`` perpetuals, ``BTC-28JUN24`` USDC futures,
  ``BTCUSDT-28JUN24`` USDT futures; ``size`` in coin), ``inverse`` (``BTCUSD`` perpetual,
  ``BTCUSDH25`` quarterly: the last Friday of the month; ``size`` in USD) or ``option``
  (``BTC-28JUN24-70000-C``, USDC-settled, ``-USDT`` suffix for USDT; ``size`` in coin);
  ``side`` ``Buy``/``Sell`` (empty: no position). Balance: ``GET /v5/account/wallet-balance``:
  ``result.list[].coin[].equity``.

Numbers may come as decimal strings (OKX, Bybit). Expiries are at 08:00 UTC on all three.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from typing import Any

from solvent.errors import SolventInputError
from solvent.instruments.names import parse_instrument_name
from solvent.instruments.terms import InstrumentKind, OptionType, Settlement
from solvent.validation import shown
from solvent.venues.contracts import (
    ContractTerms,
    InstrumentMap,
    MappedPosition,
    expiry_at,
    number_or_none,
    required_number,
    settlement_of,
    terms_of,
)

Reader = Callable[[object, object, InstrumentMap], tuple[list[MappedPosition], dict[str, float]]]


def _records(raw: object, path: tuple[str, ...], field: str) -> list[Any]:
    """The list at ``path`` inside a response envelope, or ``raw`` itself when it is a list."""
    if isinstance(raw, list):
        return raw
    node = raw
    for key in path:
        if not isinstance(node, dict) or key not in node:
            where = ".".join(path)
            raise SolventInputError(field, f"expected the endpoint's response (with {where})")
        node = node[key]
    if not isinstance(node, list):
        raise SolventInputError(f"{field}.{'.'.join(path)}", "must be a list")
    return node


def _text(entry: dict[str, Any], key: str, field: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value:
        raise SolventInputError(f"{field}.{key}", f"must be a non-empty string, got {shown(value)}")
    return value


def _entry(raw: object, field: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise SolventInputError(field, "must be a position object")
    return raw


def _equities(rows: list[Any], asset_key: str, value_key: str, field: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise SolventInputError(f"{field}[{i}]", "must be an object")
        asset = _text(row, asset_key, f"{field}[{i}]")
        value = required_number(row.get(value_key), f"{field}[{i}].{value_key}")
        if value:
            out[asset] = out.get(asset, 0.0) + value
    return out


# --- Deribit ---------------------------------------------------------------------------------


def read_deribit(
    positions: object, balance: object, mapper: InstrumentMap
) -> tuple[list[MappedPosition], dict[str, float]]:
    """Deribit ``private/get_positions`` and ``private/get_account_summary`` responses."""
    out = []
    for i, raw in enumerate(_records(positions, ("result",), "positions")):
        f = f"positions[{i}]"
        entry = _entry(raw, f)
        name = _text(entry, "instrument_name", f)
        terms = terms_of(parse_instrument_name(name, f"{f}.instrument_name"))
        size = required_number(entry.get("size"), f"{f}.size")
        if entry.get("direction") == "sell":
            size = -abs(size)
        if terms.kind is not InstrumentKind.OPTION and terms.settlement is Settlement.INVERSE:
            size = size / mapper.mark(terms, entry.get("mark_price"), name, f"{f}.mark_price")
        out.append(mapper.map(terms, size, name, f"{f}.instrument_name"))
    if balance is None:
        return out, {}
    if isinstance(balance, dict) and isinstance(balance.get("result"), dict):
        result = balance["result"]
        rows = result["summaries"] if isinstance(result.get("summaries"), list) else [result]
    else:
        rows = _records(balance, ("result", "summaries"), "balance")
    return out, _equities(rows, "currency", "equity", "balance")


# --- OKX -------------------------------------------------------------------------------------

_OKX = re.compile(
    r"^(?P<base>[A-Z0-9]+)-(?P<quote>[A-Z0-9]+)-(?:(?P<swap>SWAP)|(?P<date>\d{6})"
    r"(?:-(?P<strike>\d+(?:\.\d+)?)-(?P<type>[CP]))?)$"
)


def okx_terms(inst_id: str, field: str) -> ContractTerms:
    """Terms of an OKX ``instId``: ``USD`` quotes are coin-margined (inverse), ``USDT``/``USDC``
    quotes are settled in that stablecoin (linear)."""
    match = _OKX.match(inst_id)
    if match is None:
        raise SolventInputError(field, f"cannot map {inst_id!r}: not an OKX swap, future or option")
    base, quote = match["base"], match["quote"]
    settlement, asset = settlement_of(base, base if quote == "USD" else quote, inst_id, field)
    if match["swap"]:
        return ContractTerms(InstrumentKind.PERPETUAL, base, settlement, asset)
    date = match["date"]
    expiry = expiry_at(2000 + int(date[:2]), int(date[2:4]), int(date[4:]), inst_id, field)
    if match["strike"] is None:
        return ContractTerms(InstrumentKind.FUTURE, base, settlement, asset, expiry)
    kind = OptionType.CALL if match["type"] == "C" else OptionType.PUT
    strike = float(match["strike"])
    if strike <= 0:
        raise SolventInputError(field, f"cannot map {inst_id!r}: strike must be positive")
    return ContractTerms(InstrumentKind.OPTION, base, settlement, asset, expiry, strike, kind)


def read_okx(
    positions: object, balance: object, mapper: InstrumentMap
) -> tuple[list[MappedPosition], dict[str, float]]:
    """OKX ``/api/v5/account/positions`` and ``/api/v5/account/balance`` responses."""
    out = []
    for i, raw in enumerate(_records(positions, ("data",), "positions")):
        f = f"positions[{i}]"
        entry = _entry(raw, f)
        inst_id = _text(entry, "instId", f)
        terms = okx_terms(inst_id, f"{f}.instId")
        pos = required_number(entry.get("pos"), f"{f}.pos")
        side = entry.get("posSide", "net")
        if side not in ("long", "short", "net"):
            raise SolventInputError(f"{f}.posSide", f"{inst_id!r}: must be long, short or net")
        sign = {"long": 1.0, "short": -1.0}.get(side, 1.0 if pos >= 0 else -1.0)
        notional = required_number(entry.get("notionalUsd"), f"{f}.notionalUsd")
        price_key = "idxPx" if terms.kind is InstrumentKind.OPTION else "markPx"
        price = number_or_none(entry.get(price_key))
        if price is None or price <= 0:
            raise SolventInputError(
                f"{f}.{price_key}", f"cannot size {inst_id!r}: needs a positive {price_key}"
            )
        coins = sign * abs(notional) / price if pos else 0.0
        out.append(mapper.map(terms, coins, inst_id, f"{f}.instId"))
    if balance is None:
        return out, {}
    accounts = _records(balance, ("data",), "balance")
    rows = [d for a in accounts if isinstance(a, dict) for d in a.get("details") or []]
    return out, _equities(rows, "ccy", "eq", "balance.details")


# --- Bybit -----------------------------------------------------------------------------------

_BYBIT_MONTHS = "FGHJKMNQUVXZ"  # futures month codes, January to December
_BYBIT_DATED = re.compile(r"^(?P<base>[A-Z0-9]+?)(?P<quote>USDT)?-(?P<date>\d{1,2}[A-Z]{3}\d{2})$")
_BYBIT_OPTION = re.compile(
    r"^(?P<base>[A-Z0-9]+)-(?P<date>\d{1,2}[A-Z]{3}\d{2})-(?P<strike>\d+(?:\.\d+)?)-(?P<type>[CP])"
    r"(?:-(?P<settle>USDT|USDC))?$"
)
_BYBIT_INVERSE_FUTURE = re.compile(
    r"^(?P<base>[A-Z0-9]+?)USD(?P<month>[FGHJKMNQUVXZ])(?P<yy>\d{2})$"
)


def _last_friday(year: int, month: int) -> int:
    last = calendar.monthrange(year, month)[1]
    weekday = calendar.weekday(year, month, last)  # Monday 0 ... Friday 4
    return last - (weekday - 4) % 7


def bybit_terms(category: str, symbol: str, field: str) -> ContractTerms:
    """Terms of a Bybit V5 symbol in ``category`` (module docstring)."""
    from solvent.instruments.names import parse_expiry

    if category == "option":
        match = _BYBIT_OPTION.match(symbol)
        if match is None:
            raise SolventInputError(field, f"cannot map {symbol!r}: not a Bybit option symbol")
        expiry = parse_expiry(match["date"], field)
        kind = OptionType.CALL if match["type"] == "C" else OptionType.PUT
        strike = float(match["strike"])
        if strike <= 0:
            raise SolventInputError(field, f"cannot map {symbol!r}: strike must be positive")
        settle = match["settle"] or "USDC"
        return ContractTerms(
            InstrumentKind.OPTION, match["base"], Settlement.LINEAR, settle, expiry, strike, kind
        )
    if category == "linear":
        dated = _BYBIT_DATED.match(symbol)
        if dated is not None:
            settle = dated["quote"] or "USDC"
            expiry = parse_expiry(dated["date"], field)
            return ContractTerms(
                InstrumentKind.FUTURE, dated["base"], Settlement.LINEAR, settle, expiry
            )
        for suffix, settle in (("USDT", "USDT"), ("PERP", "USDC"), ("USDC", "USDC")):
            if symbol.endswith(suffix) and len(symbol) > len(suffix):
                base = symbol[: -len(suffix)]
                return ContractTerms(InstrumentKind.PERPETUAL, base, Settlement.LINEAR, settle)
        raise SolventInputError(field, f"cannot map {symbol!r}: not a Bybit linear symbol")
    if category == "inverse":
        future = _BYBIT_INVERSE_FUTURE.match(symbol)
        if future is not None:
            year, month = 2000 + int(future["yy"]), _BYBIT_MONTHS.index(future["month"]) + 1
            expiry = expiry_at(year, month, _last_friday(year, month), symbol, field)
            base = future["base"]
            return ContractTerms(InstrumentKind.FUTURE, base, Settlement.INVERSE, base, expiry)
        if symbol.endswith("USD") and len(symbol) > 3:
            base = symbol[:-3]
            return ContractTerms(InstrumentKind.PERPETUAL, base, Settlement.INVERSE, base)
        raise SolventInputError(field, f"cannot map {symbol!r}: not a Bybit inverse symbol")
    raise SolventInputError(field, f"unknown Bybit category {category!r} (linear|inverse|option)")


def read_bybit(
    positions: object, balance: object, mapper: InstrumentMap
) -> tuple[list[MappedPosition], dict[str, float]]:
    """Bybit ``/v5/position/list`` and ``/v5/account/wallet-balance`` responses."""
    category = None
    if isinstance(positions, dict) and isinstance(positions.get("result"), dict):
        category = positions["result"].get("category")
    out = []
    for i, raw in enumerate(_records(positions, ("result", "list"), "positions")):
        f = f"positions[{i}]"
        entry = _entry(raw, f)
        symbol = _text(entry, "symbol", f)
        cat = entry.get("category", category)
        if not isinstance(cat, str):
            raise SolventInputError(f"{f}.category", "the response's result.category is needed")
        terms = bybit_terms(cat, symbol, f"{f}.symbol")
        side = entry.get("side")
        if side not in ("Buy", "Sell", "", None):
            raise SolventInputError(f"{f}.side", f"{symbol!r}: must be Buy or Sell")
        size = abs(required_number(entry.get("size"), f"{f}.size"))
        if not side:
            size = 0.0
        if side == "Sell":
            size = -size
        if cat == "inverse":
            size = size / mapper.mark(terms, entry.get("markPrice"), symbol, f"{f}.markPrice")
        out.append(mapper.map(terms, size, symbol, f"{f}.symbol"))
    if balance is None:
        return out, {}
    accounts = _records(balance, ("result", "list"), "balance")
    rows = [c for a in accounts if isinstance(a, dict) for c in a.get("coin") or []]
    return out, _equities(rows, "coin", "equity", "balance.coin")


READERS: dict[str, Reader] = {"deribit": read_deribit, "okx": read_okx, "bybit": read_bybit}
"""Venue id -> reader of its native export."""
