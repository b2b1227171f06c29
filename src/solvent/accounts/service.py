"""Accounts, sub-accounts and cross-margin on top of the ledger.

A *margin unit* is what one margin calculation covers:

- a root account together with its ``cross`` sub-accounts: their balances are pooled and their
  positions netted into one portfolio, margined with the root's model (a gain in one covers a loss
  in another);
- an ``isolated`` sub-account alone, on its own collateral, with its own model.

Equity (USD) of a unit = collateral value with haircuts (:mod:`solvent.collateral.valuation`) of
the pooled balances *plus* the positions marked to market and settled virtually into their
settlement asset: futures/perpetuals add their unrealized P&L (``q * (mark - avg) * size`` for
linear, that amount divided by the mark for inverse, in coin), options add their mark value
(``q * mark * size``; premium was paid in cash at the trade). A positive virtual amount is haircut
like the asset; a negative one is a debt without haircut benefit.

The margin requirement comes from an injected :class:`MarginFunction` (:func:`registry_margin`,
the registered models, is what the CLI wires), so the account logic is testable on its own.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Protocol

from solvent.accounts.health import Health, HealthState, assess
from solvent.collateral.assets import (
    Asset,
    AssetRegistry,
    format_decimal,
    parse_amount,
    parse_decimal,
)
from solvent.collateral.schedule import HaircutSchedule
from solvent.collateral.valuation import value_collateral
from solvent.errors import SolventInputError, StaleDataError
from solvent.instruments.terms import InstrumentKind
from solvent.ledger.bands import PriceBands, default_price_bands
from solvent.ledger.model import (
    EXTERNAL,
    VENUE,
    AccountKind,
    PositionState,
    Reason,
    TradeStyle,
    TradeTerms,
    transfer,
)
from solvent.ledger.store import (
    AccountRecord,
    AuditReport,
    InsufficientFundsError,
    Ledger,
    LedgerTransaction,
    Overdraft,
    RefClaimedError,
    TradeRecord,
    fill_cash,
    fill_postings,
    posting_refusal,
)
from solvent.margin.protocol import Detail, MarginModel, PricedMarket, margin_book
from solvent.margin.registry import get_model
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.book import Book
from solvent.portfolio.portfolio import Portfolio, Position, SubAccountMode
from solvent.pricing.delta_one import inverse_pnl_total, linear_pnl_total
from solvent.validation import iso_utc


class MarginFigures(Protocol):
    """What the accounts layer needs from a margin result (USD, positive requirements)."""

    @property
    def initial_margin_usd(self) -> float: ...

    @property
    def maintenance_margin_usd(self) -> float: ...


MarginFunction = Callable[[Portfolio, MarketSnapshot, str], MarginFigures]
"""``margin(portfolio, market, model) -> figures``: the requirement of one margin unit."""


@dataclass(frozen=True, slots=True)
class _Figures:
    initial_margin_usd: float
    maintenance_margin_usd: float


def registry_margin(portfolio: Portfolio, market: MarketSnapshot, model: str) -> MarginFigures:
    """The registered margin models as a :class:`MarginFunction`: the requirement (USD) of one
    margin unit's netted positions under ``model`` with its default parameters."""
    if not portfolio.positions:
        get_model(model)  # an unknown model is still an error
        return _Figures(0.0, 0.0)
    result = margin_book(
        get_model(model), Book.from_portfolios([portfolio]), market, detail=Detail.TOTALS
    )
    return _Figures(float(result.initial_margin_usd[0]), float(result.maintenance_margin_usd[0]))


class PreparedMargins:
    """:func:`registry_margin` for a long-running process (the HTTP service): each model's
    parameters are loaded once, and its prepared state (risk arrays...) is kept per instrument
    set, for the ``size`` sets used last on the :data:`SNAPSHOTS_KEPT` market snapshots seen
    last (a ticking feed moves to a new snapshot every tick: older ones are let go), so checking
    the same kind of unit or order again on the same snapshot only margins. The figures are
    :func:`registry_margin`'s exactly (the protocol's prepare-once contract). Thread-safe."""

    SNAPSHOTS_KEPT = 2

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._models: dict[str, tuple[MarginModel, Any]] = {}
        self._markets: list[MarketSnapshot] = []
        self._prepared: OrderedDict[tuple[int, str, tuple[str, ...]], Any] = OrderedDict()

    def __call__(self, portfolio: Portfolio, market: MarketSnapshot, model: str) -> MarginFigures:
        if not portfolio.positions:
            return registry_margin(portfolio, market, model)
        book = Book.from_portfolios([portfolio])
        margin_model, params = self._model(model)
        key = (id(market), model, book.instruments)
        with self._lock:
            known = any(m is market for m in self._markets)
            prepared = self._prepared.get(key) if known else None
            if prepared is not None:
                self._prepared.move_to_end(key)
        if prepared is None:
            priced = PricedMarket.resolve(market, book.instruments)
            prepared = margin_model.prepare(priced, book.instruments, params)
            self._keep(market, key, prepared)
        result = margin_model.margin(prepared, book, detail=Detail.TOTALS)
        return _Figures(
            float(result.initial_margin_usd[0]), float(result.maintenance_margin_usd[0])
        )

    def _keep(
        self, market: MarketSnapshot, key: tuple[int, str, tuple[str, ...]], prepared: Any
    ) -> None:
        with self._lock:
            if not any(m is market for m in self._markets):
                self._markets.append(market)
                if len(self._markets) > self.SNAPSHOTS_KEPT:
                    gone = id(self._markets.pop(0))
                    for stale in [k for k in self._prepared if k[0] == gone]:
                        del self._prepared[stale]
            self._prepared[key] = prepared
            while len(self._prepared) > self._size:
                self._prepared.popitem(last=False)

    def _model(self, name: str) -> tuple[MarginModel, Any]:
        loaded = self._models.get(name)
        if loaded is None:
            model = get_model(name)
            loaded = self._models[name] = (model, model.load_params(None))
        return loaded


@dataclass(frozen=True, slots=True)
class Order:
    """A what-if order: signed ``quantity`` of ``instrument`` (filled at the mark, no fee)."""

    instrument: str
    quantity: Decimal


#: How old a market snapshot may be for operations that need marks (trade, withdraw): 5 minutes.
DEFAULT_MAX_MARKET_AGE = timedelta(minutes=5)


def wall_clock() -> datetime:
    """Now, UTC (the default clock of :class:`AccountService`)."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class MarketFreshness:
    """The freshness rule for operations that need marks: ``|now - market.as_of| <= max_age``,
    with ``now`` from ``clock`` (the wall clock by default; a fixed instant for replays)."""

    max_age: timedelta = DEFAULT_MAX_MARKET_AGE
    clock: Callable[[], datetime] = wall_clock

    def check(self, market: MarketSnapshot, field: str = "market") -> None:
        """Refuse a snapshot older (or further in the future) than ``max_age``."""
        now = self.clock()
        age = (now - market.as_of).total_seconds()
        limit = self.max_age.total_seconds()
        if abs(age) > limit:
            when = "old" if age > 0 else "in the future"
            raise StaleDataError(
                field,
                f"the market snapshot (as_of {iso_utc(market.as_of)}) is {abs(age):.0f} s "
                f"{when} at {iso_utc(now)}, beyond the {limit:.0f} s allowed for trades and "
                "withdrawals (pass a fresh market, or --now/--max-market-age for a replay)",
            )


@dataclass(frozen=True, slots=True)
class UnitHealth:
    """A margin unit's health and the collateral assets the market could not price (each counted
    for zero in the equity and the collateral value)."""

    health: Health
    unpriced: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AccountView:
    """An account's own balances (base units) and positions, and its margin unit's health.
    ``unpriced``: assets of the unit the market has no index price for (counted for zero)."""

    account: AccountRecord
    balances: Mapping[str, int]
    positions: tuple[PositionState, ...]
    unit: tuple[str, ...]
    health: Health
    unpriced: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CheckResult:
    """Answer of a pre-trade check: the unit's health as it would be after the orders."""

    accepted: bool
    reason: str
    health: Health

    @classmethod
    def of(cls, health: Health) -> CheckResult:
        """The verdict on ``health``: accepted when equity covers initial margin, with the
        reason in USD either way."""
        if health.excess_usd >= 0:
            reason = (
                f"equity {health.equity_usd:.2f} USD covers initial margin "
                f"{health.initial_margin_usd:.2f} USD"
            )
        else:
            reason = (
                f"initial margin {health.initial_margin_usd:.2f} USD would exceed equity "
                f"{health.equity_usd:.2f} USD by {-health.excess_usd:.2f} USD"
            )
        return cls(health.excess_usd >= 0, reason, health)


def trade_terms(market: MarketSnapshot, instrument: str, field: str = "instrument") -> TradeTerms:
    """How the ledger books ``instrument`` (from the market's terms). Spot is not a position:
    move spot assets with deposits and withdrawals."""
    terms = market.quote(instrument, field).instrument
    if terms.kind is InstrumentKind.SPOT:
        raise SolventInputError(field, f"{instrument!r} is spot: deposit or withdraw the asset")
    return TradeTerms(
        instrument=terms.name,
        style=TradeStyle.PREMIUM if terms.is_option else TradeStyle.FUTURES,
        settlement=terms.settlement,
        settlement_asset=terms.settlement_asset,
        contract_size=Decimal(repr(terms.contract_size)),
    )


@dataclass(frozen=True, slots=True)
class Receipt:
    """A committed deposit or withdrawal: its operation id, and whether this answer replays the
    first result of the same client reference (nothing was written this time)."""

    operation_id: int
    replayed: bool = False


def _health_json(health: Health) -> dict[str, Any]:
    """The stored form of ``health`` in a client reference's result (read back by
    :func:`_health_from_json` when a retry replays it). Deliberately not
    :func:`solvent.engine.views.health_json`: that is the wire view (a higher layer, free to
    change), this is a persistence format that results already in the database depend on."""
    return {
        "equity_usd": health.equity_usd,
        "collateral_value_usd": health.collateral_value_usd,
        "initial_margin_usd": health.initial_margin_usd,
        "maintenance_margin_usd": health.maintenance_margin_usd,
        "excess_usd": health.excess_usd,
        "margin_ratio": health.margin_ratio,
        "state": health.state.value,
    }


def _health_from_json(raw: Mapping[str, Any]) -> Health:
    return Health(
        equity_usd=float(raw["equity_usd"]),
        collateral_value_usd=float(raw["collateral_value_usd"]),
        initial_margin_usd=float(raw["initial_margin_usd"]),
        maintenance_margin_usd=float(raw["maintenance_margin_usd"]),
        excess_usd=float(raw["excess_usd"]),
        margin_ratio=None if raw["margin_ratio"] is None else float(raw["margin_ratio"]),
        state=HealthState(raw["state"]),
    )


def _priced(market: MarketSnapshot, asset: str) -> bool:
    """Whether ``market`` has a USD price for ``asset`` (an index price, or a USD stablecoin)."""
    try:
        market.price_usd(asset)
    except SolventInputError:
        return False
    return True


def position_value(
    position: PositionState, market: MarketSnapshot, field: str = "positions"
) -> tuple[str, float]:
    """The amount (settlement asset, coin) a position is worth if settled at the mark now: an
    option's mark value, a future's or perpetual's unrealized P&L since its average entry price
    (the formulas of :mod:`solvent.accounts.equity`, with the ledger's average price as entry)."""
    quote = market.quote(position.instrument, field)
    terms = quote.instrument
    q = float(position.quantity) * terms.contract_size
    if terms.is_option:
        return terms.settlement_asset, q * quote.mark_price
    mark = quote.mark_price
    cost = q * float(position.average_price)
    pnl = inverse_pnl_total(q, cost, mark) if terms.is_inverse else linear_pnl_total(q, cost, mark)
    return terms.settlement_asset, float(pnl)


def unit_portfolio(
    account_id: str,
    balances: Mapping[str, Mapping[str, int]],
    positions: Mapping[str, Sequence[PositionState]],
    market: MarketSnapshot,
    assets: AssetRegistry,
) -> Portfolio:
    """A margin unit as one :class:`Portfolio` (docs/formats.md 2) named ``account_id``: the
    members' balances pooled (coin; assets ``market`` cannot price left out: they count for
    zero), and every member's open position with the ledger's average price as its
    ``entry_price``. Its equity under :func:`solvent.accounts.equity.book_equity` is the unit's
    health equity; its margin is the unit's margin (what liquidation prices re-margin)."""
    pooled: dict[str, Decimal] = defaultdict(Decimal)
    for account_balances in balances.values():
        for asset, units in account_balances.items():
            pooled[asset] += assets.get(asset).to_decimal(units)
    collateral = {a: float(v) for a, v in sorted(pooled.items()) if v and _priced(market, a)}
    held = tuple(
        Position(
            pos.instrument,
            float(pos.quantity),
            float(pos.average_price) if pos.average_price > 0 else None,
        )
        for member in sorted(positions)
        for pos in positions[member]
        if pos.quantity != 0
    )
    return Portfolio(account=account_id, collateral=MappingProxyType(collateral), positions=held)


class AccountService:
    """Account operations with margin checks; every write is one ledger transaction."""

    def __init__(
        self,
        ledger: Ledger,
        margin: MarginFunction,
        schedule: HaircutSchedule | None = None,
        *,
        bands: PriceBands | None = None,
        freshness: MarketFreshness | None = None,
    ) -> None:
        self.ledger = ledger
        self.margin = margin
        self.schedule = schedule
        self.bands = bands or default_price_bands()
        self.freshness = freshness or MarketFreshness()

    # --- structure -----------------------------------------------------------------------------

    def create(
        self,
        account_id: str,
        *,
        parent: str | None = None,
        mode: SubAccountMode | None = None,
        model: str = "standard",
    ) -> AccountRecord:
        """Create an account, or a ``cross``/``isolated`` sub-account of ``parent``."""
        get_model(model)  # a clear error naming the known models; nothing written

        return self.ledger.create_account(account_id, parent=parent, mode=mode, model=model)

    @staticmethod
    def unit_of(tx: LedgerTransaction, record: AccountRecord) -> tuple[AccountRecord, ...]:
        """The margin unit of ``record``: itself if isolated, else its root and cross siblings."""
        if record.mode is SubAccountMode.ISOLATED:
            return (record,)
        family = tx.family(record.root)
        return tuple(r for r in family if r.mode is not SubAccountMode.ISOLATED)

    # --- health --------------------------------------------------------------------------------

    def _health(
        self, tx: LedgerTransaction, unit: Sequence[AccountRecord], market: MarketSnapshot
    ) -> Health:
        return self._unit_health(tx, unit, market).health

    def _unit_health(
        self,
        tx: LedgerTransaction | None,
        unit: Sequence[AccountRecord],
        market: MarketSnapshot,
        held: tuple[Mapping[str, Mapping[str, int]], Mapping[str, Sequence[PositionState]]]
        | None = None,
    ) -> UnitHealth:
        """Health of ``unit``. A balance in an asset the market has no index price for counts for
        zero (never a debt: balances are never negative) and is listed in ``unpriced``; it never
        blocks the account. The venue's own accounts have no margin requirement. ``held``: the
        unit's balances and positions when the caller has already read them in ``tx``."""
        ids = [r.id for r in unit]
        if held is None:
            assert tx is not None, "give the transaction or what it holds"
            held = (tx.balances(ids), tx.positions(ids))
        balances, positions = held
        pooled: dict[str, Decimal] = defaultdict(Decimal)
        for account_balances in balances.values():
            for asset, units in account_balances.items():
                pooled[asset] += self.ledger.assets.get(asset).to_decimal(units)
        unpriced = tuple(sorted(a for a, v in pooled.items() if v and not _priced(market, a)))
        netted: dict[str, Decimal] = defaultdict(Decimal)
        marked: dict[str, float] = {
            a: float(v) for a, v in pooled.items() if v and a not in unpriced
        }
        collateral = value_collateral(marked, market, self.schedule, self.ledger.assets)
        for account_positions in positions.values():
            for pos in account_positions:
                netted[pos.instrument] += pos.quantity
                asset, amount = position_value(pos, market)
                marked[asset] = marked.get(asset, 0.0) + amount
        equity = value_collateral(marked, market, self.schedule, self.ledger.assets)
        root = unit[0]
        portfolio = Portfolio(
            account=root.id,
            collateral={a: v for a, v in marked.items() if v},
            positions=tuple(
                Position(name, float(q)) for name, q in sorted(netted.items()) if q != 0
            ),
        )
        if root.kind is AccountKind.USER:
            figures = self.margin(portfolio, market, root.model)
            im, mm = float(figures.initial_margin_usd), float(figures.maintenance_margin_usd)
        else:
            im = mm = 0.0
        return UnitHealth(assess(equity.value_usd, collateral.value_usd, im, mm), unpriced)

    def show(self, account_id: str, market: MarketSnapshot) -> AccountView:
        """The account's balances and positions and its margin unit's health."""
        with self.ledger.transaction() as tx:
            record = tx.account(account_id)
            unit = self.unit_of(tx, record)
            ids = [r.id for r in unit]
            balances, positions = tx.balances(ids), tx.positions(ids)
            state = self._unit_health(tx, unit, market, (balances, positions))
            return AccountView(
                account=record,
                balances={a: u for a, u in balances[account_id].items() if u},
                positions=tuple(positions[account_id]),
                unit=tuple(r.id for r in unit),
                health=state.health,
                unpriced=state.unpriced,
            )

    def portfolio(self, account_id: str, market: MarketSnapshot) -> tuple[Portfolio, str]:
        """The margin unit of ``account_id`` as one portfolio with entry prices
        (:func:`unit_portfolio`, named after the unit's root) and the unit's margin model."""
        with self.ledger.transaction() as tx:
            record = tx.account(account_id)
            unit = self.unit_of(tx, record)
            ids = [r.id for r in unit]
            held = unit_portfolio(
                unit[0].id, tx.balances(ids), tx.positions(ids), market, self.ledger.assets
            )
            return held, unit[0].model

    # --- money ---------------------------------------------------------------------------------

    def _once(
        self,
        ref: str | None,
        kind: Reason,
        account_id: str,
        request: Mapping[str, Any],
        body: Callable[[LedgerTransaction], tuple[int, dict[str, Any]]],
    ) -> tuple[Mapping[str, Any], bool]:
        """Run ``body`` in one transaction, at most once per client reference ``ref``.

        Returns ``(result, replayed)``. Without ``ref``: ``body``'s result, ``False``. With ``ref``:
        the first call commits the operation together with the reference and its result; a retry
        with the same reference and the same request writes nothing and returns the first result
        (``True``); the same reference with another request is refused. A refused operation
        records nothing (its retry is evaluated afresh)."""
        if ref is None:
            with self.ledger.transaction() as tx:
                return body(tx)[1], False
        for attempt in range(2):
            try:
                with self.ledger.transaction() as tx:
                    stored = tx.claim_ref(ref, kind, account_id, request)
                    if stored is not None:
                        return stored, True
                    op_id, result = body(tx)
                    tx.complete_ref(ref, op_id, result)
                    return result, False
            except RefClaimedError:
                # PostgreSQL: a concurrent request with the same reference committed first
                if attempt:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def deposit(
        self,
        account_id: str,
        asset: str,
        amount: str,
        reference: str = "",
        *,
        ref: str | None = None,
    ) -> Receipt:
        """Deposit a decimal-string ``amount`` of ``asset`` into a user account, or into one of the
        venue's own accounts (``@venue``: the capital it pays P&L and premiums from). Assets outside
        the collateral schedule are refused. ``ref``: the client's idempotency key."""
        spec = self._collateral_asset(asset)
        units = parse_amount(spec, amount)

        def body(tx: LedgerTransaction) -> tuple[int, dict[str, Any]]:
            record = tx.account(account_id)
            if record.kind is AccountKind.EXTERNAL:
                raise SolventInputError("account", f"{account_id!r} is not a ledger account")
            op_id = tx.post(
                transfer(
                    EXTERNAL,
                    account_id,
                    asset,
                    units,
                    Reason.DEPOSIT,
                    reference or f"deposit:{account_id}",
                ),
                Overdraft.REFUSE,
            )
            return op_id, {"operation": op_id}

        request = {"asset": asset, "units": units}
        result, replayed = self._once(ref, Reason.DEPOSIT, account_id, request, body)
        return Receipt(int(result["operation"]), replayed)

    def _collateral_asset(self, asset: str) -> Asset:
        """``asset`` if the collateral schedule (the asset registry and its haircut classes)
        accepts it, else a clear error."""
        if asset not in self.ledger.assets:
            known = ", ".join(sorted(a.symbol for a in self.ledger.assets))
            raise SolventInputError(
                "asset",
                f"unknown asset {asset!r}: not in the collateral schedule (accepted: {known})",
            )
        return self.ledger.assets.get(asset)

    def withdraw(
        self,
        account_id: str,
        asset: str,
        amount: str,
        market: MarketSnapshot,
        reference: str = "",
        *,
        ref: str | None = None,
    ) -> tuple[Receipt, Health]:
        """Withdraw ``amount`` of ``asset``: refused (nothing written) beyond the balance, with a
        market older than the freshness limit, or when the margin unit would fall below its initial
        margin. The venue's own accounts have no margin: only their balance bounds them. ``ref``:
        the client's idempotency key (a retry returns the first receipt and health)."""
        spec = self.ledger.assets.get(asset)
        units = parse_amount(spec, amount)

        def body(tx: LedgerTransaction) -> tuple[int, dict[str, Any]]:
            record = tx.account(account_id)
            if record.kind is AccountKind.EXTERNAL:
                raise SolventInputError("account", f"{account_id!r} is not a ledger account")
            if record.kind is AccountKind.USER:
                self.freshness.check(market)
            unit = self.unit_of(tx, record)
            tx.lock(r.id for r in unit)
            op_id = tx.post(
                transfer(
                    account_id,
                    EXTERNAL,
                    asset,
                    units,
                    Reason.WITHDRAWAL,
                    reference or f"withdrawal:{account_id}",
                ),
                Overdraft.REFUSE,
            )
            health = self._health(tx, unit, market)
            if not health.excess_usd >= 0:  # NaN (an incomputable figure) refuses too
                raise SolventInputError(
                    "amount",
                    f"withdrawal would leave {unit[0].id!r} below initial margin "
                    f"(equity {health.equity_usd:.2f} USD < IM "
                    f"{health.initial_margin_usd:.2f} USD)",
                )
            return op_id, {"operation": op_id, "health": _health_json(health)}

        request = {"asset": asset, "units": units}
        result, replayed = self._once(ref, Reason.WITHDRAWAL, account_id, request, body)
        return Receipt(int(result["operation"]), replayed), _health_from_json(result["health"])

    def trade(
        self,
        account_id: str,
        instrument: str,
        quantity: str,
        price: str,
        market: MarketSnapshot,
        fee: str | None = None,
        reference: str = "",
        *,
        ref: str | None = None,
    ) -> tuple[TradeRecord, Health]:
        """Book a fill (decimal strings); refused (nothing written) when the price is outside the
        instrument kind's band around the mark, the market is older than the freshness limit, the
        account or ``@venue`` cannot pay what the fill settles, or the margin unit would end below
        its initial margin. ``ref``: the client's idempotency key (a retry returns the first
        record, with ``replayed`` set, and the first health)."""
        q = parse_decimal(quantity, "quantity")
        p = parse_decimal(price, "price")
        if q == 0:
            raise SolventInputError("quantity", "must not be zero")
        if p <= 0:
            raise SolventInputError("price", "must be greater than zero")
        terms = trade_terms(market, instrument)
        asset = self.ledger.assets.get(terms.settlement_asset, "settlement_asset")
        fee_units = 0
        if fee is not None:
            fee_value = parse_decimal(fee, "fee")
            if fee_value < 0:
                raise SolventInputError("fee", "must not be negative")
            fee_units = asset.to_units(fee_value, "fee")

        def body(tx: LedgerTransaction) -> tuple[int, dict[str, Any]]:
            self.freshness.check(market)
            self.bands.check(market.quote(instrument), p)
            record = tx.account(account_id)
            if record.kind is not AccountKind.USER:
                raise SolventInputError("account", f"{account_id!r} is not a user account")
            unit = self.unit_of(tx, record)
            tx.lock(r.id for r in unit)
            booked = tx.trade(
                account_id, terms, q, p, fee_units, reference or f"trade:{instrument}"
            )
            health = self._health(tx, unit, market)
            if not health.excess_usd >= 0:  # NaN (an incomputable figure) refuses too
                # Blame the fee when the trade alone would have passed (the fee is cash out).
                fee_usd = float(asset.to_decimal(fee_units)) * market.price_usd(asset.symbol)
                blamed = "fee" if fee_units and health.excess_usd + fee_usd >= 0 else "quantity"
                raise SolventInputError(
                    blamed,
                    f"trade would leave {unit[0].id!r} below initial margin "
                    f"(equity {health.equity_usd:.2f} USD < IM "
                    f"{health.initial_margin_usd:.2f} USD)",
                )
            position = booked.position
            return booked.operation_id, {
                "operation": booked.operation_id,
                "realized_units": booked.realized_units,
                "fee_units": booked.fee_units,
                "position": {
                    "quantity": str(position.quantity),
                    "average_price": str(position.average_price),
                    "realized_pnl": str(position.realized_pnl),
                },
                "health": _health_json(health),
            }

        request = {
            "instrument": instrument,
            "quantity": format_decimal(q),
            "price": format_decimal(p),
            "fee_units": fee_units,
        }
        result, replayed = self._once(ref, Reason.TRADE, account_id, request, body)
        stored = result["position"]
        record = TradeRecord(
            int(result["operation"]),
            PositionState(
                terms.instrument,
                Decimal(stored["quantity"]),
                Decimal(stored["average_price"]),
                Decimal(stored["realized_pnl"]),
                terms.settlement_asset,
            ),
            int(result["realized_units"]),
            int(result["fee_units"]),
            replayed,
        )
        return record, _health_from_json(result["health"])

    def check(
        self, account_id: str, orders: Sequence[Order], market: MarketSnapshot
    ) -> CheckResult:
        """Would ``orders`` (filled at the mark, no fee) keep the unit at or above IM? Changes
        nothing and writes nothing: the unit is read in one read-only transaction and the fills
        are applied to that copy with the ledger's own rules (:func:`fill_cash`,
        :func:`posting_refusal`), as :meth:`trade` would book them."""
        if not orders:
            raise SolventInputError("order", "give at least one order")
        with self.ledger.reading() as tx:
            record = tx.account(account_id)
            unit = self.unit_of(tx, record)
            ids = [r.id for r in unit]
            read = tx.balances([*ids, VENUE])  # one query for the unit and the venue
            venue = read[VENUE]
            balances = {a: read[a] for a in sorted(ids)}
            positions = tx.positions(ids)
        refused: str | None = None
        for i, order in enumerate(orders):
            if order.quantity == 0:
                raise SolventInputError(f"order[{i}].quantity", "must not be zero")
            terms = trade_terms(market, order.instrument, f"order[{i}].instrument")
            mark = Decimal(repr(market.quote(order.instrument).mark_price))
            try:
                self._fill_copy(record, terms, order.quantity, mark, balances, positions, venue)
            except InsufficientFundsError as exc:
                refused = f"order[{i}] would be refused: {exc.message}"
                break
        health = self._unit_health(None, unit, market, (balances, positions)).health
        if refused is not None:
            return CheckResult(False, refused, health)
        return CheckResult.of(health)

    def _fill_copy(
        self,
        record: AccountRecord,
        terms: TradeTerms,
        quantity: Decimal,
        price: Decimal,
        balances: dict[str, dict[str, int]],
        positions: dict[str, list[PositionState]],
        venue: dict[str, int],
    ) -> None:
        """Apply a fill to copies of the unit's balances and positions and ``@venue``'s balances
        (read from the ledger), refused as :meth:`LedgerTransaction.trade` would refuse it."""
        account_id = record.id
        asset = self.ledger.assets.get(terms.settlement_asset, "settlement_asset")
        held = positions[account_id]
        before = next(
            (p for p in held if p.instrument == terms.instrument),
            PositionState(terms.instrument, Decimal(0), Decimal(0), Decimal(0), asset.symbol),
        )
        fill, cash = fill_cash(terms, before, quantity, price, asset)
        books = {VENUE: venue, account_id: balances[account_id]}
        kinds = {VENUE: AccountKind.SYSTEM, account_id: record.kind}
        postings = fill_postings(account_id, terms, asset, cash)
        for posting in postings:  # checked as one operation before anything changes
            problem = posting_refusal(
                self.ledger.assets,
                kinds[posting.account],
                posting,
                books[posting.account].get(posting.asset, 0),
            )
            if problem is not None:
                raise problem
        for posting in postings:
            book = books[posting.account]
            book[posting.asset] = book.get(posting.asset, 0) + posting.amount
        kept = [p for p in held if p.instrument != terms.instrument]
        if fill.position.quantity != 0:
            kept.append(fill.position)
        positions[account_id] = sorted(kept, key=lambda p: p.instrument)

    def audit(self) -> AuditReport:
        """The ledger's audit (every balance from the journal, every invariant)."""
        return self.ledger.audit()
