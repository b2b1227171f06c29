"""Margin groups: cross chains, isolated sub-accounts, missing parents, cycles; linear time."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from solvent.portfolio.groups import merge_cross_groups, resolve_groups
from solvent.portfolio.portfolio import Portfolio, Position, SubAccountMode

CROSS, ISOLATED = SubAccountMode.CROSS, SubAccountMode.ISOLATED


def _groups(parent: list[int], cross: list[bool]) -> list[list[int]]:
    g = resolve_groups(np.array(parent), np.array(cross))
    return [g.members(k).tolist() for k in range(len(g))]


def test_cross_chains_join_the_top_isolated_and_orphans_stand_alone() -> None:
    # 0 top; 1 cross of 0; 2 cross of 1 (a chain); 3 isolated of 0; 4 cross of 3 (joins 3);
    # 5 has no parent in the book (-1)
    parent = [-1, 0, 1, 0, 3, -1]
    cross = [False, True, True, False, True, True]
    assert _groups(parent, cross) == [[0, 1, 2], [3, 4], [5]]
    g = resolve_groups(np.array(parent), np.array(cross))
    assert g.tops.tolist() == [0, 3, 5]
    assert g.group_of.tolist() == [0, 0, 0, 1, 1, 2]
    assert g.size.tolist() == [3, 2, 1]


def test_a_sub_account_listed_before_its_parent() -> None:
    assert _groups([2, -1, 1], [True, False, True]) == [[0, 1, 2]]


def test_cycles_and_self_parents_terminate() -> None:
    # 0 <-> 1 cycle with 2 hanging on it; 3 self-parented; 4 -> 5 -> 6 -> 4 cycle
    parent = [1, 0, 1, 3, 5, 6, 4]
    groups = _groups(parent, [True] * 7)
    assert groups == [[0, 1, 2], [3], [4, 5, 6]]
    g = resolve_groups(np.array(parent), np.ones(7, bool))
    assert g.tops.tolist() == [0, 3, 4]  # the lowest index of each cycle


def test_a_long_chain_resolves_to_its_top() -> None:
    n = 5000
    parent = np.arange(-1, n - 1)
    g = resolve_groups(parent, np.ones(n, bool))
    assert len(g) == 1 and g.tops.tolist() == [0]


def _naive(parent: list[int], cross: list[bool]) -> list[int]:
    """Reference: follow each chain step by step (cycles: lowest index on the cycle)."""
    out = []
    for i in range(len(parent)):
        path = [i]
        j = i
        while cross[j] and parent[j] >= 0 and parent[j] != j:
            j = parent[j]
            if j in path:
                cycle = path[path.index(j) :]
                j = min(cycle)
                break
            path.append(j)
        out.append(j)
    return out


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_groups_match_a_step_by_step_walk(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 30))
    parent = data.draw(st.lists(st.integers(-1, n - 1), min_size=n, max_size=n))
    cross = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    g = resolve_groups(np.array(parent), np.array(cross))
    assert g.tops[g.group_of].tolist() == _naive(parent, cross)
    assert sorted(g.member_order.tolist()) == list(range(n))


def test_merge_cross_groups_sums_collateral_and_concatenates_positions() -> None:
    p = Portfolio("p", {"BTC": 1.0}, (Position("X", 1.0),))
    c = Portfolio("c", {"BTC": 0.5, "USDC": 10.0}, (Position("Y", -1.0),), "p", CROSS)
    i = Portfolio("i", {"USDC": 5.0}, (Position("X", 2.0),), "p", ISOLATED)
    o = Portfolio("o", {}, (), "gone", CROSS)
    merged, group_of = merge_cross_groups([p, c, i, o])
    assert [m.account for m in merged] == ["p", "i", "o"]
    assert group_of == [0, 0, 1, 2]
    assert dict(merged[0].collateral) == {"BTC": 1.5, "USDC": 10.0}
    assert merged[0].positions == (Position("X", 1.0), Position("Y", -1.0))
    assert merged[1] is i
