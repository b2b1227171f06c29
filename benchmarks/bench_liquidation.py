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
- then every step and transfer booked on a durable SQLite ledger
  (:func:`solvent.liquidation.booking.book_outcome`, one transaction per step), timed apart.

Target: under 5 s. ``SOLVENT_BENCH_ACCOUNTS`` changes the book size (default 100,000).
"""

from __future__ import annotations

import os
import tempfile
import time
from typing import Any

import numpy as np

from solvent.accounts.service import AccountService, MarketFreshness, registry_margin
from solvent.engine.liquidation import liquidate_accounts
from solvent.engine.margin import margin_accounts
from solvent.ledger.store import Ledger
from solvent.liquidation.booking import book_outcome
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
    start = time.perf_counter()
    out = liquidate_accounts(book, after, insurance_fund_usd=1e6)
    t_cascade = time.perf_counter() - start
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
    print(f"book: {n:,} accounts; BTC 100,000 -> {100_000 * MOVE:,.0f}")
    print(f"before the move: {len(calm.liquidated)} liquidated in {t_before:.2f} s")
    print(
        f"cascade: {len(hit):,} liquidated ({actions}), {steps:,} steps, "
        f"fund {out.insurance_fund.start_usd:,.0f} -> {out.insurance_fund.end_usd:,.0f} USD, "
        f"conservation {dict(out.conservation)}"
    )
    print(f"cascade time: {t_cascade:.2f} s (target < 5 s)")
    print(
        f"one re-margin of the book: {t_margin:.2f} s; "
        f"cascade / re-margin = {t_cascade / t_margin:.1f}x"
    )
    print(
        f"one account at a time (scaled from {len(sample)}): {t_loop:.1f} s; "
        f"vectorized is {t_loop / t_cascade:.1f}x faster"
    )
    _ledger_booking(book, out, before, after)


def _ledger_booking(
    book: AccountBook, out: LiquidationOutcome, before: MarketSnapshot, after: MarketSnapshot
) -> None:
    """Book the cascade's outcome on a durable SQLite ledger holding the liquidated accounts
    (opened at 100,000 before the move; not timed), every step one transaction (timed)."""
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger.open(f"sqlite:///{tmp}/bench.db")
        service = AccountService(
            ledger, registry_margin, freshness=MarketFreshness(clock=lambda: before.as_of)
        )
        service.deposit("@venue", "USDC", "1000000000")
        service.deposit(INSURANCE_ACCOUNT, "USDC", "1000000")
        index = {name: i for i, name in enumerate(book.accounts)}
        start = time.perf_counter()
        for a in out.liquidated:
            p = book.portfolio(index[a.account])
            service.create(a.account)
            for asset, amount in p.collateral.items():
                if amount > 0:
                    service.deposit(a.account, asset, f"{amount:.8f}".rstrip("0").rstrip("."))
            for pos in p.positions:
                service.trade(a.account, pos.instrument, f"{pos.quantity:.3f}", "100000", before)
        setup = time.perf_counter() - start
        start = time.perf_counter()
        report = book_outcome(ledger, out, after)
        booked = time.perf_counter() - start
    print(
        f"ledger (SQLite, durable): setup of {len(out.liquidated):,} accounts {setup:.1f} s; "
        f"booking {report.booked:,} steps (one transaction each) {booked:.2f} s; "
        f"audit ok: {report.audit_ok}"
    )


def _one(book: AccountBook, i: int) -> AccountBook:
    return AccountBook.from_portfolios([book.portfolio(i)])


if __name__ == "__main__":
    main()
