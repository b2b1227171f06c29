"""No money from nothing (issue 8, items 1, 2 and 4), on SQLite and PostgreSQL: trades priced
inside a band around the mark, the venue paying only from its funded balance, every balance bounded
by what its account type allows and by 64 bits, an audit that reports corrupt rows instead of
crashing, and collateral the market cannot price counted for zero without blocking the account."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from helpers import Flat, flat_margin
from solvent.accounts.service import AccountService, MarketFreshness, Order, trade_terms
from solvent.errors import SolventInputError
from solvent.ledger import schema
from solvent.ledger.bands import load_price_bands, parse_price_bands
from solvent.ledger.model import EXTERNAL, VENUE, AccountKind, Reason, balance_problem, transfer
from solvent.ledger.store import Ledger, Overdraft
from solvent.market.snapshot import parse_market

MARK = 93_700.0
MARKET = parse_market(
    {
        "as_of": "2026-01-05T15:33:29Z",
        "index": {"BTC": 93_650.0, "USDC": 1.0},
        "instruments": [
            {"name": "BTC-PERPETUAL", "mark_price": MARK},
            {"name": "BTC_USDC-PERPETUAL", "mark_price": MARK},
            {"name": "BTC-27MAR26", "mark_price": 95_000.0},
            {"name": "BTC-27MAR26-100000-C", "mark_iv": 0.5},
            {"name": "BTC-27MAR26-200000-C", "mark_iv": 0.5},
        ],
    }
)
AT_THE_MARKET = MarketFreshness(clock=lambda: MARKET.as_of)


@pytest.fixture
def service(db_url: str):  # type: ignore[no-untyped-def]
    ledger = Ledger.open(db_url)
    svc = AccountService(ledger, flat_margin, freshness=AT_THE_MARKET)
    svc.create("mallory")
    yield svc
    ledger.close()


def rows(ledger: Ledger) -> tuple[int, ...]:
    with ledger.engine.connect() as conn:
        return tuple(
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (schema.operations, schema.entries, schema.trades, schema.balances)
        )


# --- 1. price bands, the venue's funded balance, account-type bounds ---------------------------


def test_the_issue_exploit_is_refused(service: AccountService) -> None:
    service.deposit("mallory", "BTC", "0.1")
    before = rows(service.ledger)
    with pytest.raises(SolventInputError) as err:
        service.trade("mallory", "BTC-PERPETUAL", "1", "1", MARKET)
    assert err.value.field == "price" and "price band" in err.value.message
    with pytest.raises(SolventInputError, match="price band"):
        service.trade("mallory", "BTC-PERPETUAL", "-1", str(MARK * 2), MARKET)
    assert rows(service.ledger) == before
    # inside the band, at the mark and back: no profit, nothing to withdraw beyond the deposit
    service.trade("mallory", "BTC-PERPETUAL", "0.5", str(MARK), MARKET)
    service.trade("mallory", "BTC-PERPETUAL", "-0.5", str(MARK), MARKET)
    with pytest.raises(SolventInputError, match="insufficient BTC"):
        service.withdraw("mallory", "BTC", "0.9", MARKET)
    report = service.audit()
    assert report.ok, report.problems
    assert service.ledger.balances("mallory") == {"BTC": 10_000_000}


def test_the_venue_pays_profits_only_from_its_funded_balance(service: AccountService) -> None:
    service.deposit("mallory", "BTC", "0.1")
    low, high = MARK * 0.97, MARK * 1.03  # both inside the 5 % perpetual band
    service.trade("mallory", "BTC-PERPETUAL", "1", str(low), MARKET)
    before = rows(service.ledger)
    with pytest.raises(SolventInputError, match=r"insufficient BTC in '@venue'"):
        service.trade("mallory", "BTC-PERPETUAL", "-1", str(high), MARKET)
    assert rows(service.ledger) == before
    service.deposit(VENUE, "BTC", "1")  # the venue's capital
    booked, _ = service.trade("mallory", "BTC-PERPETUAL", "-1", str(high), MARKET)
    profit = booked.realized_units
    assert profit == int((Decimal(str(high)) - Decimal(str(low))) / Decimal(str(high)) * 10**8)
    assert service.ledger.balances(VENUE) == {"BTC": 100_000_000 - profit}
    service.withdraw("mallory", "BTC", "0.1", MARKET)
    report = service.audit()
    assert report.ok, report.problems
    assert report.system[VENUE] == {"BTC": 100_000_000 - profit}


def test_a_user_pays_losses_and_premiums_from_its_own_balance(service: AccountService) -> None:
    service.deposit("mallory", "USDC", "100000")  # no BTC: cannot pay a BTC-settled premium
    before = rows(service.ledger)
    with pytest.raises(SolventInputError, match=r"insufficient BTC in 'mallory'"):
        service.trade("mallory", "BTC-27MAR26-100000-C", "1", _option_mark(), MARKET)
    assert rows(service.ledger) == before


def _option_mark(name: str = "BTC-27MAR26-100000-C") -> str:
    return repr(MARKET.quote(name).mark_price)


def test_option_band_has_a_floor_for_cheap_options(service: AccountService) -> None:
    bands = service.bands
    quote = MARKET.quote("BTC-27MAR26-200000-C")  # far out of the money: a tiny mark
    low, high = bands.limits(quote)
    assert (low, high) == pytest.approx((quote.mark_price - 0.005, quote.mark_price + 0.005))
    service.deposit("mallory", "BTC", "1")
    service.trade("mallory", "BTC-27MAR26-200000-C", "1", "0.005", MARKET)
    with pytest.raises(SolventInputError, match="option price band"):
        service.trade("mallory", "BTC-27MAR26-200000-C", "1", "0.5", MARKET)


def test_audit_flags_every_balance_its_account_type_does_not_allow(db_url: str) -> None:
    ledger = Ledger.open(db_url)
    ledger.create_account("alice")
    ledger.post(transfer(EXTERNAL, "alice", "BTC", 10, Reason.DEPOSIT, "d"))
    assert ledger.audit().ok
    # build, bypassing the checks, the states the engine refuses: the venue pays out more than it
    # holds, a user owes without any lending, the world took out more than it brought in
    ledger.post(transfer(VENUE, "alice", "BTC", 90, Reason.SETTLEMENT, "s"), Overdraft.ALLOW)
    ledger.post(transfer("alice", EXTERNAL, "BTC", 100, Reason.WITHDRAWAL, "w"), Overdraft.ALLOW)
    ledger.post(transfer("alice", "@fees", "USDC", 5, Reason.FEE, "f"), Overdraft.ALLOW)
    problems = ledger.audit().problems
    assert any(p.startswith("balance of @venue in BTC: -90 is negative") for p in problems)
    assert any(p.startswith("balance of alice in USDC: -5 is negative") for p in problems)
    assert any(p.startswith("balance of @external in BTC: 90 is positive") for p in problems)
    assert ledger.audit().system[VENUE] == {"BTC": -90}
    ledger.close()


def test_price_bands_are_data_and_overridable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bands = load_price_bands()
    assert {k.value: b.relative for k, b in bands.bands.items()} == {
        "spot": 0.02,
        "future": 0.05,
        "perpetual": 0.05,
        "option": 0.25,
    }
    override = tmp_path / "bands.toml"
    override.write_text("[kinds.perpetual]\nrelative = 0.5\n")
    wide = load_price_bands(override)
    assert wide.limits(MARKET.quote("BTC-PERPETUAL")) == pytest.approx((MARK * 0.5, MARK * 1.5))
    assert wide.limits(MARKET.quote("BTC-27MAR26")) == bands.limits(MARKET.quote("BTC-27MAR26"))
    for bad, field in (
        ({"kinds": {"perpetual": {"relative": -0.1}}}, "x.kinds.perpetual.relative"),
        ({"kinds": {"perpetual": {"relative": float("nan")}}}, "x.kinds.perpetual.relative"),
        ({"kinds": {"perpetual": {"width": 0.1}}}, "x.kinds.perpetual.width"),
        ({"kinds": {"swap": {"relative": 0.1}}}, "x.kinds.swap"),
    ):
        with pytest.raises(SolventInputError) as err:
            parse_price_bands({"version": "t", **bad}, "x", bands)
        assert err.value.field == field, (bad, err.value.field)
    with pytest.raises(SolventInputError) as err:  # a complete set needs every field
        parse_price_bands({"version": "t", "kinds": {"spot": {"relative": 0.1}}}, "x")
    assert err.value.field == "x.kinds.spot.underlying"
    with pytest.raises(SolventInputError, match="not a file"):
        load_price_bands(tmp_path / "missing.toml")


# --- 2. 64-bit bounds on every amount and running balance --------------------------------------


def test_balances_that_would_overflow_64_bits_are_refused(service: AccountService) -> None:
    service.deposit("mallory", "BTC", "50000000000")  # 5e18 satoshis: fits in 64 bits
    before = rows(service.ledger)
    with pytest.raises(SolventInputError) as err:  # 1e19 satoshis would not (2^63 - 1 = 9.2e18)
        service.deposit("mallory", "BTC", "50000000000")
    assert err.value.field == "amount" and "limit" in err.value.message
    assert rows(service.ledger) == before
    report = service.audit()
    assert report.ok, report.problems
    with pytest.raises(SolventInputError) as err:
        service.deposit("mallory", "BTC", "100000000000")  # one amount beyond 64 bits
    assert err.value.field == "amount"


def test_trade_cash_beyond_64_bits_is_refused(service: AccountService) -> None:
    service.deposit("mallory", "USDC", "1000000")
    service.deposit(VENUE, "USDC", "1000000")
    before = rows(service.ledger)
    with pytest.raises(SolventInputError) as err:
        service.trade("mallory", "BTC_USDC-PERPETUAL", "1" + "0" * 16, str(MARK), MARKET)
    assert err.value.field in ("quantity", "amount")
    assert rows(service.ledger) == before


def test_audit_reports_corrupt_rows_and_never_crashes(db_url: str) -> None:
    ledger = Ledger.open(db_url)
    ledger.create_account("alice")
    ledger.post(transfer(EXTERNAL, "alice", "BTC", 10, Reason.DEPOSIT, "d"))
    with ledger.engine.begin() as conn:
        op = conn.execute(
            schema.operations.insert().values(
                kind="transfer", reference="x", entry_count=2, created_at=MARKET.as_of
            )
        ).inserted_primary_key[0]
        big = 2**63 - 1
        conn.execute(
            schema.entries.insert(),
            [
                {"operation_id": op, "account_id": "alice", "asset": "BTC", "amount": big,
                 "reason": "transfer"},
                {"operation_id": op, "account_id": "alice", "asset": "BTC", "amount": big,
                 "reason": "transfer"},
            ],
        )  # fmt: skip
        conn.execute(
            schema.positions.insert().values(
                account_id="alice",
                instrument="BTC-PERPETUAL",
                quantity="not a number",
                average_price="0",
                realized_pnl="0",
                settlement_asset="BTC",
            )
        )
        if conn.dialect.name == "sqlite":  # SQLite stores anything anywhere
            conn.execute(
                schema.balances.update()
                .where(schema.balances.c.account_id == "alice")
                .values(amount=1.5e19)
            )
    report = ledger.audit()
    assert not report.ok
    assert any("does not balance" in p for p in report.problems)
    assert any("position alice BTC-PERPETUAL" in p for p in report.problems)
    if ledger.engine.dialect.name == "sqlite":
        assert any("corrupt value 1.5e+19" in p for p in report.problems)
    ledger.close()


# --- 4. collateral the market cannot price --------------------------------------------------------


def test_unpriced_collateral_counts_for_zero_and_never_blocks(service: AccountService) -> None:
    service.deposit("mallory", "BTC", "1")
    service.deposit("mallory", "DOGE", "1000")  # in the schedule, but MARKET has no DOGE index
    view = service.show("mallory", MARKET)
    assert view.unpriced == ("DOGE",)
    assert view.balances == {"BTC": 100_000_000, "DOGE": 100_000_000_000}
    only_btc = 93_650.0 * 0.9  # 1 BTC at the index, 10 % haircut; DOGE for zero
    assert view.health.collateral_value_usd == pytest.approx(only_btc)
    service.trade("mallory", "BTC-PERPETUAL", "0.1", str(MARK), MARKET)
    service.withdraw("mallory", "BTC", "0.5", MARKET)
    service.withdraw("mallory", "DOGE", "1000", MARKET)
    assert service.show("mallory", MARKET).unpriced == ()
    with pytest.raises(SolventInputError, match="collateral schedule"):
        service.deposit("mallory", "DOGGO", "1")
    assert service.audit().ok


# --- properties: whatever users try through the engine, money is conserved and bounded ----------

USERS = ("u1", "u2")
INSTRUMENTS = ("BTC-PERPETUAL", "BTC_USDC-PERPETUAL", "BTC-27MAR26", "BTC-27MAR26-100000-C")
steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("deposit"),
            st.sampled_from((*USERS, VENUE)),
            st.sampled_from(("BTC", "USDC")),
            st.decimals(Decimal("0.01"), Decimal("5"), places=2),
        ),
        st.tuples(
            st.just("withdraw"),
            st.sampled_from(USERS),
            st.sampled_from(("BTC", "USDC")),
            st.decimals(Decimal("0.01"), Decimal("5"), places=2),
        ),
        st.tuples(
            st.just("trade"),
            st.sampled_from(USERS),
            st.sampled_from(INSTRUMENTS),
            st.decimals(Decimal("-2"), Decimal("2"), places=1).filter(bool),
            # the price as a multiple of the mark: inside the band, or anywhere
            st.one_of(st.floats(0.96, 1.04), st.floats(0.0001, 3.0)),
        ),
    ),
    min_size=1,
    max_size=12,
)


def run_engine(service: AccountService, plan: list[tuple]) -> None:  # type: ignore[type-arg]
    for step in plan:
        try:
            if step[0] == "deposit":
                service.deposit(step[1], step[2], str(step[3]))
            elif step[0] == "withdraw":
                service.withdraw(step[1], step[2], str(step[3]), MARKET)
            else:
                _, user, name, quantity, factor = step
                price = Decimal(repr(MARKET.quote(name).mark_price * factor)).quantize(
                    Decimal("0.00000001")
                )
                service.trade(user, name, str(quantity), str(price), MARKET)
        except SolventInputError:
            pass  # refusals write nothing; the invariants below hold either way
    report = service.audit()
    assert report.ok, report.problems
    cached = service.ledger.cached_balances()
    kinds = {u: AccountKind.USER for u in USERS} | {
        VENUE: AccountKind.SYSTEM,
        "@fees": AccountKind.SYSTEM,
        EXTERNAL: AccountKind.EXTERNAL,
    }
    for asset in ("BTC", "USDC"):  # conserved over every account, the venue's and the world's
        assert sum(u for (_, a), u in cached.items() if a == asset) == 0
    for (account, _), units in cached.items():
        assert balance_problem(kinds[account], units) is None, (account, units)


def _engine_property(new_url, examples: int) -> None:  # type: ignore[no-untyped-def]
    @settings(max_examples=examples, deadline=None)
    @given(steps)
    def prop(plan: list[tuple]) -> None:  # type: ignore[type-arg]
        ledger = Ledger.open(new_url())
        service = AccountService(ledger, flat_margin, freshness=AT_THE_MARKET)
        for user in USERS:
            service.create(user)
        run_engine(service, plan)
        ledger.close()

    prop()


def test_engine_sequences_conserve_and_bound_money_sqlite(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    _engine_property(lambda: f"sqlite:///{tmp_path_factory.mktemp('m') / 'l.db'}", 25)


def test_engine_sequences_conserve_and_bound_money_postgres(new_postgres_database) -> None:  # type: ignore[no-untyped-def]
    _engine_property(new_postgres_database, 5)


# --- 5. market freshness for operations that need marks ------------------------------------------


def test_stale_markets_are_refused_for_trades_and_withdrawals(db_url: str) -> None:
    from datetime import timedelta

    from solvent.errors import StaleDataError

    ledger = Ledger.open(db_url)
    later = MARKET.as_of + timedelta(minutes=6)
    service = AccountService(ledger, flat_margin, freshness=MarketFreshness(clock=lambda: later))
    service.create("u")
    service.deposit("u", "BTC", "1")  # a deposit needs no market
    before = rows(ledger)
    with pytest.raises(StaleDataError) as err:
        service.trade("u", "BTC-PERPETUAL", "0.1", str(MARK), MARKET)
    assert err.value.field == "market" and "360 s old" in err.value.message
    with pytest.raises(StaleDataError):
        service.withdraw("u", "BTC", "0.1", MARKET)
    assert rows(ledger) == before
    assert service.show("u", MARKET).balances == {"BTC": 100_000_000}  # reads stay allowed
    relaxed = AccountService(
        ledger,
        flat_margin,
        freshness=MarketFreshness(timedelta(minutes=10), clock=lambda: later),
    )
    relaxed.withdraw("u", "BTC", "0.1", MARKET)
    ledger.close()


def test_check_reports_what_the_ledger_would_refuse(service: AccountService) -> None:
    service.deposit("mallory", "USDC", "100000")
    service.deposit(VENUE, "USDC", "1")
    with service.ledger.transaction() as tx:  # a long opened lower: closing at the mark gains
        terms = trade_terms(MARKET, "BTC_USDC-PERPETUAL")
        tx.trade("mallory", terms, Decimal("1"), Decimal(str(MARK - 1000)))
    answer = service.check("mallory", [Order("BTC_USDC-PERPETUAL", Decimal("-1"))], MARKET)
    assert not answer.accepted and "insufficient USDC in '@venue'" in answer.reason
    assert service.show("mallory", MARKET).positions[0].quantity == 1  # nothing written


def test_a_corrupt_balance_blocks_bookings_on_it_with_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'c.db'}")
    ledger.create_account("alice")
    ledger.post(transfer(EXTERNAL, "alice", "BTC", 10, Reason.DEPOSIT, "d"))
    with ledger.engine.begin() as conn:
        conn.execute(schema.balances.update().values(amount=1.5e19))
    with pytest.raises(SolventInputError, match="corrupt"):
        ledger.post(transfer("alice", EXTERNAL, "BTC", 1, Reason.WITHDRAWAL, "w"))
    assert not ledger.audit().ok
    ledger.close()


def test_postgres_overflow_behind_a_stale_read_is_still_refused(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pre-check reads balances it has not locked (``@external``); if a concurrent writer moved
    one, PostgreSQL's own BIGINT overflow error becomes the same clean refusal."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has a single writer: its reads are never stale")
    from solvent.ledger.store import LedgerTransaction

    ledger = Ledger.open(db_url)
    ledger.create_account("alice")
    ledger.post(transfer(EXTERNAL, "alice", "BTC", 2**62, Reason.DEPOSIT, "d"))
    monkeypatch.setattr(  # a read that predates the concurrent deposit above
        LedgerTransaction, "balances", lambda self, ids: {a: {} for a in ids}
    )
    before = rows(ledger)
    with pytest.raises(SolventInputError) as err:
        ledger.post(transfer(EXTERNAL, "alice", "BTC", 2**62, Reason.DEPOSIT, "d2"))
    assert err.value.field == "amount" and "limit" in err.value.message
    assert rows(ledger) == before
    ledger.close()


def test_an_incomputable_requirement_refuses_instead_of_passing(db_url: str) -> None:
    """A NaN requirement (a figure that cannot be computed) compares false against anything: the
    trade and the withdrawal must be refused, not waved through."""
    ledger = Ledger.open(db_url)
    service = AccountService(
        ledger, lambda p, m, model: Flat(float("nan"), float("nan")), freshness=AT_THE_MARKET
    )
    service.create("u")
    service.deposit("u", "BTC", "1")
    service.ledger.post(transfer(EXTERNAL, "u", "USDC", 10**9, Reason.DEPOSIT, "d"))
    before = rows(ledger)
    with pytest.raises(SolventInputError, match="below initial margin"):
        service.trade("u", "BTC-PERPETUAL", "0.1", str(MARK), MARKET)
    assert rows(ledger) == before
    ledger.close()
