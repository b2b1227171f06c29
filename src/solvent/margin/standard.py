"""``standard``: per-position margin with no offsets, the isolated baseline (METHODOLOGY.md 1).

Every position is margined alone; an account's requirement is the sum over its positions, per
settlement currency (pool). For a position of ``q`` units (``|q|`` its size):

Futures and perpetuals (fraction of notional; notional is ``|q|`` coin for inverse contracts and
``|q| * mark`` USD for linear ones):
    ``IM = |q| * (initial_base + size_slope * |q|)``,
    ``MM = |q| * (maintenance_base + size_slope * |q|)``.
Short options, per unit, in the settlement currency (coin for inverse: fractions of 1 coin; USD for
linear: fractions of the index), ``OTM = max(K - S, 0)`` for a call and ``max(S - K, 0)`` for a
put, ``S`` the index, ``mark`` the option's mark:
    call: ``IM = max(0.15 - OTM / S, 0.10) + mark``, ``MM = 0.075 + mark``;
    put:  ``MM = max(0.075, 0.075 * mark) + mark``,
          ``IM = max(max(0.15 - OTM / S, 0.10) + mark, MM)``.
Long options: no margin beyond the premium paid. Linear positions add a fee provision of
``linear_fee_provision * index * |q|`` to MM.

Components per pool: ``futures_im``, ``options_im`` (IM = their sum) and ``futures_mm``,
``options_mm``, ``fee_provision`` (MM = their sum).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from solvent.arrays import FloatArray, IntArray
from solvent.errors import SolventInputError
from solvent.margin.build import (
    ContributionKind,
    PoolArrays,
    PositionValues,
    build_book_margin,
    canonical_book,
)
from solvent.margin.params import ParamsSchema, Table, frozen_tables, number, table, tables
from solvent.margin.protocol import Detail, MarketData, ParamsId, PricedMarket, require_prepared
from solvent.margin.result import BookMargin, Composition, Explanation
from solvent.margin.standard_kernel import (
    CHUNK_ACCOUNTS,
    StandardRates,
    book_requirements,
    position_requirements,
)
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.book import Book

MODEL_NAME = "standard"
COMPONENTS = ("futures_im", "options_im", "futures_mm", "options_mm", "fee_provision")


DERIBIT_2022 = "Deribit support 2022-01"
OPTIONS_SOURCE = "Deribit option rules (quoted)"


@dataclass(frozen=True, slots=True)
class FuturesRates:
    """Futures margin rates of one underlying (fractions of notional; slope per unit of size)."""

    initial_base: float
    maintenance_base: float
    size_slope: float


@dataclass(frozen=True, slots=True)
class StandardParams:
    """A validated ``standard`` parameter set (``margin/params/standard.toml``)."""

    name: str
    version: str
    futures: Mapping[str, FuturesRates]
    short_initial_max: float
    short_initial_min: float
    short_maintenance: float
    linear_fee_provision: float
    params_id: ParamsId

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"

    def futures_rates(self, underlying: str) -> FuturesRates:
        return self.futures.get(underlying, self.futures["default"])


_FUTURES = Table(
    {
        "initial_base": number(0, 1, unit="fraction of notional"),
        "maintenance_base": number(0, 1, unit="fraction of notional"),
        "size_slope": number(0, 0.01, unit="fraction of notional per unit of size"),
    },
    source=DERIBIT_2022,
)
_OPTIONS = Table(
    {
        "short_initial_max": number(0, 1, unit="fraction of the underlying"),
        "short_initial_min": number(0, 1, unit="fraction of the underlying"),
        "short_maintenance": number(0, 1, unit="fraction of the underlying"),
        "linear_fee_provision": number(0, 0.1, unit="fraction of the index", source="Bybit"),
    },
    source=OPTIONS_SOURCE,
)
FIELDS = Table(
    {
        "futures": tables(_FUTURES, required_keys=("default",), doc="per underlying"),
        "options": table(_OPTIONS),
    }
)


def _build(v: Mapping[str, Any], pid: ParamsId) -> StandardParams:
    """The set, refusing a maintenance rate above its initial one (a maintenance margin above the
    initial margin puts an account just opened in liquidation, and a liquidation aiming at IM
    would stop short of MM)."""
    o = v["options"]
    for name, rates in v["futures"].items():
        if rates["maintenance_base"] > rates["initial_base"]:
            raise SolventInputError(
                f"params.futures.{name}.maintenance_base",
                f"{rates['maintenance_base']:g} exceeds initial_base {rates['initial_base']:g}: "
                "the maintenance margin must not exceed the initial margin",
            )
    if not o["short_maintenance"] <= o["short_initial_min"] <= o["short_initial_max"]:
        raise SolventInputError(
            "params.options.short_maintenance",
            f"must satisfy short_maintenance ({o['short_maintenance']:g}) <= short_initial_min "
            f"({o['short_initial_min']:g}) <= short_initial_max ({o['short_initial_max']:g})",
        )
    return StandardParams(
        name=pid.name,
        version=pid.version,
        futures=frozen_tables(v["futures"], lambda t: FuturesRates(**t)),
        short_initial_max=o["short_initial_max"],
        short_initial_min=o["short_initial_min"],
        short_maintenance=o["short_maintenance"],
        linear_fee_provision=o["linear_fee_provision"],
        params_id=pid,
    )


SCHEMA = ParamsSchema(MODEL_NAME, ("standard",), FIELDS, _build)
"""Declaration, built-in sets and loader of ``standard`` parameters."""


def parse_params(raw: Mapping[str, Any]) -> StandardParams:
    """Validate a complete standard parameter dict."""
    return SCHEMA.from_mapping(raw)


def load_params(params: str | None = None) -> StandardParams:
    """The standard set: ``None``/``standard``, or a file merged over it (docs/parameters.md)."""
    return SCHEMA.load(params)


@dataclass(frozen=True, slots=True)
class PreparedStandard:
    """What the standard model needs from one market update: per instrument its rates
    (:class:`StandardRates`), the pools (settlement assets) and their USD prices."""

    instruments: tuple[str, ...]
    params: StandardParams
    pools: tuple[str, ...]
    pool_usd: FloatArray
    """USD per unit of each pool's currency."""
    rates: StandardRates


def prepare(
    market: PricedMarket, instruments: Sequence[str], params: StandardParams
) -> PreparedStandard:
    """Per-unit rates of every instrument of ``instruments`` (see the module docstring)."""
    priced = market.subset(instruments)
    table = priced.table
    return PreparedStandard(
        instruments=tuple(instruments),
        params=params,
        pools=table.settlement_assets,
        pool_usd=_pool_usd(priced),
        rates=_row_rates(priced, params, len(table.settlement_assets)),
    )


def update(prepared: PreparedStandard, market: PricedMarket, changed: IntArray) -> PreparedStandard:
    """:func:`prepare` on ``market`` from ``prepared``, recomputing only the rows ``changed``
    (:class:`~solvent.margin.protocol.IncrementalCapable`: the same arrays bit for bit; the
    per-row arithmetic is the one function :func:`_row_rates`)."""
    if changed.size == 0:
        return prepared
    priced = market.subset(prepared.instruments)
    params = prepared.params
    part = _row_rates(priced.take(changed), params, prepared.rates.n_pools)
    rates = prepared.rates
    spliced = {}
    for f in dataclasses.fields(StandardRates):
        value = getattr(rates, f.name)
        if isinstance(value, np.ndarray):
            value = value.copy()
            value[changed] = getattr(part, f.name)
        spliced[f.name] = value
    return PreparedStandard(
        instruments=prepared.instruments,
        params=params,
        pools=prepared.pools,
        pool_usd=_pool_usd(priced),
        rates=StandardRates(**spliced),
    )


def _pool_usd(priced: PricedMarket) -> FloatArray:
    """USD per unit of each pool's currency (settlement assets of ``priced``'s table)."""
    table = priced.table
    pool_usd = np.zeros(len(table.settlement_assets))
    pool_usd[table.settlement_code] = priced.settlement_usd
    return pool_usd


def _row_rates(priced: PricedMarket, params: StandardParams, n_pools: int) -> StandardRates:
    """Every row's rates (:class:`StandardRates`): each row from its own terms and market
    columns only, so that any subset of rows gives the same figures as the whole table."""
    table, cols = priced.table, priced.columns
    rates = [params.futures_rates(u) for u in table.underlyings]  # one set per underlying
    of_row = table.underlying_code
    inverse = table.is_inverse
    option = table.is_option
    # Notional value per unit, in the settlement currency.
    unit_value = np.where(inverse, 1.0, np.where(option, cols.spot, cols.forward))
    spot = cols.spot
    call = table.is_call
    otm = np.where(call, np.maximum(table.strike - spot, 0.0), np.maximum(spot - table.strike, 0.0))
    otm_frac = np.where(option, otm / spot, 0.0)
    base_im = np.maximum(params.short_initial_max - otm_frac, params.short_initial_min)
    mark_frac = cols.mark_price / unit_value  # mark as a fraction of the unit value
    call_mm = params.short_maintenance + mark_frac
    put_mm = np.maximum(params.short_maintenance, params.short_maintenance * mark_frac) + mark_frac
    call_im = base_im + mark_frac
    put_im = np.maximum(base_im + mark_frac, put_mm)
    f64 = np.float64
    return StandardRates(
        pool=np.ascontiguousarray(table.settlement_code, dtype=np.intp),
        is_option=np.ascontiguousarray(option, dtype=np.bool_),
        unit_value=np.ascontiguousarray(unit_value, dtype=f64),
        im_base=np.array([r.initial_base for r in rates], dtype=f64)[of_row],
        mm_base=np.array([r.maintenance_base for r in rates], dtype=f64)[of_row],
        slope=np.array([r.size_slope for r in rates], dtype=f64)[of_row],
        option_im=np.ascontiguousarray(np.where(call, call_im, put_im), dtype=f64),
        option_mm=np.ascontiguousarray(np.where(call, call_mm, put_mm), dtype=f64),
        fee=np.ascontiguousarray(
            np.where(inverse, 0.0, params.linear_fee_provision * spot), dtype=f64
        ),
        n_pools=n_pools,
    )


def margin_book(
    book: Book,
    market: MarketSnapshot,
    params: StandardParams,
    *,
    detail: Detail = Detail.ACCOUNTS,
) -> BookMargin:
    """One-shot standard margin of every account of ``book``: resolve, prepare, margin."""
    priced = PricedMarket.resolve(market, book.instruments)
    return margin_prepared(prepare(priced, book.instruments, params), book, detail=detail)


def margin_prepared(
    prepared: PreparedStandard,
    book: Book,
    *,
    detail: Detail = Detail.TOTALS,
    chunk: int = CHUNK_ACCOUNTS,
    compiled: bool | None = None,
) -> BookMargin:
    """Standard margin of every account of ``book`` (columns = ``prepared.instruments``): one
    pass over the positions (:func:`~solvent.margin.standard_kernel.book_requirements`:
    ``compiled`` and ``chunk`` choose how, never what), then per-pool sums valued in USD."""
    require_prepared(book, prepared.instruments)
    params = prepared.params
    book = canonical_book(book)
    q = book.quantities
    components, held = book_requirements(
        q.indptr, q.indices, q.data, prepared.rates, chunk=chunk, compiled=compiled
    )
    per_pool = dict(zip(COMPONENTS, components, strict=True))  # each (accounts, pools)
    im = per_pool["futures_im"] + per_pool["options_im"]
    mm = per_pool["futures_mm"] + per_pool["options_mm"] + per_pool["fee_provision"]
    # USD totals pool by pool, in pool order: an account's total never depends on the other
    # accounts of the book (a matrix-vector product may round differently per book size).
    im_usd = np.zeros(len(book))
    mm_usd = np.zeros(len(book))
    for j, px in enumerate(prepared.pool_usd):
        im_usd += im[:, j] * px
        mm_usd += mm[:, j] * px
    pools: list[PoolArrays] = []
    if detail >= Detail.ACCOUNTS:
        own_im = None
        position_pool = prepared.rates.pool[q.indices]
        if detail >= Detail.EXPLAIN:  # each position's own IM: futures_im + options_im
            own = position_requirements(q.indices.astype(np.intp), q.data, prepared.rates)
            own_im = own[0] + own[1]
        for j, pool in enumerate(prepared.pools):
            pools.append(
                PoolArrays(
                    currency=pool,
                    initial_margin=im[:, j],
                    maintenance_margin=mm[:, j],
                    components={k: per_pool[k][:, j] for k in COMPONENTS},
                    held=held[:, j],
                    contributions=(
                        None
                        if own_im is None
                        else PositionValues(
                            own_im, ContributionKind.INITIAL_MARGIN, include=position_pool == j
                        )
                    ),
                )
            )
    return build_book_margin(
        book,
        model=MODEL_NAME,
        parameters=params.label,
        initial_margin_usd=im_usd,
        maintenance_margin_usd=mm_usd,
        pools=pools,
        detail=detail,
    )


class StandardModel:
    """``MODEL``: the standard model through the margin-model protocol."""

    name = MODEL_NAME
    description = "per-position margin, no offsets"
    needs = frozenset({MarketData.MARKS, MarketData.INDEX})

    def load_params(self, spec: str | None) -> StandardParams:
        return load_params(spec)

    def prepare(
        self, market: PricedMarket, instruments: Sequence[str], params: StandardParams
    ) -> PreparedStandard:
        return prepare(market, instruments, params)

    def update(
        self, prepared: PreparedStandard, market: PricedMarket, changed: IntArray
    ) -> PreparedStandard:
        return update(prepared, market, changed)

    def margin(self, prepared: PreparedStandard, book: Book, *, detail: Detail) -> BookMargin:
        return margin_prepared(prepared, book, detail=detail)

    def composition(self, params: StandardParams) -> Composition:
        """``IM = futures_im + options_im``, ``MM = futures_mm + options_mm + fee_provision``;
        each position's contribution is its own IM, so they add up to IM."""
        initial = {"futures_im": 1.0, "options_im": 1.0}
        return Composition(
            initial,
            {"futures_mm": 1.0, "options_mm": 1.0, "fee_provision": 1.0},
            Explanation(components=initial),
        )


MODEL = StandardModel()
