"""The one typed door every margin model goes through: three phases, one market form.

A model is a module exposing ``MODEL``, an object with:

- ``name``, ``description``, ``needs`` (the :class:`MarketData` it reads);
- ``load_params(spec) -> Params``: once per run. ``spec`` is ``None`` (the model's default set), a
  built-in set name, or a TOML/JSON file path. The result is frozen and validated, and carries
  ``params_id`` (:class:`ParamsId`: ``name@version`` plus a digest of its content);
- ``prepare(market, instruments, params) -> Prepared``: once per market update. ``market`` is the
  :class:`PricedMarket` resolved once per run; ``instruments`` are the book's columns (a subset of
  the market's, in book order). Everything that depends on the market and not on the book lives
  in ``Prepared``: risk arrays, sensitivities, scenario labels;
- ``margin(prepared, book, *, detail) -> BookMargin``: any number of times per update, for any
  book whose ``instruments`` equal ``prepared``'s. ``detail`` (:class:`Detail`) says how much to
  build: USD totals only, per-account pools, or the full explanation. Models assemble the result
  with :func:`solvent.margin.build.build_book_margin` (one builder for every model);
- ``composition(params) -> Composition``: the model's documented formula re-deriving each pool's
  IM and MM from its ``components`` (:class:`~solvent.margin.result.Composition`), checked for
  every model by tests/margin/test_model_contract.py.

:func:`margin_book` is the one-shot path (load, resolve, prepare, margin) and must give the same
result as a caller that keeps ``Prepared`` and re-margins against it.

Optional capabilities: a model may also implement :class:`BacktestCapable` (a closed-form margin
series for the backtest's one-unit position); callers test for it with ``isinstance`` and fall
back to the three phases, day by day, otherwise. :class:`IncrementalCapable` models re-prepare
only the instruments whose market inputs changed (:func:`changed_rows`) and splice them into the
previous ``Prepared``; :func:`reprepare` picks that path or a full ``prepare``. :class:`MoveCapable`
models prepare a market moved along one underlying at many prices, computing once what does not
depend on the price (:func:`solvent.margin.moved.prepared_mover` picks the fastest path).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from solvent.arrays import FloatArray, IntArray
from solvent.errors import SolventInputError
from solvent.instruments.table import InstrumentTable
from solvent.margin.result import BookMargin, Composition
from solvent.market.snapshot import MarketColumns, MarketSnapshot
from solvent.portfolio.book import Book


class Detail(enum.IntEnum):
    """How much of a result to build (each level includes the ones before it)."""

    TOTALS = 0
    """USD initial and maintenance margin per account only (the real-time path)."""
    ACCOUNTS = 1
    """Plus each account's pools: components and worst scenario."""
    EXPLAIN = 2
    """Plus every scenario's P&L and each position's contribution."""


class MarketData(enum.StrEnum):
    """Market data a model may read beyond instrument terms and marks."""

    MARKS = "marks"
    """Marks, forwards, times to expiry (every model)."""
    VOLATILITY = "volatility"
    """Option implied volatilities."""
    INDEX = "index"
    """The oracle index price of every underlying and collateral asset."""
    ORDER_BOOKS = "order_books"
    """Order-book depth (liquidity add-ons)."""
    PRICE_HISTORY = "price_history"
    """Daily closes before the snapshot (historical-simulation models)."""


@dataclass(frozen=True, slots=True)
class ParamsId:
    """Who a parameter set is: ``name@version`` and a SHA-256 digest of its resolved content,
    so that two sets with different values never carry the same full label."""

    name: str
    version: str
    digest: str

    @property
    def label(self) -> str:
        """``name@version``, the form results report under ``parameters``."""
        return f"{self.name}@{self.version}"

    @property
    def full_label(self) -> str:
        """``name@version#digest12``: unique per content."""
        return f"{self.label}#{self.digest[:12]}"


@dataclass(frozen=True, slots=True)
class PricedMarket:
    """The market resolved once per run for a list of instruments: terms as an
    :class:`InstrumentTable`, market columns aligned with it, and each row's settlement-asset
    price in USD. Models receive this and never call ``snapshot.table`` themselves."""

    snapshot: MarketSnapshot
    table: InstrumentTable
    columns: MarketColumns
    settlement_usd: FloatArray
    """USD per unit of each row's settlement asset."""

    @classmethod
    def resolve(cls, snapshot: MarketSnapshot, instruments: Sequence[str]) -> PricedMarket:
        """Resolve ``instruments`` against ``snapshot`` (errors name ``positions[i]``)."""
        table = snapshot.table(list(instruments), "positions")
        columns = snapshot.columns(table)
        prices = np.array(
            [snapshot.price_usd(a, "settlement_asset") for a in table.settlement_assets],
            dtype=np.float64,
        )
        settlement_usd: FloatArray = prices[table.settlement_code] if len(table) else np.zeros(0)
        return cls(snapshot, table, columns, settlement_usd)

    @property
    def instruments(self) -> tuple[str, ...]:
        """Instrument names, in row order."""
        return tuple(self.table.names)

    def take(self, rows: IntArray) -> PricedMarket:
        """Rows ``rows`` of this market (any order), keeping the table's code spaces: the
        ``underlyings`` and ``settlement_assets`` tuples are this market's whole lists, so a
        row's codes mean the same in the result. For re-pricing a few rows with the arithmetic
        that priced them all (row by row, the same figures)."""
        table = self.table
        picked = rows.tolist()
        part = InstrumentTable(
            names=tuple(table.names[r] for r in picked),
            instruments=tuple(table.instruments[r] for r in picked),
            kind=table.kind[rows],
            is_option=table.is_option[rows],
            is_inverse=table.is_inverse[rows],
            is_call=table.is_call[rows],
            strike=table.strike[rows],
            contract_size=table.contract_size[rows],
            underlyings=table.underlyings,
            underlying_code=table.underlying_code[rows],
            settlement_assets=table.settlement_assets,
            settlement_code=table.settlement_code[rows],
        )
        columns = _column_rows(self.columns, rows)
        return PricedMarket(self.snapshot, part, columns, self.settlement_usd[rows])

    def subset(self, instruments: Sequence[str]) -> PricedMarket:
        """The same market restricted to (and reordered as) ``instruments``: rows of the priced
        columns, the snapshot is not resolved again."""
        if tuple(instruments) == self.instruments:
            return self
        row_of = {n: i for i, n in enumerate(self.table.names)}
        missing = [n for n in instruments if n not in row_of]
        if missing:
            raise SolventInputError("instruments", f"not in the priced market: {missing[0]!r}")
        rows = np.array([row_of[n] for n in instruments], dtype=np.intp)
        table = InstrumentTable.from_instruments([self.table.instruments[r] for r in rows])
        columns = _column_rows(self.columns, rows)
        return PricedMarket(self.snapshot, table, columns, self.settlement_usd[rows])


def _column_rows(columns: MarketColumns, rows: IntArray) -> MarketColumns:
    """Rows ``rows`` of every priced column (:meth:`PricedMarket.take` and ``subset``)."""
    return MarketColumns(
        **{f.name: getattr(columns, f.name)[rows] for f in dataclasses.fields(MarketColumns)}
    )


@runtime_checkable
class MarginModel(Protocol):
    """What ``MODEL`` is in every model module (see the module docstring)."""

    name: str
    description: str
    needs: frozenset[MarketData]

    def load_params(self, spec: str | None) -> Any: ...

    def prepare(self, market: PricedMarket, instruments: Sequence[str], params: Any) -> Any: ...

    def margin(self, prepared: Any, book: Book, *, detail: Detail) -> BookMargin: ...

    def composition(self, params: Any) -> Composition: ...


@dataclass(frozen=True, slots=True)
class UnitBacktest:
    """The question a margin backtest asks of a model, every day of a close series.

    On day ``t`` (each of ``days``, indexes into ``closes``) the position is ``quantity`` coins
    (+1 long, -1 short) of one asset held as a linear USDC perpetual marked at ``closes[t]``
    (USD), in a market as of ``t + 1 day 00:00 UTC``: only ``closes[: t + 1]`` are known. The
    realized loss is measured ``horizon_days`` observations later; a model with a margin period
    of risk uses ``horizon_days`` as that period.
    """

    closes: FloatArray
    quantity: float
    days: IntArray
    horizon_days: int


@dataclass(frozen=True, slots=True)
class BacktestMargins:
    """A model's answer to :class:`UnitBacktest`: the initial margin (USD, >= 0) of each day,
    the parameter set's label, and optional named variants of the model (e.g. fhs-es's
    anti-procyclicality overlays), each a margin series over the same days."""

    parameters: str
    margin: FloatArray
    variants: Mapping[str, FloatArray] = field(default_factory=dict)


@runtime_checkable
class BacktestCapable(Protocol):
    """Optional capability: the margin series of :class:`UnitBacktest` without building one
    market per day. It must equal the three phases run on each day's market (the model's tests
    check it). With ``variants`` the answer also carries the model's variants."""

    def backtest(
        self, params: Any, request: UnitBacktest, *, variants: bool
    ) -> BacktestMargins: ...


@runtime_checkable
class IncrementalCapable(Protocol):
    """Optional capability: a prepared state brought up to date by re-preparing only the
    instruments whose market inputs changed.

    ``update(prepared, market, changed)``: ``market`` is resolved for exactly
    ``prepared``'s instruments, in order; ``changed`` (sorted, unique row indices, ``intp``)
    holds at least every row whose inputs differ from those ``prepared`` was computed from
    (:func:`changed_rows`: any :class:`MarketColumns` field or the row's settlement-asset USD
    price); every other row's inputs must be the same, bit for bit. The answer equals
    ``prepare(market, prepared's instruments, prepared's params)`` bit for bit
    (``np.array_equal`` on every array; the models' tests check it over random changed subsets):
    rows of ``changed`` are recomputed with the arithmetic of ``prepare``, the other rows copied,
    and what is not per instrument (settlement prices, per-group figures) recomputed in full.
    ``prepared`` is never modified: a reader holding it (a what-if, a liquidation in progress)
    keeps a consistent state. A model may answer a full ``prepare`` when that is what it takes
    (e.g. a market past its vectorization thresholds)."""

    def update(self, prepared: Any, market: PricedMarket, changed: IntArray) -> Any: ...


@runtime_checkable
class MoveCapable(Protocol):
    """Optional capability: prepared states of one market moved along one underlying, at many
    prices (a liquidation-price search), each faster than a ``prepare``.

    ``mover(prepared, market, underlying)``: ``prepared`` is what ``prepare`` gave on
    ``market``; the answer is a callable that takes ``move_priced(market, underlying, P)``
    (:func:`solvent.margin.moved.move_priced`) for any price ``P`` and returns what
    ``prepare(moved, prepared's instruments, prepared's params)`` would, bit for bit (the
    models' tests check it), by computing once what does not depend on ``P``. Neither
    ``prepared`` nor a returned state is ever modified afterwards."""

    def mover(
        self, prepared: Any, market: PricedMarket, underlying: str
    ) -> Callable[[PricedMarket], Any]: ...


def changed_rows(before: PricedMarket, after: PricedMarket) -> IntArray:
    """Rows of ``after`` whose market inputs differ from ``before``'s (the same instruments in
    the same order, else :class:`SolventInputError`): any :class:`MarketColumns` field or the
    settlement-asset USD price differs (NaN equal to NaN). Sorted ``intp`` row indices."""
    if before.instruments != after.instruments:
        raise SolventInputError("instruments", "changed rows need the same instruments, in order")
    differs = np.zeros(len(after.table), dtype=np.bool_)
    pairs = [
        (getattr(before.columns, f.name), getattr(after.columns, f.name))
        for f in dataclasses.fields(MarketColumns)
    ]
    pairs.append((before.settlement_usd, after.settlement_usd))
    for old, new in pairs:
        if old is new:
            continue
        differs |= (old != new) & ~(np.isnan(old) & np.isnan(new))
    out: IntArray = np.flatnonzero(differs).astype(np.intp)
    return out


def reprepare(
    model: MarginModel,
    params: Any,
    market: PricedMarket,
    previous: tuple[PricedMarket, Any] | None = None,
) -> tuple[Any, int]:
    """``model`` prepared on ``market`` (its own instruments), and how many instruments were
    (re)computed. With ``previous = (market it was prepared on, prepared state)`` over the same
    instruments and an :class:`IncrementalCapable` model, only the rows of :func:`changed_rows`
    are recomputed (the same result bit for bit); otherwise a full ``prepare``."""
    if (
        previous is not None
        and isinstance(model, IncrementalCapable)
        and previous[0].instruments == market.instruments
    ):
        changed = changed_rows(previous[0], market)
        return model.update(previous[1], market, changed), int(changed.size)
    return model.prepare(market, market.instruments, params), len(market.instruments)


def require_prepared(book: Book, instruments: tuple[str, ...]) -> None:
    """Refuse ``book`` unless its columns are exactly the prepared ``instruments``, in order
    (every model's ``margin`` checks this first)."""
    if book.instruments != instruments:
        raise SolventInputError("book.instruments", "must be the prepared instruments, in order")


def margin_book(
    model: MarginModel,
    book: Book,
    snapshot: MarketSnapshot,
    params: str | None = None,
    *,
    detail: Detail = Detail.ACCOUNTS,
) -> BookMargin:
    """One-shot margin of ``book``: load the parameters, resolve the market, prepare, margin."""
    loaded = model.load_params(params)
    market = PricedMarket.resolve(snapshot, book.instruments)
    prepared = model.prepare(market, book.instruments, loaded)
    return model.margin(prepared, book, detail=detail)
