"""Auto-deleveraging of option positions (docs/methodology/adl-and-auctions.md, "Options"): the
three rankings read on premium values in USD, a bankrupt short put deleveraged against the longs
of the same put in profit at its bankruptcy premium, never below their maintenance margin, and
the outcome booked on the exact ledger in the settlement coin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from solvent.cli.main import app
from solvent.engine.liquidation import liquidate_accounts
from solvent.engine.margin import margin_accounts
from solvent.errors import SolventInputError
from solvent.ledger.store import Ledger
from solvent.liquidation.adl import AdlQueue, Ranking, adl_fills, adl_scores, parse_adl_queue
from solvent.liquidation.booking import book_outcome
from solvent.liquidation.outcome import Action, StepKind
from solvent.market.snapshot import MarketSnapshot, parse_market
from solvent.portfolio.account_book import parse_account_book
from solvent.realtime.seed import seed_ledger

PUT = "BTC-27MAR26-100000-P"
PERP = "BTC_USDC-PERPETUAL"
INDEX = 100_000.0


def put_market() -> MarketSnapshot:
    """BTC at 100,000 USD; the March 100,000 put (inverse: premium in BTC) marked 0.10 BTC."""
    return parse_market(
        {
            "as_of": "2026-01-05T08:00:00Z",
            "index": {"BTC": INDEX, "USDC": 1.0},
            "instruments": [
                {"name": PERP, "mark_price": INDEX},
                {"name": PUT, "mark_price": 0.10},
            ],
        }
    )


def holder(name: str, usdc: float, puts: float, entry: float, perps: float = 0.0) -> Any:
    positions: list[dict[str, Any]] = [{"instrument": PUT, "quantity": puts, "entry_price": entry}]
    if perps:
        positions.append({"instrument": PERP, "quantity": perps, "entry_price": INDEX})
    return {"account": name, "collateral": {"USDC": usdc}, "positions": positions}


# the worked example of docs/methodology/adl-and-auctions.md ("Options")
EXAMPLE = [
    holder("broke", 60_000.0, -10.0, 0.05),  # equity 60,000 - 100,000 = -40,000
    holder("h1", 0.0, 3.0, 0.02, perps=14.0),  # +400 %, equity 27,000, MM 17,780
    holder("l1", 1_000.0, 5.0, 0.04),  # +150 %, equity 46,000
    holder("l2", 2_000.0, 10.0, 0.08),  # +25 %, equity 92,000
    holder("l3", 3_000.0, 4.0, 0.12),  # -16.7 %: a loser, never deleveraged
]


def example_book() -> Any:
    return parse_account_book({"accounts": EXAMPLE})[0]


# ------------------------------------------------------------------------------------------
# scores of option positions
# ------------------------------------------------------------------------------------------


def option_queue(**extra: Any) -> AdlQueue:
    """The example's put holders as a queue (bankruptcy premium = mark - equity / (q x size x
    index), floored at 0), plus a short ``s1`` of 2 from 0.15 with 40,000 of equity."""
    return AdlQueue.from_columns(
        PUT,
        ["h1", "l1", "l2", "l3", "s1"],
        [3.0, 5.0, 10.0, 4.0, -2.0],
        entry_price=[0.02, 0.04, 0.08, 0.12, 0.15],
        mark_price=[0.10] * 5,
        bankruptcy_price=[0.01, 0.008, 0.008, 0.0025, 0.30],
        wallet_balance_usd=[27_000.0, 46_000.0, 92_000.0, 39_000.0, 40_000.0],
        maintenance_margin_usd=[17_780.0, 0.0, 0.0, 0.0, 5_000.0],
        account_value_usd=[27_000.0, 46_000.0, 92_000.0, 39_000.0, 40_000.0],
        contract_size=extra.pop("contract_size", 1.0),
        price_unit_usd=extra.pop("price_unit_usd", INDEX),
        option=True,
    )


def test_bitmex_on_premium_values() -> None:
    """pnl% is the premium's return; leverage = |value| / (value - bankruptcy value): for a long
    max(1, value / equity), for a short value / equity."""
    scores = adl_scores(option_queue(), Ranking.BITMEX)
    # h1: (0.10 - 0.02) / 0.02 = 4 x 30,000 / 27,000
    assert scores[0] == pytest.approx(4.0 * 30_000 / 27_000, rel=1e-12)
    assert scores[1] == pytest.approx(1.5 * 50_000 / 46_000, rel=1e-12)
    assert scores[2] == pytest.approx(0.25 * 100_000 / 92_000, rel=1e-12)
    assert scores[3] == pytest.approx((-1 / 6) / (40_000 / 39_000), rel=1e-12)
    # s1: v = -20,000, e = -30,000, b = -60,000: pnl% 1/3, leverage 20,000 / 40,000
    assert scores[4] == pytest.approx((1 / 3) * 0.5, rel=1e-12)


def test_the_index_cancels_in_bitmex_but_not_in_binance() -> None:
    """BitMEX is a ratio of premium values; Binance divides a USD P&L by a USD wallet."""
    usd = option_queue()
    coin = option_queue(price_unit_usd=50_000.0, contract_size=2.0)
    np.testing.assert_allclose(
        adl_scores(usd, Ranking.BITMEX), adl_scores(coin, Ranking.BITMEX), rtol=1e-12
    )
    binance = adl_scores(usd, Ranking.BINANCE)
    # l1: upnl 5 x 1 x 100,000 x 0.06 = 30,000 USD: 30,000 / 46,000 x 0 (MM 0) = 0
    assert binance[1] == 0.0
    # h1: upnl 24,000: 24,000 / 27,000 x 17,780 / 51,000
    assert binance[0] == pytest.approx(24_000 / 27_000 * 17_780 / 51_000, rel=1e-12)
    assert binance[4] == pytest.approx(10_000 / 40_000 * 5_000 / 50_000, rel=1e-12)
    assert binance[3] == 0.0  # a loser


def test_hyperliquid_on_the_premium_notional() -> None:
    scores = adl_scores(option_queue(), Ranking.HYPERLIQUID)
    # h1: (0.10 / 0.02) x 3 x 0.10 x 100,000 / 27,000
    assert scores[0] == pytest.approx(5.0 * 30_000 / 27_000, rel=1e-12)
    # s1: (0.15 / 0.10) x 20,000 / 40,000
    assert scores[4] == pytest.approx(1.5 * 20_000 / 40_000, rel=1e-12)


def test_worthless_premiums() -> None:
    """A mark or bankruptcy premium of 0 is an option's own: a long worth 0 is fully paid
    (leverage 1, P&L -100 %) and a short marked at 0 keeps its Hyperliquid limit."""
    queue = AdlQueue.from_columns(
        PUT,
        ["long", "short"],
        [2.0, -2.0],
        entry_price=[0.01, 0.01],
        mark_price=[0.0, 0.0],
        bankruptcy_price=[0.0, 0.05],
        account_value_usd=[1_000.0, 1_000.0],
        price_unit_usd=INDEX,
        option=True,
    )
    bitmex = adl_scores(queue, Ranking.BITMEX)
    assert bitmex[0] == -1.0
    assert bitmex[1] == 0.0  # +100 % on a position worth 0: leverage 0
    hyper = adl_scores(queue, Ranking.HYPERLIQUID)
    assert hyper[0] == 0.0
    assert hyper[1] == pytest.approx(0.01 * 2 * INDEX / 1_000.0)
    fills = adl_fills(queue, Ranking.BITMEX, 1.0, 0.0)  # a long of 1 bought back at 0
    assert fills.positions.tolist() == [1] and fills.quantity.tolist() == [1.0]
    with pytest.raises(SolventInputError, match="mark_price"):  # 0 is an option's only
        AdlQueue.from_columns(
            "BTC-PERPETUAL", ["a"], [1.0], mark_price=[0.0], bankruptcy_price=[0.0]
        )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"option": "yes"}, "option"),
        ({"contract_size": 0}, "contract_size"),
        ({"contract_size": 1e10}, "contract_size"),
        ({"price_unit_usd": 0}, "price_unit_usd"),
        ({"entry": 0.0}, "positions[0].entry_price"),
        ({"option": False}, "positions[0].mark_price"),
    ],
)
def test_option_queue_refusals(changes: dict[str, Any], field: str) -> None:
    raw: dict[str, Any] = {
        "instrument": PUT,
        "option": True,
        "price_unit_usd": INDEX,
        "positions": [
            {"account": "a", "quantity": 1.0, "entry_price": 0.02, "mark_price": 0.0},
        ],
    }
    entry = changes.pop("entry", None)
    if entry is not None:
        raw["positions"][0]["entry_price"] = entry
    raw.update(changes)
    with pytest.raises(SolventInputError) as caught:
        parse_adl_queue(raw)
    assert caught.value.field == field


def test_cli_shows_option_scores(tmp_path: Path) -> None:
    queue = option_queue()
    rows = [
        {
            "account": queue.accounts[i],
            "quantity": float(queue.quantity[i]),
            "entry_price": float(queue.entry_price[i]),
            "mark_price": 0.10,
            "bankruptcy_price": float(queue.bankruptcy_price[i]),
        }
        for i in range(len(queue))
    ]
    path = tmp_path / "queue.json"
    doc = {"instrument": PUT, "option": True, "price_unit_usd": INDEX, "positions": rows}
    path.write_text(json.dumps(doc))
    result = CliRunner().invoke(
        app, ["adl", str(path), "--ranking", "bitmex", "--fill", "-7.5", "--price", "0.06"]
    )
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert (out["option"], out["contract_size"], out["price_unit_usd"]) == (True, 1.0, INDEX)
    longs = out["queues"]["long"]
    assert [e["account"] for e in longs] == ["h1", "l1", "l2", "l3"]
    assert longs[0]["score"] == pytest.approx(4.0 * 30_000 / 27_000)
    assert [e["quantile"] for e in longs] == [0.2, 0.4, 1.0, 1.0]  # 3, 8, 18 of 22
    # the loser l3 never pays: h1 3, l1 the other 4.5 (its 5 would be more than needed)
    assert out["fills"] == [
        {"account": "h1", "quantity": -3.0, "price": 0.06},
        {"account": "l1", "quantity": -4.5, "price": 0.06},
    ]


# ------------------------------------------------------------------------------------------
# the waterfall: a bankrupt short put deleveraged against the longs of the put
# ------------------------------------------------------------------------------------------


def test_worked_example_short_put_deleveraged() -> None:
    market = put_market()
    book = example_book()
    out = liquidate_accounts(book, market, insurance_fund_usd=10_000.0)
    broke = out.accounts[0]
    assert broke.action is Action.BANKRUPT
    (close,) = broke.steps
    assert close.kind is StepKind.BANKRUPTCY and close.quantity == 10.0
    assert close.price == pytest.approx(0.06, abs=1e-12)  # 0.10 - 40,000 / (10 x 100,000)
    assert broke.insurance_covered_usd == pytest.approx(10_000.0)
    # 30,000 left: 7.5 puts at 0.06 (4,000 USD each against the mark), in BitMEX order
    fills = [(f.account, f.quantity) for f in out.adl]
    assert [a for a, _ in fills] == ["h1", "l1", "l2"]
    assert fills[0][1] == pytest.approx(-1.5)  # all 3 would leave 16,200 < MM 17,780: half
    assert fills[1][1] == pytest.approx(-5.0)
    assert fills[2][1] == pytest.approx(-1.0, abs=1e-5)
    assert all(f.price == close.price and f.against == "broke" for f in out.adl)
    assert [f.loss_usd for f in out.adl] == pytest.approx([6_000.0, 20_000.0, 4_000.0], abs=0.01)
    assert broke.adl_covered_usd == pytest.approx(30_000.0, abs=0.01)
    assert out.socialized_loss_usd == 0.0 and broke.uncovered_usd == 0.0
    assert all(v == 0 for v in out.conservation.values())
    # h1 keeps its maintenance margin (its 14 perpetuals); l3, a loser, is untouched
    after = margin_accounts(_after(book, out), market, "standard")
    h1 = book.accounts.index("h1")
    assert after.equity.equity_usd[h1] == pytest.approx(21_600.0, abs=0.01)
    assert after.equity.equity_usd[h1] >= after.maintenance_margin_usd[h1] == 17_780.0


def test_bankrupt_long_call_deleverages_the_shorts_in_profit() -> None:
    """The other direction: a unit whose perpetual loss makes it bankrupt also holds a long
    call; its close sells the call above the mark and the shorts of the call in profit buy it
    back at that premium."""
    call = "BTC-27MAR26-110000-C"
    market = parse_market(
        {
            "as_of": "2026-01-05T08:00:00Z",
            "index": {"BTC": INDEX, "USDC": 1.0},
            "instruments": [
                {"name": PERP, "mark_price": INDEX},
                {"name": call, "mark_price": 0.05},
            ],
        }
    )
    pos = [
        {"instrument": call, "quantity": 10.0, "entry_price": 0.05},
        {"instrument": PERP, "quantity": 5.0, "entry_price": 120_000.0},
    ]
    book = parse_account_book(
        {
            "accounts": [
                {"account": "broke", "collateral": {"USDC": 10_000.0}, "positions": pos},
                {
                    "account": "s1",
                    "collateral": {"USDC": 100_000.0},
                    "positions": [{"instrument": call, "quantity": -4.0, "entry_price": 0.08}],
                },
                {
                    "account": "s2",
                    "collateral": {"USDC": 100_000.0},
                    "positions": [{"instrument": call, "quantity": -4.0, "entry_price": 0.04}],
                },
            ]
        }
    )[0]
    out = liquidate_accounts(book, market)
    broke = out.accounts[0]
    assert broke.action is Action.BANKRUPT
    calls = [s for s in broke.steps if s.instrument == call]
    assert calls and calls[-1].quantity < 0 and calls[-1].price > 0.05
    option_fills = [f for f in out.adl if f.instrument == call]
    assert option_fills and {f.account for f in option_fills} == {"s1"}  # s2 is losing
    assert all(f.quantity > 0 and f.price == calls[-1].price for f in option_fills)
    assert all(v == 0 for v in out.conservation.values())


def test_worked_example_books_on_the_ledger(tmp_path: Path) -> None:
    """The outcome books whole: the ADL fills move premium in BTC, the bankrupt buys back with
    its USDC converted at the index, conservation per asset and the audit hold."""
    market = put_market()
    book = example_book()
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'ledger.db'}")
    seed_ledger(ledger, book, market, "standard", insurance_fund_usd=10_000.0)
    totals_before = _totals(ledger)
    out = liquidate_accounts(book, market, insurance_fund_usd=10_000.0)
    report = book_outcome(ledger, out, market)
    assert report.audit_ok and report.booked == report.steps
    assert _totals(ledger) == totals_before
    balances = ledger.cached_balances()
    assert all(v >= 0 for (a, _), v in balances.items() if not a.startswith("@"))
    positions = ledger.replay_positions()
    held = {a: float(p.quantity) for (a, i), p in positions.items() if i == PUT}
    assert held["broke"] == 0.0
    assert held["h1"] == pytest.approx(1.5) and held["l1"] == 0.0
    assert held["l2"] == pytest.approx(9.0, abs=1e-5) and held["l3"] == 4.0
    # l1 sold 5 puts at 0.06: 0.3 BTC, exactly
    assert balances[("l1", "BTC")] == 30_000_000
    ledger.close()


def _totals(ledger: Ledger) -> dict[str, int]:
    out: dict[str, int] = {}
    for (_, asset), units in ledger.cached_balances().items():
        out[asset] = out.get(asset, 0) + units
    return out


def _after(book: Any, out: Any) -> Any:
    from .test_invariants import _after as after

    return after(book, out)


def test_a_bankruptcy_premium_of_zero_books(tmp_path: Path) -> None:
    """A short put with no collateral behind it: its bankruptcy premium is 0 (its whole mark
    value is the deficit), so the close and the ADL fill of the long in profit are trades at a
    premium of 0, which the ledger books (no cash moves; the long gives up 20,000 USD of value)."""
    market = put_market()
    book = parse_account_book(
        {"accounts": [holder("broke", 0.0, -2.0, 0.05), holder("l1", 1_000.0, 5.0, 0.04)]}
    )[0]
    out = liquidate_accounts(book, market)
    (close,) = out.accounts[0].steps
    assert close.price == 0.0 and close.quantity == 2.0
    (fill,) = out.adl
    assert (fill.account, fill.quantity, fill.price) == ("l1", -2.0, 0.0)
    assert fill.loss_usd == pytest.approx(20_000.0)
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'ledger.db'}")
    seed_ledger(ledger, book, market, "standard")
    before = _totals(ledger)
    report = book_outcome(ledger, out, market)
    assert report.audit_ok and report.booked == report.steps == 2
    assert _totals(ledger) == before
    positions = ledger.replay_positions()
    assert positions[("l1", PUT)].quantity == 3 and positions[("broke", PUT)].quantity == 0
    ledger.close()


def test_a_deficit_nobody_bears_books(tmp_path: Path) -> None:
    """A lone bankrupt unit (coin collateral after its haircut, short puts): no fund, nobody to
    deleverage or charge, so ``@venue`` carries the loss and pays the unit's own remaining
    deficit (``uncovered_loss``); the outcome books whole."""
    from solvent.liquidation.booking import BookingKind, plan_booking
    from solvent.liquidation.outcome import TransferReason

    from .test_invariants import _option_market

    market = _option_market(121_000.0)
    book = parse_account_book(
        {
            "accounts": [
                {
                    "account": "broke",
                    "collateral": {"BTC": 0.23},
                    "positions": [
                        {"instrument": PUT, "quantity": -0.066, "entry_price": 0.01},
                        {
                            "instrument": "BTC_USDC-27MAR26-90000-P",
                            "quantity": -9.28,
                            "entry_price": 3000.0,
                        },
                    ],
                }
            ]
        }
    )[0]
    out = liquidate_accounts(book, market)
    (uncovered,) = [t for t in out.transfers if t.reason is TransferReason.UNCOVERED_LOSS]
    assert (uncovered.source, uncovered.destination) == ("@venue", "broke")
    kinds = [s.kind for s in plan_booking(out)]
    assert kinds[0] is BookingKind.UNCOVERED  # money in before the closes need it
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'ledger.db'}")
    seed_ledger(ledger, book, market, "standard")
    before = _totals(ledger)
    report = book_outcome(ledger, out, market)
    assert report.audit_ok and report.booked == report.steps == len(kinds)
    assert _totals(ledger) == before
    ledger.close()


def test_socialized_by_profit_counts_option_profit() -> None:
    """What ADL cannot cover is shared by profit since entry: a long put entered at 0.04 and
    marked 0.10 (5 puts: 30,000 USD of profit at the index) pays it all, an account with as much
    equity but no profit pays nothing."""
    market = put_market()
    book = parse_account_book(
        {
            "accounts": [
                {
                    "account": "broke",
                    "collateral": {"USDC": 1_000.0},
                    "positions": [{"instrument": PERP, "quantity": 1.0, "entry_price": 102_000.0}],
                },
                holder("winner", 10_000.0, 5.0, 0.04),
                {"account": "flat", "collateral": {"USDC": 55_000.0}, "positions": []},
            ]
        }
    )[0]
    out = liquidate_accounts(book, market)
    assert out.accounts[0].action is Action.BANKRUPT and out.adl == ()
    paid = {c.account: c.amount_usd for c in out.socialized}
    assert set(paid) == {"winner"}
    assert paid["winner"] == pytest.approx(1_000.0, abs=0.01)  # the 2,000 loss less 1,000 USDC
    assert all(v == 0 for v in out.conservation.values())
