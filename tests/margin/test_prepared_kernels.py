"""standard and deribit-pm: the prepared path, its chunking and its compiled kernels.

- the prepared path (prepare once, re-margin many books) equals the one-shot path;
- any chunk size gives the same result as one chunk (and serial equals parallel), and the
  compiled pass gives the same bits as the numpy pass;
- re-margining a random book equals margining each account alone (hypothesis);
- the compiled kernels equal a plain numpy formulation of the methodology (the one they
  replaced), to the last bit, on random books.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import ETH, market
from solvent.errors import SolventInputError
from solvent.margin import deribit_pm, standard
from solvent.margin.protocol import Detail, PricedMarket, margin_book
from solvent.margin.registry import get_model
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.book import Book

MARKET = market(
    [
        {"name": "ETH_USDC-PERPETUAL", "mark_price": ETH},
        {"name": "BTC_USDC-27MAR26-100000-C", "mark_iv": 0.5},
        {"name": "BTC_USDC-27MAR26-95000-P", "mark_iv": 0.52},
    ]
)
INSTRUMENTS = tuple(MARKET.quotes)
MODELS = {"standard": standard, "deribit-pm": deribit_pm}
PARAM_SETS = [("standard", None), ("deribit-pm", None), ("deribit-pm", "deribit-xpm")]


def _random_book(seed: int, n_accounts: int, per_account: int = 4) -> Book:
    rng = np.random.default_rng(seed)
    rows = np.repeat(np.arange(n_accounts), per_account)
    cols = rng.integers(0, len(INSTRUMENTS), rows.size)
    qty = np.round(rng.normal(0.0, 5.0, rows.size), 2)
    qty[rng.random(rows.size) < 0.1] = 0.0  # explicit zero positions
    qty[rng.random(rows.size) < 0.05] *= 400.0  # large enough for the extended table
    return Book.from_arrays(tuple(f"a{i}" for i in range(n_accounts)), INSTRUMENTS, rows, cols, qty)


def _prepared(name: str, spec: str | None, snapshot: MarketSnapshot = MARKET) -> object:
    model = get_model(name)
    priced = PricedMarket.resolve(snapshot, INSTRUMENTS)
    return model.prepare(priced, INSTRUMENTS, model.load_params(spec))


@pytest.mark.parametrize(("name", "spec"), PARAM_SETS)
def test_prepared_path_equals_one_shot_path(name: str, spec: str | None) -> None:
    model = get_model(name)
    prepared = _prepared(name, spec)
    for seed, n in ((1, 40), (2, 1), (3, 0)):
        book = _random_book(seed, n)
        for detail in Detail:
            once = margin_book(model, book, MARKET, spec, detail=detail)
            again = model.margin(prepared, book, detail=detail)
            np.testing.assert_array_equal(again.initial_margin_usd, once.initial_margin_usd)
            np.testing.assert_array_equal(again.maintenance_margin_usd, once.maintenance_margin_usd)
            assert again.detail == once.detail
            assert (again.model, again.parameters, again.accounts) == (
                once.model,
                once.parameters,
                once.accounts,
            )


@pytest.mark.parametrize(("name", "spec"), PARAM_SETS)
def test_every_detail_level_gives_the_same_totals(name: str, spec: str | None) -> None:
    model, prepared, book = get_model(name), _prepared(name, spec), _random_book(4, 30)
    totals = model.margin(prepared, book, detail=Detail.TOTALS)
    assert totals.detail is None
    for detail in (Detail.ACCOUNTS, Detail.EXPLAIN):
        result = model.margin(prepared, book, detail=detail)
        np.testing.assert_array_equal(result.initial_margin_usd, totals.initial_margin_usd)
        assert result.detail is not None
        np.testing.assert_array_equal(
            [a.initial_margin_usd for a in result.detail], totals.initial_margin_usd
        )


@pytest.mark.parametrize(("name", "spec"), PARAM_SETS)
def test_chunked_equals_unchunked(name: str, spec: str | None) -> None:
    module = MODELS[name]
    prepared = _prepared(name, spec)
    book = _random_book(5, 101)
    whole = module.margin_prepared(
        prepared, book, detail=Detail.EXPLAIN, chunk=10**6, compiled=True
    )
    for chunk in (1, 2, 7, 100):  # parallel over chunks; 10**6 is one serial chunk
        part = module.margin_prepared(
            prepared, book, detail=Detail.EXPLAIN, chunk=chunk, compiled=True
        )
        np.testing.assert_array_equal(part.initial_margin_usd, whole.initial_margin_usd)
        np.testing.assert_array_equal(part.maintenance_margin_usd, whole.maintenance_margin_usd)
        assert part.detail == whole.detail
    with pytest.raises(ValueError, match="chunk"):
        module.margin_prepared(prepared, book, chunk=0)


@pytest.mark.parametrize(("name", "spec"), PARAM_SETS)
@pytest.mark.parametrize("seed", [21, 22, 23])
def test_compiled_pass_equals_numpy_pass_to_the_last_bit(
    name: str, spec: str | None, seed: int
) -> None:
    module = MODELS[name]
    prepared = _prepared(name, spec)
    book = _random_book(seed, 250, per_account=5)
    for detail in Detail:
        fast = module.margin_prepared(prepared, book, detail=detail, compiled=True)
        plain = module.margin_prepared(prepared, book, detail=detail, compiled=False)
        for x, y in (
            (fast.initial_margin_usd, plain.initial_margin_usd),
            (fast.maintenance_margin_usd, plain.maintenance_margin_usd),
        ):
            np.testing.assert_array_equal(x, y)
            np.testing.assert_array_equal(np.signbit(x), np.signbit(y))
        assert fast.detail == plain.detail


def test_a_book_with_unsorted_rows_gives_the_sorted_result() -> None:
    book = _random_book(24, 20)
    q = book.quantities
    row = np.repeat(np.arange(len(book)), np.diff(q.indptr))
    reverse = q.indptr[row] + q.indptr[row + 1] - 1 - np.arange(q.nnz)  # each row backwards
    messy = sp.csr_array((q.data[reverse], q.indices[reverse], q.indptr), shape=q.shape)
    assert not messy.has_sorted_indices
    for name in MODELS:
        model, prepared = get_model(name), _prepared(name, None)
        same = model.margin(prepared, book, detail=Detail.EXPLAIN)
        other = model.margin(
            prepared, Book(book.accounts, book.instruments, messy), detail=Detail.EXPLAIN
        )
        np.testing.assert_array_equal(other.initial_margin_usd, same.initial_margin_usd)
        assert other.detail == same.detail


@pytest.mark.parametrize("name", MODELS)
def test_a_book_over_other_instruments_is_refused(name: str) -> None:
    prepared = _prepared(name, None)
    book = _random_book(6, 3)
    other = Book(book.accounts, tuple(reversed(book.instruments)), book.quantities)
    with pytest.raises(SolventInputError, match=r"book\.instruments"):
        get_model(name).margin(prepared, other, detail=Detail.TOTALS)


_PREPARED = {(name, spec): _prepared(name, spec) for name, spec in PARAM_SETS}


@settings(max_examples=60, deadline=None)
@given(
    compiled=st.booleans(),
    case=st.sampled_from(PARAM_SETS),
    positions=st.lists(
        st.tuples(
            st.integers(0, 11),
            st.integers(0, len(INSTRUMENTS) - 1),
            st.one_of(
                st.just(0.0),
                st.floats(-2000.0, 2000.0, allow_nan=False, allow_subnormal=False),
            ),
        ),
        max_size=40,
    ),
)
def test_book_equals_each_account_alone(
    compiled: bool, case: tuple[str, str | None], positions: list[tuple[int, int, float]]
) -> None:
    """The book through either pass (compiled or numpy) equals each account alone (numpy)."""
    model = get_model(case[0])
    prepared = _PREPARED[case]
    n_acc = 12
    arr = np.array(positions, dtype=np.float64).reshape(-1, 3)
    book = Book.from_arrays(
        tuple(f"a{i}" for i in range(n_acc)),
        INSTRUMENTS,
        arr[:, 0].astype(np.intp),
        arr[:, 1].astype(np.intp),
        arr[:, 2],
    )
    together = MODELS[case[0]].margin_prepared(
        prepared, book, detail=Detail.ACCOUNTS, compiled=compiled
    )
    assert together.detail is not None
    for a in range(n_acc):
        alone = model.margin(prepared, book.slice(a, a + 1), detail=Detail.ACCOUNTS)
        assert alone.initial_margin_usd[0] == together.initial_margin_usd[a]
        assert alone.maintenance_margin_usd[0] == together.maintenance_margin_usd[a]
        assert alone.detail == (together.detail[a],)


# --- the numpy formulations the kernels replaced, as independent oracles ------------------------


def _numpy_standard(prepared: standard.PreparedStandard, book: Book) -> np.ndarray:
    """Standard IM (USD) per account: per-position arrays, summed per (account, pool)."""
    r = prepared.rates
    q = book.quantities.tocoo()
    size, col = np.abs(q.data), q.col
    option, uv = r.is_option[col], r.unit_value[col]
    fut_im = np.where(option, 0.0, size * (r.im_base[col] + r.slope[col] * size) * uv)
    short = option & (q.data < 0)
    opt_im = np.where(short, size * r.option_im[col] * uv, 0.0)
    n_pools = r.n_pools
    per_pool = np.bincount(
        q.row * n_pools + r.pool[col], weights=fut_im + opt_im, minlength=len(book) * n_pools
    ).reshape(len(book), n_pools)
    out: np.ndarray = per_pool @ prepared.pool_usd
    return out


def _numpy_deribit_pm(prepared: deribit_pm.PreparedRisk, book: Book) -> np.ndarray:
    """deribit-pm IM (USD) per account, segregated or cross, from dense group P&L matrices."""
    params, k = prepared.params, prepared.kernel
    q = book.quantities.tocsc()
    n_std, n_acc = k.n_std, len(book)
    vectors, rolls, deltas = [], [], []
    for g, grp in enumerate(prepared.groups):
        sub = q[:, grp.rows]
        pnl = np.asarray(sub @ prepared.risk.pnl[grp.rows, :])
        scaled = pnl[:, n_std:] / k.ext_ratio[g][None, :]
        adj = np.minimum(k.ext_damp[g][None, :], np.abs(scaled))
        pnl[:, n_std:] = (scaled - np.sign(scaled) * adj) * params.extended_table_factor
        gains = pnl > 0
        pnl[gains] = np.minimum(pnl[gains] * k.pnl_offset[g], k.offset_cap[g])
        vectors.append(pnl)
        rolls.append(np.asarray(abs(sub) @ prepared.roll_rate[grp.rows]))
        deltas.append(np.asarray(sub @ prepared.usd_delta[grp.rows]))

    def shock(x: np.ndarray) -> np.ndarray:
        excess = np.maximum(np.abs(x) - params.delta_total_liq_shock_threshold, 0.0)
        out: np.ndarray = params.max_delta_shock * excess
        return out

    if not params.cross:
        im_usd = np.zeros(n_acc)
        for g, grp in enumerate(prepared.groups):
            px = prepared.price_usd(grp.settlement)
            worst = np.maximum(-vectors[g].min(axis=1), 0.0)
            im_usd += (worst + rolls[g] + shock(deltas[g]) / px) * px
        return im_usd
    unds = prepared.underlyings
    usd = {u: np.zeros((n_acc, len(prepared.scenarios))) for u in unds}
    net = {u: np.zeros(n_acc) for u in unds}
    roll = np.zeros(n_acc)
    for g, grp in enumerate(prepared.groups):
        usd[grp.underlying] += vectors[g] * k.weight[g][None, :]
        net[grp.underlying] += deltas[g]
        roll += rolls[g] * prepared.price_usd(grp.settlement)
    losses = np.stack([np.maximum(-usd[u].min(axis=1), 0.0) for u in unds], axis=1)
    idx = np.stack([usd[u].argmin(axis=1) for u in unds], axis=1)
    cols = np.array([prepared.scenarios.column(u) for u in unds])
    dirs = np.sign(prepared.scenarios.moves[idx, cols[None, :]])
    worst = deribit_pm.combine_by_correlation(losses, dirs, params.correlation_of(unds))
    out: np.ndarray = worst + roll + sum((shock(net[u]) for u in unds), np.zeros(n_acc))
    return out


@pytest.mark.parametrize(("name", "spec"), PARAM_SETS)
@pytest.mark.parametrize("seed", [11, 12])
def test_kernels_equal_the_numpy_formulation(name: str, spec: str | None, seed: int) -> None:
    module: ModuleType = MODELS[name]
    prepared = _prepared(name, spec)
    book = _random_book(seed, 300, per_account=6)
    result = module.margin_prepared(prepared, book)
    oracle = _numpy_standard if name == "standard" else _numpy_deribit_pm
    np.testing.assert_allclose(result.initial_margin_usd, oracle(prepared, book), rtol=1e-13)
