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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from solvent.instruments.table import InstrumentTable
from solvent.margin.params import ParamsSchema, Table, frozen_tables, number, table, tables
from solvent.margin.protocol import LegacyModel, ParamsId
from solvent.margin.result import AccountMargin, BookMargin, Contribution, PoolMargin
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
    o = v["options"]
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


def position_requirements(
    book: Book, market: MarketSnapshot, params: StandardParams
) -> dict[str, sp.csr_array]:
    """Per-position requirement of every component (accounts x instruments, pool currency)."""
    table = market.table(book.instruments, "positions")
    cols = market.columns(table)
    q = book.quantities.tocoo()
    col = q.col
    size = np.abs(q.data)
    rates = [params.futures_rates(u) for u in table.underlyings]  # one set per underlying
    of_position = table.underlying_code[col]
    im_base = np.array([r.initial_base for r in rates])[of_position]
    mm_base = np.array([r.maintenance_base for r in rates])[of_position]
    slope = np.array([r.size_slope for r in rates])[of_position]
    inverse = table.is_inverse[col]
    option = table.is_option[col]
    # Notional value per unit, in the settlement currency.
    unit_value = np.where(inverse, 1.0, np.where(option, cols.spot[col], cols.forward[col]))
    fut_im = np.where(option, 0.0, size * (im_base + slope * size) * unit_value)
    fut_mm = np.where(option, 0.0, size * (mm_base + slope * size) * unit_value)

    spot = cols.spot[col]
    strike = table.strike[col]
    call = table.is_call[col]
    mark = cols.mark_price[col]  # settlement units per underlying unit
    otm = np.where(call, np.maximum(strike - spot, 0.0), np.maximum(spot - strike, 0.0))
    otm_frac = np.where(option, otm / spot, 0.0)
    base_im = np.maximum(params.short_initial_max - otm_frac, params.short_initial_min)
    mark_frac = mark / unit_value  # mark as a fraction of the unit value
    call_mm = params.short_maintenance + mark_frac
    put_mm = np.maximum(params.short_maintenance, params.short_maintenance * mark_frac) + mark_frac
    call_im = base_im + mark_frac
    put_im = np.maximum(base_im + mark_frac, put_mm)
    short_opt = option & (q.data < 0)
    opt_im = np.where(short_opt, size * np.where(call, call_im, put_im) * unit_value, 0.0)
    opt_mm = np.where(short_opt, size * np.where(call, call_mm, put_mm) * unit_value, 0.0)
    fee = np.where(inverse, 0.0, params.linear_fee_provision * cols.spot[col] * size)
    shape = book.quantities.shape
    values = {
        "futures_im": fut_im,
        "options_im": opt_im,
        "futures_mm": fut_mm,
        "options_mm": opt_mm,
        "fee_provision": fee,
    }
    return {k: sp.csr_array((v, (q.row, col)), shape=shape) for k, v in values.items()}


def margin_book(
    book: Book,
    market: MarketSnapshot,
    params: StandardParams,
    *,
    detail: bool = True,
    explain: bool = False,
) -> BookMargin:
    """Standard margin of every account (vectorized over the book's positions)."""
    table = market.table(book.instruments, "positions")
    per_position = position_requirements(book, market, params)
    n_acc = len(book)
    pools = table.settlement_assets
    # pool membership matrix: instruments x pools
    member = sp.csr_array(
        (np.ones(len(table)), (np.arange(len(table)), table.settlement_code)),
        shape=(len(table), len(pools)),
    )
    per_pool = {k: (m @ member).toarray() for k, m in per_position.items()}  # (A, P)
    im = per_pool["futures_im"] + per_pool["options_im"]
    mm = per_pool["futures_mm"] + per_pool["options_mm"] + per_pool["fee_provision"]
    px = np.array([market.price_usd(p, "settlement_asset") for p in pools])
    im_usd = im @ px
    mm_usd = mm @ px
    details = None
    if detail:
        held = (abs(book.quantities) @ member).toarray() > 0
        details = tuple(
            AccountMargin(
                book.accounts[a],
                MODEL_NAME,
                params.label,
                tuple(
                    PoolMargin(
                        currency=pool,
                        initial_margin=float(im[a, j]),
                        maintenance_margin=float(mm[a, j]),
                        components={k: float(per_pool[k][a, j]) for k in COMPONENTS},
                        scenarios=() if explain else None,
                        contributions=(
                            _contributions(book, table, per_position, a, j) if explain else None
                        ),
                    )
                    for j, pool in enumerate(pools)
                    if held[a, j]
                ),
                float(im_usd[a]),
                float(mm_usd[a]),
            )
            for a in range(n_acc)
        )
    return BookMargin(MODEL_NAME, params.label, book.accounts, im_usd, mm_usd, details)


def _contributions(
    book: Book,
    table: InstrumentTable,
    per_position: Mapping[str, sp.csr_array],
    account: int,
    pool: int,
) -> tuple[Contribution, ...]:
    """Each position's own initial margin in pool ``pool`` of ``account``."""
    cols, qty = book.row(account)
    im_row = (per_position["futures_im"] + per_position["options_im"])[[account], :].toarray()[0]
    return tuple(
        Contribution(book.instruments[c], float(q), initial_margin=float(im_row[c]))
        for c, q in zip(cols, qty, strict=True)
        if int(table.settlement_code[c]) == pool
    )


def _run(
    book: Book, market: MarketSnapshot, params: str | None, detail: bool, explain: bool
) -> BookMargin:
    return margin_book(book, market, load_params(params), detail=detail, explain=explain)


MODEL = LegacyModel(MODEL_NAME, "per-position margin, no offsets", _run)
