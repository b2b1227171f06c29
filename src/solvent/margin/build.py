"""The one result builder: a model's arrays over a whole book -> :class:`BookMargin`.

Every model computes its requirement as arrays over the accounts of a book and hands them here;
this module alone turns them into :class:`AccountMargin` / :class:`PoolMargin` objects, at the
:class:`~solvent.margin.protocol.Detail` asked for, so that every model's results have the same
shape and the same guarantees (pools in a fixed order, the worst scenario's index pointing into
the account's own scenario list, contributions in book order).

What a model provides (``A`` accounts, ``nnz`` stored positions of ``book.quantities``):

- ``initial_margin_usd``, ``maintenance_margin_usd``: ``(A,)`` USD totals (the model sums its
  pools at its own prices; they are reported as given, also at ``Detail.TOTALS``);
- one :class:`PoolArrays` per margin pool (only for ``Detail.ACCOUNTS`` and above): the pool's
  currency, ``(A,)`` IM, MM and one ``(A,)`` array per component in the pool's currency, which
  accounts show the pool (``held``), and optionally:

  - ``worst`` (:class:`WorstScenario`): per account the index of its worst scenario in its own
    scenario list and that scenario's label;
  - ``scenarios`` (:class:`ScenarioRows`, ``Detail.EXPLAIN``): every account's scenario list
    (label and signed P&L) in ragged form;
  - ``contributions`` (:class:`PositionValues`, ``Detail.EXPLAIN``): one value per stored
    position (its P&L in the worst scenario, or its own requirement);
  - ``risk_measures``: non-additive statistics, per account or one value for all.

Models whose scenario list is a concatenation of fixed blocks (one per underlying, combined
commodity or group: deribit-pm, span, fhs-es) build ``worst`` and ``scenarios`` with
:func:`scenario_blocks`; models whose lists vary per account build :class:`ScenarioRows`
directly. At ``Detail.EXPLAIN`` a pool without scenarios or contributions shows empty lists.

Signs and units as in :mod:`solvent.margin.result`: requirements positive in the pool's currency,
P&L signed (< 0 is a loss).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from solvent.arrays import BoolArray, FloatArray, IntArray
from solvent.margin.protocol import Detail
from solvent.margin.result import AccountMargin, BookMargin, Contribution, PoolMargin, ScenarioRef
from solvent.portfolio.book import Book


class ContributionKind(enum.Enum):
    """What a position's contribution value is."""

    PNL = "pnl"
    """Its signed P&L in the pool's worst scenario (scenario models), pool currency."""
    INITIAL_MARGIN = "initial_margin"
    """Its own share of the pool's initial margin (per-position and Euler models), positive."""


@dataclass(frozen=True, slots=True)
class WorstScenario:
    """Each account's worst scenario (arrays over accounts).

    ``index[a]`` is the position of the scenario in account ``a``'s own scenario list (the list
    :class:`ScenarioRows` holds at ``Detail.EXPLAIN``); its label is ``labels[label_code[a]]``.
    """

    index: IntArray
    label_code: IntArray
    labels: Sequence[str]


@dataclass(frozen=True, slots=True)
class ScenarioRows:
    """Every account's scenario list, ragged (CSR-like): account ``a``'s entries are
    ``indptr[a]:indptr[a + 1]``; entry ``e`` is scenario ``labels[label_code[e]]`` with signed
    P&L ``pnl[e]`` in the pool's currency."""

    labels: Sequence[str]
    indptr: IntArray
    label_code: IntArray
    pnl: FloatArray


@dataclass(frozen=True, slots=True)
class PositionValues:
    """One contribution per stored position of the book.

    ``values`` (and ``include``, ``order`` when given) align with ``book.quantities.data``
    (CSR order: account by account, as :meth:`Book.row` returns them). ``include`` selects the
    positions listed in this pool (default: all of the account's positions); within an account
    they are listed by ascending ``order`` (default: book order; ties keep book order).
    """

    values: FloatArray
    kind: ContributionKind = ContributionKind.PNL
    include: BoolArray | None = None
    order: IntArray | None = None


@dataclass(frozen=True, slots=True)
class PoolArrays:
    """One margin pool over every account of a book (every array ``(A,)``, pool currency).

    ``components`` in the order they are reported; ``held`` marks the accounts that show the
    pool (default: every account). ``risk_measures`` values are ``(A,)`` arrays or one number
    for every account.
    """

    currency: str
    initial_margin: FloatArray
    maintenance_margin: FloatArray
    components: Mapping[str, FloatArray]
    held: BoolArray | None = None
    worst: WorstScenario | None = None
    scenarios: ScenarioRows | None = None
    contributions: PositionValues | None = None
    risk_measures: Mapping[str, FloatArray | float] | None = None
    components_shown: BoolArray | None = None
    """``(A, len(components))``: which components each account lists (default: all), for
    components named after what an account holds (e.g. derive-srm's ``<UNDERLYING>.*``)."""


@dataclass(frozen=True, slots=True)
class ScenarioBlock:
    """A block of scenarios shared by every account: ``labels`` (S,), the P&L of every account
    in them ``pnl`` (A, S; only needed at ``Detail.EXPLAIN``), and which accounts list the block
    (``shown``, default all)."""

    labels: Sequence[str]
    pnl: FloatArray | None = None
    shown: BoolArray | None = None


def scenario_blocks(
    blocks: Sequence[ScenarioBlock],
    worst_block: IntArray,
    worst_in_block: IntArray,
    *,
    explain: bool,
) -> tuple[WorstScenario, ScenarioRows | None]:
    """Worst scenarios and (with ``explain``) scenario lists from fixed blocks.

    Each account's list is the concatenation of the blocks it is shown, in block order; its worst
    scenario is scenario ``worst_in_block[a]`` of block ``worst_block[a]`` (a block the account
    is shown), reported at its position in that list.
    """
    n_acc = worst_block.shape[0]
    sizes = np.array([len(b.labels) for b in blocks], dtype=np.int64)
    shown = np.ones((n_acc, len(blocks)), dtype=bool)
    for k, b in enumerate(blocks):
        if b.shown is not None:
            shown[:, k] = b.shown
    # entries before each block in each account's list
    before = np.cumsum(shown * sizes[None, :], axis=1) - shown * sizes[None, :]
    code_start = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    rows = np.arange(n_acc)
    index = (before[rows, worst_block] + worst_in_block).astype(np.int64)
    labels = tuple(label for b in blocks for label in b.labels)
    worst = WorstScenario(
        index, (code_start[worst_block] + worst_in_block).astype(np.int64), labels
    )
    if not explain:
        return worst, None
    counts = (shown * sizes[None, :]).sum(axis=1)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    label_code = np.zeros(int(indptr[-1]), dtype=np.int64)
    pnl = np.zeros(int(indptr[-1]))
    for k, b in enumerate(blocks):
        if b.pnl is None:
            raise ValueError(f"scenario block {k} has no P&L rows")
        accounts = np.flatnonzero(shown[:, k])
        at = (indptr[accounts] + before[accounts, k])[:, None] + np.arange(sizes[k])[None, :]
        label_code[at] = code_start[k] + np.arange(sizes[k])[None, :]
        pnl[at] = b.pnl[accounts]
    return worst, ScenarioRows(labels, indptr, label_code, pnl)


def held_by_group(book: Book, group_of_instrument: IntArray, n_groups: int) -> BoolArray:
    """``(A, n_groups)``: whether each account holds a non-zero position in an instrument of
    each group (``group_of_instrument`` maps each book column to its group, e.g. its pool)."""
    n_i = len(book.instruments)
    member = sp.csr_array(
        (np.ones(n_i), (np.arange(n_i), np.asarray(group_of_instrument, dtype=np.intp))),
        shape=(n_i, n_groups),
    )
    out: BoolArray = (abs(book.quantities) @ member).toarray() > 0
    return out


def has_positions(book: Book) -> BoolArray:
    """``(A,)``: whether each account has any stored position."""
    out: BoolArray = np.diff(book.quantities.indptr) > 0
    return out


def canonical_book(book: Book) -> Book:
    """``book`` with each account's positions sorted by column and duplicates summed, so that a
    kernel accumulates them in one order (``book`` itself when already so)."""
    if book.quantities.has_canonical_format:
        return book
    q = book.quantities.copy()
    q.sum_duplicates()
    return Book(book.accounts, book.instruments, q)


def build_book_margin(
    book: Book,
    *,
    model: str,
    parameters: str,
    initial_margin_usd: FloatArray,
    maintenance_margin_usd: FloatArray,
    pools: Sequence[PoolArrays] = (),
    detail: Detail,
) -> BookMargin:
    """The :class:`BookMargin` of ``book`` from a model's arrays (see the module docstring).

    ``pools`` are read only at ``Detail.ACCOUNTS`` and above; ``scenarios`` and
    ``contributions`` only at ``Detail.EXPLAIN``. Each account lists the pools it holds, in the
    order given.
    """
    im_usd = np.asarray(initial_margin_usd, dtype=np.float64)
    mm_usd = np.asarray(maintenance_margin_usd, dtype=np.float64)
    if detail < Detail.ACCOUNTS:
        return BookMargin(model, parameters, book.accounts, im_usd, mm_usd)
    n_acc = len(book)
    explain = detail >= Detail.EXPLAIN
    per_pool = [_PoolLists.of(book, p, explain) for p in pools]
    held = [p.held.tolist() if p.held is not None else [True] * n_acc for p in pools]
    # one column of PoolMargin (or None where the account does not hold the pool) per pool
    columns = [lists.all_pools(h) for lists, h in zip(per_pool, held, strict=True)]
    rows: Iterable[tuple[PoolMargin | None, ...]] = (
        zip(*columns, strict=True) if columns else [()] * n_acc
    )
    accounts = tuple(
        AccountMargin(name, model, parameters, tuple(filter(None, row)), im, mm)
        for name, row, im, mm in zip(
            book.accounts, rows, im_usd.tolist(), mm_usd.tolist(), strict=True
        )
    )
    return BookMargin(model, parameters, book.accounts, im_usd, mm_usd, accounts)


@dataclass(frozen=True, slots=True)
class _PoolLists:
    """One pool's arrays as Python lists, ready to build one account's :class:`PoolMargin`."""

    currency: str
    im: list[float]
    mm: list[float]
    names: tuple[str, ...]
    components: list[list[float]]
    worst: tuple[list[int], list[str]] | None
    measures: tuple[tuple[str, list[float]], ...] | None
    explain: bool
    scenarios: tuple[list[int], list[str], list[float]] | None
    contributions: tuple[list[int], list[str], list[float], list[float], ContributionKind] | None
    shown: list[list[bool]] | None = None

    @classmethod
    def of(cls, book: Book, pool: PoolArrays, explain: bool) -> _PoolLists:
        n_acc = len(book)
        names = tuple(pool.components)
        comps = (
            np.column_stack([np.asarray(pool.components[n], dtype=np.float64) for n in names])
            if names
            else np.zeros((n_acc, 0))
        )
        worst = None
        if pool.worst is not None:
            w = pool.worst
            worst = (w.index.tolist(), [w.labels[c] for c in w.label_code.tolist()])
        measures = None
        if pool.risk_measures is not None:
            measures = tuple(
                (name, np.broadcast_to(np.asarray(v, dtype=np.float64), (n_acc,)).tolist())
                for name, v in pool.risk_measures.items()
            )
        scenarios = None
        contributions = None
        if explain:
            if pool.scenarios is not None:
                s = pool.scenarios
                scenarios = (
                    s.indptr.tolist(),
                    [s.labels[c] for c in s.label_code.tolist()],
                    s.pnl.tolist(),
                )
            if pool.contributions is not None:
                contributions = _contribution_lists(book, pool.contributions)
        return cls(
            pool.currency,
            np.asarray(pool.initial_margin, dtype=np.float64).tolist(),
            np.asarray(pool.maintenance_margin, dtype=np.float64).tolist(),
            names,
            comps.tolist(),
            worst,
            measures,
            explain,
            scenarios,
            contributions,
            None if pool.components_shown is None else pool.components_shown.tolist(),
        )

    def all_pools(self, held: list[bool]) -> list[PoolMargin | None]:
        """Every account's :class:`PoolMargin` (``None`` where ``held`` is False)."""
        if self.explain or self.shown is not None:
            return [self.pool(a) if h else None for a, h in enumerate(held)]
        n = len(held)
        names, currency = self.names, self.currency
        refs: Iterable[ScenarioRef | None] = (
            [None] * n
            if self.worst is None
            else [
                ScenarioRef(i, label) if h else None
                for i, label, h in zip(*self.worst, held, strict=True)
            ]
        )
        measures: Iterable[dict[str, float] | None] = (
            [None] * n
            if self.measures is None
            else [
                dict(zip([m for m, _ in self.measures], values, strict=True))
                for values in zip(*(v for _, v in self.measures), strict=True)
            ]
        )
        return [
            PoolMargin(currency, im, mm, dict(zip(names, comps, strict=True)), ref, None, None, rm)
            if h
            else None
            for h, im, mm, comps, ref, rm in zip(
                held, self.im, self.mm, self.components, refs, measures, strict=True
            )
        ]

    def pool(self, a: int) -> PoolMargin:
        scenarios: tuple[tuple[str, float], ...] | None = None
        contributions: tuple[Contribution, ...] | None = None
        if self.explain:
            scenarios = ()
            if self.scenarios is not None:
                indptr, labels, pnl = self.scenarios
                lo, hi = indptr[a], indptr[a + 1]
                scenarios = tuple(zip(labels[lo:hi], pnl[lo:hi], strict=True))
            contributions = ()
            if self.contributions is not None:
                indptr, names, qty, values, kind = self.contributions
                lo, hi = indptr[a], indptr[a + 1]
                if kind is ContributionKind.PNL:
                    contributions = tuple(
                        Contribution(n, q, pnl=v)
                        for n, q, v in zip(names[lo:hi], qty[lo:hi], values[lo:hi], strict=True)
                    )
                else:
                    contributions = tuple(
                        Contribution(n, q, initial_margin=v)
                        for n, q, v in zip(names[lo:hi], qty[lo:hi], values[lo:hi], strict=True)
                    )
        return PoolMargin(
            currency=self.currency,
            initial_margin=self.im[a],
            maintenance_margin=self.mm[a],
            components=(
                dict(zip(self.names, self.components[a], strict=True))
                if self.shown is None
                else {
                    n: v
                    for n, v, keep in zip(
                        self.names, self.components[a], self.shown[a], strict=True
                    )
                    if keep
                }
            ),
            worst_scenario=(
                None if self.worst is None else ScenarioRef(self.worst[0][a], self.worst[1][a])
            ),
            scenarios=scenarios,
            contributions=contributions,
            risk_measures=(
                None if self.measures is None else {name: v[a] for name, v in self.measures}
            ),
        )


def _contribution_lists(
    book: Book, contributions: PositionValues
) -> tuple[list[int], list[str], list[float], list[float], ContributionKind]:
    """The listed positions of every account, sorted, as (indptr, names, quantities, values)."""
    q = book.quantities
    nnz = q.data.shape[0]
    row = np.repeat(np.arange(len(book)), np.diff(q.indptr))
    entry = np.arange(nnz)
    order = np.zeros(nnz, dtype=np.int64) if contributions.order is None else contributions.order
    keep = entry if contributions.include is None else np.flatnonzero(contributions.include)
    keep = keep[np.lexsort((entry[keep], order[keep], row[keep]))]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(row[keep], minlength=len(book)))])
    instruments = book.instruments
    return (
        indptr.tolist(),
        [instruments[c] for c in q.indices[keep].tolist()],
        q.data[keep].tolist(),
        np.asarray(contributions.values, dtype=np.float64)[keep].tolist(),
        contributions.kind,
    )
