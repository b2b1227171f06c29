"""``--model derive-pm``: Derive's portfolio margin (PMRM_2, or PMRM v1 with a ``derive-pmrm1`` set)
through the model protocol, over the whole book at once.

Parameter sets: ``derive-pm`` (default), ``derive-pm-mainnet``, ``derive-pmrm1``,
``derive-pmrm1-mainnet``, or a TOML file (overlaid on ``derive-pm``, or on the set its
``base_set`` names; a ``derive-pmrm1...`` base selects PMRM v1).

Mapping a Solvent portfolio onto Derive's inputs (:mod:`solvent.margin.derive.book_columns`):

- Derive margins in USD: one ``USD`` pool per account. Inverse and linear options of the same
  strike and expiry have the same USD value and the same USD P&L when coin P&L is valued at the
  scenario price, so both enter as Derive options.
- Perpetuals and dated futures enter as perpetual-equivalent positions with the same USD notional
  (``q * F / spot`` units priced at the spot); Derive has no dated futures.
- Collateral is valued by Solvent's own collateral layer, so Derive is given no cash or collateral
  (its requirement does not depend on them); PMRM_2 is one underlying per sub-account, so an
  account holding several underlyings is margined underlying by underlying and the requirements
  add up (no offsets between underlyings).
- Spot positions are refused (hold spot as collateral instead).

Components (USD, additive). PMRM_2: ``scenario_loss_im`` (the worst scenario loss times the IM
factor, peg add-on included), ``scenario_loss_mm`` (times the MM factor), ``mm_contingency`` and
``im_contingency``; ``IM = scenario_loss_im + mm_contingency + im_contingency`` and
``MM = scenario_loss_mm + mm_contingency``. PMRM v1: ``scenario_loss_mm`` and ``im_add_on``;
``MM = scenario_loss_mm``, ``IM = scenario_loss_mm + im_add_on``.

The worst scenario and ``--explain``: every underlying contributes its scenarios and then its basis
contingency (labelled ``"<UNDERLYING> basis contingency"``, the loss of the worst forward move)
to the pool's ``scenarios`` list, in underlying order; ``worst_scenario.index`` points into that
list (the underlying whose worst case is the largest loss). ``contributions`` are each position's
Euler share of IM, ``q_i dIM/dq_i`` (:func:`solvent.margin.explain.euler_contributions`).
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from solvent.errors import SolventInputError
from solvent.margin.derive.book_columns import BookPositions
from solvent.margin.derive.book_pm import PmBook, PreparedPm, pm_book, prepare_pm
from solvent.margin.derive.params import (
    PMRM1Params,
    PMRM2Params,
    load_pmrm1_params,
    load_pmrm2_params,
)
from solvent.margin.explain import euler_contributions
from solvent.margin.protocol import Detail, MarketData, ParamsId, PricedMarket
from solvent.margin.result import AccountMargin, BookMargin, PoolMargin, ScenarioRef
from solvent.portfolio.book import Book

PM_NAME = "derive-pm"
PMRM1_PREFIX = "derive-pmrm1"


def params_id(params: object, name: str, version: str) -> ParamsId:
    """``name@version`` and the SHA-256 of the loaded set's full repr (all fields, in order)."""
    return ParamsId(name, version, hashlib.sha256(repr(params).encode()).hexdigest())


def is_set(params: str | None, prefix: str) -> bool:
    """Whether ``params`` names a built-in set starting with ``prefix``, or is a TOML file whose
    ``base_set`` does."""
    if params is None:
        return False
    path = Path(params)
    if not path.suffix:
        return params.startswith(prefix)
    if path.suffix.lower() == ".toml" and path.is_file():
        try:
            base = tomllib.loads(path.read_text(encoding="utf-8")).get("base_set", "")
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return False  # the loader reports the unreadable file
        return isinstance(base, str) and base.startswith(prefix)
    return False


@dataclass(frozen=True, slots=True)
class PmParams:
    """A loaded derive-pm parameter set: PMRM_2 or PMRM v1."""

    params: PMRM2Params | PMRM1Params
    params_id: ParamsId


@dataclass(frozen=True, slots=True)
class PmPrepared:
    """derive-pm prepared for one market: the priced evaluation rows of every instrument."""

    kernel: PreparedPm
    params_id: ParamsId
    instruments: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DerivePmModel:
    """The derive-pm model (see the module docstring)."""

    name: str = PM_NAME
    description: str = "Derive v2 portfolio margin (PMRM_2)"
    needs: frozenset[MarketData] = frozenset(
        {MarketData.MARKS, MarketData.VOLATILITY, MarketData.INDEX}
    )

    def load_params(self, spec: str | None) -> PmParams:
        p: PMRM2Params | PMRM1Params
        if is_set(spec, PMRM1_PREFIX):
            p = load_pmrm1_params(spec or PMRM1_PREFIX)
        else:
            p = load_pmrm2_params(spec or PM_NAME)
        return PmParams(p, params_id(p, p.name, p.version))

    def prepare(
        self, market: PricedMarket, instruments: Sequence[str], params: PmParams
    ) -> PmPrepared:
        sub = market.subset(instruments)
        return PmPrepared(prepare_pm(sub, params.params), params.params_id, tuple(instruments))

    def requirement(self, prepared: PmPrepared, book: Book) -> PmBook:
        """The book's figures as arrays (no per-account objects)."""
        if book.instruments != prepared.instruments:
            raise SolventInputError(
                "book.instruments", "must be the prepared instruments, in order"
            )
        pos = BookPositions.of(book, prepared.kernel.cols)
        return pm_book(prepared.kernel, pos, keep_pnl=False)

    def margin(self, prepared: PmPrepared, book: Book, *, detail: Detail) -> BookMargin:
        if book.instruments != prepared.instruments:
            raise SolventInputError(
                "book.instruments", "must be the prepared instruments, in order"
            )
        kernel = prepared.kernel
        pos = BookPositions.of(book, kernel.cols)
        explain = detail >= Detail.EXPLAIN
        res = pm_book(kernel, pos, keep_pnl=explain)
        label = prepared.params_id.label
        if detail < Detail.ACCOUNTS:
            return BookMargin(PM_NAME, label, book.accounts, res.im, res.mm)
        return BookMargin(
            PM_NAME,
            label,
            book.accounts,
            res.im,
            res.mm,
            self._details(prepared, book, pos, res, explain),
        )

    def _details(
        self, prepared: PmPrepared, book: Book, pos: BookPositions, res: PmBook, explain: bool
    ) -> tuple[AccountMargin, ...]:
        kernel = prepared.kernel
        names = kernel.component_names
        underlyings = kernel.cols.underlyings
        n_s = kernel.n_scenarios
        block = n_s + 1  # each underlying's scenarios, then its basis contingency
        n_acc = len(book)
        # per account: its sub-accounts are a contiguous run (sorted by account, underlying)
        starts = np.searchsorted(res.sub_account, np.arange(n_acc + 1), side="left")
        has_positions = np.diff(np.searchsorted(pos.account, np.arange(n_acc + 1))) > 0
        comps = {k: res.components[k].tolist() for k in names}
        im, mm = res.im.tolist(), res.mm.tolist()
        accounts = []
        for a in range(n_acc):
            s0, s1 = int(starts[a]), int(starts[a + 1])
            worst_ref = None
            scenarios: tuple[tuple[str, float], ...] | None = None
            if s1 > s0:
                local = int(np.argmin(res.worst_loss[s0:s1]))
                s = s0 + local
                w = int(res.worst_index[s])
                u = underlyings[int(res.sub_underlying[s])]
                worst_ref = ScenarioRef(local * block + w, f"{u} {kernel.scenario_label(w)}")
            if explain:
                rows: list[tuple[str, float]] = []
                for s in range(s0, s1):
                    u = underlyings[int(res.sub_underlying[s])]
                    assert res.pnl is not None
                    rows.extend(
                        (f"{u} {lab}", float(v))
                        for lab, v in zip(kernel.labels, res.pnl[s], strict=True)
                    )
                    rows.append((f"{u} {kernel.scenario_label(n_s)}", float(res.basis[s])))
                scenarios = tuple(rows)
            contributions = None
            if explain:
                contributions = euler_contributions(
                    book, a, lambda b: self.requirement(prepared, b).im
                )
            pool = PoolMargin(
                currency="USD",
                initial_margin=im[a],
                maintenance_margin=mm[a],
                components={k: comps[k][a] for k in names},
                worst_scenario=worst_ref,
                scenarios=scenarios,
                contributions=contributions,
            )
            pools = (pool,) if has_positions[a] else ()
            accounts.append(
                AccountMargin(
                    book.accounts[a], PM_NAME, prepared.params_id.label, pools, im[a], mm[a]
                )
            )
        return tuple(accounts)


MODEL = DerivePmModel()
