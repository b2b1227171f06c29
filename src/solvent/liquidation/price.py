"""Liquidation prices (docs/formats.md 10, docs/methodology/liquidation-price.md).

The liquidation price of a margin unit (an account, or a parent with its cross sub-accounts, as
one :class:`~solvent.portfolio.portfolio.Portfolio`) on an underlying ``U`` is a USD price ``P``
of ``U`` at which its equity equals its maintenance margin::

    f(P) = equity_usd(P) - maintenance_margin_usd(P) = 0

where both sides are what the engine computes on the market moved to ``P``
(:func:`solvent.market.moves.move_underlying`: index, futures and perpetual marks, option forwards
x ``P / index``; options at their mark IV; time and other underlyings unchanged):

- ``maintenance_margin_usd(P)``: the model's own ``prepare`` on the moved market restricted to
  the unit's instruments, then its ``margin`` (no closed form, so every cross effect of the model
  is in it);
- ``equity_usd(P)``: :func:`solvent.accounts.equity.book_equity`, the one equity definition
  (its :func:`~solvent.accounts.equity.equity_usd` part):
  collateral (a balance in ``U`` moves with it, haircuts at the moved price), option values,
  and the unrealized P&L since each position's ``entry_price``. A future or perpetual without
  one is taken as entered at its current mark (:func:`entered_at_marks`): its P&L so far is in
  the collateral, its P&L from here on moves with ``P``.

Search: ``f`` on a geometric grid from the index outwards (:data:`GRID_STEP` apart), down to
:data:`LOWEST` x index and up to :data:`HIGHEST` x index; the first grid interval where ``f``
changes sign brackets the price nearest the index on that side, then Brent's method finds it to
machine precision (:func:`scipy.optimize.brentq`). For a unit already below MM (``f(index) < 0``)
the same search gives the nearest price on each side where the equity is back at MM. No sign
change on a side: ``None`` (no liquidation price between 1 % and 10x the index). Two roots
closer than one grid step apart (a dip below MM and back within 1 step) are not seen: the limits
are documented in the methodology.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import brentq

from solvent.accounts.equity import equity_usd
from solvent.collateral.valuation import ExternalBalances
from solvent.errors import SolventInputError
from solvent.instruments.terms import InstrumentKind
from solvent.margin.moved import move_priced, prepared_mover
from solvent.margin.protocol import Detail, MarginModel, PricedMarket
from solvent.margin.registry import get_model, resolve_alias
from solvent.market.moves import reference_price, restrict
from solvent.market.snapshot import INDEX_BOUNDS, USD_ASSETS, MarketSnapshot
from solvent.portfolio.book import Book
from solvent.portfolio.portfolio import Portfolio

LOWEST = 0.01
"""Lowest price searched, as a fraction of the index (1 %)."""
HIGHEST = 10.0
"""Highest price searched, as a multiple of the index (10x)."""
GRID_STEP = 1.25
"""Ratio between two neighbouring grid prices (the bracketing resolution)."""
TOLERANCE = 1e-6
"""At a returned price ``|equity - MM| <= TOLERANCE x max(MM, 1 USD)`` (tests hold it)."""
STOP_TOLERANCE = 1e-2 * TOLERANCE
"""Brent's method stops at the first price where ``|equity - MM| <= STOP_TOLERANCE x max(MM,
1 USD)`` (or when the bracket is 4 machine epsilons wide): a hundredth of :data:`TOLERANCE`."""


@dataclass(frozen=True, slots=True)
class LiquidationPrice:
    """A margin unit's liquidation prices on one underlying (USD; ``None``: none between
    :data:`LOWEST` and :data:`HIGHEST` x the index). ``equity_usd`` and
    ``maintenance_margin_usd`` are the unit's figures at the current index."""

    account: str
    model: str
    underlying: str
    index: float
    down: float | None
    up: float | None
    equity_usd: float
    maintenance_margin_usd: float
    evaluations: int = 0
    """How many prices the search margined (the index included): its cost in margin calls."""

    @property
    def distance_down(self) -> float | None:
        """Relative fall to :attr:`down` (0.12 = the underlying 12 % lower), or ``None``."""
        return None if self.down is None else (self.index - self.down) / self.index

    @property
    def distance_up(self) -> float | None:
        """Relative rise to :attr:`up` (0.12 = the underlying 12 % higher), or ``None``."""
        return None if self.up is None else (self.up - self.index) / self.index


@dataclass(frozen=True, slots=True)
class ExternalCollateral:
    """Admitted collateral held elsewhere (docs/cross-venue.md) for one unit: ``balances`` is the
    one-row :class:`~solvent.collateral.valuation.ExternalBalances` over ``symbols`` (coin, so it
    moves with the price like any balance); ``symbols`` include every asset of the portfolio's
    own collateral."""

    symbols: tuple[str, ...]
    balances: ExternalBalances


@dataclass(frozen=True)
class UnitMargin:
    """Equity and maintenance margin of one unit as functions of the price of one underlying,
    with everything that does not depend on the price resolved once: the book, the market
    restricted to its instruments, the model's state at the index (``prepared``) and ``mover``,
    the model's fastest way to its state at another price
    (:func:`~solvent.margin.moved.prepared_mover`: the state ``prepare`` gives on the moved
    market, bit for bit)."""

    portfolio: Portfolio
    model: MarginModel
    params: Any
    book: Book
    priced: PricedMarket
    balances: np.ndarray[Any, np.dtype[np.float64]]
    symbols: tuple[str, ...]
    underlying: str
    prepared: Any
    mover: Callable[[PricedMarket], Any]
    external: ExternalBalances | None = None
    evaluated: dict[float, tuple[float, float]] = field(
        default_factory=dict, compare=False, repr=False
    )
    """``(equity_usd, maintenance_margin_usd)`` at every price margined so far: the search
    never margins the same price twice (Brent's method starts from the bracket's two grid
    prices, already known)."""

    @classmethod
    def build(
        cls,
        portfolio: Portfolio,
        market: MarketSnapshot,
        model: str,
        params: str | None,
        underlying: str,
        external: ExternalCollateral | None = None,
    ) -> UnitMargin:
        """Resolve ``portfolio`` (one margin unit, with its admitted ``external`` collateral) under
        ``model`` on ``market``."""
        margin_model = get_model(resolve_alias(model, params))
        loaded = margin_model.load_params(params)
        book = Book.from_portfolios([entered_at_marks(portfolio, market)])
        small = restrict(market, book.instruments)
        priced = PricedMarket.resolve(small, book.instruments)
        symbols = tuple(sorted(portfolio.collateral)) if external is None else external.symbols
        balances = np.array(
            [[portfolio.collateral.get(s, 0.0) for s in symbols]], dtype=np.float64
        ).reshape(1, len(symbols))
        prepared: Any = None
        mover: Callable[[PricedMarket], Any] = _no_positions
        if book.instruments:  # a unit of collateral alone has no margin to prepare
            prepared = margin_model.prepare(priced, book.instruments, loaded)
            mover = prepared_mover(margin_model, loaded, priced, prepared, underlying)
        return cls(
            portfolio,
            margin_model,
            loaded,
            book,
            priced,
            balances,
            symbols,
            underlying,
            prepared,
            mover,
            None if external is None else external.balances,
        )

    def at(self, priced: PricedMarket, prepared: Any) -> tuple[float, float]:
        """``(equity_usd, maintenance_margin_usd)`` on ``priced``, the model's state there being
        ``prepared``."""
        equity = equity_usd(
            self.balances,
            self.symbols,
            self.book.quantities,
            priced,
            external=self.external,
            entry=self.book.entry,
        )[0]
        if self.book.instruments:
            result = self.model.margin(prepared, self.book, detail=Detail.TOTALS)
            mm = float(result.maintenance_margin_usd[0])
        else:
            mm = 0.0
        return float(equity), mm

    def at_index(self) -> tuple[float, float]:
        """``(equity_usd, maintenance_margin_usd)`` at the current index."""
        return self.at(self.priced, self.prepared)

    def at_price(self, price: float) -> tuple[float, float]:
        """``(equity_usd, maintenance_margin_usd)`` with :attr:`underlying` at ``price`` USD."""
        moved = self.moved(price)
        return self.at(moved, self.mover(moved))

    def moved(self, price: float) -> PricedMarket:
        """The unit's market with :attr:`underlying` at ``price`` USD."""
        return move_priced(self.priced, self.underlying, price)

    def excess(self, price: float) -> float:
        """``equity - MM`` (USD) with the underlying at ``price`` (each price margined once)."""
        known = self.evaluated.get(price)
        if known is None:
            known = self.evaluated[price] = self.at_price(price)
        return known[0] - known[1]

    def met(self, price: float) -> bool:
        """Whether the equity at ``price`` (already margined) is MM to within a hundredth of
        :data:`TOLERANCE`: the search may stop there."""
        equity, mm = self.evaluated[price]
        return abs(equity - mm) <= STOP_TOLERANCE * max(mm, 1.0)


def _no_positions(moved: PricedMarket) -> None:
    """The mover of a unit without positions: no model state to prepare."""
    return None


def entered_at_marks(portfolio: Portfolio, market: MarketSnapshot) -> Portfolio:
    """``portfolio`` with every future and perpetual that has no ``entry_price`` entered at its
    current mark (docs/formats.md 2: such a position is taken as marked at the mark, its P&L
    so far settled into the collateral). Equal equity on ``market``; on a moved market its P&L
    since the current mark then counts, as it must."""
    positions = []
    for i, pos in enumerate(portfolio.positions):
        quote = market.quote(pos.instrument, f"positions[{i}].instrument")
        delta_one = quote.instrument.kind in (InstrumentKind.FUTURE, InstrumentKind.PERPETUAL)
        if pos.entry_price is None and delta_one:
            pos = dataclasses.replace(pos, entry_price=quote.mark_price)
        positions.append(pos)
    return dataclasses.replace(portfolio, positions=tuple(positions))


def default_underlying(portfolio: Portfolio, market: MarketSnapshot) -> str:
    """The underlying a liquidation price is asked about when none is named: the one with the
    largest gross notional (``|quantity| x contract size x forward``, USD) among the positions;
    without positions, the non-stablecoin collateral asset of largest USD value. Raises
    :class:`SolventInputError` naming ``underlying`` when there is neither."""
    notional: dict[str, float] = {}
    for i, pos in enumerate(portfolio.positions):
        quote = market.quote(pos.instrument, f"positions[{i}].instrument")
        u = quote.instrument.underlying
        size = abs(pos.quantity) * quote.instrument.contract_size * quote.forward
        notional[u] = notional.get(u, 0.0) + size
    if not notional:
        for asset, amount in portfolio.collateral.items():
            if asset in USD_ASSETS or asset not in market.index:
                continue
            notional[asset] = abs(amount) * market.index[asset]
    if not notional:
        raise SolventInputError(
            "underlying", "the account holds nothing that moves with an underlying: name one"
        )
    return max(sorted(notional), key=lambda u: notional[u])


def held_underlyings(portfolio: Portfolio, market: MarketSnapshot) -> list[str]:
    """Every underlying the unit's positions are on, and every non-stablecoin collateral asset
    the index prices, sorted."""
    found = {market.quote(p.instrument).instrument.underlying for p in portfolio.positions}
    found |= {a for a, v in portfolio.collateral.items() if v and a in market.index}
    return sorted(u for u in found if u not in USD_ASSETS)


def _grid(index: float, toward: float) -> list[float]:
    """Prices from ``index`` (excluded) to ``toward`` (included), ``GRID_STEP`` apart."""
    steps = math.ceil(abs(math.log(toward / index)) / math.log(GRID_STEP))
    ratios = np.exp(np.linspace(0.0, math.log(toward / index), steps + 1))[1:]
    return [float(index * r) for r in ratios]


class _RootFoundError(Exception):
    """Raised inside Brent's method at a price where MM is met (ends the iteration there)."""

    def __init__(self, price: float) -> None:
        super().__init__(price)
        self.price = price


def _nearest_root(unit: UnitMargin, index: float, f_index: float, toward: float) -> float | None:
    """The price nearest ``index`` between ``index`` and ``toward`` where the unit's equity
    meets its MM (``f_index``: ``equity - MM`` at the index), or ``None``."""
    if f_index == 0.0:
        return index
    previous, f_previous = index, f_index
    for price in _grid(index, toward):
        value = unit.excess(price)
        if value == 0.0:
            return price
        if (value > 0.0) != (f_previous > 0.0):
            return _refine(unit, *sorted((previous, price)))
        previous, f_previous = price, value
    return None


def _refine(unit: UnitMargin, lo: float, hi: float) -> float:
    """Brent's method on ``[lo, hi]`` (a sign change of ``equity - MM``), stopped at the first
    price where MM is met to :data:`STOP_TOLERANCE` (:meth:`UnitMargin.met`)."""
    for end in (lo, hi):
        if unit.met(end):
            return end

    def f(price: float) -> float:
        value = unit.excess(price)
        if unit.met(price):
            raise _RootFoundError(price)
        return value

    try:
        root = brentq(f, lo, hi, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=200)
    except _RootFoundError as found:
        return found.price
    return float(root)


def liquidation_price(
    portfolio: Portfolio,
    market: MarketSnapshot,
    model: str = "standard",
    params: str | None = None,
    underlying: str | None = None,
    *,
    external: ExternalCollateral | None = None,
) -> LiquidationPrice:
    """The liquidation prices (down and up) of ``portfolio`` (one margin unit, with its
    admitted ``external`` collateral, if any) on ``underlying`` (default:
    :func:`default_underlying`) under ``model`` (see the module docstring)."""
    if underlying is None:
        underlying = default_underlying(portfolio, market)
    index = reference_price(market, underlying)
    unit = UnitMargin.build(portfolio, market, model, params, underlying, external)
    equity, mm = unit.evaluated[index] = unit.at_index()
    f_index = equity - mm
    lo_bound, hi_bound = INDEX_BOUNDS
    down = _nearest_root(unit, index, f_index, max(index * LOWEST, lo_bound))
    up = _nearest_root(unit, index, f_index, min(index * HIGHEST, hi_bound))
    return LiquidationPrice(
        account=portfolio.account,
        model=unit.model.name,
        underlying=underlying,
        index=index,
        down=down,
        up=up,
        equity_usd=equity,
        maintenance_margin_usd=mm,
        evaluations=len(unit.evaluated),
    )


def liquidation_prices(
    portfolio: Portfolio,
    market: MarketSnapshot,
    model: str = "standard",
    params: str | None = None,
    underlyings: Sequence[str] | None = None,
    *,
    external: ExternalCollateral | None = None,
) -> list[LiquidationPrice]:
    """:func:`liquidation_price` on each of ``underlyings`` (default: every underlying the unit
    holds, :func:`held_underlyings`), in that order."""
    names = held_underlyings(portfolio, market) if underlyings is None else list(underlyings)
    return [
        liquidation_price(portfolio, market, model, params, u, external=external) for u in names
    ]
