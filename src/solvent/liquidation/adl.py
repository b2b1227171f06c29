"""Auto-deleveraging (ADL): who is deleveraged first when a bankrupt position cannot be closed in
the market and the insurance fund cannot cover it (docs/methodology/adl-and-auctions.md).

A queue is every open position of one instrument (:class:`AdlQueue`, columns). Longs and shorts
are ranked separately, highest score first, by one of the three published families
(:class:`Ranking`), all vectorized over the queue. With ``v = q x mark``, ``e = q x entry`` and
``b = q x bankruptcy`` the signed position values in USD (``q`` > 0 long):

- ``bitmex`` (BitMEX, Delta Exchange, Deepcoin): ``pnl% = (v - e) / |e|``; effective leverage
  ``L = |v| / (v - b)``; score ``pnl% x L`` when ``pnl% > 0``, else ``pnl% / L``. The issue's
  example: long 1 @ 50,000, mark 60,000, bankruptcy 45,000 -> 0.20 x 4.0 = 0.80.
- ``binance``: ``upnl = q (mark - entry)``; ``max(0, upnl) / max(1, wallet) x MM / (wallet +
  upnl)``, the second factor 0 when ``wallet + upnl <= 0`` (losers score 0).
- ``hyperliquid``: ``(price ratio in the position's favour) x notional / account value``: the
  ratio is ``mark / entry`` for a long and ``entry / mark`` for a short (Hyperliquid publishes
  "unrealized P&L and leverage" without the exact key; the issue's ``(mark / entry) x notional /
  account value`` is the long case; the short mirror is ours), ``notional = |q| mark``.

Each ranked position also gets the venue-style indicator ``quantile = ceil(5 c) / 5`` where ``c``
is the share of the side's total quantity up to and including it (0.2 = first to go).

**Option queues** (``option=True``; docs/methodology/adl-and-auctions.md, "Options"). The three
formulas are read on the position's *premium* values: prices are premiums in the queue's price
unit (the settlement coin per unit of underlying for a coin-settled option), converted to USD
with the queue's ``contract_size`` and ``price_unit_usd`` (the settlement index), so
``v = q x contract_size x mark x price_unit_usd`` and likewise ``e`` and ``b``. Then ``pnl%`` is
the premium's return since entry (the index cancels), the effective leverage ``|v| / (v - b)`` is
1 for a fully paid long (its bankruptcy premium floors at 0: a long option alone cannot make its
account bankrupt) and ``|v| / equity`` for a short, and the notional is the premium value at the
mark. A premium may be 0 (mark or bankruptcy), an entry premium may not. A delta-one queue uses
the same ``contract_size`` and ``price_unit_usd`` (both 1 unless given).

:func:`adl_fills` deleverages the side opposite to a liquidated position in ADL order at one
price (the bankruptcy price of the liquidated order, as BitMEX, Binance, Bybit and dYdX do).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from solvent.arrays import BoolArray, FloatArray, IntArray
from solvent.errors import SolventInputError
from solvent.files import read_json
from solvent.market.snapshot import INDEX_BOUNDS
from solvent.portfolio.portfolio import MAX_AMOUNT
from solvent.validation import number_in_range, shown

MAX_USD = 1e27
"""Largest absolute USD amount a queue may carry (MAX_AMOUNT units at the highest index)."""

MAX_CONTRACT_SIZE = 1e9
"""Largest contract size a queue may give (units of underlying per contract)."""

MIN_USD_PER_PRICE = 1e-100
"""Smallest ``|quantity| x contract_size x price_unit_usd`` a position may have: below it the
position's values underflow to 0 and its scores are 0 / 0 (1e-300 contracts of 1e-300 units)."""

QUANTILE_STEPS = 5
"""The indicator's buckets: 5 steps of 0.2."""

FILL_PRICE_FACTOR = 2.0
"""How far an ADL fill price may sit from the queue's own prices: within ``[lowest /
FILL_PRICE_FACTOR, highest x FILL_PRICE_FACTOR]`` of its mark and bankruptcy prices (the fill is
the liquidated position's bankruptcy price, near the marks; the market snapshot bounds a
perpetual's mark against its index by the same factor). An option queue's lower end is 0."""

_QUANTILE_EPS = 1e-12
"""Relative tolerance of ``5 c`` before the ceiling, so a share of exactly 2/5 computed as
0.4000000000000001 stays in bucket 0.4."""


class Ranking(enum.StrEnum):
    """The published ADL ranking families."""

    BITMEX = "bitmex"
    BINANCE = "binance"
    HYPERLIQUID = "hyperliquid"


PRICE_FIELDS = ("entry_price", "mark_price", "bankruptcy_price")
USD_FIELDS = ("wallet_balance_usd", "maintenance_margin_usd", "account_value_usd")
NEEDS: Mapping[Ranking, tuple[str, ...]] = {
    Ranking.BITMEX: ("entry_price", "mark_price", "bankruptcy_price"),
    Ranking.BINANCE: ("entry_price", "mark_price", "wallet_balance_usd", "maintenance_margin_usd"),
    Ranking.HYPERLIQUID: ("entry_price", "mark_price", "account_value_usd"),
}
"""The queue fields each ranking reads (a NaN in one of them is refused, naming it)."""


def _column(values: ArrayLike | None, n: int, name: str) -> FloatArray:
    if values is None:
        return np.full(n, np.nan)
    out = np.asarray(values, dtype=np.float64).reshape(-1)
    if out.shape != (n,):
        raise SolventInputError(name, f"must have {n} entries like quantity, got {out.shape[0]}")
    return out


@dataclass(frozen=True)
class AdlQueue:
    """Every open position of one instrument, as columns (one row per position).

    ``quantity`` signed contracts (> 0 long, never 0); prices per unit of underlying in the
    queue's price unit, worth ``price_unit_usd`` USD (1: prices in USD); ``contract_size`` units
    of underlying per contract; the USD columns are the position's account figures. ``option``:
    prices are premiums (module docstring: a mark or bankruptcy premium may be 0). A NaN marks a
    field not given (a ranking that needs it refuses the queue, naming the field).
    """

    instrument: str
    accounts: tuple[str, ...]
    quantity: FloatArray
    entry_price: FloatArray
    mark_price: FloatArray
    bankruptcy_price: FloatArray
    wallet_balance_usd: FloatArray
    maintenance_margin_usd: FloatArray
    account_value_usd: FloatArray
    contract_size: float = 1.0
    price_unit_usd: float = 1.0
    option: bool = False

    @staticmethod
    def from_columns(
        instrument: str,
        accounts: Sequence[str],
        quantity: ArrayLike,
        *,
        entry_price: ArrayLike | None = None,
        mark_price: ArrayLike | None = None,
        bankruptcy_price: ArrayLike | None = None,
        wallet_balance_usd: ArrayLike | None = None,
        maintenance_margin_usd: ArrayLike | None = None,
        account_value_usd: ArrayLike | None = None,
        contract_size: float = 1.0,
        price_unit_usd: float = 1.0,
        option: bool = False,
    ) -> AdlQueue:
        """A validated queue from columns (errors name ``positions[i].field``)."""
        q = np.asarray(quantity, dtype=np.float64).reshape(-1)
        n = q.shape[0]
        if len(accounts) != n:
            raise SolventInputError("accounts", f"must have {n} entries like quantity")
        queue = AdlQueue(
            instrument=instrument,
            accounts=tuple(accounts),
            quantity=q,
            entry_price=_column(entry_price, n, "entry_price"),
            mark_price=_column(mark_price, n, "mark_price"),
            bankruptcy_price=_column(bankruptcy_price, n, "bankruptcy_price"),
            wallet_balance_usd=_column(wallet_balance_usd, n, "wallet_balance_usd"),
            maintenance_margin_usd=_column(maintenance_margin_usd, n, "maintenance_margin_usd"),
            account_value_usd=_column(account_value_usd, n, "account_value_usd"),
            contract_size=float(contract_size),
            price_unit_usd=float(price_unit_usd),
            option=bool(option),
        )
        queue.validate()
        return queue

    def __len__(self) -> int:
        return int(self.quantity.shape[0])

    def validate(self) -> None:
        """Raise :class:`SolventInputError` on a zero or non-finite quantity, an infinite or
        non-positive price (an option's mark or bankruptcy premium may be 0), an infinite USD
        figure, a negative maintenance margin, or a contract size or price unit out of range."""
        number_in_range(self.contract_size, "contract_size", 0.0, MAX_CONTRACT_SIZE)
        if not self.contract_size > 0.0:
            raise SolventInputError("contract_size", "must be > 0")
        number_in_range(self.price_unit_usd, "price_unit_usd", *INDEX_BOUNDS)
        _first_bad(
            ~np.isfinite(self.quantity)
            | (self.quantity == 0.0)
            | (np.abs(self.quantity) > MAX_AMOUNT),
            "quantity",
            f"must be a non-zero finite number within +-{MAX_AMOUNT:g}",
        )
        _first_bad(
            np.abs(self.usd_per_price) < MIN_USD_PER_PRICE,
            "quantity",
            f"too small: quantity x contract_size x price_unit_usd is below "
            f"{MIN_USD_PER_PRICE:g} (its values would underflow)",
        )
        lo, hi = INDEX_BOUNDS
        for name in PRICE_FIELDS:
            col = getattr(self, name)
            low = 0.0 if self.option and name != "entry_price" else lo
            _first_bad(
                np.isinf(col) | (col < low) | (col > hi),
                name,
                f"must be a price in [{low:g}, {hi:g}]",
            )
        for name in USD_FIELDS:
            col = getattr(self, name)
            _first_bad(np.isinf(col) | (np.abs(col) > MAX_USD), name, "must be finite")
        _first_bad(self.maintenance_margin_usd < 0.0, "maintenance_margin_usd", "must be >= 0")

    def require(self, names: Sequence[str]) -> None:
        """Raise naming the first position and field among ``names`` that is not given."""
        for name in names:
            _first_bad(np.isnan(getattr(self, name)), name, "required by this ranking")

    @property
    def usd_per_price(self) -> FloatArray:
        """USD value of a price of 1 held by each position: ``q x contract_size x
        price_unit_usd`` (signed, so ``usd_per_price x price`` is the position's value)."""
        return self.quantity * self.contract_size * self.price_unit_usd

    def unrealized_pnl_usd(self) -> FloatArray:
        """``q x contract_size x price_unit_usd x (mark - entry)``: each position's unrealized
        P&L at the mark, USD (needs both)."""
        self.require(("entry_price", "mark_price"))
        return self.usd_per_price * (self.mark_price - self.entry_price)


def _first_bad(mask: BoolArray, name: str, message: str) -> None:
    bad = np.flatnonzero(mask)
    if bad.size:
        raise SolventInputError(f"positions[{int(bad[0])}].{name}", message)


def _bitmex(queue: AdlQueue) -> FloatArray:
    q = queue.usd_per_price
    value = q * queue.mark_price
    entry_value = q * queue.entry_price
    cushion = value - q * queue.bankruptcy_price  # > 0 while the position is not bankrupt
    # a worthless long option (mark and bankruptcy premium 0) is fully paid: leverage 1
    worthless = (value == 0.0) & (cushion == 0.0)
    _first_bad(
        (cushion < 0.0) | ((cushion == 0.0) & ~worthless),
        "bankruptcy_price",
        "must be beyond the mark on the losing side (below it for a long, above for a short)",
    )
    pnl_pct = (value - entry_value) / np.abs(entry_value)
    leverage = np.divide(np.abs(value), cushion, out=np.ones_like(cushion), where=cushion > 0.0)
    # leverage 0 (a short option marked at 0) only comes with a gain: the division is unused
    losing = np.divide(pnl_pct, leverage, out=np.zeros_like(pnl_pct), where=leverage > 0.0)
    return np.where(pnl_pct > 0.0, pnl_pct * leverage, losing)


def _binance(queue: AdlQueue) -> FloatArray:
    upnl = queue.unrealized_pnl_usd()
    wallet = queue.wallet_balance_usd
    pnl_pct = np.maximum(upnl, 0.0) / np.maximum(wallet, 1.0)
    denominator = wallet + upnl
    safe = np.where(denominator > 0.0, denominator, 1.0)
    margin_ratio = np.where(denominator > 0.0, queue.maintenance_margin_usd / safe, 0.0)
    return pnl_pct * margin_ratio


def _hyperliquid(queue: AdlQueue) -> FloatArray:
    _first_bad(queue.account_value_usd <= 0.0, "account_value_usd", "must be > 0")
    long = queue.quantity > 0.0
    mark, entry = queue.mark_price, queue.entry_price
    ratio = np.where(long, mark / entry, entry / np.where(mark > 0.0, mark, 1.0))
    size = np.abs(queue.usd_per_price)
    score = ratio * (size * mark) / queue.account_value_usd
    # a short option marked at 0: (entry / mark) x notional tends to entry x size
    at_zero = ~long & (mark == 0.0)
    return np.where(at_zero, size * entry / queue.account_value_usd, score)


_SCORERS = {Ranking.BITMEX: _bitmex, Ranking.BINANCE: _binance, Ranking.HYPERLIQUID: _hyperliquid}


def parse_ranking(value: str, field: str = "ranking") -> Ranking:
    """The :class:`Ranking` named ``value``; an unknown name raises naming ``field``."""
    try:
        return Ranking(value)
    except ValueError:
        names = "|".join(r.value for r in Ranking)
        raise SolventInputError(field, f"unknown ranking {shown(value)} (use {names})") from None


def adl_scores(queue: AdlQueue, ranking: Ranking) -> FloatArray:
    """Each position's ADL score under ``ranking`` (dimensionless; higher = deleveraged sooner).

    Raises :class:`SolventInputError` naming ``positions[i].field`` when a field the ranking
    needs is missing.
    """
    queue.require(NEEDS[ranking])
    with np.errstate(over="ignore"):
        scores = _SCORERS[ranking](queue)
    _first_bad(~np.isfinite(scores), "quantity", "gives a score beyond the float range")
    return scores


@dataclass(frozen=True)
class RankedSide:
    """One side of a queue in ADL order: ``positions`` are indices into the queue (highest
    score first, ties in queue order), with their ``score`` and ``quantile`` (0.2 ... 1.0)."""

    positions: IntArray
    score: FloatArray
    quantile: FloatArray


@dataclass(frozen=True)
class AdlRanking:
    """A queue ranked under one family: longs and shorts separately."""

    ranking: Ranking
    long: RankedSide
    short: RankedSide


def quantiles(quantity: ArrayLike) -> FloatArray:
    """``ceil(5 c) / 5`` for each position of a side already in ADL order, ``c`` the cumulative
    share of the side's total |quantity| up to and including it."""
    size = np.abs(np.asarray(quantity, dtype=np.float64))
    if size.size == 0:
        return np.zeros(0)
    share = np.cumsum(size) / size.sum()
    steps = np.ceil(QUANTILE_STEPS * share * (1.0 - _QUANTILE_EPS))
    out: FloatArray = np.clip(steps, 1.0, QUANTILE_STEPS) / QUANTILE_STEPS
    return out


def _side(queue: AdlQueue, scores: FloatArray, mask: BoolArray) -> RankedSide:
    idx = np.flatnonzero(mask)
    order = idx[np.argsort(-scores[idx], kind="stable")]
    return RankedSide(
        positions=order.astype(np.int64),
        score=scores[order],
        quantile=quantiles(queue.quantity[order]),
    )


def rank_queue(queue: AdlQueue, ranking: Ranking) -> AdlRanking:
    """Both sides of ``queue`` in ADL order under ``ranking``."""
    scores = adl_scores(queue, ranking)
    return AdlRanking(
        ranking=ranking,
        long=_side(queue, scores, queue.quantity > 0.0),
        short=_side(queue, scores, queue.quantity < 0.0),
    )


@dataclass(frozen=True)
class AdlFills:
    """Counterparties of a deleveraged position: ``positions`` (queue indices, in ADL order), the
    signed ``quantity`` each trades (a long deleveraged sells: < 0), all at ``price`` (USD per
    unit); ``unfilled`` is the part of the liquidated size they could not absorb (>= 0)."""

    positions: IntArray
    quantity: FloatArray
    price: float
    unfilled: float


def adl_fills(
    queue: AdlQueue, ranking: Ranking, size: float, price: float, *, field: str = "fill"
) -> AdlFills:
    """Deleverage the side opposite to a liquidated position of signed ``size`` at ``price``.

    ``size`` < 0 (a short being closed) takes longs, ``size`` > 0 takes shorts. Counterparties
    are taken in ADL order, only those with a positive unrealized P&L at the mark (ADL never
    touches a losing position), each closed by ``min(remaining, |q|)``. Raises naming ``field``
    when ``size`` or ``price`` is not a finite non-zero number, when ``price`` is outside
    :func:`fill_price_range` (``field.price``), or when the opposite side holds no profitable
    position at all.
    """
    size = number_in_range(size, f"{field}.size", -MAX_AMOUNT, MAX_AMOUNT)
    if size == 0.0:
        raise SolventInputError(f"{field}.size", "must be non-zero (the liquidated position)")
    lo, hi = INDEX_BOUNDS
    price = number_in_range(price, f"{field}.price", 0.0 if queue.option else lo, hi)
    ranked = rank_queue(queue, ranking)
    _check_fill_price(queue, price, f"{field}.price")
    side = ranked.long if size < 0.0 else ranked.short
    name = "long" if size < 0.0 else "short"
    upnl = queue.unrealized_pnl_usd()
    eligible = side.positions[upnl[side.positions] > 0.0]
    if eligible.size == 0:
        raise SolventInputError(
            f"{field}.size",
            f"the queue holds no {name} position in profit to deleverage against {size:g}",
        )
    held = np.abs(queue.quantity[eligible])
    before = np.concatenate(([0.0], np.cumsum(held)[:-1]))
    take = np.clip(abs(size) - before, 0.0, held)
    partial = np.flatnonzero((take > 0.0) & (take < held))  # at most one: the last taken
    if partial.size:  # what is left for it, from an exactly rounded sum of those before it
        k = int(partial[0])
        take[k] = min(float(held[k]), abs(size) - math.fsum(held[:k].tolist()))
    used = take > 0.0
    sign = -1.0 if size < 0.0 else 1.0  # a long counterparty sells, a short one buys
    # what the side holds in total, not the sum of the takes: no floating-point residue of the
    # running subtraction (2e-12) when the side absorbs the whole size
    capacity = float(held.sum())
    return AdlFills(
        positions=eligible[used],
        quantity=sign * take[used],
        price=price,
        unfilled=max(abs(size) - capacity, 0.0),
    )


def fill_price_range(queue: AdlQueue) -> tuple[float, float]:
    """``(low, high)``: the fill prices :func:`adl_fills` accepts for ``queue`` (its price unit):
    the lowest and highest of its mark and bankruptcy prices (those given), divided and
    multiplied by :data:`FILL_PRICE_FACTOR`; ``low`` is 0 for an option queue (a premium)."""
    given = np.concatenate((queue.mark_price, queue.bankruptcy_price))
    given = given[np.isfinite(given)]
    if given.size == 0:  # a ranking refuses a queue without marks before this is asked
        return 0.0, float("inf")
    low = 0.0 if queue.option else float(given.min()) / FILL_PRICE_FACTOR
    return low, float(given.max()) * FILL_PRICE_FACTOR


def _check_fill_price(queue: AdlQueue, price: float, field: str) -> None:
    """Refuse a fill price far from every mark and bankruptcy price of ``queue``: ADL fills at
    the liquidated position's bankruptcy price, which sits near the marks; a fill at 1 USD on a
    queue marked at 95,000 would hand each counterparty a loss of a whole mark per unit."""
    low, high = fill_price_range(queue)
    if not low <= price <= high:
        raise SolventInputError(
            field,
            f"{price:.10g} is outside the queue's price range {low:.10g} to {high:.10g} "
            f"(ADL fills at the liquidated position's bankruptcy price: within a factor "
            f"{FILL_PRICE_FACTOR:g} of the queue's mark and bankruptcy prices)",
        )


# ------------------------------------------------------------------------------------------
# QUEUE files (docs/formats.md 10)
# ------------------------------------------------------------------------------------------

_QUEUE_FIELDS = {"instrument", "positions", "option", "contract_size", "price_unit_usd"}
_POSITION_FIELDS = {"account", "quantity", *PRICE_FIELDS, *USD_FIELDS}


def parse_adl_queue(data: object, field: str = "queue") -> AdlQueue:
    """The :class:`AdlQueue` of a QUEUE JSON object (docs/formats.md 10); errors name the field
    (``positions[i].mark_price``)."""
    if not isinstance(data, dict):
        raise SolventInputError(field, 'must be {"instrument": name, "positions": [...]}')
    unknown = set(data) - _QUEUE_FIELDS
    if unknown:
        raise SolventInputError(sorted(unknown)[0], "unknown field")
    instrument = data.get("instrument")
    if not isinstance(instrument, str) or not instrument:
        raise SolventInputError("instrument", "required (a non-empty string)")
    rows = data.get("positions")
    if not isinstance(rows, list) or not rows:
        raise SolventInputError("positions", "required (a non-empty list of positions)")
    option = data.get("option", False)
    if not isinstance(option, bool):
        raise SolventInputError("option", "must be true or false")
    contract_size = number_in_range(
        data.get("contract_size", 1.0), "contract_size", 0.0, MAX_CONTRACT_SIZE
    )
    if contract_size <= 0.0:
        raise SolventInputError("contract_size", "must be > 0")
    price_unit_usd = number_in_range(
        data.get("price_unit_usd", 1.0), "price_unit_usd", *INDEX_BOUNDS
    )
    accounts: list[str] = []
    columns: dict[str, list[float]] = {name: [] for name in _POSITION_FIELDS - {"account"}}
    lo, hi = INDEX_BOUNDS
    for i, row in enumerate(rows):
        pf = f"positions[{i}]"
        if not isinstance(row, dict):
            raise SolventInputError(pf, "must be an object")
        unknown = set(row) - _POSITION_FIELDS
        if unknown:
            raise SolventInputError(f"{pf}.{sorted(unknown)[0]}", "unknown field")
        account = row.get("account")
        if not isinstance(account, str) or not account:
            raise SolventInputError(f"{pf}.account", "required (a non-empty string)")
        accounts.append(account)
        if "quantity" not in row:
            raise SolventInputError(f"{pf}.quantity", "required")
        columns["quantity"].append(
            number_in_range(row["quantity"], f"{pf}.quantity", -MAX_AMOUNT, MAX_AMOUNT)
        )
        for name in PRICE_FIELDS:
            raw = row.get(name)
            low = 0.0 if option and name != "entry_price" else lo
            columns[name].append(
                np.nan if raw is None else number_in_range(raw, f"{pf}.{name}", low, hi)
            )
        for name in USD_FIELDS:
            raw = row.get(name)
            columns[name].append(
                np.nan if raw is None else number_in_range(raw, f"{pf}.{name}", -MAX_USD, MAX_USD)
            )
    seen: set[tuple[str, bool]] = set()
    for i, (account, q) in enumerate(zip(accounts, columns["quantity"], strict=True)):
        key = (account, q > 0)
        if key in seen:
            raise SolventInputError(
                f"positions[{i}].account", f"{account!r} holds two positions on the same side"
            )
        seen.add(key)
    quantity = columns.pop("quantity")
    return AdlQueue.from_columns(
        instrument,
        accounts,
        quantity,
        **columns,
        contract_size=contract_size,
        price_unit_usd=price_unit_usd,
        option=option,
    )


def load_adl_queue(path: str | Path) -> AdlQueue:
    """Read and parse a QUEUE JSON file (through :mod:`solvent.files`)."""
    return parse_adl_queue(read_json(path, "queue"))
