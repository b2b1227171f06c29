"""A book (FORMATS 2) put on the ledger as the venue's starting state, in one transaction.

For a replay, everything must be on the ledger: the accounts (parents first, with their mode and
model), their collateral, their positions, and the venue's own capital.

- Collateral: deposited exactly, each amount rounded down to the asset's base unit (a float
  ``0.123456789123`` BTC becomes ``0.12345678`` BTC); a negative amount (a debt) is refused: the
  ledger holds no debts.
- Positions: booked as trades against ``@venue`` at their ``entry_price`` when they carry one (a
  finite positive price within :data:`ENTRY_PRICE_FACTOR` of today's market, else refused naming
  ``accounts[i].positions[p].entry_price``), else at the market's mark (their P&L so far taken
  as settled, as FORMATS 2 says). An option's premium moves cash at the trade, so a long
  option's premium is deposited first and a short option's premium withdrawn after: the
  account's balances end as the book states them.
- ``@venue`` (the counterparty that pays realized P&L and option premiums) is funded with
  :data:`VENUE_CAPITAL_MULTIPLE` times the book's gross notional in each settlement asset, and in
  ``fund_asset`` with as many times the whole book's gross notional in USD: liquidation fees and
  insurance-fund flows are paid in ``fund_asset``, so an account liquidated without it sells its
  collateral to ``@venue`` for it; the insurance fund ``@insurance`` with ``insurance_fund_usd``
  of ``fund_asset`` when asked.

Nothing is written when anything is refused. Accounts are created in one bulk insert
(:meth:`~solvent.ledger.store.LedgerTransaction.create_accounts`, the checks of one creation
each); their collateral and positions are written in bulk, :data:`SEED_CHUNK` accounts at a time
(:class:`~solvent.ledger.batch.LedgerBatch`: the store's checks unchanged), all in one transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from decimal import ROUND_FLOOR, Decimal

import numpy as np

from solvent.accounts.service import trade_terms
from solvent.collateral.assets import MAX_UNITS
from solvent.errors import SolventInputError
from solvent.ledger.batch import LedgerBatch
from solvent.ledger.model import (
    EXTERNAL,
    INSURANCE,
    VENUE,
    AccountKind,
    Reason,
    TradeStyle,
    TradeTerms,
    transfer,
)
from solvent.ledger.store import (
    AccountRecord,
    Ledger,
    LedgerTransaction,
    Overdraft,
    check_account_id,
)
from solvent.market.snapshot import InstrumentQuote, MarketSnapshot
from solvent.portfolio.account_book import AccountBook
from solvent.portfolio.portfolio import SubAccountMode

SEED_CHUNK = 500
"""Accounts whose collateral and positions are held in memory and written together (one bulk
statement per table), all inside the seeding's one transaction."""

VENUE_CAPITAL_MULTIPLE = 10
"""``@venue``'s capital per settlement asset, as a multiple of the book's gross notional in it."""

ENTRY_PRICE_FACTOR = 100.0
"""How far a seeded position's entry price may sit from today's market: a future's, perpetual's
or spot's within ``[mark / 100, 100 x mark]``; an option's premium at most 100 times the larger of
its forward and strike in the premium's unit (1 coin per unit of underlying for a coin-settled
option). Historical entries are legitimate, so the band is wide; an entry of 1 USD on a perpetual
marked at 93,000 is not (booked against ``@venue``, it would hand the account the difference)."""


def _fits(units: int, field: str, what: str) -> int:
    """``units`` when the ledger can hold them (at most ``MAX_UNITS`` base units, with room for
    the flows of a replay on top: a quarter of it), else refused naming ``field``."""
    if units > MAX_UNITS // 4:
        raise SolventInputError(
            field, f"{what} is {units} base units, beyond the ledger's limit of {MAX_UNITS // 4}"
        )
    return units


def _exact(value: float, decimals: int) -> int:
    """Base units of a float amount, rounded toward minus infinity."""
    amount = Decimal(repr(float(value)))
    return int((amount.scaleb(decimals)).to_integral_value(rounding=ROUND_FLOOR))


def seeded(ledger: Ledger, book: AccountBook) -> bool:
    """Whether ``book``'s accounts are already on ``ledger`` (all of them: a resumed replay);
    refuses a ledger holding some of them only."""
    accounts = list(book.accounts)
    with ledger.transaction() as tx:
        held = tx.known_accounts(accounts)  # one read per chunk of accounts
    present = [account in held for account in accounts]
    if all(present):
        return bool(present)
    if any(present):
        first = book.accounts[present.index(True)]
        raise SolventInputError(
            "db", f"the ledger already holds account {first!r} but not the whole book"
        )
    return False


def seed_ledger(
    ledger: Ledger,
    book: AccountBook,
    market: MarketSnapshot,
    model: str,
    *,
    insurance_fund_usd: float = 0.0,
    fund_asset: str = "USDC",
) -> None:
    """Put ``book`` on ``ledger`` (see the module docstring)."""
    assets = ledger.assets
    for i, account in enumerate(book.accounts):
        check_account_id(account, f"accounts[{i}].account")
        for j in np.flatnonzero(book.listed[i]).tolist():
            if book.collateral[i, j] < 0:
                raise SolventInputError(
                    f"accounts[{i}].collateral.{book.assets[j]}",
                    f"{account!r} holds a debt: the ledger holds no negative balance",
                )
            assets.get(book.assets[j], f"accounts[{i}].collateral.{book.assets[j]}")
    terms = {name: trade_terms(market, name, "positions") for name in book.instruments}
    check_entry_prices(book, market)
    gross: dict[str, Decimal] = defaultdict(Decimal)
    for k in range(book.position_quantity.size):
        name = book.instruments[int(book.position_instrument[k])]
        t = terms[name]
        quote = market.quote(name)
        q = abs(Decimal(repr(float(book.position_quantity[k])))) * t.contract_size
        if t.style is TradeStyle.PREMIUM or t.settlement_asset in ("USDC", "USDT", "USD"):
            gross[t.settlement_asset] += q * Decimal(repr(quote.mark_price))
        else:
            gross[t.settlement_asset] += q
    if gross:
        gross_usd = sum(
            (amount * Decimal(repr(market.price_usd(symbol))) for symbol, amount in gross.items()),
            Decimal(0),
        )
        in_fund_asset = gross_usd / Decimal(repr(market.price_usd(fund_asset)))
        gross[fund_asset] = max(gross.get(fund_asset, Decimal(0)), in_fund_asset)
    order = sorted(range(len(book)), key=lambda i: (book.parent_id[i] is not None, i))
    capital: dict[str, int] = {}  # @venue's capital per asset, base units
    for symbol, amount in sorted(gross.items()):
        spec = assets.get(symbol, "settlement_asset")
        capital[symbol] = _fits(
            _exact(float(amount) * VENUE_CAPITAL_MULTIPLE, spec.decimals) + 1,
            "accounts",
            f"the book is too large for the ledger: @venue's capital of "
            f"{VENUE_CAPITAL_MULTIPLE} x its gross notional in {symbol} ({float(amount):.6g})",
        )
    fund_units = 0
    if insurance_fund_usd > 0:
        spec = assets.get(fund_asset, "fund_asset")
        fund_units = _fits(
            _exact(insurance_fund_usd / market.price_usd(fund_asset), spec.decimals),
            "insurance_fund",
            f"{insurance_fund_usd:g} USD of {fund_asset}",
        )
    with ledger.transaction() as tx:
        for symbol, units in capital.items():
            tx.post(
                transfer(EXTERNAL, VENUE, symbol, units, Reason.DEPOSIT, "replay:venue-capital")
            )
        if fund_units > 0:
            tx.post(
                transfer(
                    EXTERNAL,
                    INSURANCE,
                    fund_asset,
                    fund_units,
                    Reason.DEPOSIT,
                    "replay:insurance-fund",
                )
            )
        tx.create_accounts([_record(book, i, model) for i in order])  # one bulk insert
        starts = np.searchsorted(book.position_account, np.arange(len(book) + 1))
        batch = LedgerBatch(tx)  # every check of the store, the writes in bulk per chunk
        for lo in range(0, len(book), SEED_CHUNK):
            hi = min(lo + SEED_CHUNK, len(book))
            batch.load(book.accounts[lo:hi])
            for i in range(lo, hi):
                _seed_account(batch, book, i, range(starts[i], starts[i + 1]), terms, market)
            batch.flush()


def entry_price_range(quote: InstrumentQuote) -> tuple[float, float]:
    """``(low, high)`` entry prices a seeded position on ``quote``'s instrument may carry (its
    price unit, :data:`ENTRY_PRICE_FACTOR`); ``low`` is exclusive for an option (> 0)."""
    terms = quote.instrument
    if terms.is_option:
        ceiling = max(quote.forward, terms.strike or 0.0)
        if terms.is_inverse:  # premium in coin per unit: the underlying is worth 1 coin (at F)
            ceiling /= quote.forward
        return 0.0, ENTRY_PRICE_FACTOR * ceiling
    return quote.mark_price / ENTRY_PRICE_FACTOR, quote.mark_price * ENTRY_PRICE_FACTOR


def check_entry_prices(book: AccountBook, market: MarketSnapshot) -> None:
    """Refuse, naming ``accounts[i].positions[p].entry_price``, an entry price that is not a
    finite positive number within :func:`entry_price_range` of its instrument (NaN: none given,
    the position is booked at the mark). Vectorized over the book's positions."""
    entry = book.position_entry_price
    if entry is None or entry.size == 0:
        return
    ranges = np.array([entry_price_range(market.quote(n)) for n in book.instruments])
    instrument = book.position_instrument.astype(np.intp)
    low, high = ranges[instrument, 0], ranges[instrument, 1]
    with np.errstate(invalid="ignore"):
        fine = np.isnan(entry) | ((entry > 0.0) & (entry >= low) & (entry <= high))
    bad = np.flatnonzero(~fine)
    if bad.size == 0:
        return
    k = int(bad[0])
    i = int(book.position_account[k])
    first = int(np.searchsorted(book.position_account, i))
    name = book.instruments[int(instrument[k])]
    raise SolventInputError(
        f"accounts[{i}].positions[{k - first}].entry_price",
        f"{float(entry[k])!r} for {name} is not a price within {low[k]:.10g} to {high[k]:.10g} "
        f"(a factor {ENTRY_PRICE_FACTOR:g} of today's market); nothing was written",
    )


def _record(book: AccountBook, i: int, model: str) -> AccountRecord:
    """Account ``i`` of ``book`` as a ledger record (a sub-account without a mode is cross)."""
    parent = book.parent_id[i] if book.parent[i] >= 0 else None
    mode = book.mode[i] if parent is not None else None
    if parent is not None and mode is None:
        mode = SubAccountMode.CROSS
    return AccountRecord(book.accounts[i], AccountKind.USER, parent, mode, model)


def _seed_account(
    tx: LedgerTransaction,
    book: AccountBook,
    i: int,
    positions: range,
    terms: Mapping[str, TradeTerms],
    market: MarketSnapshot,
) -> None:
    """Account ``i``'s collateral and positions: its collateral plus the premiums its long
    options pay is deposited, the positions booked, and whatever it holds beyond its collateral
    afterwards (short options' premiums, rounding) withdrawn."""
    assets = tx.assets
    account = book.accounts[i]
    target: dict[str, int] = {}
    for j in np.flatnonzero(book.listed[i]).tolist():
        spec = assets.get(book.assets[j])
        target[spec.symbol] = _exact(book.collateral[i, j], spec.decimals)
    fills: list[tuple[TradeTerms, Decimal, Decimal]] = []
    extra: dict[str, int] = defaultdict(int)
    for k in positions:
        name = book.instruments[int(book.position_instrument[k])]
        t = terms[name]
        q = Decimal(repr(float(book.position_quantity[k])))
        if q == 0:
            continue
        entry = np.nan if book.position_entry_price is None else float(book.position_entry_price[k])
        spec = assets.get(t.settlement_asset, "settlement_asset")
        smallest = Decimal(1).scaleb(-spec.decimals)
        price = Decimal(repr(entry if np.isfinite(entry) else market.quote(name).mark_price))
        price = max(price, smallest)  # an option marked at zero: the smallest premium
        if t.style is TradeStyle.PREMIUM and q > 0:
            extra[spec.symbol] += _exact(float(q * price * t.contract_size), spec.decimals) + 1
        fills.append((t, q, price))
    for symbol in sorted(set(target) | set(extra)):
        units = target.get(symbol, 0) + extra.get(symbol, 0)
        if units > 0:
            tx.post(transfer(EXTERNAL, account, symbol, units, Reason.DEPOSIT, "replay:collateral"))
    for t, q, price in fills:
        tx.trade(account, t, q, price, 0, "replay:position")
    held = tx.balances([account])[account]
    for symbol, units in sorted(held.items()):
        excess = units - target.get(symbol, 0)
        if excess > 0:
            tx.post(
                transfer(account, EXTERNAL, symbol, excess, Reason.WITHDRAWAL, "replay:premium"),
                Overdraft.REFUSE,
            )
