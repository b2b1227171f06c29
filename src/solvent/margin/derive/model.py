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
share of IM (:func:`solvent.margin.derive.book_pm._shares`): IM is linear by pieces in the
positions, so with the worst scenario, the static-discount side of each expiry, the sign of each
skew P&L, of each strike's net amount and of the perpetual position held fixed, each position's
share is its own term; the shares add up to IM (to rounding), on hedged books too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from solvent.margin.build import (
    ContributionKind,
    PoolArrays,
    PositionValues,
    ScenarioRows,
    WorstScenario,
    build_book_margin,
    has_positions,
)
from solvent.margin.derive.book_columns import BookPositions
from solvent.margin.derive.book_pm import PmBook, PreparedPm, pm_book, prepare_pm
from solvent.margin.derive.params import PMRM1Params, PMRM2Params, load_pm_params
from solvent.margin.protocol import Detail, MarketData, ParamsId, PricedMarket, require_prepared
from solvent.margin.result import BookMargin, Composition, Explanation
from solvent.portfolio.book import Book

PM_NAME = "derive-pm"


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
        p = load_pm_params(spec)
        return PmParams(p, p.params_id)

    def prepare(
        self, market: PricedMarket, instruments: Sequence[str], params: PmParams
    ) -> PmPrepared:
        sub = market.subset(instruments)
        return PmPrepared(prepare_pm(sub, params.params), params.params_id, tuple(instruments))

    def margin(self, prepared: PmPrepared, book: Book, *, detail: Detail) -> BookMargin:
        require_prepared(book, prepared.instruments)
        book = sorted_book(book)
        kernel = prepared.kernel
        pos = BookPositions.of(book, kernel.cols)
        explain = detail >= Detail.EXPLAIN
        res = pm_book(kernel, pos, keep_pnl=explain)
        pools = [self._pool(kernel, book, res, explain)] if detail >= Detail.ACCOUNTS else []
        return build_book_margin(
            book,
            model=PM_NAME,
            parameters=prepared.params_id.label,
            initial_margin_usd=res.im,
            maintenance_margin_usd=res.mm,
            pools=pools,
            detail=detail,
        )

    def composition(self, params: PmParams) -> Composition:
        """PMRM_2: ``IM = scenario_loss_im + mm_contingency + im_contingency``, ``MM =
        scenario_loss_mm + mm_contingency``; PMRM v1: ``IM = scenario_loss_mm + im_add_on``,
        ``MM = scenario_loss_mm``. The explain shares add up to IM."""
        if isinstance(params.params, PMRM1Params):
            im = {"scenario_loss_mm": 1.0, "im_add_on": 1.0}
            return Composition(im, {"scenario_loss_mm": 1.0}, Explanation(components=im))
        im = {"scenario_loss_im": 1.0, "mm_contingency": 1.0, "im_contingency": 1.0}
        return Composition(
            im,
            {"scenario_loss_mm": 1.0, "mm_contingency": 1.0},
            Explanation(components=im),
        )

    @staticmethod
    def _pool(kernel: PreparedPm, book: Book, res: PmBook, explain: bool) -> PoolArrays:
        """The USD pool: components, the worst scenario in the account's own list and, with
        ``explain``, that list (every underlying's scenarios then its basis contingency) and
        each position's Euler share of IM."""
        n_acc = len(book)
        n_s = kernel.n_scenarios
        block = n_s + 1
        sub_acc = res.sub_account
        n_subs = sub_acc.shape[0]
        starts = np.searchsorted(sub_acc, np.arange(n_acc + 1), side="left")
        order = np.lexsort((np.arange(n_subs), res.worst_loss, sub_acc))
        first = np.ones(n_subs, dtype=bool)
        first[1:] = sub_acc[order][1:] != sub_acc[order][:-1]
        chosen = order[first]  # per account with sub-accounts: its worst one
        index = np.zeros(n_acc, dtype=np.int64)
        code = np.zeros(n_acc, dtype=np.int64)
        acc = sub_acc[chosen]
        w = res.worst_index[chosen]
        index[acc] = (chosen - starts[acc]) * block + w
        code[acc] = res.sub_underlying[chosen] * block + w
        labels = [
            f"{u} {kernel.scenario_label(k)}" for u in kernel.cols.underlyings for k in range(block)
        ]
        scenarios = None
        contributions = None
        if explain:
            assert res.pnl is not None and res.shares is not None
            counts = np.diff(starts) * block
            scenarios = ScenarioRows(
                labels,
                np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
                (res.sub_underlying[:, None] * block + np.arange(block)[None, :]).ravel(),
                np.column_stack([res.pnl, res.basis]).ravel(),
            )
            contributions = PositionValues(res.shares, ContributionKind.INITIAL_MARGIN)
        return PoolArrays(
            "USD",
            res.im,
            res.mm,
            {k: res.components[k] for k in kernel.component_names},
            held=has_positions(book),
            worst=WorstScenario(index, code, labels) if n_subs else None,
            scenarios=scenarios,
            contributions=contributions,
        )


def sorted_book(book: Book) -> Book:
    """``book`` with each account's positions in column order (the order results list them)."""
    if book.quantities.has_sorted_indices:
        return book
    q = book.quantities.copy()
    q.sort_indices()
    return Book(book.accounts, book.instruments, q)


MODEL = DerivePmModel()
