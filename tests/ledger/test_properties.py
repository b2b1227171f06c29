"""Property tests: random sequences of deposits, trades, fees, withdrawals and transfers keep every
invariant (money conserved per asset over every account, the venue's and the world's included; no
balance outside what its account type allows), agree with a plain-Python model of the balances, and
the journal replays to the cache."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solvent.errors import SolventInputError
from solvent.instruments.terms import Settlement
from solvent.ledger.model import (
    EXTERNAL,
    FEES,
    VENUE,
    AccountKind,
    PositionState,
    Reason,
    TradeStyle,
    TradeTerms,
    apply_fill,
    balance_problem,
    to_units_floor,
    transfer,
)
from solvent.ledger.store import InsufficientFundsError, Ledger

USERS = ("u1", "u2", "u3")
ASSETS = ("BTC", "USDC")
PERP = TradeTerms("BTC_USDC-PERPETUAL", TradeStyle.FUTURES, Settlement.LINEAR, "USDC")

actions = st.one_of(
    st.tuples(
        st.just("deposit"), st.sampled_from(USERS), st.sampled_from(ASSETS), st.integers(1, 10**9)
    ),
    st.tuples(
        st.just("withdraw"), st.sampled_from(USERS), st.sampled_from(ASSETS), st.integers(1, 10**9)
    ),
    st.tuples(
        st.just("transfer"),
        st.sampled_from(USERS),
        st.sampled_from(USERS),
        st.sampled_from(ASSETS),
        st.integers(1, 10**9),
    ),
    st.tuples(st.just("fee"), st.sampled_from(USERS), st.integers(1, 10**6)),
    st.tuples(st.just("capital"), st.sampled_from(ASSETS), st.integers(1, 10**9)),
    st.tuples(
        st.just("trade"),
        st.sampled_from(USERS),
        st.integers(-300, 300).filter(bool),
        st.integers(50_000, 70_000),
    ),
)


def run(ledger: Ledger, steps: list[tuple]) -> dict[tuple[str, str], int]:  # type: ignore[type-arg]
    """Apply ``steps``; returns the balances a plain-Python model expects."""
    model: dict[tuple[str, str], int] = defaultdict(int)
    positions: dict[str, PositionState] = {}
    for step in steps:
        kind = step[0]
        try:
            if kind == "capital":  # the venue's own funds, from which it pays realized P&L
                _, asset, units = step
                ledger.post(transfer(EXTERNAL, VENUE, asset, units, Reason.DEPOSIT, "c"))
                model[(VENUE, asset)] += units
                model[(EXTERNAL, asset)] -= units
                continue
            if kind == "deposit":
                _, user, asset, units = step
                ledger.post(transfer(EXTERNAL, user, asset, units, Reason.DEPOSIT, "d"))
                model[(user, asset)] += units
                model[(EXTERNAL, asset)] -= units
            elif kind == "withdraw":
                _, user, asset, units = step
                ledger.post(transfer(user, EXTERNAL, asset, units, Reason.WITHDRAWAL, "w"))
                assert model[(user, asset)] >= units, "the ledger allowed an overdraft"
                model[(user, asset)] -= units
                model[(EXTERNAL, asset)] += units
            elif kind == "transfer":
                _, src, dst, asset, units = step
                ledger.post(transfer(src, dst, asset, units, Reason.TRANSFER, "t"))
                assert model[(src, asset)] >= units, "the ledger allowed an overdraft"
                model[(src, asset)] -= units
                model[(dst, asset)] += units
            elif kind == "fee":
                _, user, units = step
                ledger.post(transfer(user, FEES, "USDC", units, Reason.FEE, "f"))
                model[(user, "USDC")] -= units
                model[(FEES, "USDC")] += units
            else:
                _, user, centi_qty, price = step
                flat = PositionState(PERP.instrument, Decimal(0), Decimal(0), Decimal(0), "USDC")
                fill = apply_fill(
                    positions.get(user, flat), PERP, Decimal(centi_qty) / 100, Decimal(price)
                )
                realized = to_units_floor(fill.realized, 6)
                try:
                    with ledger.transaction() as tx:
                        r = tx.trade(user, PERP, Decimal(centi_qty) / 100, Decimal(price))
                except InsufficientFundsError:
                    payer = user if realized < 0 else VENUE
                    assert realized != 0 and model[(payer, "USDC")] < abs(realized), (
                        "trade refused although the payer could pay"
                    )
                    continue
                assert r.realized_units == realized
                positions[user] = r.position
                model[(user, "USDC")] += r.realized_units
                model[(VENUE, "USDC")] -= r.realized_units
        except SolventInputError as exc:
            assert "insufficient" in str(exc), exc  # the only refusal these steps can meet
            src = step[1]
            asset = step[2] if kind == "withdraw" else "USDC" if kind == "fee" else step[3]
            units = step[-1]
            assert model[(src, asset)] < units, "refused although funds sufficed"
    return {k: v for k, v in model.items() if v}


def check_invariants(ledger: Ledger, expected: dict[tuple[str, str], int]) -> None:
    report = ledger.audit()
    assert report.ok, report.problems
    cached = ledger.cached_balances()
    for asset in ASSETS:  # conservation over every account, the venue's and the world's included
        assert sum(u for (_, a), u in cached.items() if a == asset) == 0
    kinds = {u: AccountKind.USER for u in USERS} | {
        VENUE: AccountKind.SYSTEM,
        FEES: AccountKind.SYSTEM,
        EXTERNAL: AccountKind.EXTERNAL,
    }
    for (account, _), units in cached.items():
        assert balance_problem(kinds[account], units) is None, (account, units)
    assert ledger.cached_balances() == expected
    assert ledger.journal_balances() == expected
    for asset, totals in report.assets.items():
        assert (
            totals.held
            == totals.deposited - totals.withdrawn
            == -expected.get((EXTERNAL, asset), 0)
        )


def test_random_sequences_keep_invariants_sqlite(tmp_path_factory: pytest.TempPathFactory) -> None:
    @settings(max_examples=25, deadline=None)
    @given(st.lists(actions, min_size=1, max_size=20))
    def prop(steps: list[tuple]) -> None:  # type: ignore[type-arg]
        ledger = Ledger.open(f"sqlite:///{tmp_path_factory.mktemp('p') / 'l.db'}")
        for user in USERS:
            ledger.create_account(user)
        check_invariants(ledger, run(ledger, steps))
        ledger.close()

    prop()


def test_random_sequences_keep_invariants_postgres(
    new_postgres_database: Callable[[], str],
) -> None:
    _property_pg(new_postgres_database, 6)


def _property_pg(new_database: Callable[[], str], examples: int) -> None:
    @settings(max_examples=examples, deadline=None)
    @given(st.lists(actions, min_size=1, max_size=20))
    def prop(steps: list[tuple]) -> None:  # type: ignore[type-arg]
        ledger = Ledger.open(new_database())
        for user in USERS:
            ledger.create_account(user)
        check_invariants(ledger, run(ledger, steps))
        ledger.close()

    prop()
