"""Margin groups: a parent account with its ``cross`` sub-accounts is one margin unit.

Cross sub-accounts share their parent's collateral and net their positions with it; ``isolated``
sub-accounts (and accounts without a parent) are margin units of their own.
"""

from __future__ import annotations

from collections.abc import Sequence

from solvent.portfolio.portfolio import Portfolio, Position, SubAccountMode


def merge_cross_groups(portfolios: Sequence[Portfolio]) -> tuple[list[Portfolio], list[int]]:
    """Effective portfolios (a parent with its cross sub-accounts merged) and, for each input
    account, the index of the effective portfolio it belongs to."""
    index = {p.account: i for i, p in enumerate(portfolios)}
    root = list(range(len(portfolios)))
    for i, p in enumerate(portfolios):
        if p.parent is not None and p.mode is SubAccountMode.CROSS and p.parent in index:
            root[i] = index[p.parent]
    # Follow chains of cross sub-accounts to the top.
    for i in range(len(root)):
        seen = {i}
        while root[root[i]] != root[i] and root[i] not in seen:
            seen.add(root[i])
            root[i] = root[root[i]]
    tops = sorted(set(root))
    slot = {t: k for k, t in enumerate(tops)}
    merged: list[Portfolio] = []
    for t in tops:
        members = [portfolios[i] for i in range(len(portfolios)) if root[i] == t]
        collateral: dict[str, float] = {}
        positions: list[Position] = []
        for m in members:
            for asset, amount in m.collateral.items():
                collateral[asset] = collateral.get(asset, 0.0) + amount
            positions.extend(m.positions)
        top = portfolios[t]
        merged.append(Portfolio(top.account, collateral, tuple(positions), top.parent, top.mode))
    return merged, [slot[root[i]] for i in range(len(portfolios))]
