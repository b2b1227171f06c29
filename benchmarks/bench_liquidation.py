"""A liquidation cascade: 100,000 accounts, BTC falls 10 % in one move, ~1,000 are liquidated.

The book (seed 5): every account is long a linear BTC perpetual entered at 100,000 and holds BTC
and USDC; 1,000 of them are calibrated so that the move takes them below their maintenance
margin (some below zero: bankrupt), the others stay far above it.
The BTC order book has 40 levels of 2 BTC each side, 25 USD apart, so the liquidations walk it.

Timed (``solvent.engine.liquidation.liquidate_accounts``, partial policy, standard model, after a
warm-up on a small book): prepare, margin of the whole book, the policy's rounds, the waterfall
and the outcome. Printed with ratios against baselines measured in this run:

- one re-margin of the whole book at the moved market (``margin_accounts``): the floor;
- the same liquidations one account at a time (a one-account book each, timed on a sample and
  scaled to the liquidated count): what the vectorized rounds replace;
Then every transfer of the cascade on a durable ledger (a SQLite file, as a user runs it), as the
real-time liquidator books it (``WaterfallLiquidator.execute``): the variation margin of the
accounts it moves settled, then every step booked, :data:`DEFAULT_BATCH` per transaction
(:func:`solvent.liquidation.booking.book_steps`). The ledger holds the accounts the cascade moves,
opened at 100,000 before the move (set up in one transaction, not timed). Printed: engine time,
ledger time, their total, and the ratio to one transaction per position and per step (timed on a
sample in this run and scaled); then the same booking on a throwaway PostgreSQL
(scripts/postgres.sh) when it starts.

Target: the cascade with every transfer on the ledger under 5 s. ``SOLVENT_BENCH_ACCOUNTS``
changes the book size (default 100,000).
"""

from __future__ import annotations

import os
import tempfile
import time
from decimal import Decimal
from typing import Any

import numpy as np

from benchmarks.common import load_average, local_postgres
from solvent.accounts.service import trade_terms
from solvent.engine.liquidation import liquidate_accounts
from solvent.engine.margin import margin_accounts
from solvent.ledger.batch import LedgerBatch
from solvent.ledger.model import EXTERNAL, AccountKind, Operation, Posting, Reason
from solvent.ledger.store import AccountRecord, Ledger
from solvent.liquidation.booking import (
    DEFAULT_BATCH,
    book_steps,
    gains_first,
    plan_booking,
    settle_variation_margin,
)
from solvent.liquidation.outcome import INSURANCE_ACCOUNT, LiquidationOutcome
from solvent.market.snapshot import MarketSnapshot, parse_market
from solvent.portfolio.account_book import AccountBook, parse_account_book

PERP = "BTC_USDC-PERPETUAL"
ENTRY = 100_000.0
MOVE = 0.90
BREACHING = 1_000


def market(btc: float) -> MarketSnapshot:
    """BTC at ``btc`` USD with a linear perpetual and a book 10 USD wide, 2 BTC a level."""
    return parse_market(
        {
            "as_of": "2026-01-05T08:00:00Z",
            "index": {"BTC": btc, "USDC": 1.0},
            "instruments": [{"name": PERP, "mark_price": btc}],
            "order_books": {
                "BTC": {
                    "bids": [[btc - 5.0 - 25.0 * i, 2.0] for i in range(40)],
                    "asks": [[btc + 5.0 + 25.0 * i, 2.0] for i in range(40)],
                }
            },
        }
    )


def _raw(btc: np.ndarray, usdc: np.ndarray, qty: np.ndarray) -> dict[str, Any]:
    return {
        "accounts": [
            {
                "account": f"a{i}",
                "collateral": {"BTC": float(b), "USDC": float(u)},
                "positions": [{"instrument": PERP, "quantity": float(q), "entry_price": ENTRY}],
            }
            for i, (b, u, q) in enumerate(
                zip(btc.tolist(), usdc.tolist(), qty.tolist(), strict=True)
            )
        ]
    }


def cascade_book(n: int, after: MarketSnapshot, seed: int = 5) -> AccountBook:
    """The book (module docstring): every position entered at ``ENTRY``; ``BREACHING``
    accounts hold only USDC and end at equity / MM in (-0.5, 0.95) at ``after``, the rest far
    above. Every balance is >= 0 (a ledger can hold the book)."""
    rng = np.random.default_rng(seed)
    qty = np.round(rng.uniform(0.5, 4.0, n), 3)
    btc = np.round(rng.uniform(0.2, 1.0, n), 4)
    usdc = np.round(rng.uniform(50_000.0, 200_000.0, n), 2)
    weak = rng.choice(n, min(BREACHING, n), replace=False)
    btc[weak] = 0.0
    usdc[weak] = 0.0
    probe = margin_accounts(parse_account_book(_raw(btc[weak], usdc[weak], qty[weak]))[0], after)
    mm = probe.maintenance_margin_usd
    loss = -probe.equity.equity_usd  # the move's loss since entry, USD (nothing else held)
    ratio = rng.uniform(-0.5, 0.95, weak.size)
    usdc[weak] = np.round(ratio * mm + loss, 2)
    return parse_account_book(_raw(btc, usdc, qty))[0]


def main() -> None:
    n = int(os.environ.get("SOLVENT_BENCH_ACCOUNTS", "100000"))
    before, after = market(100_000.0), market(100_000.0 * MOVE)
    book = cascade_book(n, after)
    liquidate_accounts(cascade_book(200, after, seed=6), after, insurance_fund_usd=1e5)  # warm-up

    start = time.perf_counter()
    calm = liquidate_accounts(book, before, insurance_fund_usd=1e6)
    t_before = time.perf_counter() - start
    start, cpu = time.perf_counter(), time.process_time()
    out = liquidate_accounts(book, after, insurance_fund_usd=1e6)
    t_cascade, c_cascade = time.perf_counter() - start, time.process_time() - cpu
    start = time.perf_counter()
    margin_accounts(book, after)
    t_margin = time.perf_counter() - start

    hit = [i for i, a in enumerate(out.accounts) if a.action.value != "none"]
    sample = hit[:20]
    start = time.perf_counter()
    for i in sample:
        liquidate_accounts(_one(book, i), after, insurance_fund_usd=1e6)
    t_loop = (time.perf_counter() - start) / max(len(sample), 1) * len(hit)

    actions = {
        k: sum(a.action.value == k for a in out.accounts) for k in ("partial", "full", "bankrupt")
    }
    steps = sum(len(a.steps) for a in out.accounts)
    print(
        f"book: {n:,} accounts; BTC 100,000 -> {100_000 * MOVE:,.0f}; load average {load_average()}"
    )
    print(f"before the move: {len(calm.liquidated)} liquidated in {t_before:.2f} s")
    print(
        f"cascade: {len(hit):,} liquidated ({actions}), {steps:,} steps, "
        f"fund {out.insurance_fund.start_usd:,.0f} -> {out.insurance_fund.end_usd:,.0f} USD, "
        f"conservation {dict(out.conservation)}"
    )
    print(f"cascade time: {t_cascade:.2f} s, CPU {c_cascade:.2f} s")
    print(
        f"one re-margin of the book: {t_margin:.2f} s; "
        f"cascade / re-margin = {t_cascade / t_margin:.1f}x"
    )
    print(
        f"one account at a time (scaled from {len(sample)}): {t_loop:.1f} s; "
        f"vectorized is {t_loop / t_cascade:.1f}x faster"
    )
    _ledger_booking(book, out, before, after, (t_cascade, c_cascade))


def _ledger_booking(
    book: AccountBook,
    out: LiquidationOutcome,
    before: MarketSnapshot,
    after: MarketSnapshot,
    engine: tuple[float, float],
) -> None:
    """Every transfer of the cascade booked on a durable ledger, :data:`DEFAULT_BATCH` steps per
    transaction: on SQLite (a file), against one transaction per step (timed on a sample and
    scaled); the variation margin settlement the real-time liquidator runs first, batched and one
    position per transaction; then the booking on a throwaway PostgreSQL if it starts."""
    with tempfile.TemporaryDirectory() as tmp:
        ledger, setup = _book_ledger(f"sqlite:///{tmp}/bench.db", book, out, before)
        t_book, c_book, steps = _book(ledger, out, after, DEFAULT_BATCH)
        ok = ledger.audit().ok
        ledger.close()
        print(
            f"ledger setup ({len(_touched(out)):,} accounts opened at 100,000, one transaction, "
            f"not timed): {setup:.1f} s"
        )
        t_cascade, c_cascade = engine
        total = t_cascade + t_book
        print(
            f"SQLite (file, durable): booking {steps:,} steps in batches of {DEFAULT_BATCH}: "
            f"{t_book:.2f} s (CPU {c_book:.2f} s); audit ok: {ok}"
        )
        print(
            f"cascade with every transfer on the ledger: engine {t_cascade:.2f} s + booking "
            f"{t_book:.2f} s = {total:.2f} s (target < 5 s); CPU {c_cascade:.2f} + {c_book:.2f} "
            f"= {c_cascade + c_book:.2f} s"
        )
        base, _ = _book_ledger(f"sqlite:///{tmp}/base.db", book, out, before)
        t_one = _one_step_per_transaction(base, out, after)
        base.close()
        print(
            f"one transaction per step (scaled from 300): booking {t_one:.1f} s, cascade "
            f"{t_cascade + t_one:.1f} s; batches book {t_one / t_book:.0f}x faster, the whole "
            f"cascade is {(t_cascade + t_one) / total:.1f}x faster"
        )
        vm, _ = _book_ledger(f"sqlite:///{tmp}/vm.db", book, out, before)
        one, many, positions = _variation_margin(vm, out, after)
        vm.close()
        print(
            f"variation margin before booking (real-time liquidator), {positions:,} positions: "
            f"batches {many:.2f} s, one transaction each {one:.1f} s (scaled from 100), "
            f"{one / many:.0f}x"
        )
    with local_postgres() as url:
        if url is None:
            return
        ledger, _ = _book_ledger(url, book, out, before)
        t_cascade = engine[0]
        t_book, c_book, steps = _book(ledger, out, after, DEFAULT_BATCH)
        ok = ledger.audit().ok
        ledger.close()
        print(
            f"PostgreSQL (local server): booking {steps:,} steps {t_book:.2f} s (CPU of this "
            f"process {c_book:.2f} s); cascade with every transfer on the ledger "
            f"{t_cascade + t_book:.2f} s; audit ok: {ok}"
        )


def _touched(out: LiquidationOutcome) -> list[str]:
    """The user accounts the outcome moves (liquidated, ADL counterparties, payers)."""
    names = {a.account for a in out.liquidated} | {
        s.account for a in out.liquidated for s in a.steps
    }
    names |= {f.account for f in out.adl} | {t.source for t in out.transfers}
    names |= {t.destination for t in out.transfers}
    return sorted(n for n in names if not n.startswith("@"))


def _book_ledger(
    url: str, book: AccountBook, out: LiquidationOutcome, before: MarketSnapshot
) -> tuple[Ledger, float]:
    """A ledger holding, as before the move, the accounts the cascade moves (their collateral
    deposited, their positions opened at 100,000), the funded venue and insurance fund, written in
    one transaction; and the seconds it took."""
    start = time.perf_counter()
    ledger = Ledger.open(url)
    names = _touched(out)
    index = {name: i for i, name in enumerate(book.accounts)}
    terms = trade_terms(before, PERP)

    def deposit(account: str, asset: str, amount: float) -> Operation:
        units = round(amount * 10 ** ledger.assets.get(asset).decimals)
        return Operation(
            Reason.DEPOSIT,
            f"open:{account}:{asset}",
            (
                Posting(EXTERNAL, asset, -units, Reason.DEPOSIT),
                Posting(account, asset, units, Reason.DEPOSIT),
            ),
        )

    with ledger.transaction() as tx:
        tx.create_accounts(
            [AccountRecord(name, AccountKind.USER, None, None, "standard") for name in names]
        )
        writer = LedgerBatch(tx)
        writer.load(names)
        writer.post_many(
            [deposit("@venue", "USDC", 1e9), deposit(INSURANCE_ACCOUNT, "USDC", 1e6)]
            + [
                deposit(name, asset, amount)
                for name in names
                for asset, amount in book.portfolio(index[name]).collateral.items()
                if amount > 0
            ]
        )
        for name in names:
            for pos in book.portfolio(index[name]).positions:
                quantity = Decimal(f"{pos.quantity:.3f}")
                writer.trade(name, terms, quantity, Decimal(100_000), 0, f"open:{name}")
        writer.flush()
    return ledger, time.perf_counter() - start


def _book(
    ledger: Ledger, out: LiquidationOutcome, after: MarketSnapshot, batch: int
) -> tuple[float, float, int]:
    """Book every step of ``out`` (bankruptcy closes gains first, as the real-time liquidator
    does), ``batch`` per transaction: (seconds, CPU seconds of this process, steps booked)."""
    start, cpu = time.perf_counter(), time.process_time()
    steps = gains_first(ledger, plan_booking(out, "bench"))
    done = book_steps(ledger, steps, after, "bench", batch=batch)
    return time.perf_counter() - start, time.process_time() - cpu, done.booked


def _one_step_per_transaction(
    ledger: Ledger, out: LiquidationOutcome, after: MarketSnapshot, sample: int = 300
) -> float:
    """Seconds to book every step of ``out`` one transaction each: the first ``sample`` steps
    timed, scaled to all of them."""
    steps = plan_booking(out, "bench")
    start = time.perf_counter()
    book_steps(ledger, gains_first(ledger, steps[:sample]), after, "bench", batch=1)
    return (time.perf_counter() - start) / max(min(len(steps), sample), 1) * len(steps)


def _variation_margin(
    ledger: Ledger, out: LiquidationOutcome, after: MarketSnapshot, sample: int = 100
) -> tuple[float, float, int]:
    """Seconds to settle the variation margin of the accounts ``out``'s steps move, one position
    per transaction (the first ``sample`` accounts, scaled) and in batches (the others, scaled):
    (one each, batches, positions)."""
    accounts = sorted({s.account for s in plan_booking(out, "bench")})
    start = time.perf_counter()
    few = settle_variation_margin(ledger, accounts[:sample], after, "vm:one", batch=1)
    one = (time.perf_counter() - start) / max(few, 1)
    start = time.perf_counter()
    rest = settle_variation_margin(ledger, accounts[sample:], after, "vm:batch")
    many = (time.perf_counter() - start) / max(rest, 1)
    return one * (few + rest), many * (few + rest), few + rest


def _one(book: AccountBook, i: int) -> AccountBook:
    return AccountBook.from_portfolios([book.portfolio(i)])


if __name__ == "__main__":
    main()
