"""fhs-es prepared on a market moved along one underlying, at many prices (the liquidation-price
search: :class:`~solvent.margin.protocol.MoveCapable`).

A move of underlying ``U`` to a price ``P`` (:func:`solvent.margin.moved.move_priced`) scales the
forwards of ``U``'s instruments by ``P / index``, keeps every strike, time and implied vol
(sticky strike), and changes the USD price of ``U`` as a settlement asset. So, of the risk
array :func:`~solvent.margin.fhs_es.model.prepare` builds:

- the rows of instruments neither on ``U`` nor settled in ``U`` do not change: copied;
- the other rows are revalued in every evaluated scenario with the forward-free part of the
  revaluation (:class:`~solvent.scenarios.risk_array.Revaluation`: scenario factors, vol terms
  before and after each vol shock, scales) computed once for the whole search, so one price
  costs the forward-dependent arithmetic only (two normal CDFs per option and scenario).

The arithmetic is :func:`~solvent.scenarios.risk_array.revalue`'s, the one ``prepare`` runs, so
the state at each price equals ``prepare`` on the moved market bit for bit (the tests check it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from solvent.arrays import FloatArray, IntArray
from solvent.margin.fhs_es.prepared import FhsPrepared, assemble
from solvent.margin.protocol import PricedMarket
from solvent.scenarios.risk_array import Revaluation, revaluation, revalue


def moved_rows(market: PricedMarket, underlying: str) -> IntArray:
    """Rows of ``market`` whose risk array a move of ``underlying`` changes: the instruments on
    it and those settled in it (sorted ``intp`` indices)."""
    table = market.table
    on = np.zeros(len(table), dtype=np.bool_)
    if underlying in table.underlyings:
        on |= table.underlying_code == table.underlyings.index(underlying)
    if underlying in table.settlement_assets:
        on |= table.settlement_code == table.settlement_assets.index(underlying)
    out: IntArray = np.flatnonzero(on).astype(np.intp)
    return out


@dataclass(frozen=True, slots=True, eq=False)
class FhsMover:
    """:meth:`__call__` gives the :class:`FhsPrepared` of ``prepared``'s instruments on a move
    of ``underlying`` of ``market`` (the market ``prepared`` was prepared on), see the module
    docstring."""

    prepared: FhsPrepared
    underlying: str
    rows: IntArray
    revaluation: Revaluation

    @classmethod
    def build(cls, prepared: FhsPrepared, market: PricedMarket, underlying: str) -> FhsMover:
        """The forward-free revaluation of the rows a move of ``underlying`` changes."""
        priced = market.subset(prepared.instruments)
        rows = moved_rows(priced, underlying)
        part = priced.take(rows)
        return cls(
            prepared, underlying, rows, revaluation(part.table, part.columns, prepared.evaluated)
        )

    def __call__(self, moved: PricedMarket) -> FhsPrepared:
        """``prepare(moved, prepared.instruments, prepared.params)`` for ``moved`` = the market
        with :attr:`underlying` moved (:func:`~solvent.margin.moved.move_priced`)."""
        prepared = self.prepared
        priced = moved.subset(prepared.instruments)
        r_usd: FloatArray = prepared.r_eval
        if self.rows.size:
            forward = priced.columns.forward[self.rows]
            part = revalue(self.revaluation, forward).usd_pnl(priced.snapshot)
            r_usd = r_usd.copy()
            r_usd[self.rows] = part
        return assemble(
            priced,
            prepared.params,
            prepared.scenarios,
            prepared.evaluated,
            r_usd,
            prepared.blocks,
        )
