"""ccxt's unified position and balance structures -> a portfolio (docs/formats.md 13).

The input is ``{"exchange": ID, "positions": [fetch_positions entries], "balance": fetch_balance
result}`` as ccxt documents them (docs.ccxt.com, "Position Structure" and "Balance Structure");
Solvent does not use the ccxt package, it reads these documented shapes:

- unified symbols are ``BASE/QUOTE:SETTLE`` for perpetual swaps, ``BASE/QUOTE:SETTLE-YYMMDD``
  for dated futures and ``BASE/QUOTE:SETTLE-YYMMDD-STRIKE-C|P`` for options (``BTC/USD:BTC`` is
  Deribit's BTC-PERPETUAL, ``BTC/USDC:USDC`` its BTC_USDC-PERPETUAL); a spot symbol (no
  ``:SETTLE``) is not a position;
- a position has ``side`` (``long``/``short``), ``contracts`` (>= 0) and ``contractSize``: an
  inverse swap or future's contracts are USD (``contracts x contractSize`` USD of notional,
  turned into coin at the position's ``markPrice``, else the market's mark); a linear contract's
  and every option's are coins of the base;
- the balance's per-asset ``{"free", "used", "total"}`` entries (or its ``total`` map) give the
  collateral: ``total``, which ccxt fills with the venue's equity (P&L included).
"""

from __future__ import annotations

import re
from typing import Any

from solvent.collateral.assets import default_assets
from solvent.errors import SolventInputError
from solvent.instruments.terms import InstrumentKind, OptionType
from solvent.portfolio.portfolio import MAX_AMOUNT
from solvent.validation import number_in_range, shown
from solvent.venues.contracts import (
    ContractTerms,
    InstrumentMap,
    MappedPosition,
    expiry_at,
    number_or_none,
    required_number,
    settlement_of,
)

_SYMBOL = re.compile(
    r"^(?P<base>[A-Z0-9]+)/(?P<quote>[A-Z0-9]+):(?P<settle>[A-Z0-9]+)"
    r"(?:-(?P<date>\d{6})(?:-(?P<strike>\d+(?:\.\d+)?)-(?P<type>[CP]))?)?$"
)
_BALANCE_META = frozenset({"info", "timestamp", "datetime", "free", "used", "total", "debt"})


def parse_symbol(symbol: str, field: str) -> ContractTerms:
    """Terms of a ccxt unified derivatives symbol (module docstring)."""
    match = _SYMBOL.match(symbol)
    if match is None:
        raise SolventInputError(
            field, f"cannot map {symbol!r}: not a ccxt derivatives symbol (BASE/QUOTE:SETTLE...)"
        )
    base, settle = match["base"], match["settle"]
    settlement, settlement_asset = settlement_of(base, settle, symbol, field)
    if match["date"] is None:
        return ContractTerms(InstrumentKind.PERPETUAL, base, settlement, settlement_asset)
    date = match["date"]
    expiry = expiry_at(2000 + int(date[:2]), int(date[2:4]), int(date[4:]), symbol, field)
    if match["strike"] is None:
        return ContractTerms(InstrumentKind.FUTURE, base, settlement, settlement_asset, expiry)
    strike = float(match["strike"])
    if strike <= 0:
        raise SolventInputError(field, f"cannot map {symbol!r}: strike must be positive")
    option_type = OptionType.CALL if match["type"] == "C" else OptionType.PUT
    return ContractTerms(
        InstrumentKind.OPTION, base, settlement, settlement_asset, expiry, strike, option_type
    )


def _sign(entry: dict[str, Any], contracts: float, symbol: str, field: str) -> float:
    side = entry.get("side")
    if side == "long":
        return 1.0
    if side == "short":
        return -1.0
    if side is None:
        return 1.0 if contracts >= 0 else -1.0
    raise SolventInputError(f"{field}.side", f"{symbol!r}: side must be long or short")


def map_position(entry: object, mapper: InstrumentMap, field: str) -> MappedPosition:
    """One ccxt position structure as a position in one of our instruments."""
    if not isinstance(entry, dict):
        raise SolventInputError(field, "must be a ccxt position structure (an object)")
    symbol = entry.get("symbol")
    if not isinstance(symbol, str) or not symbol:
        raise SolventInputError(f"{field}.symbol", f"must be a ccxt symbol, got {shown(symbol)}")
    terms = parse_symbol(symbol, f"{field}.symbol")
    contracts = required_number(entry.get("contracts"), f"{field}.contracts")
    given_size = entry.get("contractSize")
    size = 1.0 if given_size is None else required_number(given_size, f"{field}.contractSize")
    if size <= 0:
        raise SolventInputError(f"{field}.contractSize", f"{symbol!r}: must be > 0")
    sign = _sign(entry, contracts, symbol, field)
    if contracts < 0 and sign > 0:
        raise SolventInputError(
            f"{field}.contracts", f"{symbol!r}: negative contracts on a long position"
        )
    amount = abs(contracts) * size * sign
    if terms.kind is not InstrumentKind.OPTION and terms.underlying == terms.settlement_asset:
        mark = mapper.mark(terms, entry.get("markPrice"), symbol, f"{field}.markPrice")
        amount = amount / mark  # USD notional -> coin at the mark
    amount = number_in_range(amount, f"{field}.contracts", -MAX_AMOUNT, MAX_AMOUNT)
    return mapper.map(terms, amount, symbol, f"{field}.symbol")


def balances(raw: object, field: str = "balance") -> dict[str, float]:
    """Collateral of a ccxt balance structure: each asset's ``total`` (zero and null dropped).
    An asset outside the collateral schedule, or an amount beyond the portfolio's bounds
    (:data:`~solvent.portfolio.portfolio.MAX_AMOUNT`), is refused naming it."""
    out = _balances(raw, field)
    registry = default_assets()
    for asset, total in out.items():
        where = f"{field}.{asset}"
        registry.get(asset, where)
        number_in_range(total, where, -MAX_AMOUNT, MAX_AMOUNT)
    return out


def _balances(raw: object, field: str) -> dict[str, float]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SolventInputError(field, "must be a ccxt balance structure (an object)")
    out: dict[str, float] = {}
    for asset, entry in raw.items():
        if asset in _BALANCE_META:
            continue
        if not isinstance(entry, dict):
            raise SolventInputError(f"{field}.{asset}", 'must be {"free", "used", "total"}')
        total = number_or_none(entry.get("total"))
        if entry.get("total") is not None and total is None:
            raise SolventInputError(f"{field}.{asset}.total", "must be a finite number")
        if total:
            out[str(asset)] = total
    totals = raw.get("total")
    if not out and isinstance(totals, dict):
        for asset, value in totals.items():
            total = number_or_none(value)
            if value is not None and total is None:
                raise SolventInputError(f"{field}.total.{asset}", "must be a finite number")
            if total:
                out[str(asset)] = total
    return out


def read_ccxt(
    raw: object, mapper: InstrumentMap
) -> tuple[str, list[MappedPosition], dict[str, float]]:
    """``(exchange, positions, balances)`` of a ccxt export (module docstring)."""
    if not isinstance(raw, dict):
        raise SolventInputError("ccxt", 'must be {"exchange", "positions", "balance"}')
    unknown = set(raw) - {"exchange", "positions", "balance"}
    if unknown:
        raise SolventInputError(sorted(unknown)[0], "unknown field")
    exchange = raw.get("exchange")
    if not isinstance(exchange, str) or not exchange:
        raise SolventInputError("exchange", "required: the ccxt exchange id (deribit, okx, ...)")
    entries = raw.get("positions", [])
    if not isinstance(entries, list):
        raise SolventInputError("positions", "must be a list of ccxt position structures")
    positions = [map_position(e, mapper, f"positions[{i}]") for i, e in enumerate(entries)]
    return exchange, positions, balances(raw.get("balance"))
