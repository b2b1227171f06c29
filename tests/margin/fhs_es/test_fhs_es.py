"""fhs-es against closed forms, direct per-scenario computation and invariants."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from helpers import BTC, ETH, market, portfolio
from solvent.errors import SolventInputError
from solvent.margin.fhs_es.liquidity import close_out_cost
from solvent.margin.fhs_es.model import MODEL, margin_book
from solvent.margin.fhs_es.overlays import buffer_fraction
from solvent.margin.fhs_es.params import Overlays, load_params, parse_params
from solvent.margin.params import load_builtin
from solvent.margin.protocol import Detail
from solvent.margin.registry import register
from solvent.market.history import PriceHistory, embedded_price_history
from solvent.market.order_book import parse_order_book
from solvent.market.snapshot import parse_market
from solvent.portfolio.book import Book

PARAMS = load_params()
HISTORY = embedded_price_history()
LAST_DAY = np.datetime64("2026-01-04")  # helpers.market() is as of 2026-01-05T08:00Z


def _direct_es(closes: np.ndarray, q: np.ndarray, conf: float, lam: float, seed: int) -> float:
    """Per-scenario Python loop: FHS ES of delta-1 linear positions q (coins) at the last close."""
    logs = np.log(closes)
    r = logs[1:] - logs[:-1]
    n, u = r.shape
    var = [np.mean(r[:seed, j] ** 2) for j in range(u)]
    sig = np.zeros((n + 1, u))
    for j in range(u):
        v = var[j]
        sig[0, j] = math.sqrt(v)
        for t in range(n):
            v = lam * v + (1 - lam) * r[t, j] ** 2
            sig[t + 1, j] = math.sqrt(v)
    pnls = []
    for t in range(seed, n):
        pnl = 0.0
        for j in range(u):
            move = math.exp(sig[n, j] * r[t, j] / sig[t, j]) - 1.0
            pnl += q[j] * closes[-1, j] * move
        pnls.append(pnl)
    losses = sorted((-p for p in pnls), reverse=True)
    k = max(1, math.ceil(round(len(losses) * (1 - conf), 9)))
    return sum(losses[:k]) / k


def _history_market(day: str) -> tuple[PriceHistory, object]:
    hist = HISTORY.select(["BTC", "ETH"]).window("2023-01-01", day)
    dates, closes = hist.common_closes()
    as_of = (dates[-1] + np.timedelta64(1, "D")).astype(str) + "T00:00:00Z"
    snap = parse_market(
        {
            "as_of": as_of,
            "index": {"BTC": closes[-1, 0], "ETH": closes[-1, 1], "USDC": 1.0},
            "instruments": [
                {"name": "BTC_USDC-PERPETUAL", "mark_price": closes[-1, 0]},
                {"name": "ETH_USDC-PERPETUAL", "mark_price": closes[-1, 1]},
                {"name": "BTC-PERPETUAL", "mark_price": closes[-1, 0]},
            ],
        }
    )
    return hist, (snap, closes)


def test_fhs_equals_a_direct_per_scenario_computation() -> None:
    hist, (snap, closes) = _history_market("2025-06-30")
    q = np.array([1.5, -20.0])
    book = Book.from_portfolios(
        [portfolio("a", ("BTC_USDC-PERPETUAL", q[0]), ("ETH_USDC-PERPETUAL", q[1]))]
    )
    result = margin_book(book, snap, PARAMS, history=hist)  # type: ignore[arg-type]
    direct = _direct_es(closes, q, 0.975, 0.97, 30)
    assert result.es[0] == pytest.approx(direct, rel=1e-9)
    assert result.margin.initial_margin_usd[0] == pytest.approx(direct, rel=1e-9)
    assert result.margin.maintenance_margin_usd[0] == pytest.approx(0.8 * direct, rel=1e-9)


def test_inverse_and_linear_coin_have_the_same_usd_risk() -> None:
    hist, (snap, _) = _history_market("2025-06-30")
    book = Book.from_portfolios(
        [portfolio("lin", ("BTC_USDC-PERPETUAL", -2.0)), portfolio("inv", ("BTC-PERPETUAL", -2.0))]
    )
    result = margin_book(book, snap, PARAMS, history=hist)  # type: ignore[arg-type]
    assert result.es[0] == pytest.approx(result.es[1], rel=1e-10)


def test_history_after_the_as_of_day_is_not_used() -> None:
    m = market()
    book = Book.from_portfolios([portfolio("a", ("BTC_USDC-PERPETUAL", 1.0))])
    base = margin_book(book, m, PARAMS).es[0]
    closes = np.array(HISTORY.closes)
    closes[HISTORY.dates > LAST_DAY] *= 3.0  # a crash/rally after the margin date
    changed = PriceHistory(HISTORY.dates, HISTORY.assets, closes)
    assert margin_book(book, m, PARAMS, history=changed).es[0] == pytest.approx(base, rel=1e-12)
    closes[HISTORY.dates == LAST_DAY] *= 1.5  # the last known close does matter
    moved = PriceHistory(HISTORY.dates, HISTORY.assets, closes)
    assert margin_book(book, m, PARAMS, history=moved).es[0] != pytest.approx(base, rel=1e-6)


def test_attribution_sums_to_es_and_scales_linearly() -> None:
    m = market()
    book = Book.from_portfolios(
        [
            portfolio(
                "a",
                ("BTC-PERPETUAL", 1.0),
                ("BTC-27MAR26-90000-P", 3.0),
                ("ETH-27MAR26-4000-C", -10.0),
            ),
            portfolio(
                "b",
                ("BTC-PERPETUAL", 2.0),
                ("BTC-27MAR26-90000-P", 6.0),
                ("ETH-27MAR26-4000-C", -20.0),
            ),
        ]
    )
    result = margin_book(book, m, PARAMS, detail=Detail.EXPLAIN)
    assert result.margin.detail is not None
    pool = result.margin.detail[0].pools[0]
    assert pool.contributions is not None and pool.scenarios is not None
    assert sum(c.pnl or 0.0 for c in pool.contributions) == pytest.approx(-result.es[0])
    assert result.es[1] == pytest.approx(2 * result.es[0], rel=1e-12)  # ES is homogeneous
    assert pool.worst_scenario is not None
    worst_label, worst_pnl = pool.scenarios[pool.worst_scenario.index]
    assert worst_label == pool.worst_scenario.label
    assert worst_pnl == min(p for _, p in pool.scenarios)
    assert result.var[0] <= result.es[0]


def test_vol_beta_reprices_options() -> None:
    m = market()
    book = Book.from_portfolios([portfolio("a", ("BTC-27MAR26-90000-P", -5.0))])
    calm = parse_params(load_builtin("fhs-es") | {"vol_beta": 0.0})
    with_beta = margin_book(book, m, PARAMS).es[0]
    assert with_beta > margin_book(book, m, calm).es[0]  # vol rises as BTC falls: short put


def test_overlays_raise_margin_as_defined() -> None:
    m = market()
    book = Book.from_portfolios([portfolio("a", ("BTC_USDC-PERPETUAL", 1.0))])
    base = margin_book(book, m, PARAMS)
    apc = margin_book(book, m, load_params("fhs-es-apc"))
    c = apc.components
    assert c["es"][0] == pytest.approx(base.es[0])
    ratio = apc.scenarios.vol_ratio
    assert c["buffer"][0] == pytest.approx(
        float(buffer_fraction(apc_params().overlays, ratio))
        * (c["es"][0] + c["stressed_period"][0] + c["floor"][0])
    )
    assert apc.margin.initial_margin_usd[0] >= base.margin.initial_margin_usd[0]
    floor_only = PARAMS.with_overlays(Overlays(floor=True))
    fl = margin_book(book, m, floor_only)
    # The floor revolatilizes with the long-run vol: for one delta-1 position the floor ES is
    # the base ES recomputed with sigma_long in place of sigma_today.
    assert fl.margin.initial_margin_usd[0] >= base.es[0]
    if ratio < 1.0:
        assert fl.components["floor"][0] > 0.0


def apc_params():  # type: ignore[no-untyped-def]
    return load_params("fhs-es-apc")


def test_buffer_is_released_linearly() -> None:
    o = Overlays(buffer=True)
    assert buffer_fraction(o, 0.5) == pytest.approx(0.25)
    assert buffer_fraction(o, 1.5) == pytest.approx(0.125)
    assert buffer_fraction(o, 3.0) == pytest.approx(0.0)
    assert buffer_fraction(Overlays(), 0.5) == 0.0


def test_liquidity_addon_by_hand() -> None:
    ob = parse_order_book(
        {"bids": [[99.0, 1.0], [98.0, 2.0]], "asks": [[101.0, 1.0], [103.0, 1.0]]}, "ob"
    )
    cost = close_out_cost(ob, np.array([0.5, 2.0, -1.5, 5.0, 0.0]), 0.1)
    # mid 100: sell 0.5 at 99 -> 0.5; sell 2 -> 1*1 + 1*2 = 3; buy 1.5 -> 1 + 0.5*3 = 2.5;
    # sell 5: 3 filled (1 + 4 = 5) + 2 unfilled * 100 * 0.1 = 20 -> 25.
    assert cost == pytest.approx([0.5, 3.0, 2.5, 25.0, 0.0])


def test_liquidity_addon_in_the_model() -> None:
    raw_books = {"BTC": {"bids": [[BTC - 50, 1.0], [BTC - 500, 10.0]], "asks": [[BTC + 50, 1.0]]}}
    base = market()
    m = parse_market(
        {
            "as_of": "2026-01-05T08:00:00Z",
            "index": {"BTC": BTC, "ETH": ETH, "USDC": 1.0},
            "instruments": [{"name": "BTC_USDC-PERPETUAL", "mark_price": BTC}],
            "order_books": raw_books,
        }
    )
    book = Book.from_portfolios([portfolio("a", ("BTC_USDC-PERPETUAL", 3.0))])
    result = margin_book(book, m, PARAMS)
    assert result.components["liquidity"][0] == pytest.approx(50.0 + 2 * 500.0)
    plain = margin_book(book, base, PARAMS)
    assert result.margin.initial_margin_usd[0] == pytest.approx(
        plain.margin.initial_margin_usd[0] + 1050.0
    )


def test_params_are_validated() -> None:
    raw = load_builtin("fhs-es")
    with pytest.raises(SolventInputError, match=r"params\.bogus"):
        parse_params(raw | {"bogus": 1})
    with pytest.raises(SolventInputError, match=r"params\.ewma_lambda"):
        parse_params(raw | {"ewma_lambda": 1.5})
    with pytest.raises(SolventInputError, match=r"params\.overlays\.floor"):
        parse_params(raw | {"overlays": raw["overlays"] | {"floor": "yes"}})
    with pytest.raises(SolventInputError, match=r"params\.mpor_days"):
        parse_params(raw | {"mpor_days": 1.5})


def test_unknown_underlying_names_the_history() -> None:
    m = parse_market(
        {
            "as_of": "2026-01-05T08:00:00Z",
            "index": {"FOO": 10.0},
            "instruments": [{"name": "FOO_USDC-PERPETUAL", "mark_price": 10.0}],
        }
    )
    book = Book.from_portfolios([portfolio("a", ("FOO_USDC-PERPETUAL", 1.0))])
    with pytest.raises(SolventInputError, match="history"):
        margin_book(book, m, PARAMS)


def test_mpor_uses_overlapping_multi_day_returns() -> None:
    m = market()
    book = Book.from_portfolios([portfolio("a", ("BTC_USDC-PERPETUAL", 1.0))])
    two = parse_params(load_builtin("fhs-es") | {"mpor_days": 2})
    one_day = margin_book(book, m, PARAMS)
    two_day = margin_book(book, m, two)
    n1 = one_day.scenarios.main.stop - one_day.scenarios.main.start
    n2 = two_day.scenarios.main.stop - two_day.scenarios.main.start
    assert n2 == n1 - 1
    assert 1.1 < two_day.es[0] / one_day.es[0] < 1.8  # about sqrt(2)


def test_registry_end_to_end(tmp_path: Path) -> None:
    from solvent.engine.margin import margin_portfolios
    from solvent.engine.views import report_to_json

    register(MODEL)
    reports = margin_portfolios(
        [portfolio("a", ("BTC-PERPETUAL", 1.0), USDC=10_000.0)], market(), "fhs-es", None
    )
    out = report_to_json(reports[0])
    assert out["model"] == "fhs-es" and out["parameters"] == "fhs-es@2026-05"
    pool = out["pools"][0]
    assert pool["currency"] == "USD"
    assert pool["initial_margin"] == pytest.approx(sum(pool["components"].values()))
    override = tmp_path / "p.toml"
    override.write_text("confidence = 0.99\n")
    r99 = margin_portfolios(
        [portfolio("a", ("BTC-PERPETUAL", 1.0))], market(), "fhs-es", str(override)
    )
    assert r99[0].margin.initial_margin_usd > out["initial_margin_usd"]
    assert r99[0].margin.parameters == "fhs-es+p@2026-05"
    json.dumps(out)


def test_as_of_time_cut() -> None:
    from solvent.margin.fhs_es.scenarios import last_known_day

    assert last_known_day(datetime(2026, 1, 6, 0, 0, tzinfo=UTC)) == np.datetime64("2026-01-05")
    assert last_known_day(datetime(2026, 1, 5, 15, 0, tzinfo=UTC)) == np.datetime64("2026-01-04")


def test_a_book_without_positions_needs_no_margin() -> None:
    """Issue 8 item 9: an empty book (no instrument at all) margins to zero, no traceback."""
    book = Book.from_portfolios([portfolio("flat", USDC=10.0)])
    result = margin_book(book, market(), PARAMS, detail=Detail.EXPLAIN)
    assert result.margin.initial_margin_usd.tolist() == [0.0]
    assert result.margin.maintenance_margin_usd.tolist() == [0.0]
