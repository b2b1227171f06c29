"""Margin groups: a parent account with its ``cross`` sub-accounts is one margin unit.

Cross sub-accounts share their parent's collateral and net their positions with it; ``isolated``
sub-accounts (and accounts without a parent, or whose parent is not in the book) are margin units
of their own. Chains follow up: a cross sub-account of a cross sub-account belongs to the group of
the chain's top account.

Resolution is vectorized (pointer doubling over an array of "margined with" links, so a book of
any depth takes O(n log depth) array work, no per-account Python loop). A cyclic or self-parented
chain still terminates: the accounts of a cycle (and every cross chain leading into it) form one
group whose top is the cycle's account of lowest input index. Loaders refuse such chains; this
module only guarantees an answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from solvent.arrays import BoolArray, IntArray
from solvent.portfolio.portfolio import Portfolio, Position, SubAccountMode


@dataclass(frozen=True, slots=True)
class MarginGroups:
    """Margin units of a book of ``n`` accounts, in the order of their top accounts.

    ``group_of[i]``: the group (0..G-1) of input account ``i``; ``tops[g]``: the input index of
    group ``g``'s top account (increasing in ``g``); ``member_order`` lists input indices grouped
    by group (members of a group in input order), ``member_start[g]:member_start[g + 1]`` slicing
    group ``g``'s members out of it."""

    group_of: IntArray
    tops: IntArray
    member_order: IntArray
    member_start: IntArray

    def __len__(self) -> int:
        return len(self.tops)

    def members(self, group: int) -> IntArray:
        """Input indices of group ``group``'s accounts, in input order."""
        start, stop = self.member_start[group], self.member_start[group + 1]
        return self.member_order[start:stop]

    @property
    def size(self) -> IntArray:
        """Number of accounts in each group."""
        return np.diff(self.member_start)


def _roots(link: IntArray) -> IntArray:
    """The end of each account's chain of links (``link[i] == i`` ends a chain), by pointer
    doubling; accounts on or leading into a cycle end at the cycle's lowest index."""
    n = len(link)
    root = link.copy()
    for _ in range(int(np.ceil(np.log2(max(n, 2)))) + 1):
        if np.array_equal(link[root], root):
            return root  # every chain has reached its end
        root = root[root]
    # After 2^k >= n jumps every account sits at the end of its chain or on a cycle.
    open_ = np.flatnonzero(link[root] != root)
    lowest: dict[int, int] = {}
    for start in np.unique(root[open_]).tolist():
        if start in lowest:
            continue
        cycle = [start]
        j = int(link[start])
        while j != start:
            cycle.append(j)
            j = int(link[j])
        for c in cycle:
            lowest[c] = min(cycle)
    root[open_] = [lowest[c] for c in root[open_].tolist()]
    return root


def resolve_groups(parent: IntArray, cross: BoolArray) -> MarginGroups:
    """Groups of a book: ``parent[i]`` is the input index of account ``i``'s parent (-1 when it
    has none or the parent is not in the book), ``cross[i]`` whether it is margined with it."""
    parent = np.asarray(parent, dtype=np.intp)
    n = len(parent)
    self_index = np.arange(n, dtype=np.intp)
    link = np.where(np.asarray(cross, dtype=bool) & (parent >= 0), parent, self_index)
    root = _roots(link) if n else self_index
    tops, group_of = np.unique(root, return_inverse=True)
    group_of = group_of.astype(np.intp).reshape(n)
    member_order = np.argsort(group_of, kind="stable").astype(np.intp)
    member_start = np.zeros(len(tops) + 1, dtype=np.intp)
    np.cumsum(np.bincount(group_of, minlength=len(tops)), out=member_start[1:])
    return MarginGroups(group_of, tops.astype(np.intp), member_order, member_start)


def portfolio_links(portfolios: Sequence[Portfolio]) -> tuple[IntArray, BoolArray]:
    """``(parent index or -1, cross)`` of each portfolio, for :func:`resolve_groups`."""
    index = {p.account: i for i, p in enumerate(portfolios)}
    parent = np.fromiter(
        (index.get(p.parent, -1) if p.parent is not None else -1 for p in portfolios),
        dtype=np.intp,
        count=len(portfolios),
    )
    cross = np.fromiter(
        (p.mode is SubAccountMode.CROSS for p in portfolios), dtype=bool, count=len(portfolios)
    )
    return parent, cross


def merge_cross_groups(portfolios: Sequence[Portfolio]) -> tuple[list[Portfolio], list[int]]:
    """Effective portfolios (a parent with its cross sub-accounts merged: collateral summed in
    input order, positions concatenated) and, for each input account, the index of the effective
    portfolio it belongs to. Linear in the book's size."""
    groups = resolve_groups(*portfolio_links(portfolios))
    merged: list[Portfolio] = []
    for g, t in enumerate(groups.tops.tolist()):
        members = [portfolios[i] for i in groups.members(g).tolist()]
        top = portfolios[t]
        if len(members) == 1:
            merged.append(top)
            continue
        collateral: dict[str, float] = {}
        positions: list[Position] = []
        for m in members:
            for asset, amount in m.collateral.items():
                collateral[asset] = collateral.get(asset, 0.0) + amount
            positions.extend(m.positions)
        merged.append(Portfolio(top.account, collateral, tuple(positions), top.parent, top.mode))
    return merged, groups.group_of.tolist()
