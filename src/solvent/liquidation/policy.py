"""Liquidation policies: how a unit below its maintenance margin is brought back (or closed).

A policy is an object with a ``name`` and ``liquidate(units)``: it drives every unit of a
:class:`~solvent.liquidation.units.LiquidationUnits` at once through ``what_if`` (one margin call
over a book of candidates), ``quote`` and ``execute``, and leaves bankrupt units (equity < 0) to
the waterfall (:mod:`solvent.liquidation.waterfall`). Built in:

- ``partial`` (:class:`PartialPolicy`, the default): slices, largest margin relief per unit of
  cost first, until the target (docs/methodology/liquidation.md);
- ``full`` (:class:`FullPolicy`): every position closed, the riskiest first.

Other policies (``auction``) live in their own module, listed in :data:`POLICY_MODULES`.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np

from solvent.arrays import FloatArray, IntArray
from solvent.errors import SolventInputError
from solvent.liquidation.outcome import StepKind
from solvent.liquidation.units import LiquidationUnits

_TINY_USD = 1e-9


@runtime_checkable
class LiquidationPolicy(Protocol):
    """What ``solvent liquidate --policy NAME`` runs (module docstring)."""

    name: str

    def liquidate(self, units: LiquidationUnits) -> None: ...


def _held(units: LiquidationUnits, rows: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """(index into ``rows``, row, instrument column) of every position the rows hold."""
    k, cols = np.nonzero(units.quantities[rows])
    return k.astype(np.int64), rows[k], cols.astype(np.int64)


def _slices(units: LiquidationUnits, rows: IntArray, cols: IntArray) -> FloatArray:
    """Closing trade of one slice of each position: ``slice_fraction`` of the position at the
    start, at most what is left (signed against the position)."""
    current = units.quantities[rows, cols]
    start = np.abs(units.start[rows, cols])
    size = np.minimum(
        np.abs(current), units.config.slice_fraction * np.where(start > 0, start, np.abs(current))
    )
    return np.asarray(-np.sign(current) * size, dtype=np.float64)


class PartialPolicy:
    """Partial liquidation (METHODOLOGY 7).

    Each round, for every unit still below its target, the candidates are one slice of each
    position it holds and one pro-rata slice of the whole unit (every position by the same
    fraction, which keeps hedges whole). All candidates of all units are re-margined in one
    margin call. A candidate's relief is the maintenance margin it frees (USD), its cost the
    expected slippage walking the book plus the liquidation fee. The unit executes its candidate
    with the largest relief per unit of cost among those that free margin; a single leg whose
    closing would not free margin (a hedge) is never chosen, so a hedge is never broken while a
    risk-increasing leg remains. A candidate the unit's cash cannot pay (an option bought back
    costs its premium plus slippage in coin, a delta-one close its slippage: more than
    :meth:`~solvent.liquidation.units.LiquidationUnits.spendable_usd`) is not chosen; the
    pro-rata slice makes its trades that bring cash (long options sold) before those that cost
    cash, so a spread whose long leg is worth more than its short pays for its own unwinding. A
    unit left with nothing but candidates it cannot pay is starved
    (:meth:`~solvent.liquidation.units.LiquidationUnits.starve`): the waterfall closes it.
    The unit stops as soon as its equity reaches the target (so no more than one slice beyond
    what is needed is ever closed), when it has nothing left to close, or when no candidate
    frees margin and can be paid."""

    name = "partial"

    def liquidate(self, units: LiquidationUnits) -> None:
        stuck = np.zeros(len(units.names), dtype=bool)
        max_rounds = (
            int(np.ceil(1.0 / units.config.slice_fraction))
            * (int(np.count_nonzero(units.quantities, axis=1).max(initial=0)) + 1)
            + 1
        )
        for _ in range(max_rounds):
            act = units.active
            act = act[~stuck[act]]
            if act.size == 0:
                return
            self._round(units, act, stuck)

    def _round(self, units: LiquidationUnits, act: IntArray, stuck: np.ndarray) -> None:
        k, rows, cols = _held(units, act)
        trade = _slices(units, rows, cols)
        single = units.quantities[rows].copy()
        single[np.arange(rows.size), cols] += trade
        # the pro-rata candidate of each unit: every held position by one slice of itself
        whole = units.quantities[act].copy()
        whole[k, cols] += trade
        price, single_cost = units.quote(rows, cols, trade)
        whole_cost = np.bincount(k, weights=single_cost, minlength=act.size)
        # cash each candidate takes (USD, < 0 brings cash): premium or slippage (the fee is
        # capped at what is left)
        flow = units.cash_flow_usd(cols, trade, price)
        single_need = -flow
        whole_need = np.bincount(k, weights=single_need, minlength=act.size)
        cash = units.cash_usd(act)
        payable = np.concatenate(
            (
                (single_need <= 0)
                | (single_need <= units.spendable_usd(rows, units.settlement_cols(cols))),
                (whole_need <= 0)
                | (
                    whole_need
                    <= cash - np.bincount(k, weights=units.reserve_usd(cols), minlength=act.size)
                ),
            )
        )
        cand_rows = np.concatenate((rows, act))
        mm, _ = units.what_if(cand_rows, np.vstack((single, whole)))
        owner = np.concatenate((k, np.arange(act.size, dtype=np.int64)))
        relief = units.maintenance_usd[cand_rows] - mm
        cost = np.concatenate((single_cost, whole_cost)).astype(np.float64)
        score = relief / np.maximum(cost, _TINY_USD)
        frees = relief > _TINY_USD
        score = np.where(frees & payable, score, -np.inf)
        # best candidate per unit: sort by (owner, -score), stable so ties keep candidate order
        order = np.lexsort((-score, owner))
        first = order[np.r_[True, owner[order][1:] != owner[order][:-1]]]
        best = np.full(act.size, -1, dtype=np.int64)
        best[owner[first]] = first
        ok = np.isfinite(score[best]) & (best >= 0)
        stuck[act[~ok]] = True
        # a unit whose only candidates that free margin are ones it cannot pay is starved
        unpaid = np.bincount(owner, weights=frees & ~payable, minlength=act.size)
        units.starve(act[~ok & (unpaid > 0)])
        chosen = best[ok]
        is_single = chosen < rows.size
        s = chosen[is_single]
        reasons = [
            _reason(units, int(rows[c]), float(relief[c]), float(cost[c])) for c in s.tolist()
        ]
        units.execute(rows[s], cols[s], trade[s], StepKind.SLICE, reasons=reasons)
        pro = owner[chosen[~is_single]]
        if pro.size:
            # within each unit, the trades that bring cash first
            order = np.lexsort((-flow, rows))
            self._pro_rata(
                units,
                act[pro],
                rows[order],
                cols[order],
                trade[order],
                relief,
                cost,
                chosen[~is_single],
            )

    @staticmethod
    def _pro_rata(
        units: LiquidationUnits,
        unit_rows: IntArray,
        rows: IntArray,
        cols: IntArray,
        trade: FloatArray,
        relief: FloatArray,
        cost: FloatArray,
        chosen: IntArray,
    ) -> None:
        """Execute the pro-rata candidate of ``unit_rows``: one step per position, position by
        position across all those units at once, in the order given (``rows`` grouped by
        unit)."""
        note = {
            int(r): "pro-rata slice of every position (no single leg frees margin as well "
            f"without breaking a hedge): frees {relief[c]:.2f} USD of MM for {cost[c]:.2f} USD"
            for r, c in zip(unit_rows.tolist(), chosen.tolist(), strict=True)
        }
        mine = np.isin(rows, unit_rows)
        r_all, c_all, t_all = rows[mine], cols[mine], trade[mine]
        rank = np.zeros(r_all.size, dtype=np.int64)
        for i in range(1, r_all.size):
            rank[i] = rank[i - 1] + 1 if r_all[i] == r_all[i - 1] else 0
        for j in range(int(rank.max(initial=-1)) + 1):
            sel = np.flatnonzero((rank == j) & ~units.bankrupt[r_all])
            units.execute(
                r_all[sel],
                c_all[sel],
                t_all[sel],
                StepKind.SLICE,
                reasons=[note[int(r)] for r in r_all[sel].tolist()],
            )


def _reason(units: LiquidationUnits, row: int, relief: float, cost: float) -> str:
    ratio = relief / max(cost, _TINY_USD)
    return (
        f"largest margin relief per unit of cost: frees {relief:.2f} USD of MM for "
        f"{cost:.2f} USD ({ratio:.4g} per USD); equity {units.equity_usd[row]:.2f} below target "
        f"{units.target_usd[row]:.2f} USD"
    )


class FullPolicy:
    """Close every position of the unit into the order book, the one whose closing frees the
    most maintenance margin first (one margin call ranks them all); stops if the unit goes
    bankrupt (the rest then closes at its bankruptcy price)."""

    name = "full"

    def liquidate(self, units: LiquidationUnits) -> None:
        act = np.flatnonzero(~units.bankrupt & units.holds).astype(np.int64)
        if act.size == 0:
            return
        k, rows, cols = _held(units, act)
        close = -units.quantities[rows, cols]
        single = units.quantities[rows].copy()
        single[np.arange(rows.size), cols] = 0.0
        mm, _ = units.what_if(rows, single)
        relief = units.maintenance_usd[rows] - mm
        order = np.lexsort((-relief, k))
        rows, cols, close, relief, k = (
            rows[order],
            cols[order],
            close[order],
            relief[order],
            k[order],
        )
        rank = np.zeros(rows.size, dtype=np.int64)
        for i in range(1, rows.size):
            rank[i] = rank[i - 1] + 1 if k[i] == k[i - 1] else 0
        for j in range(int(rank.max(initial=-1)) + 1):
            sel = np.flatnonzero((rank == j) & ~units.bankrupt[rows])
            reasons = [
                f"full policy: close every position, riskiest first (this one alone frees "
                f"{relief[i]:.2f} USD of MM)"
                for i in sel.tolist()
            ]
            units.execute(rows[sel], cols[sel], close[sel], StepKind.CLOSE, reasons=reasons)


_BUILT_IN: dict[str, Callable[[], LiquidationPolicy]] = {
    "partial": PartialPolicy,
    "full": FullPolicy,
}

POLICY_MODULES: dict[str, str] = {"auction": "solvent.liquidation.auction_policy"}
"""Policies that live in their own module (imported on first use); each exposes ``POLICY``."""


def policy_names() -> tuple[str, ...]:
    """Every name ``--policy`` accepts (a policy module not installed is not listed)."""
    names = set(_BUILT_IN)
    for name, module in POLICY_MODULES.items():
        if importlib.util.find_spec(module) is not None:
            names.add(name)
    return tuple(sorted(names))


def get_policy(name: str, field: str = "policy") -> LiquidationPolicy:
    """The policy called ``name``; an error naming ``field`` for an unknown one."""
    if name in _BUILT_IN:
        return _BUILT_IN[name]()
    if name in POLICY_MODULES and name in policy_names():
        policy = importlib.import_module(POLICY_MODULES[name]).POLICY
        if not isinstance(policy, LiquidationPolicy):
            raise TypeError(f"{POLICY_MODULES[name]}.POLICY is not a LiquidationPolicy")
        return policy
    raise SolventInputError(field, f"unknown policy {name!r} (one of: {', '.join(policy_names())})")
