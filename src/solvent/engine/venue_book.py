"""A synthetic venue book for the main job (``solvent demo``): a few thousand accounts of the kinds
a derivatives venue holds, over the instruments of a market snapshot, generated deterministically
from a seed.

Archetypes (share of the accounts; quantities in coin, collateral in the named asset):

- ``option-writer``: short strangles, short puts and covered calls on BTC or ETH, coin collateral;
- ``option-spread``: call and put spreads, long straddles and risk reversals (defined risk);
- ``basis-trade``: long perpetual against a short dated future of the same underlying;
- ``leveraged-perp``: a naked perpetual, long or short, at 2x to 25x, coin collateral;
- ``multi-asset``: BTC, ETH and USDC collateral behind a BTC/ETH perpetual pair and an option;
- ``sub-account``: a parent holding collateral with a cross sub-account (options and a hedge)
  and an isolated one (a perpetual with its own collateral).

Coin-settled (inverse) positions are always backed by some of their coin in the same account (the
ledger lends nothing: realized losses are paid in the settlement asset). Every account is funded
to between 1.1 and 2.5 times its initial margin under the ``standard`` model (a few vectorized
margin calls over the whole book, collateral scaled), so the book starts healthy and a crash
liquidates the thinly funded, leveraged part of it first. Generating is done
once per run (a loop over accounts to build positions); margining is vectorized.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from solvent.engine.margin import margin_accounts
from solvent.errors import SolventInputError
from solvent.instruments.terms import InstrumentKind, OptionType
from solvent.margin.protocol import Detail
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.account_book import AccountBook
from solvent.portfolio.portfolio import Portfolio, Position, SubAccountMode

ARCHETYPES: tuple[tuple[str, float], ...] = (
    ("option-writer", 0.24),
    ("option-spread", 0.14),
    ("basis-trade", 0.14),
    ("leveraged-perp", 0.32),
    ("multi-asset", 0.10),
    ("sub-account", 0.02),
)
"""Archetype names and their share of the accounts."""

MIN_DAYS, MAX_DAYS = 7.0, 200.0
"""Options and futures are drawn from expiries this many days out."""

FUNDING = (1.1, 2.5)
"""Collateral is scaled so equity / standard IM is uniform in this range."""

LEVERAGE = np.array([2.0, 3.0, 5.0, 10.0, 20.0, 25.0])
LEVERAGE_WEIGHTS = np.array([0.15, 0.2, 0.25, 0.2, 0.12, 0.08])


@dataclass(frozen=True)
class VenueBook:
    """The generated book (``accounts``) and each account's archetype (sub-accounts carry their
    parent's)."""

    accounts: AccountBook
    archetype: tuple[str, ...]
    seed: int

    def portfolios(self) -> list[Portfolio]:
        return self.accounts.portfolios()


@dataclass(frozen=True)
class _Chain:
    """Listed options and futures of one underlying, as columns."""

    underlying: str
    index: float
    option_names: tuple[str, ...]
    option_expiry: np.ndarray  # days to expiry
    option_strike: np.ndarray
    option_is_call: np.ndarray
    option_forward: np.ndarray
    futures: tuple[str, ...]
    future_days: np.ndarray
    perpetual: str


def _chains(market: MarketSnapshot) -> dict[str, _Chain]:
    by: dict[str, dict[str, list[object]]] = {}
    perps: dict[str, str] = {}
    for name, quote in market.quotes.items():
        inst = quote.instrument
        u = inst.underlying
        days = quote.time_to_expiry * 365.0
        entry = by.setdefault(u, {k: [] for k in ("on", "od", "ok", "oc", "of", "fn", "fd")})
        if inst.kind is InstrumentKind.PERPETUAL:
            perps.setdefault(u, name)
        elif inst.kind is InstrumentKind.FUTURE and MIN_DAYS <= days <= MAX_DAYS:
            entry["fn"].append(name)
            entry["fd"].append(days)
        elif inst.kind is InstrumentKind.OPTION and MIN_DAYS <= days <= MAX_DAYS:
            entry["on"].append(name)
            entry["od"].append(days)
            entry["ok"].append(inst.strike)
            entry["oc"].append(inst.option_type is OptionType.CALL)
            entry["of"].append(quote.forward)
    chains = {}
    for u, e in sorted(by.items()):
        if u not in perps or not e["on"] or not e["fn"] or u not in market.index:
            continue
        chains[u] = _Chain(
            underlying=u,
            index=float(market.index[u]),
            option_names=tuple(str(n) for n in e["on"]),
            option_expiry=np.asarray(e["od"], dtype=np.float64),
            option_strike=np.asarray(e["ok"], dtype=np.float64),
            option_is_call=np.asarray(e["oc"], dtype=bool),
            option_forward=np.asarray(e["of"], dtype=np.float64),
            futures=tuple(str(n) for n in e["fn"]),
            future_days=np.asarray(e["fd"], dtype=np.float64),
            perpetual=perps[u],
        )
    if not chains:
        raise SolventInputError("market", "no underlying with a perpetual, futures and options")
    return chains


class _Picker:
    """Draws instruments of one chain: an expiry, then the listed strike nearest a moneyness."""

    def __init__(self, chain: _Chain, rng: np.random.Generator) -> None:
        self.chain = chain
        self.rng = rng
        self.expiries = np.unique(chain.option_expiry)

    def expiry(self) -> float:
        return float(self.rng.choice(self.expiries))

    def option(self, days: float, call: bool, moneyness: float) -> str:
        c = self.chain
        mask = (c.option_expiry == days) & (c.option_is_call == call)
        idx = np.flatnonzero(mask)
        target = c.option_forward[idx[0]] * moneyness
        best = idx[np.argmin(np.abs(c.option_strike[idx] - target))]
        return c.option_names[int(best)]

    def future(self) -> str:
        return str(self.rng.choice(np.asarray(self.chain.futures)))

    def size(self) -> float:
        """Option/future size in coin: lognormal, about 1 BTC (or the same USD in ETH)."""
        usd = float(np.exp(self.rng.normal(np.log(90_000.0), 0.8)))
        return round(usd / self.chain.index, 2) or 0.01


def _option_writer(p: _Picker, rng: np.random.Generator) -> list[Position]:
    days, q = p.expiry(), p.size()
    kind = rng.integers(3)
    if kind == 0:  # short strangle
        return [
            Position(p.option(days, True, rng.uniform(1.08, 1.3)), -q),
            Position(p.option(days, False, rng.uniform(0.7, 0.92)), -q),
        ]
    if kind == 1:  # cash-secured style short put
        return [Position(p.option(days, False, rng.uniform(0.75, 0.98)), -q)]
    return [  # covered call: long perpetual, short call
        Position(p.chain.perpetual, q),
        Position(p.option(days, True, rng.uniform(1.05, 1.3)), -q),
    ]


def _option_spread(p: _Picker, rng: np.random.Generator) -> list[Position]:
    days, q = p.expiry(), p.size()
    kind = rng.integers(4)
    if kind == 0:  # call spread
        return [
            Position(p.option(days, True, rng.uniform(0.98, 1.05)), q),
            Position(p.option(days, True, rng.uniform(1.1, 1.25)), -q),
        ]
    if kind == 1:  # put spread
        return [
            Position(p.option(days, False, rng.uniform(0.95, 1.02)), q),
            Position(p.option(days, False, rng.uniform(0.75, 0.9)), -q),
        ]
    if kind == 2:  # long straddle
        return [Position(p.option(days, True, 1.0), q), Position(p.option(days, False, 1.0), q)]
    return [  # risk reversal: long call, short put
        Position(p.option(days, True, rng.uniform(1.05, 1.2)), q),
        Position(p.option(days, False, rng.uniform(0.8, 0.95)), -q),
    ]


def _basis(p: _Picker, rng: np.random.Generator) -> list[Position]:
    q = p.size() * rng.uniform(1.0, 4.0)
    q = round(q, 2)
    return [Position(p.chain.perpetual, q), Position(p.future(), -q)]


def _perp(p: _Picker, rng: np.random.Generator) -> list[Position]:
    side = 1.0 if rng.random() < 0.6 else -1.0
    return [Position(p.chain.perpetual, side * round(p.size() * rng.uniform(0.5, 3.0), 2))]


def generate_venue_book(
    market: MarketSnapshot, n_accounts: int = 3_000, seed: int = 20260105
) -> VenueBook:
    """``n_accounts`` accounts (sub-accounts included) over ``market``'s instruments; the same
    ``seed`` and market always give the same book."""
    if isinstance(n_accounts, bool) or not isinstance(n_accounts, int) or n_accounts < 10:
        raise SolventInputError("accounts", "must be an integer >= 10")
    if n_accounts > 1_000_000:
        raise SolventInputError("accounts", "must be <= 1,000,000")
    rng = np.random.default_rng(seed)
    chains = _chains(market)
    pickers = {u: _Picker(c, rng) for u, c in chains.items()}
    names = sorted(pickers)
    main = "BTC" if "BTC" in pickers else names[0]
    other = "ETH" if "ETH" in pickers and main != "ETH" else names[-1]
    weights = np.array([w for _, w in ARCHETYPES])
    kinds = rng.choice(len(ARCHETYPES), size=n_accounts, p=weights / weights.sum())
    kinds[0] = [k for k, _ in ARCHETYPES].index("sub-account")  # at least one family
    portfolios: list[Portfolio] = []
    archetype: list[str] = []

    def add(pf: Portfolio, kind: str) -> None:
        portfolios.append(pf)
        archetype.append(kind)

    i = 0
    while len(portfolios) < n_accounts:
        kind = ARCHETYPES[int(kinds[i % n_accounts])][0]
        i += 1
        u = main if rng.random() < 0.65 else other
        p = pickers[u]
        name = f"{kind.split('-')[0]}-{len(portfolios):05d}"
        if kind == "option-writer":
            add(Portfolio(name, {u: 1.0}, tuple(_option_writer(p, rng))), kind)
        elif kind == "option-spread":
            add(Portfolio(name, {u: 1.0}, tuple(_option_spread(p, rng))), kind)
        elif kind == "basis-trade":
            add(Portfolio(name, {u: 1.0}, tuple(_basis(p, rng))), kind)
        elif kind == "leveraged-perp":
            add(Portfolio(name, {u: 1.0}, tuple(_perp(p, rng))), kind)
        elif kind == "multi-asset":
            a, b = pickers[main], pickers[other]
            q = a.size()
            ratio = a.chain.index / b.chain.index
            positions = (
                Position(a.chain.perpetual, q),
                Position(b.chain.perpetual, -round(q * ratio * rng.uniform(0.7, 1.3), 2)),
                Position(b.option(b.expiry(), False, rng.uniform(0.8, 0.95)), -round(q * ratio, 2)),
            )
            add(Portfolio(name, {main: 1.0, other: 1.0, "USDC": 1.0}, positions), kind)
        else:  # a parent with a cross and an isolated sub-account
            if len(portfolios) + 3 > n_accounts:
                continue
            parent = Portfolio(name, {u: 1.0, "USDC": 1.0}, ())
            cross = Portfolio(
                f"{name}-cross",
                {u: 1.0},
                tuple(_option_writer(p, rng)) + tuple(_basis(p, rng)),
                parent=name,
                mode=SubAccountMode.CROSS,
            )
            isolated = Portfolio(
                f"{name}-isolated",
                {u: 1.0},
                tuple(_perp(p, rng)),
                parent=name,
                mode=SubAccountMode.ISOLATED,
            )
            for pf in (parent, cross, isolated):
                add(pf, kind)
    book = AccountBook.from_portfolios(portfolios)
    return VenueBook(accounts=_fund(book, market, rng), archetype=tuple(archetype), seed=seed)


def _fund(book: AccountBook, market: MarketSnapshot, rng: np.random.Generator) -> AccountBook:
    """Scale each margin unit's collateral so its equity is a random multiple (``FUNDING``) of
    its standard initial margin, keeping the mix of its listed assets (equal USD shares). Equity
    is not linear in the balances (haircuts, coin-margined option values netted with the coin
    balance), so the scale is found by a few Newton steps with slope one USD of equity per USD of
    collateral (one vectorized margin call each)."""
    prices = np.array([market.price_usd(a) for a in book.assets])
    share = np.where(book.listed, 1.0 / prices[None, :], 0.0)  # 1 USD of each listed asset
    probe = replace(book, collateral=share * 0.0)
    run = margin_accounts(probe, market, "standard", detail=Detail.TOTALS)
    im = np.asarray(run.result.initial_margin_usd, dtype=np.float64)
    target = np.maximum(im, 1.0) * rng.uniform(*FUNDING, size=len(im))
    listed_usd = np.zeros(len(im))
    np.add.at(listed_usd, run.groups.group_of, book.listed.sum(axis=1).astype(np.float64))
    # collateral of each group in USD at the index, spread over its listed assets
    value = np.maximum(target - run.equity.equity_usd, 0.0) + 0.0
    for _ in range(4):
        per_asset = np.divide(value, listed_usd, out=np.zeros_like(value), where=listed_usd > 0)
        collateral = share * per_asset[run.groups.group_of][:, None]
        run = margin_accounts(
            replace(book, collateral=collateral), market, "standard", detail=Detail.TOTALS
        )
        gap = target - run.equity.equity_usd
        value = np.maximum(value + gap, 0.0)
    per_asset = np.divide(value, listed_usd, out=np.zeros_like(value), where=listed_usd > 0)
    collateral = share * per_asset[run.groups.group_of][:, None]
    return replace(book, collateral=np.asarray(np.round(collateral, 6), dtype=np.float64))


def archetype_counts(book: VenueBook) -> dict[str, int]:
    """How many accounts of each archetype the book holds."""
    out = {name: 0 for name, _ in ARCHETYPES}
    for kind in book.archetype:
        out[kind] += 1
    return out


def accounts_of(book: VenueBook, kinds: Sequence[str]) -> np.ndarray:
    """Indices of the accounts whose archetype is in ``kinds``."""
    wanted = set(kinds)
    return np.flatnonzero([k in wanted for k in book.archetype])
