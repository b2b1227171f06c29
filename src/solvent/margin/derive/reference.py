"""Derive's margin managers account by account: the reference path the vectorized models equal.

This is the original per-account mapping (one Derive sub-account rebuilt per account and
underlying, margined by the single-sub-account kernels :func:`pmrm2_margin`,
:func:`pmrm1_margin` and :func:`srm_margin` that the upstream vectors test). The models
(:mod:`solvent.margin.derive.model`, :mod:`solvent.margin.derive.srm_model`) margin the whole
book at once with :mod:`solvent.margin.derive.book_pm` and :mod:`solvent.margin.derive.book_srm`;
this module is kept to test them against and to benchmark them (``benchmarks/bench_derive.py``).

- ``--model derive-pm``: PMRM_2 (:mod:`solvent.margin.derive.pmrm2`); parameter sets
  ``derive-pm`` (default), ``derive-pm-mainnet``, or a file.
- ``--model standard --params derive-srm`` (or ``derive-srm-mainnet``, or a file whose
  ``base_set`` names one): Derive's Standard Manager (:mod:`solvent.margin.derive.srm`).

Mapping a Solvent portfolio onto Derive's inputs (per account, per underlying):

- Derive margins in USD: one ``USD`` pool per account. Inverse and linear options of the same
  strike and expiry have the same USD value and the same USD P&L when coin P&L is valued at the
  scenario price, so both enter as Derive options.
- Perpetuals and dated futures enter as perpetual-equivalent positions with the same USD notional
  (``q * F / spot`` units priced at the spot); Derive has no dated futures.
- Collateral is valued by Solvent's own collateral layer, so Derive is given no cash or collateral
  (its requirement does not depend on them); PMRM_2 is one underlying per sub-account, so an
  account holding several underlyings is margined underlying by underlying and the requirements
  add up (no offsets between underlyings).
- Spot positions: the Standard Manager takes them as its base asset; PMRM_2 refuses them (hold
  spot as collateral instead).

Components (USD, additive): ``scenario_loss_im`` (the worst scenario loss times the IM factor,
peg add-on included), ``scenario_loss_mm`` (times the MM factor), ``mm_contingency`` and
``im_contingency``; ``IM = scenario_loss_im + mm_contingency + im_contingency`` and
``MM = scenario_loss_mm + mm_contingency``. The Standard Manager reports ``initial_margin`` and
``maintenance_margin`` per underlying market.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from solvent.errors import SolventInputError
from solvent.instruments.table import KIND_CODES
from solvent.instruments.terms import InstrumentKind
from solvent.margin.derive.params import (
    PMRM1Params,
    PMRM2Params,
    load_pmrm1_params,
    load_pmrm2_params,
    load_srm_params,
)
from solvent.margin.derive.pmrm1 import pmrm1_margin
from solvent.margin.derive.pmrm2 import pmrm2_margin
from solvent.margin.derive.portfolio import (
    DeriveMarket,
    DerivePortfolio,
    DeriveSRMPortfolio,
    market_from_arrays,
)
from solvent.margin.derive.srm import srm_margin
from solvent.margin.explain import euler_contributions
from solvent.margin.params import based_on
from solvent.margin.result import AccountMargin, BookMargin, PoolMargin, ScenarioRef
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.book import Book

PM_NAME = "derive-pm"
PMRM1_PREFIX = "derive-pmrm1"
SRM_PREFIX = "derive-srm"
_SECONDS_PER_YEAR = 365.0 * 86400.0
_PM_COMPONENTS = ("scenario_loss_im", "scenario_loss_mm", "mm_contingency", "im_contingency")
_PM1_COMPONENTS = ("scenario_loss_mm", "im_add_on")
_KIND_NAMES = {
    KIND_CODES[InstrumentKind.OPTION]: "option",
    KIND_CODES[InstrumentKind.PERPETUAL]: "perpetual",
    KIND_CODES[InstrumentKind.FUTURE]: "perpetual",
    KIND_CODES[InstrumentKind.SPOT]: "spot",
}


def _markets(book: Book, market: MarketSnapshot, account: int) -> list[tuple[str, DeriveMarket]]:
    """One Derive market per underlying the account holds."""
    table = market.table(book.instruments, "positions")
    cols_all = market.columns(table)
    cols, qty = book.row(account)
    out = []
    for u_code in np.unique(table.underlying_code[cols]):
        sel = cols[table.underlying_code[cols] == u_code]
        q = qty[table.underlying_code[cols] == u_code]
        underlying = table.underlyings[int(u_code)]
        spot = market.price_usd(underlying, "index")
        kinds = [_KIND_NAMES[int(k)] for k in table.kind[sel]]
        delta_one = ~table.is_option[sel]
        # perpetual-equivalent quantity: same USD notional at the spot
        q_equiv = np.where(delta_one & (table.kind[sel] != 0), q * cols_all.forward[sel] / spot, q)
        q_equiv = q_equiv * table.contract_size[sel]
        out.append(
            (
                underlying,
                market_from_arrays(
                    spot=spot,
                    kind=kinds,
                    expiry_sec=cols_all.time[sel] * _SECONDS_PER_YEAR,
                    strike=np.where(table.is_option[sel], table.strike[sel], 0.0),
                    is_call=table.is_call[sel],
                    quantity=q_equiv,
                    forward=cols_all.forward[sel],
                    iv=np.where(table.is_option[sel], cols_all.vol[sel], 0.0),
                    perp_mark=spot,
                    name=underlying,
                ),
            )
        )
    return out


def _is_set(params: str | None, prefix: str) -> bool:
    """Whether ``params`` names a built-in set starting with ``prefix``, or is a file based on
    one (through ``base_set`` keys)."""
    return (based_on(params) or "").startswith(prefix)


@dataclass(frozen=True, slots=True)
class _PmRun:
    """One Derive sub-account's result in the common shape (USD, requirements positive)."""

    components: dict[str, float]
    initial_margin: float
    maintenance_margin: float
    worst_loss: float
    worst: ScenarioRef
    scenarios: tuple[tuple[str, float], ...]


def _pmrm2(dm: DeriveMarket, underlying: str, *, params: PMRM2Params) -> _PmRun:
    r = pmrm2_margin(DerivePortfolio(market=dm), params)
    mm_c, im_c = r.components["mm_contingency"], r.components["im_contingency"]
    return _PmRun(
        {
            "scenario_loss_im": r.im_requirement - mm_c - im_c,
            "scenario_loss_mm": r.mm_requirement - mm_c,
            "mm_contingency": mm_c,
            "im_contingency": im_c,
        },
        r.im_requirement,
        r.mm_requirement,
        r.worst_loss,
        ScenarioRef(r.worst_index, f"{underlying} {r.worst_label}"),
        tuple(
            (f"{underlying} {lab}", float(p))
            for lab, p in zip(r.scenario_labels, r.scenario_pnl, strict=True)
        ),
    )


def _pmrm1(dm: DeriveMarket, underlying: str, *, params: PMRM1Params) -> _PmRun:
    r = pmrm1_margin(DerivePortfolio(market=dm), params)
    return _PmRun(
        {
            "scenario_loss_mm": r.mm_requirement,
            "im_add_on": r.im_requirement - r.mm_requirement,
        },
        r.im_requirement,
        r.mm_requirement,
        r.worst_loss,
        ScenarioRef(r.worst_index, f"{underlying} {r.worst_label}"),
        tuple(
            (f"{underlying} {lab}", float(p))
            for lab, p in zip(r.scenario_labels, r.scenario_pnl, strict=True)
        ),
    )


def pm_margin_book(
    book: Book, market: MarketSnapshot, params: str | None, detail: bool, explain: bool
) -> BookMargin:
    """PMRM_2 (or PMRM v1 with a ``derive-pmrm1`` set) for every account: one Derive sub-account
    per account and underlying, requirements added up (module docstring)."""
    run: Callable[[DeriveMarket, str], _PmRun]
    names: tuple[str, ...]
    if _is_set(params, PMRM1_PREFIX):
        p1 = load_pmrm1_params(params or PMRM1_PREFIX)
        label, names = f"{p1.name}@{p1.version}", _PM1_COMPONENTS
        run = partial(_pmrm1, params=p1)
    else:
        p2 = load_pmrm2_params(params or PM_NAME)
        label, names = f"{p2.name}@{p2.version}", _PM_COMPONENTS
        run = partial(_pmrm2, params=p2)
    n = len(book)
    totals = {name: np.zeros(n) for name in names}
    im = np.zeros(n)
    mm = np.zeros(n)
    per_account: list[tuple[ScenarioRef | None, tuple[tuple[str, float], ...]]] = []
    for a in range(n):
        worst: tuple[float, ScenarioRef] | None = None
        scenarios: tuple[tuple[str, float], ...] = ()
        for underlying, dm in _markets(book, market, a):
            if dm.base_position != 0.0:
                raise SolventInputError(
                    f"accounts[{a}].positions",
                    f"derive-pm does not margin spot {underlying}: hold it as collateral",
                )
            result = run(dm, underlying)
            for name, value in result.components.items():
                totals[name][a] += value
            im[a] += result.initial_margin
            mm[a] += result.maintenance_margin
            if worst is None or result.worst_loss < worst[0]:
                worst = (result.worst_loss, result.worst)
            scenarios += result.scenarios
        per_account.append((None if worst is None else worst[1], scenarios))
    details = None
    if detail:
        accounts = []
        for a in range(n):
            worst_ref, scenarios = per_account[a]
            contributions = None
            if explain:
                contributions = euler_contributions(
                    book,
                    a,
                    lambda b: pm_margin_book(b, market, params, False, False).initial_margin_usd,
                )
            pool = PoolMargin(
                currency="USD",
                initial_margin=float(im[a]),
                maintenance_margin=float(mm[a]),
                components={name: float(totals[name][a]) for name in names},
                worst_scenario=worst_ref,
                scenarios=scenarios if explain else None,
                contributions=contributions,
            )
            pools = (pool,) if book.row(a)[0].size else ()
            accounts.append(
                AccountMargin(book.accounts[a], PM_NAME, label, pools, float(im[a]), float(mm[a]))
            )
        details = tuple(accounts)
    return BookMargin(PM_NAME, label, book.accounts, im, mm, details)


def is_srm_params(params: str | None) -> bool:
    """Whether a ``standard`` parameter choice names Derive's Standard Manager."""
    return _is_set(params, SRM_PREFIX)


def srm_margin_book(
    book: Book, market: MarketSnapshot, params: str | None, detail: bool, explain: bool
) -> BookMargin:
    """Derive's Standard Manager for every account (all its underlyings in one sub-account)."""
    srm = load_srm_params(params or SRM_PREFIX)
    label = f"{srm.name}@{srm.version}"
    n = len(book)
    im = np.zeros(n)
    mm = np.zeros(n)
    details = []
    for a in range(n):
        markets = _markets(book, market, a)
        r = srm_margin(DeriveSRMPortfolio(markets=tuple(m for _, m in markets)), srm)
        im[a] = r.im_requirement
        mm[a] = r.mm_requirement
        if detail:
            comps = {}
            for mres in r.markets:
                comps[f"{mres.market}.initial_margin"] = mres.mtm - mres.im
                comps[f"{mres.market}.maintenance_margin"] = mres.mtm - mres.mm
            pool = PoolMargin(
                "USD",
                float(im[a]),
                float(mm[a]),
                comps,
                scenarios=() if explain else None,
                contributions=() if explain else None,
            )
            pools = (pool,) if markets else ()
            details.append(
                AccountMargin(
                    book.accounts[a], "standard", label, pools, float(im[a]), float(mm[a])
                )
            )
    return BookMargin("standard", label, book.accounts, im, mm, tuple(details) if detail else None)
