"""ADL rankings (BitMEX, Binance, Hyperliquid), quantiles and fills (docs/formats.md 10)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solvent.engine.adl import adl_json, run_adl
from solvent.errors import SolventInputError
from solvent.liquidation.adl import (
    AdlQueue,
    Ranking,
    adl_fills,
    adl_scores,
    parse_adl_queue,
    parse_ranking,
    quantiles,
    rank_queue,
)


def one(**cols: float) -> AdlQueue:
    q = cols.pop("quantity")
    return AdlQueue.from_columns("BTC-PERPETUAL", ["a"], [q], **{k: [v] for k, v in cols.items()})


def test_bitmex_issue_example() -> None:
    """Long 1 @ 50,000, mark 60,000, bankruptcy 45,000: PnL% 0.20 x effective leverage 4.0."""
    queue = one(quantity=1.0, entry_price=50_000.0, mark_price=60_000.0, bankruptcy_price=45_000.0)
    assert adl_scores(queue, Ranking.BITMEX)[0] == pytest.approx(0.80, rel=1e-15)


def test_bitmex_loser_divides_by_leverage_and_short_mirrors() -> None:
    loser = one(quantity=1.0, entry_price=60_000.0, mark_price=50_000.0, bankruptcy_price=40_000.0)
    # pnl% = -10,000 / 60,000; leverage = 50,000 / 10,000 = 5
    assert adl_scores(loser, Ranking.BITMEX)[0] == pytest.approx((-1 / 6) / 5.0)
    short = one(quantity=-2.0, entry_price=60_000.0, mark_price=50_000.0, bankruptcy_price=62_500.0)
    # v = -100,000, e = -120,000, b = -125,000: pnl% = 20,000/120,000, lev = 100,000/25,000 = 4
    assert adl_scores(short, Ranking.BITMEX)[0] == pytest.approx((1 / 6) * 4.0)


def test_binance_formula_and_losers_zero() -> None:
    queue = AdlQueue.from_columns(
        "BTCUSDT",
        ["w", "l", "neg"],
        [2.0, 1.0, 1.0],
        entry_price=[50_000.0, 60_000.0, 50_000.0],
        mark_price=[55_000.0, 55_000.0, 55_000.0],
        wallet_balance_usd=[20_000.0, 20_000.0, -10_000.0],
        maintenance_margin_usd=[1_000.0, 500.0, 500.0],
    )
    scores = adl_scores(queue, Ranking.BINANCE)
    # w: upnl 10,000: 10,000/20,000 x 1,000/30,000
    assert scores[0] == pytest.approx(0.5 * 1_000.0 / 30_000.0)
    assert scores[1] == 0.0  # a loser
    # neg: upnl 5,000 over max(1, wallet) = 1, wallet + upnl = -5,000 <= 0: margin ratio 0
    assert scores[2] == 0.0


def test_hyperliquid_formula_both_sides() -> None:
    queue = AdlQueue.from_columns(
        "BTC",
        ["l", "s"],
        [1.0, -1.0],
        entry_price=[50_000.0, 60_000.0],
        mark_price=[55_000.0, 55_000.0],
        account_value_usd=[11_000.0, 11_000.0],
    )
    scores = adl_scores(queue, Ranking.HYPERLIQUID)
    assert scores[0] == pytest.approx(1.1 * 55_000.0 / 11_000.0)
    assert scores[1] == pytest.approx((60 / 55) * 55_000.0 / 11_000.0)


def test_sides_ranked_separately_with_quantiles() -> None:
    queue = AdlQueue.from_columns(
        "BTC-PERPETUAL",
        ["a", "b", "c", "d", "s1", "s2"],
        [1.0, 1.0, 2.0, 1.0, -3.0, -1.0],
        entry_price=[50_000.0] * 6,
        mark_price=[60_000.0] * 6,
        bankruptcy_price=[45_000.0, 55_000.0, 40_000.0, 30_000.0, 70_000.0, 61_000.0],
    )
    ranked = rank_queue(queue, Ranking.BITMEX)
    # longs: leverage 4, 12, 3, 2 -> b, a, c, d; cumulative shares 1/5, 2/5, 4/5, 5/5
    assert [queue.accounts[i] for i in ranked.long.positions] == ["b", "a", "c", "d"]
    assert ranked.long.quantile.tolist() == [0.2, 0.4, 0.8, 1.0]
    assert np.all(np.diff(ranked.long.score) <= 0)
    # shorts lose 20 %: s2 (leverage 60) has the least negative score
    assert [queue.accounts[i] for i in ranked.short.positions] == ["s2", "s1"]
    assert ranked.short.quantile.tolist() == [0.4, 1.0]


def test_quantile_is_ceil_of_five_c() -> None:
    assert quantiles([1, 1, 1, 1, 1]).tolist() == [0.2, 0.4, 0.6, 0.8, 1.0]
    assert quantiles([0.1, 0.2, 0.3, 0.4]).tolist() == [0.2, 0.4, 0.6, 1.0]
    assert quantiles([10.0]).tolist() == [1.0]
    assert quantiles([]).tolist() == []


def test_ties_keep_queue_order() -> None:
    queue = AdlQueue.from_columns(
        "X",
        ["p", "q", "r"],
        [1.0, 1.0, 1.0],
        entry_price=[1.0] * 3,
        mark_price=[2.0] * 3,
        bankruptcy_price=[0.5] * 3,
    )
    assert rank_queue(queue, Ranking.BITMEX).long.positions.tolist() == [0, 1, 2]


def contract_queue() -> AdlQueue:
    return AdlQueue.from_columns(
        "BTC-PERPETUAL",
        ["l1", "l2", "s1", "l3"],
        [1.0, 2.0, -1.0, 5.0],
        entry_price=[90_000.0, 90_000.0, 90_000.0, 95_000.0],
        mark_price=[93_700.0] * 4,
        bankruptcy_price=[80_000.0, 60_000.0, 120_000.0, 50_000.0],
    )


def test_fills_in_adl_order_skip_losers() -> None:
    queue = contract_queue()
    fills = adl_fills(queue, Ranking.BITMEX, -1.5, 85_000.0)
    assert [queue.accounts[i] for i in fills.positions] == ["l1", "l2"]
    assert fills.quantity.tolist() == [-1.0, -0.5]
    assert fills.price == 85_000.0
    assert fills.unfilled == 0.0
    # l3 is a loser (entry 95,000 above the mark): never deleveraged; 3 of 10 are left unfilled
    big = adl_fills(queue, Ranking.BITMEX, -10.0, 85_000.0)
    assert [queue.accounts[i] for i in big.positions] == ["l1", "l2"]
    assert big.unfilled == pytest.approx(7.0)
    # a liquidated long takes shorts: s1 loses at 93,700 < 90,000? no: short entry 90,000 < mark
    with pytest.raises(SolventInputError, match="no short position in profit"):
        adl_fills(queue, Ranking.BITMEX, 1.0, 95_000.0)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"size": float("nan"), "price": 1.0}, "fill.size"),
        ({"size": 0.0, "price": 1.0}, "fill.size"),
        ({"size": -1.0, "price": float("nan")}, "fill.price"),
        ({"size": -1.0, "price": -5.0}, "fill.price"),
    ],
)
def test_bad_fill_names_field(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(SolventInputError) as err:
        adl_fills(contract_queue(), Ranking.BITMEX, kwargs["size"], kwargs["price"])
    assert err.value.field == field


def test_missing_field_named_per_ranking() -> None:
    queue = contract_queue()
    for ranking, field in (
        (Ranking.BINANCE, "wallet_balance_usd"),
        (Ranking.HYPERLIQUID, "account_value_usd"),
    ):
        with pytest.raises(SolventInputError) as err:
            adl_scores(queue, ranking)
        assert err.value.field == f"positions[0].{field}"


def test_bankrupt_position_refused_by_bitmex() -> None:
    queue = one(quantity=1.0, entry_price=50_000.0, mark_price=40_000.0, bankruptcy_price=45_000.0)
    with pytest.raises(SolventInputError, match="bankruptcy_price"):
        adl_scores(queue, Ranking.BITMEX)


def test_parse_ranking_unknown() -> None:
    with pytest.raises(SolventInputError) as err:
        parse_ranking("okx", "--ranking")
    assert err.value.field == "--ranking"


def raw_queue() -> dict[str, object]:
    return {
        "instrument": "BTC-PERPETUAL",
        "positions": [
            {
                "account": "l1",
                "quantity": 1.0,
                "entry_price": 90000.0,
                "mark_price": 93700.0,
                "bankruptcy_price": 80000.0,
            },
            {
                "account": "s1",
                "quantity": -1.0,
                "entry_price": 95000.0,
                "mark_price": 93700.0,
                "bankruptcy_price": 120000.0,
            },
        ],
    }


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("positions", 0, "mark_price"), float("nan"), "positions[0].mark_price"),
        (("positions", 1, "quantity"), 0.0, "positions[1].quantity"),
        (("positions", 1, "quantity"), "1", "positions[1].quantity"),
        (("positions", 0, "account"), "", "positions[0].account"),
        (("positions", 0, "colour"), 1, "positions[0].colour"),
        (("instrument",), 3, "instrument"),
        (("positions",), [], "positions"),
        (("positions", 1, "account"), "l1", None),  # l1 long and short is fine
    ],
)
def test_parse_queue_errors(path: tuple[object, ...], value: object, field: str | None) -> None:
    raw = raw_queue()
    target: object = raw
    for key in path[:-1]:
        target = target[key]  # type: ignore[index]
    target[path[-1]] = value  # type: ignore[index]
    if field is None:
        assert len(parse_adl_queue(raw)) == 2
        return
    with pytest.raises(SolventInputError) as err:
        parse_adl_queue(raw)
    assert err.value.field == field


def test_duplicate_account_on_one_side_refused() -> None:
    raw = raw_queue()
    raw["positions"].append(dict(raw["positions"][0]))  # type: ignore[attr-defined]
    with pytest.raises(SolventInputError, match="two positions on the same side"):
        parse_adl_queue(raw)


def test_json_view_shape() -> None:
    run = run_adl(parse_adl_queue(raw_queue()), Ranking.BITMEX, (-1.0, 85_000.0))
    out = adl_json(run)
    assert out["ranking"] == "bitmex"
    assert out["queues"]["long"][0] == {
        "account": "l1",
        "quantity": 1.0,
        "score": pytest.approx((3700 / 90000) * 93700 / 13700),
        "quantile": 1.0,
    }
    assert out["fills"] == [{"account": "l1", "quantity": -1.0, "price": 85_000.0}]
    assert "fills" not in adl_json(run_adl(parse_adl_queue(raw_queue()), Ranking.BITMEX))


sizes = st.floats(0.01, 1_000.0)
prices = st.floats(100.0, 200_000.0)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(sizes, st.booleans(), prices, st.floats(0.05, 0.95)), min_size=1, max_size=30
    ),
    prices,
    st.sampled_from(list(Ranking)),
    st.floats(0.01, 5_000.0),
)
def test_properties(
    rows: list[tuple[float, bool, float, float, float]], mark: float, ranking: Ranking, size: float
) -> None:
    """Every position is ranked once on its own side, scores descend, quantiles rise to 1.0 in
    steps of 0.2; fills never exceed a position, never touch a loser, and add up to the size
    minus what is unfilled."""
    q = np.array([s if long else -s for s, long, _, _ in rows])
    entry = np.array([e for _, _, e, _ in rows])
    cushion = np.array([c for _, _, _, c in rows])
    bankruptcy = np.where(q > 0, mark * (1 - cushion), mark * (1 + cushion))
    queue = AdlQueue.from_columns(
        "X",
        [f"a{i}" for i in range(len(rows))],
        q,
        entry_price=entry,
        mark_price=np.full(len(rows), mark),
        bankruptcy_price=bankruptcy,
        wallet_balance_usd=np.full(len(rows), 10_000.0),
        maintenance_margin_usd=np.full(len(rows), 100.0),
        account_value_usd=np.full(len(rows), 10_000.0),
    )
    ranked = rank_queue(queue, ranking)
    both = np.concatenate([ranked.long.positions, ranked.short.positions])
    assert sorted(both.tolist()) == list(range(len(rows)))
    for side, sign in ((ranked.long, 1.0), (ranked.short, -1.0)):
        assert np.all(np.sign(q[side.positions]) == sign)
        assert np.all(np.diff(side.score) <= 0)
        if side.positions.size:
            assert side.quantile[-1] == 1.0
            assert np.all(np.diff(side.quantile) >= 0)
            assert np.allclose(side.quantile * 5, np.round(side.quantile * 5))
    upnl = q * (mark - entry)
    opposite = q < 0  # a liquidated long (size > 0) takes shorts
    if not np.any(opposite & (upnl > 0)):
        with pytest.raises(SolventInputError):
            adl_fills(queue, ranking, size, mark)
        return
    fills = adl_fills(queue, ranking, size, mark)
    assert np.all(upnl[fills.positions] > 0)
    assert np.all(np.abs(fills.quantity) <= np.abs(q[fills.positions]) + 1e-12)
    assert np.all(fills.quantity > 0)  # shorts buy back
    assert math.isclose(float(fills.quantity.sum()) + fills.unfilled, size, rel_tol=1e-9)
