"""``deribit-pm``: Deribit portfolio margin, the risk matrix (METHODOLOGY.md 2).

For every account of a book at once:

1. Scenarios per underlying: 9 price moves (-range..+range) x 3 vol scenarios (up, same, down),
   then the extended table (moves -66 % .. +500 %, vol up). One risk array prices every instrument
   in all 35 scenarios; each account's P&L per (settlement currency, underlying) group is the
   sparse book times the group's rows of the risk array.
2. Extended scenarios: P&L scaled by ``price_range / |move|``, then pulled toward zero by
   ``min((|move| / price_range - 1) * extended_dampener, |scaled P&L|)`` (dampener in USD,
   converted at the index), times ``extended_table_factor``.
3. Gains: a positive aggregated scenario P&L counts ``pnl_offset`` of itself, at most
   ``max_offsetable_pnl``. ``worst_case = max(0, -min(scenario P&L))`` per group.
4. ``roll_shock = sum |q| * max(min_annualised_move, annualised_move_risk * T)`` over delta-1
   positions (coin for inverse, USD = times the forward for linear).
5. ``delta_shock = max_delta_shock * max(0, |net USD delta| - delta_total_liq_shock_threshold)``
   per underlying (our definition; Deribit does not publish it), in the pool's currency.
6. ``IM = worst_case + roll_shock + delta_shock``; ``MM = mm_factor * IM``.

Segregated mode: one pool per settlement currency; groups of different underlyings in one pool
(USDC-settled BTC and ETH contracts) add up with no offset. Cross mode: one USD pool; each
underlying's scenario P&L is summed in USD across settlement currencies (coin P&L valued at the
scenario's price), and the per-underlying worst losses combine through the correlation matrix
(:func:`combine_by_correlation`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from solvent.arrays import FloatArray, IntArray
from solvent.errors import SolventInputError
from solvent.instruments.table import InstrumentTable
from solvent.margin.build import (
    PoolArrays,
    PositionValues,
    ScenarioBlock,
    build_book_margin,
    canonical_book,
    scenario_blocks,
)
from solvent.margin.deribit_pm_kernel import (
    CHUNK_ACCOUNTS,
    KernelInputs,
    KernelOutputs,
    run_kernel,
)
from solvent.margin.params import (
    OURS,
    ParamsSchema,
    Table,
    as_number,
    custom,
    frozen_tables,
    integer,
    names,
    number,
    table,
    tables,
    text,
)
from solvent.margin.protocol import Detail, MarketData, ParamsId, PricedMarket, require_prepared
from solvent.margin.result import BookMargin, Composition, Explanation
from solvent.market.snapshot import MarketColumns, MarketSnapshot
from solvent.portfolio.book import Book
from solvent.pricing.black76 import COMPILED_MIN_SIZE
from solvent.pricing.unit_greeks import unit_greeks
from solvent.scenarios.risk_array import RiskArray, compute_risk_array
from solvent.scenarios.scenario_set import ScenarioSet, VolShockKind, VolShockRule

MODEL_NAME = "deribit-pm"
VOL_LABELS = ("vol up", "vol same", "vol down")


@dataclass(frozen=True, slots=True)
class UnderlyingParams:
    price_range: float
    volatility_range_up: float
    volatility_range_down: float


@dataclass(frozen=True, slots=True)
class CurrencyParams:
    min_annualised_move: float
    annualised_move_risk: float
    pnl_offset: float
    max_offsetable_pnl: float
    extended_dampener: float


@dataclass(frozen=True, slots=True)
class DeribitPmParams:
    """A validated deribit-pm parameter set (see ``margin/params/deribit-pm.toml``)."""

    name: str
    version: str
    cross: bool
    buckets_count: int
    vol_rule: VolShockRule
    extended_table_factor: float
    extended_moves: tuple[float, ...]
    max_delta_shock: float
    delta_total_liq_shock_threshold: float
    mm_factor: float
    underlyings: Mapping[str, UnderlyingParams]
    currencies: Mapping[str, CurrencyParams]
    correlation_assets: tuple[str, ...]
    correlation: FloatArray
    params_id: ParamsId

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"

    def underlying(self, asset: str) -> UnderlyingParams:
        return self.underlyings.get(asset, self.underlyings["default"])

    def currency(self, asset: str) -> CurrencyParams:
        return self.currencies.get(asset, self.currencies["default"])

    def correlation_of(self, assets: tuple[str, ...]) -> FloatArray:
        """Correlation matrix of ``assets``; unknown pairs get 1.0 (no diversification) and USD
        stablecoins 0.0."""
        pos = {a: i for i, a in enumerate(self.correlation_assets)}
        n = len(assets)
        out = np.ones((n, n))
        for i, a in enumerate(assets):
            for j, b in enumerate(assets):
                if a in pos and b in pos:
                    out[i, j] = self.correlation[pos[a], pos[b]]
                elif i != j and ({a, b} & {"USDC", "USDT", "USD"}):
                    out[i, j] = 0.0
        return out


DERIBIT_DOCS = "Deribit model_params"


def _correlation_check(values: Mapping[str, Any], path: str) -> None:
    assets = values["assets"]
    if len(set(assets)) != len(assets):
        raise SolventInputError(f"{path}.assets", "each asset at most once")
    matrix = values["matrix"]
    if matrix is None:
        return
    n = len(assets)
    if len(matrix) != n or any(len(row) != n for row in matrix):
        raise SolventInputError(f"{path}.matrix", "must be square, one row per asset")
    m = np.asarray(matrix, dtype=np.float64).reshape(n, n)
    if not np.allclose(m, m.T) or np.any(np.abs(m) > 1) or not np.allclose(np.diag(m), 1):
        raise SolventInputError(f"{path}.matrix", "must be symmetric, unit diagonal")
    if n and np.linalg.eigvalsh(m).min() < -1e-9:
        raise SolventInputError(f"{path}.matrix", "must be positive semi-definite")


def _matrix(value: Any, path: str) -> list[list[float]] | None:
    """A list of rows of numbers (shape checked with the asset list)."""
    if not isinstance(value, list):
        raise SolventInputError(path, "must be a list of rows")
    rows = []
    for i, row in enumerate(value):
        if not isinstance(row, list):
            raise SolventInputError(f"{path}[{i}]", "must be a list of numbers")
        rows.append([as_number(x, f"{path}[{i}][{j}]") for j, x in enumerate(row)])
    return rows


def _moves(value: Any, path: str) -> list[float]:
    if not isinstance(value, list):
        raise SolventInputError(path, "moves in (-1, inf), not 0")
    out = []
    for i, m in enumerate(value):
        x = as_number(m, f"{path}[{i}]")
        if not (x > -1 and x != 0):
            raise SolventInputError(path, "moves in (-1, inf), not 0")
        out.append(x)
    return out


_COMMON = Table(
    {
        "buckets_count": integer(1, 50, unit="price points each side"),
        "short_term_vega_power": number(0, 10, unit="exponent"),
        "long_term_vega_power": number(0, 10, unit="exponent"),
        "vega_power_term_days": number(1, 3650, unit="days"),
        "dte_floor_days": number(0, 400, unit="days", source=OURS),
        "min_volatility_for_shock_up": number(0, 20, unit="vol (decimal)"),
        "extended_table_factor": number(0, 10, unit="multiple of the extended P&L"),
        "extended_moves": custom(
            _moves, allowed="each in (-1, inf), not 0", unit="relative price move", default=[]
        ),
        "max_delta_shock": number(0, 1, unit="fraction of excess USD delta", source=OURS),
        "delta_total_liq_shock_threshold": number(0, 1e15, unit="USD", source=OURS),
        "mm_factor": number(0.01, 1, unit="MM / IM"),
    },
    source=DERIBIT_DOCS,
)
_UNDERLYING = Table(
    {
        "price_range": number(1e-4, 0.99, unit="relative price move"),
        "volatility_range_up": number(0.0, 10.0, unit="relative vol move"),
        "volatility_range_down": number(0.0, 0.99, unit="relative vol move"),
    },
    source=DERIBIT_DOCS,
)
_CURRENCY = Table(
    {
        "min_annualised_move": number(0.0, 1.0, unit="fraction per year"),
        "annualised_move_risk": number(0.0, 10.0, unit="fraction per year"),
        "pnl_offset": number(0.0, 1.0, unit="fraction of gains"),
        "max_offsetable_pnl": number(0.0, 1e15, unit="USD"),
        "extended_dampener": number(0.0, 1e15, unit="USD"),
    },
    source=DERIBIT_DOCS,
)
_CORRELATION = Table(
    {
        "assets": custom(names, allowed="asset names", default=[]),
        "matrix": custom(
            _matrix, allowed="symmetric, unit diagonal, PSD", unit="correlation", default=None
        ),
    },
    check=_correlation_check,
    source=OURS,
)
FIELDS = Table(
    {
        "mode": text(choices=("segregated", "cross"), default="segregated"),
        "common": table(_COMMON),
        "underlyings": tables(_UNDERLYING, required_keys=("default",), doc="per underlying"),
        "currencies": tables(_CURRENCY, required_keys=("default",), doc="per settlement pool"),
        "correlation": table(_CORRELATION, optional=True),
    },
    source=DERIBIT_DOCS,
)


def _build(v: Mapping[str, Any], pid: ParamsId) -> DeribitPmParams:
    c = v["common"]
    assets = tuple(v["correlation"]["assets"])
    raw_matrix = v["correlation"]["matrix"]
    matrix = np.eye(len(assets)) if raw_matrix is None else np.asarray(raw_matrix, np.float64)
    matrix = matrix.reshape(len(assets), len(assets))
    matrix.flags.writeable = False
    rule = VolShockRule(
        kind=VolShockKind.TERM_SCALED,
        short_term_power=c["short_term_vega_power"],
        long_term_power=c["long_term_vega_power"],
        term_days=c["vega_power_term_days"],
        dte_floor_days=c["dte_floor_days"],
        min_vol_for_shock_up=c["min_volatility_for_shock_up"],
    )
    return DeribitPmParams(
        name=pid.name,
        version=pid.version,
        cross=v["mode"] == "cross",
        buckets_count=c["buckets_count"],
        vol_rule=rule,
        extended_table_factor=c["extended_table_factor"],
        extended_moves=tuple(c["extended_moves"]),
        max_delta_shock=c["max_delta_shock"],
        delta_total_liq_shock_threshold=c["delta_total_liq_shock_threshold"],
        mm_factor=c["mm_factor"],
        underlyings=frozen_tables(v["underlyings"], lambda t: UnderlyingParams(**t)),
        currencies=frozen_tables(v["currencies"], lambda t: CurrencyParams(**t)),
        correlation_assets=assets,
        correlation=matrix,
        params_id=pid,
    )


SCHEMA = ParamsSchema(MODEL_NAME, ("deribit-pm", "deribit-xpm"), FIELDS, _build)
"""Declaration, built-in sets and loader of deribit-pm parameters."""


def parse_params(raw: Mapping[str, Any]) -> DeribitPmParams:
    """Validate a complete deribit-pm parameter dict (see :mod:`solvent.margin.params`)."""
    return SCHEMA.from_mapping(raw)


def load_params(params: str | None = None) -> DeribitPmParams:
    """The deribit-pm parameter set: built-in name (``deribit-pm``, ``deribit-xpm``), override
    file, or the default."""
    return SCHEMA.load(params)


def scenario_set(underlyings: tuple[str, ...], params: DeribitPmParams) -> ScenarioSet:
    """The 27 standard scenarios (9 moves x vol up/same/down), then the extended moves (vol up)."""
    n = params.buckets_count
    grid = np.linspace(-1.0, 1.0, 2 * n + 1)  # in units of each underlying's price range
    std_moves, std_vols, labels = [], [], []
    for g in grid:
        for k, vol_label in enumerate(VOL_LABELS):
            std_moves.append(g)
            std_vols.append((1.0, 0.0, -1.0)[k])
            labels.append(f"{g:+.2f} {vol_label}")
    ranges = np.array([params.underlying(u).price_range for u in underlyings])
    up = np.array([params.underlying(u).volatility_range_up for u in underlyings])
    down = np.array([params.underlying(u).volatility_range_down for u in underlyings])
    g_arr = np.asarray(std_moves)[:, None]
    v_arr = np.asarray(std_vols)[:, None]
    moves = g_arr * ranges[None, :]
    vols = np.where(v_arr > 0, up[None, :], np.where(v_arr < 0, -down[None, :], 0.0))
    ext = np.asarray(params.extended_moves)
    moves = np.vstack([moves, np.repeat(ext[:, None], len(underlyings), axis=1)])
    vols = np.vstack([vols, np.repeat(up[None, :], ext.size, axis=0)])
    labels += [f"{m:+.0%} vol up (extended)" for m in ext]
    return ScenarioSet(
        name=params.label,
        underlyings=underlyings,
        moves=moves,
        vol_shocks=vols,
        weights=np.ones(len(labels)),
        vol_rule=params.vol_rule,
        labels=tuple(labels),
    )


def scenario_label(scenarios: ScenarioSet, s: int, underlying: str) -> str:
    """``BTC -16% vol up`` (standard) or ``BTC +200% vol up (extended)``."""
    move = float(scenarios.moves[s, scenarios.column(underlying)])
    tail = scenarios.labels[s].split(" ", 1)[1]
    return f"{underlying} {move:+.0%} {tail}"


def combine_by_correlation(
    losses: FloatArray, directions: FloatArray, correlation: FloatArray
) -> FloatArray:
    """Cross-underlying worst loss (accounts x underlyings -> accounts), our definition.

    ``losses[a, u] >= 0`` is account ``a``'s worst loss on underlying ``u``; ``directions`` is the
    sign of that worst scenario's price move (0 when the worst scenario has no price move).
    Two directional losses on opposite moves (long BTC, short ETH) offset through the
    correlation: ``total^2 = sum_uv L_u L_v rho_uv d_u d_v``; a pair where either loss is not
    directional combines with ``|rho|`` (no offset). With one underlying this is the loss itself;
    with correlation 1 and same-direction losses it is their sum; with correlation 0 it is the
    root of the sum of squares (never less than the largest single loss).
    """
    var = np.zeros(losses.shape[0])
    for u, v, weight in _correlation_terms(directions, correlation):
        var += losses[:, u] * weight * losses[:, v]
    out: FloatArray = np.sqrt(np.maximum(var, 0.0))
    return out


def _correlation_terms(
    directions: FloatArray, correlation: FloatArray
) -> Iterator[tuple[int, int, FloatArray]]:
    """``(u, v, w_uv)`` for every pair of underlyings, ``w_uv`` per account: the weight of
    ``L_u L_v`` in :func:`combine_by_correlation`'s ``total^2``. Pair by pair, so that each
    account's sums run in the same order whatever the rest of the book."""
    n_u = directions.shape[1]
    for u in range(n_u):
        for v in range(n_u):
            d_u, d_v = directions[:, u], directions[:, v]
            both = (d_u != 0) & (d_v != 0)
            sign = np.where(both, d_u * d_v, 1.0)
            rho = np.where(both, correlation[u, v], abs(correlation[u, v]))
            yield u, v, sign * rho


def correlation_shares(
    losses: FloatArray, directions: FloatArray, correlation: FloatArray, total: FloatArray
) -> FloatArray:
    """Euler allocation of :func:`combine_by_correlation` (accounts x underlyings, >= 0 or not):
    ``share_u = L_u * d(total)/d(L_u) = L_u (W L)_u / total``, which add up to ``total`` exactly
    (``total`` is homogeneous of degree 1 in the losses). Returned as the factor
    ``d(total)/d(L_u) = (W L)_u / total`` by which underlying ``u``'s own P&L is scaled; 1 where
    the total is 0 (nothing to allocate)."""
    grad = np.zeros_like(losses)
    for u, v, weight in _correlation_terms(directions, correlation):
        grad[:, u] += weight * losses[:, v]
    positive = total > 0
    factor: FloatArray = np.ones_like(losses)
    factor[positive] = grad[positive] / total[positive, None]
    return factor


@dataclass(frozen=True, slots=True)
class _Group:
    """Instruments of one (settlement asset, underlying) pair."""

    settlement: str
    underlying: str
    rows: NDArray[np.intp]


def _groups(table: InstrumentTable) -> list[_Group]:
    key = table.settlement_code * len(table.underlyings) + table.underlying_code
    out = []
    for k in np.unique(key):
        rows = np.flatnonzero(key == k)
        out.append(
            _Group(
                table.settlement_assets[int(k) // len(table.underlyings)],
                table.underlyings[int(k) % len(table.underlyings)],
                rows,
            )
        )
    return out


def _usd_delta_per_unit(table: InstrumentTable, cols: MarketColumns) -> FloatArray:
    """USD delta of 1 unit long: forward x Black delta for options, forward for delta-1."""
    out: FloatArray = unit_greeks(table, cols).delta * cols.forward
    return out


@dataclass(frozen=True, slots=True)
class PreparedRisk:
    """Everything deribit-pm needs that depends on the market but not on the book: the risk
    array of ``instruments`` (35 scenarios), the (settlement, underlying) groups, per instrument
    its roll-shock rate (pool currency per unit) and USD delta per unit, the USD price of each
    settlement asset today and in every scenario, and the kernel's arrays. Computed once per
    market update; re-margining any book over these instruments is then one compiled pass."""

    instruments: tuple[str, ...]
    params: DeribitPmParams
    scenarios: ScenarioSet
    risk: RiskArray
    groups: tuple[_Group, ...]
    roll_rate: FloatArray
    usd_delta: FloatArray
    settlement_px: FloatArray
    """USD per unit of each settlement asset (``risk.table.settlement_assets`` order)."""
    settlement_usd: FloatArray
    """(settlement assets x scenarios): :meth:`RiskArray.settlement_usd`."""
    underlyings: tuple[str, ...]
    """The groups' underlyings, sorted: the cross-mode pool's buckets."""
    kernel: KernelInputs

    def price_usd(self, asset: str) -> float:
        """Today's USD price of one unit of settlement asset ``asset``."""
        return float(self.settlement_px[self.risk.table.settlement_assets.index(asset)])


def prepare(
    market: PricedMarket, instruments: Sequence[str], params: DeribitPmParams
) -> PreparedRisk:
    """Price ``instruments`` in every deribit-pm scenario (see :class:`PreparedRisk`)."""
    priced = market.subset(instruments)
    table = priced.table
    scenarios = scenario_set(table.underlyings, params)
    groups = tuple(_groups(table))
    rows = _row_arrays(priced, scenarios, params)
    return _assemble(tuple(instruments), params, priced, scenarios, groups, rows)


def update(prepared: PreparedRisk, market: PricedMarket, changed: IntArray) -> PreparedRisk:
    """:func:`prepare` on ``market`` from ``prepared``, recomputing only the rows ``changed``
    (:class:`~solvent.margin.protocol.IncrementalCapable`): their risk-array rows, roll-shock
    rates and USD deltas (:func:`_row_arrays`, the arithmetic of :func:`prepare`), spliced into
    copies of the previous arrays; the per-group figures and settlement prices in full (a few
    numbers per group). The same arrays bit for bit. A table past
    :data:`~solvent.pricing.black76.COMPILED_MIN_SIZE` rows is prepared in full (its deltas
    take the compiled path, which a subset would not)."""
    if changed.size == 0:
        return prepared
    priced = market.subset(prepared.instruments)
    params = prepared.params
    if len(priced.table) >= COMPILED_MIN_SIZE:
        return prepare(priced, prepared.instruments, params)
    part = _row_arrays(priced.take(changed), prepared.scenarios, params)
    pnl = prepared.risk.pnl.copy()
    pnl[changed] = part.pnl
    roll_rate = prepared.roll_rate.copy()
    roll_rate[changed] = part.roll_rate
    usd_delta = prepared.usd_delta.copy()
    usd_delta[changed] = part.usd_delta
    rows = _RowArrays(pnl, roll_rate, usd_delta)
    return _assemble(
        prepared.instruments, params, priced, prepared.scenarios, prepared.groups, rows
    )


@dataclass(frozen=True, slots=True)
class _RowArrays:
    """The per-instrument part of :class:`PreparedRisk`: each row a function of that
    instrument's terms and market columns only."""

    pnl: FloatArray
    """(instruments x scenarios) risk array, settlement units per unit long."""
    roll_rate: FloatArray
    """Roll-shock rate per unit (pool currency), 0 for options."""
    usd_delta: FloatArray
    """USD delta per unit long."""


def _row_arrays(
    priced: PricedMarket, scenarios: ScenarioSet, params: DeribitPmParams
) -> _RowArrays:
    """:class:`_RowArrays` of every row of ``priced`` (any subset of a table gives the rows it
    would have in the whole: elementwise arithmetic only)."""
    table, cols = priced.table, priced.columns
    risk = compute_risk_array(table, cols, scenarios)
    min_move = np.array(
        [params.currency(a).min_annualised_move for a in table.settlement_assets], np.float64
    )[table.settlement_code]
    move_risk = np.array(
        [params.currency(a).annualised_move_risk for a in table.settlement_assets], np.float64
    )[table.settlement_code]
    rate = np.where(table.is_option, 0.0, np.maximum(min_move, move_risk * cols.time))
    rate = rate * np.where(table.is_inverse, 1.0, cols.forward)
    roll_rate = rate * table.contract_size
    usd_delta = np.ascontiguousarray(_usd_delta_per_unit(table, cols), dtype=np.float64)
    return _RowArrays(np.ascontiguousarray(risk.pnl, dtype=np.float64), roll_rate, usd_delta)


def _assemble(
    instruments: tuple[str, ...],
    params: DeribitPmParams,
    priced: PricedMarket,
    scenarios: ScenarioSet,
    groups: tuple[_Group, ...],
    rows: _RowArrays,
) -> PreparedRisk:
    """:class:`PreparedRisk` from the per-row arrays: the per-group figures (extended-table
    scaling and dampening, gain offsets, cross-mode buckets and weights) and the settlement
    prices, from ``priced``."""
    table = priced.table
    risk = RiskArray(table=table, scenarios=scenarios, pnl=rows.pnl)
    px = np.zeros(len(table.settlement_assets))
    px[table.settlement_code] = priced.settlement_usd
    settle_usd = (
        risk.settlement_usd(priced.snapshot) if len(table) else np.zeros((0, len(scenarios)))
    )
    group_of = np.zeros(len(table), dtype=np.intp)
    n_ext = len(params.extended_moves)
    ratio_all = np.abs(np.asarray(params.extended_moves, dtype=np.float64))
    ext_ratio = np.ones((len(groups), n_ext))
    ext_damp = np.zeros((len(groups), n_ext))
    pnl_offset = np.zeros(len(groups))
    offset_cap = np.zeros(len(groups))
    underlyings = tuple(sorted({g.underlying for g in groups}))
    bucket_of = np.arange(len(groups), dtype=np.intp)  # segregated: one bucket per group
    weight = np.ones((len(groups), len(scenarios)))
    for k, grp in enumerate(groups):
        cur = params.currency(grp.settlement)
        und = params.underlying(grp.underlying)
        settle = table.settlement_assets.index(grp.settlement)
        group_of[grp.rows] = k
        # Extended scenarios: scale to the standard range, then dampen toward zero (pool
        # currency at today's price of the settlement asset).
        ext_ratio[k] = ratio_all / und.price_range
        ext_damp[k] = np.maximum((ext_ratio[k] - 1.0) * cur.extended_dampener / px[settle], 0.0)
        pnl_offset[k] = cur.pnl_offset
        offset_cap[k] = cur.max_offsetable_pnl / px[settle]
        if params.cross:
            bucket_of[k] = underlyings.index(grp.underlying)
            weight[k] = settle_usd[settle]
    kernel = KernelInputs(
        pnl=rows.pnl,
        group_of=group_of,
        roll_rate=rows.roll_rate,
        usd_delta=rows.usd_delta,
        n_std=3 * (2 * params.buckets_count + 1),
        ext_ratio=ext_ratio,
        ext_damp=ext_damp,
        ext_factor=params.extended_table_factor,
        pnl_offset=pnl_offset,
        offset_cap=offset_cap,
        bucket_of=bucket_of,
        n_buckets=len(underlyings) if params.cross else len(groups),
        weight=weight,
        cross=params.cross,
    )
    return PreparedRisk(
        instruments,
        params,
        scenarios,
        risk,
        groups,
        rows.roll_rate,
        rows.usd_delta,
        px,
        settle_usd,
        underlyings,
        kernel,
    )


def margin_book(
    book: Book,
    market: MarketSnapshot,
    params: DeribitPmParams,
    *,
    detail: Detail = Detail.ACCOUNTS,
) -> BookMargin:
    """One-shot margin of every account of ``book`` (see module docstring): resolve the market,
    prepare, margin."""
    priced = PricedMarket.resolve(market, book.instruments)
    return margin_prepared(prepare(priced, book.instruments, params), book, detail=detail)


def margin_prepared(
    prepared: PreparedRisk,
    book: Book,
    *,
    detail: Detail = Detail.TOTALS,
    chunk: int = CHUNK_ACCOUNTS,
    compiled: bool | None = None,
) -> BookMargin:
    """Margin of every account of ``book`` (columns = ``prepared.instruments``) from a prepared
    risk array: the real-time path, one pass over the book's rows
    (:func:`~solvent.margin.deribit_pm_kernel.run_kernel`: ``compiled`` and ``chunk`` choose how,
    never what) and reductions over (accounts x groups)."""
    require_prepared(book, prepared.instruments)
    book = canonical_book(book)
    q = book.quantities
    out = run_kernel(
        q.indptr,
        q.indices,
        q.data,
        prepared.kernel,
        keep_raw=detail >= Detail.EXPLAIN,
        chunk=chunk,
        compiled=compiled,
    )
    assemble = _cross if prepared.params.cross else _segregated
    im_usd, mm_usd, pools = assemble(prepared, book, out, detail)
    return build_book_margin(
        book,
        model=MODEL_NAME,
        parameters=prepared.params.label,
        initial_margin_usd=im_usd,
        maintenance_margin_usd=mm_usd,
        pools=pools,
        detail=detail,
    )


def _delta_shock(net_usd: FloatArray, params: DeribitPmParams) -> FloatArray:
    excess = np.maximum(np.abs(net_usd) - params.delta_total_liq_shock_threshold, 0.0)
    out: FloatArray = params.max_delta_shock * excess
    return out


_Assembled = tuple[FloatArray, FloatArray, list[PoolArrays]]


def _held_pools(book: Book, table: InstrumentTable) -> NDArray[np.bool_]:
    """(accounts x settlement assets): the account has a position (even of zero quantity) in an
    instrument settled in that asset."""
    q = book.quantities
    held = np.zeros((len(book), len(table.settlement_assets)), dtype=bool)
    rows = np.repeat(np.arange(len(book)), np.diff(q.indptr))
    held[rows, table.settlement_code[q.indices]] = True
    return held


def _labels(prep: PreparedRisk, underlying: str) -> tuple[str, ...]:
    """Every scenario's label for ``underlying`` (``BTC -16% vol up``)."""
    return tuple(scenario_label(prep.scenarios, s, underlying) for s in range(len(prep.scenarios)))


def _segregated(prep: PreparedRisk, book: Book, out: KernelOutputs, detail: Detail) -> _Assembled:
    """One pool per settlement asset. The worst scenario shown is that of the pool's largest
    group loss; the scenario list is every group of the pool in turn (P&L before gain offsets).
    Contributions: every position of the pool at its group's worst scenario; where the group
    has a loss, the P&L is scaled pro rata so the group's contributions add up to its counted
    loss (the extended table's scaling and dampening are shared in proportion), so all the
    contributions add up to ``-worst_case``."""
    params = prep.params
    n_acc = len(book)
    im_usd = np.zeros(n_acc)
    mm_usd = np.zeros(n_acc)
    table = prep.risk.table
    build = detail >= Detail.ACCOUNTS
    explain = detail >= Detail.EXPLAIN
    held = _held_pools(book, table) if build else None
    contributions = _segregated_contributions(prep, book, out) if explain else None
    pools = []
    for pool in sorted({g.settlement for g in prep.groups}):
        members = tuple(k for k, g in enumerate(prep.groups) if g.settlement == pool)
        px = prep.price_usd(pool)
        if len(members) == 1:  # the same values without reductions over a length-1 axis
            (k,) = members
            worst, roll = out.loss[:, k].copy(), out.roll[:, k].copy()
            dshock = _delta_shock(out.delta[:, k], params) / px
        else:
            worst = out.loss[:, list(members)].sum(axis=1)
            roll = np.sum([out.roll[:, k] for k in members], axis=0)
            dshock = np.sum([_delta_shock(out.delta[:, k], params) for k in members], axis=0) / px
        im = worst + roll + dshock
        mm = params.mm_factor * im
        im_usd += im * px
        mm_usd += mm * px
        if not build:
            continue
        assert held is not None
        m_big = np.argmax(out.loss[:, list(members)], axis=1)  # largest group loss, first on ties
        blocks = [
            ScenarioBlock(
                _labels(prep, prep.groups[k].underlying), out.raw[:, k, :] if explain else None
            )
            for k in members
        ]
        worst_s = out.worst_index[np.arange(n_acc), np.asarray(members)[m_big]]
        ref, scenario_rows = scenario_blocks(blocks, m_big, worst_s, explain=explain)
        values = None
        if contributions is not None:
            pnl, order = contributions
            code = table.settlement_assets.index(pool)
            in_pool = table.settlement_code[book.quantities.indices] == code
            values = PositionValues(pnl, include=in_pool, order=order)
        pools.append(
            PoolArrays(
                currency=pool,
                initial_margin=im,
                maintenance_margin=mm,
                components={"worst_case": worst, "roll_shock": roll, "delta_shock": dshock},
                held=held[:, table.settlement_assets.index(pool)],
                worst=ref,
                scenarios=scenario_rows,
                contributions=values,
            )
        )
    return im_usd, mm_usd, pools


def _segregated_contributions(
    prep: PreparedRisk, book: Book, out: KernelOutputs
) -> tuple[FloatArray, IntArray]:
    """Per stored position: its P&L in its group's worst scenario, scaled so that a group with a
    loss shares out exactly its counted loss; and its group (the listing order in its pool)."""
    q = book.quantities
    n_groups = len(prep.groups)
    row = np.repeat(np.arange(len(book)), np.diff(q.indptr))
    group = prep.kernel.group_of[q.indices]
    s = out.worst_index[row, group]
    pnl = q.data * prep.risk.pnl[q.indices, s]
    key = row * n_groups + group
    total = np.bincount(key, weights=pnl, minlength=len(book) * n_groups)[key]
    counted = -out.loss[row, group]
    scale = (counted < 0.0) & (total != 0.0)
    pnl = np.where(scale, pnl * (counted / np.where(scale, total, 1.0)), pnl)
    return pnl, group.astype(np.int64)


def _cross(prep: PreparedRisk, book: Book, out: KernelOutputs, detail: Detail) -> _Assembled:
    """One USD pool. The worst scenario shown is that of the underlying with the largest loss;
    the scenario list is every underlying in turn (USD, before gain offsets). Contributions:
    each position's USD P&L in its own underlying's worst scenario, scaled pro rata (as in
    segregated mode) so that an underlying with a loss shares out exactly its counted loss
    ``L_u``, then times that underlying's Euler factor ``d(worst_case)/d(L_u)``
    (:func:`correlation_shares`), so that they add up to ``-worst_case``."""
    params, scenarios, risk = prep.params, prep.scenarios, prep.risk
    underlyings = prep.underlyings
    n_acc = len(book)
    roll_usd = np.zeros(n_acc)
    net_delta = {u: np.zeros(n_acc) for u in underlyings}
    for k, g in enumerate(prep.groups):
        roll_usd += out.roll[:, k] * prep.price_usd(g.settlement)
        net_delta[g.underlying] += out.delta[:, k]
    losses = out.loss
    worst_idx = out.worst_index
    move_column = np.array([scenarios.column(u) for u in underlyings], dtype=np.intp)
    directions = np.sign(scenarios.moves[worst_idx, move_column[None, :]])
    worst = combine_by_correlation(losses, directions, params.correlation_of(underlyings))
    dshock = sum((_delta_shock(net_delta[u], params) for u in underlyings), np.zeros(n_acc))
    im = worst + roll_usd + dshock
    mm = params.mm_factor * im
    if detail < Detail.ACCOUNTS:
        return im, mm, []
    explain = detail >= Detail.EXPLAIN
    blocks = [
        ScenarioBlock(_labels(prep, u), out.raw[:, j, :] if explain else None)
        for j, u in enumerate(underlyings)
    ]
    ref, scenario_rows = None, None
    if underlyings:  # the worst scenario of the largest loss (first on ties)
        j_big = np.argmax(losses, axis=1)
        worst_s = worst_idx[np.arange(n_acc), j_big]
        ref, scenario_rows = scenario_blocks(blocks, j_big, worst_s, explain=explain)
    values = None
    if explain:
        q = book.quantities
        row = np.repeat(np.arange(n_acc), np.diff(q.indptr))
        usd_pnl = risk.pnl * prep.settlement_usd[risk.table.settlement_code]  # RiskArray.usd_pnl
        bucket = prep.kernel.bucket_of[prep.kernel.group_of[q.indices]]
        pnl = q.data * usd_pnl[q.indices, worst_idx[row, bucket]]
        # As in segregated mode: an underlying with a loss shares out exactly its counted loss.
        key = row * len(underlyings) + bucket
        total = np.bincount(key, weights=pnl, minlength=n_acc * len(underlyings))[key]
        counted = -losses[row, bucket]
        pro_rata = (counted < 0.0) & (total != 0.0)
        pnl = np.where(pro_rata, pnl * (counted / np.where(pro_rata, total, 1.0)), pnl)
        euler = correlation_shares(losses, directions, params.correlation_of(underlyings), worst)
        values = PositionValues(pnl * euler[row, bucket])
    pool = PoolArrays(
        currency="USD",
        initial_margin=im,
        maintenance_margin=mm,
        components={"worst_case": worst, "roll_shock": roll_usd, "delta_shock": dshock},
        worst=ref,
        scenarios=scenario_rows,
        contributions=values,
    )
    return im, mm, [pool]


class DeribitPmModel:
    """``MODEL``: deribit-pm through the margin-model protocol."""

    name = MODEL_NAME
    description = "Deribit portfolio margin risk matrix"
    needs = frozenset({MarketData.MARKS, MarketData.VOLATILITY, MarketData.INDEX})

    def load_params(self, spec: str | None) -> DeribitPmParams:
        return load_params(spec)

    def prepare(
        self, market: PricedMarket, instruments: Sequence[str], params: DeribitPmParams
    ) -> PreparedRisk:
        return prepare(market, instruments, params)

    def update(
        self, prepared: PreparedRisk, market: PricedMarket, changed: IntArray
    ) -> PreparedRisk:
        return update(prepared, market, changed)

    def margin(self, prepared: PreparedRisk, book: Book, *, detail: Detail) -> BookMargin:
        return margin_prepared(prepared, book, detail=detail)

    def composition(self, params: DeribitPmParams) -> Composition:
        """``IM = worst_case + roll_shock + delta_shock``, ``MM = mm_factor * IM``; the
        contributions add up to ``-worst_case``."""
        return Composition.scaled(
            {"worst_case": 1.0, "roll_shock": 1.0, "delta_shock": 1.0},
            params.mm_factor,
            Explanation(components={"worst_case": -1.0}),
        )


MODEL = DeribitPmModel()
