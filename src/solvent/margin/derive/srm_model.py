"""``--model derive-srm``: Derive's Standard Manager (:mod:`solvent.margin.derive.srm`) through the
model protocol, over the whole book at once (:mod:`solvent.margin.derive.book_srm`).

Also reachable as ``--model standard --params derive-srm`` (the public alias, see
:func:`solvent.margin.registry.resolve_alias`). Either way the result reports model
``standard`` (the name this manager has always been published under) and the parameter set
``derive-srm@...`` (or ``derive-srm-mainnet@...``, or a file's).

The book maps onto Derive's inputs as for derive-pm (:mod:`solvent.margin.derive.model`), except
that each account is one Standard Manager sub-account holding every underlying it trades (one
Derive market per underlying) and spot positions are its base asset. One USD pool; components,
per market: ``<UNDERLYING>.initial_margin`` and ``<UNDERLYING>.maintenance_margin`` (that market's
requirement); IM and MM are their sums. The manager is per position (no scenarios): ``--explain``
adds empty ``scenarios`` and ``contributions``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from solvent.arrays import FloatArray
from solvent.margin.build import PoolArrays, build_book_margin, has_positions
from solvent.margin.derive.book_columns import BookPositions
from solvent.margin.derive.book_srm import PreparedSrm, SrmBook, prepare_srm, srm_book
from solvent.margin.derive.params import SRMParams, load_srm_params
from solvent.margin.protocol import Detail, MarketData, ParamsId, PricedMarket, require_prepared
from solvent.margin.result import BookMargin, Composition
from solvent.portfolio.book import Book

SRM_NAME = "derive-srm"
REPORTED_MODEL = "standard"
"""The ``model`` field of every result (docs/formats.md: the manager's published name)."""


@dataclass(frozen=True, slots=True)
class SrmParams:
    """A loaded Standard Manager parameter set."""

    params: SRMParams
    params_id: ParamsId


@dataclass(frozen=True, slots=True)
class SrmPrepared:
    """derive-srm prepared for one market."""

    kernel: PreparedSrm
    params_id: ParamsId
    instruments: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DeriveSrmModel:
    """The derive-srm model (see the module docstring)."""

    name: str = SRM_NAME
    description: str = "Derive v2 Standard Manager (per-market rules)"
    needs: frozenset[MarketData] = frozenset(
        {MarketData.MARKS, MarketData.VOLATILITY, MarketData.INDEX}
    )

    def load_params(self, spec: str | None) -> SrmParams:
        p = load_srm_params(spec)
        return SrmParams(p, p.params_id)

    def prepare(
        self, market: PricedMarket, instruments: Sequence[str], params: SrmParams
    ) -> SrmPrepared:
        kernel = prepare_srm(market.subset(instruments), params.params)
        return SrmPrepared(kernel, params.params_id, tuple(instruments))

    def requirement(self, prepared: SrmPrepared, book: Book) -> SrmBook:
        """The book's figures as arrays (no per-account objects)."""
        require_prepared(book, prepared.instruments)
        return srm_book(prepared.kernel, BookPositions.of(book, prepared.kernel.cols))

    def margin(self, prepared: SrmPrepared, book: Book, *, detail: Detail) -> BookMargin:
        res = self.requirement(prepared, book)
        pools = []
        if detail >= Detail.ACCOUNTS:
            # components per market: one (accounts,) column per underlying any account holds
            underlyings = prepared.kernel.cols.underlyings
            n_acc = len(book)
            comps: dict[str, FloatArray] = {}
            held_u = np.zeros((n_acc, len(underlyings)), dtype=bool)
            held_u[res.sub_account, res.sub_underlying] = True
            shown = np.flatnonzero(held_u.any(axis=0))
            for u in shown:
                sel = res.sub_underlying == u
                for key, values in (
                    ("initial_margin", res.market_im),
                    ("maintenance_margin", res.market_mm),
                ):
                    col = np.zeros(n_acc)
                    col[res.sub_account[sel]] = values[sel]
                    comps[f"{underlyings[u]}.{key}"] = col
            pools.append(
                PoolArrays(
                    "USD",
                    res.im,
                    res.mm,
                    comps,
                    held=has_positions(book),
                    components_shown=np.repeat(held_u[:, shown], 2, axis=1),
                )
            )
        return build_book_margin(
            book,
            model=REPORTED_MODEL,
            parameters=prepared.params_id.label,
            initial_margin_usd=res.im,
            maintenance_margin_usd=res.mm,
            pools=pools,
            detail=detail,
        )

    def composition(self, params: SrmParams) -> Composition:
        """``IM`` = the sum of the markets' ``<U>.initial_margin``, ``MM`` of their
        ``<U>.maintenance_margin``."""
        return Composition({"*.initial_margin": 1.0}, {"*.maintenance_margin": 1.0})


MODEL = DeriveSrmModel()
