"""The margin pipeline every interface calls: a book + market -> margin results (docs/formats.md 3).

Steps, each vectorized over the whole book (no per-account Python loop on the way):

1. group: cross sub-accounts join their parent's margin group (one portfolio, shared collateral;
   :mod:`solvent.portfolio.groups`, linear time), giving the sparse book of the groups and their
   collateral matrix;
2. prepare: the market is resolved once for the book's instruments (:class:`PricedMarket`) and
   the model prepared once;
3. margin: the model margins every group in one call;
4. collateral: every group's collateral valued at once with haircuts, and its equity
   (:func:`solvent.accounts.equity.book_equity`, the one definition of ``equity_usd``);
   collateral held elsewhere (``external``) joins it once its attestation is verified, after its
   location haircut (:mod:`solvent.venues.external`, docs/cross-venue.md);
5. health: ``margin_ratio = maintenance_margin_usd / equity_usd`` (``None`` when equity is not
   positive) and the account state of :mod:`solvent.accounts.health`.

The result (:class:`MarginRun`) keeps arrays per group and builds one account's
:class:`MarginReport` only when asked; :mod:`solvent.engine.views` renders it as JSON.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np
import numpy.typing as npt

from solvent.accounts.equity import Equity, book_equity
from solvent.accounts.health import STATES, HealthState, health_codes
from solvent.arrays import BoolArray, FloatArray
from solvent.collateral.valuation import CollateralValuation, ExternalBalances
from solvent.engine.stages import Stage, Stages
from solvent.executors import Executor
from solvent.margin.protocol import Detail, PricedMarket
from solvent.margin.registry import get_model, resolve_alias
from solvent.margin.result import AccountMargin, BookMargin
from solvent.margin.sharded import margin_sharded
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.account_book import AccountBook
from solvent.portfolio.book import Book
from solvent.portfolio.groups import MarginGroups
from solvent.portfolio.portfolio import Portfolio
from solvent.venues.external import ExternalAdmission, admit_external, external_balances
from solvent.venues.locations import LocationSet, load_locations


@dataclass(frozen=True, slots=True)
class MarginReport:
    """One account's result: the model's requirement and the account's collateral and equity.

    ``margin_group`` names the account whose portfolio this one was margined with (its cross
    parent), or ``None`` when it was margined on its own (or is the parent). ``members`` lists
    every account of the group (the account alone when it has no cross sub-accounts).
    ``option_value_usd`` is the mark-to-market of the group's positions (docs/glossary.md).
    """

    account: str
    margin: AccountMargin
    collateral: CollateralValuation
    option_value_usd: float
    equity_usd: float
    margin_ratio: float | None
    margin_group: str | None
    members: tuple[str, ...]


@dataclass(frozen=True)
class MarginRun(Sequence[MarginReport]):
    """A whole book's margin: arrays per margin group, and a :class:`MarginReport` per account
    on demand (``run[i]``, iteration: input order).

    Per group ``g`` (row ``g`` of ``book`` and ``result``, named after its top account):
    ``equity`` (collateral value, position value and equity, USD), ``margin_ratio`` (NaN where
    equity <= 0) and ``state_code`` (index into :data:`solvent.accounts.health.STATES`).
    ``groups.group_of[i]`` is input account ``i``'s group. ``external``: the book's collateral
    held elsewhere and what each holding was admitted at (``None`` when it has none)."""

    accounts: tuple[str, ...]
    groups: MarginGroups
    book: Book
    market: PricedMarket
    result: BookMargin
    equity: Equity
    listed: BoolArray
    maintenance_margin_usd: FloatArray
    margin_ratio: FloatArray
    state_code: npt.NDArray[np.int8]
    external: ExternalAdmission | None = None

    def __len__(self) -> int:
        return len(self.accounts)

    @overload
    def __getitem__(self, index: int) -> MarginReport: ...

    @overload
    def __getitem__(self, index: slice) -> list[MarginReport]: ...

    def __getitem__(self, index: int | slice) -> MarginReport | list[MarginReport]:
        if isinstance(index, slice):
            return [self.report(i) for i in range(len(self))[index]]
        return self.report(range(len(self))[index])

    def __iter__(self) -> Iterator[MarginReport]:
        return (self.report(i) for i in range(len(self)))

    @property
    def detail(self) -> tuple[AccountMargin, ...]:
        """Each group's :class:`AccountMargin` (a run at ``Detail.TOTALS`` has none)."""
        if self.result.detail is None:
            raise ValueError("this run was made with Detail.TOTALS: no per-account detail")
        return self.result.detail

    def state(self, group: int) -> HealthState:
        """Health state of group ``group``."""
        return STATES[int(self.state_code[group])]

    def members(self, group: int) -> tuple[str, ...]:
        """Accounts of group ``group``, in input order."""
        return tuple(self.accounts[i] for i in self.groups.members(group).tolist())

    def report(self, i: int) -> MarginReport:
        """Account ``i``'s result (input order)."""
        g = int(self.groups.group_of[i])
        top = self.book.accounts[g]
        ratio = float(self.margin_ratio[g])
        columns = np.flatnonzero(self.listed[g]).tolist()
        return MarginReport(
            account=self.accounts[i],
            margin=self.detail[g],
            collateral=self.equity.collateral.valuation(g, columns=columns),
            option_value_usd=float(self.equity.position_value_usd[g]),
            equity_usd=float(self.equity.equity_usd[g]),
            margin_ratio=None if np.isnan(ratio) else ratio,
            margin_group=top if top != self.accounts[i] else None,
            members=self.members(g),
        )


def margin_accounts(
    accounts: AccountBook,
    market: MarketSnapshot,
    model: str = "standard",
    params: str | None = None,
    *,
    detail: Detail = Detail.ACCOUNTS,
    stages: Stages | None = None,
    locations: LocationSet | str | None = None,
    executor: Executor | None = None,
    shards: int | None = None,
) -> MarginRun:
    """Margin every account of ``accounts`` under ``model`` (see the module docstring);
    ``locations``: the location set that values collateral held elsewhere (a
    :class:`LocationSet`, a built-in version or a TOML file laid over it; default built-in).

    With an ``executor`` the model's margin step runs on it in ``shards`` shards of margin groups
    (default: one per worker; :func:`solvent.margin.sharded.margin_sharded`), the prepared state
    broadcast once; the result is the same, bit for bit."""
    stages = stages if stages is not None else Stages()
    margin_model = get_model(resolve_alias(model, params))
    with stages(Stage.GROUP):
        groups = accounts.groups()
        book, balances = accounts.group_book(groups)
        listed = np.zeros((len(groups), len(accounts.assets)), dtype=np.int64)
        np.add.at(listed, groups.group_of, accounts.listed.astype(np.int64))
        symbols: tuple[str, ...] = accounts.assets
        admission: ExternalAdmission | None = None
        external: ExternalBalances | None = None
        if accounts.external or accounts.position_venue:
            known = locations if isinstance(locations, LocationSet) else load_locations(locations)
            check_venues(accounts, known)
            if accounts.external:
                admission = admit_external(
                    accounts.external,
                    accounts.external_account,
                    accounts.accounts,
                    market.as_of,
                    known,
                )
                symbols, balances, listed, external = _widen(
                    accounts.assets, balances, listed, admission, groups
                )
    with stages(Stage.PREPARE):
        loaded = margin_model.load_params(params)
        priced = PricedMarket.resolve(market, book.instruments)
        prepared = margin_model.prepare(priced, book.instruments, loaded)
    with stages(Stage.MARGIN):
        if executor is None:
            result = margin_model.margin(prepared, book, detail=detail)
        else:
            result = margin_sharded(
                margin_model, prepared, book, detail=detail, executor=executor, shards=shards
            )
    with stages(Stage.COLLATERAL):
        equity = book_equity(
            balances, symbols, book.quantities, priced, external=external, entry=book.entry
        )
    with stages(Stage.HEALTH):
        # The totals arrays: every model's detail repeats them exactly (the model contract test).
        initial = np.asarray(result.initial_margin_usd, dtype=np.float64)
        maintenance = np.asarray(result.maintenance_margin_usd, dtype=np.float64)
        positive = equity.equity_usd > 0
        ratio = np.full(len(book), np.nan)
        np.divide(maintenance, equity.equity_usd, out=ratio, where=positive)
        codes = health_codes(equity.equity_usd, initial, maintenance)
    return MarginRun(
        accounts=accounts.accounts,
        groups=groups,
        book=book,
        market=priced,
        result=result,
        equity=equity,
        listed=listed > 0,
        maintenance_margin_usd=maintenance,
        margin_ratio=ratio,
        state_code=codes,
        external=admission,
    )


def check_venues(accounts: AccountBook, locations: LocationSet) -> None:
    """Every position's venue is a known location (docs/formats.md 13); the error names the
    first position held at an unknown one."""
    unknown = set(accounts.position_venue) - set(locations.locations) - {None}
    if not unknown:
        return
    k = next(i for i, v in enumerate(accounts.position_venue) if v in unknown)
    owner = int(accounts.position_account[k])
    start = int(np.searchsorted(accounts.position_account, owner))
    field = f"{accounts.accounts[owner]}.positions[{k - start}].venue"
    locations.get(str(accounts.position_venue[k]), field)


def _widen(
    assets: tuple[str, ...],
    balances: FloatArray,
    listed: npt.NDArray[np.int64],
    admission: ExternalAdmission,
    groups: MarginGroups,
) -> tuple[tuple[str, ...], FloatArray, npt.NDArray[np.int64], ExternalBalances]:
    """The groups' balances and listed cells over ``assets`` and every asset held elsewhere
    (sorted), and the admitted external coins in the same cells. A cell where an account holds
    anything elsewhere, admitted or not, is listed (so its per-asset detail shows it)."""
    symbols = tuple(sorted(set(assets) | set(admission.assets)))
    own = [symbols.index(s) for s in assets]
    wide = np.zeros((len(groups), len(symbols)), dtype=np.float64)
    wide[:, own] = balances
    wide_listed = np.zeros((len(groups), len(symbols)), dtype=np.int64)
    wide_listed[:, own] = listed
    rows = groups.group_of[admission.account]
    wide_listed[rows, [symbols.index(h.asset) for h in admission.holdings]] = 1
    external = external_balances(admission, groups.group_of, len(groups), symbols)
    return symbols, wide, wide_listed, external


def margin_portfolios(
    portfolios: Sequence[Portfolio] | AccountBook,
    market: MarketSnapshot,
    model: str = "standard",
    params: str | None = None,
    *,
    explain: bool = False,
    stages: Stages | None = None,
    executor: Executor | None = None,
    locations: LocationSet | str | None = None,
) -> MarginRun:
    """Margin every portfolio (docs/formats.md 2) under ``model``; ``run[i]`` is the result of the
    ``i``-th portfolio (input order). ``executor``, ``locations``: see :func:`margin_accounts`."""
    accounts = (
        portfolios
        if isinstance(portfolios, AccountBook)
        else AccountBook.from_portfolios(portfolios)
    )
    detail = Detail.EXPLAIN if explain else Detail.ACCOUNTS
    return margin_accounts(
        accounts,
        market,
        model,
        params,
        detail=detail,
        stages=stages,
        executor=executor,
        locations=locations,
    )


margin = margin_portfolios
"""The Python API's name for :func:`margin_portfolios`: ``margin(book, market, model, params)``."""
