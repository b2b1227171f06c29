"""The result builder: arrays over a book -> BookMargin, at every Detail level."""

from __future__ import annotations

import numpy as np
import pytest

from solvent.margin.build import (
    ContributionKind,
    PoolArrays,
    PositionValues,
    ScenarioBlock,
    build_book_margin,
    held_by_group,
    scenario_blocks,
)
from solvent.margin.protocol import Detail
from solvent.margin.result import Composition
from solvent.portfolio.book import Book

BOOK = Book.from_arrays(
    ("a", "b", "c"),
    ("X", "Y", "Z"),
    np.array([0, 0, 1, 2, 2]),
    np.array([0, 2, 1, 1, 2]),
    np.array([1.0, -2.0, 3.0, 4.0, 5.0]),
)


def test_blocks_index_into_each_accounts_own_list() -> None:
    blocks = [
        ScenarioBlock(
            ("u1", "u2"),
            np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]),
            np.array([True, False, True]),
        ),
        ScenarioBlock(("v1", "v2", "v3"), -np.ones((3, 3)) * np.arange(3)[:, None]),
    ]
    worst, rows = scenario_blocks(blocks, np.array([1, 1, 0]), np.array([2, 0, 1]), explain=True)
    assert rows is not None
    assert worst.index.tolist() == [4, 0, 1]
    assert [worst.labels[c] for c in worst.label_code] == ["v3", "v1", "u2"]
    assert rows.indptr.tolist() == [0, 5, 8, 13]
    assert [rows.labels[c] for c in rows.label_code[5:8]] == ["v1", "v2", "v3"]
    assert rows.pnl[:5].tolist() == [1.0, 2.0, 0.0, 0.0, 0.0]
    assert rows.pnl[8:].tolist() == [5.0, 6.0, -2.0, -2.0, -2.0]


def _pools(explain: bool) -> list[PoolArrays]:
    held = held_by_group(BOOK, np.array([0, 0, 1]), 2)
    worst, rows = scenario_blocks(
        [ScenarioBlock(("s0", "s1"), np.arange(6.0).reshape(3, 2))],
        np.zeros(3, dtype=np.int64),
        np.array([1, 0, 1]),
        explain=explain,
    )
    return [
        PoolArrays(
            "BTC",
            np.array([1.0, 2.0, 3.0]),
            np.array([0.5, 1.0, 1.5]),
            {"x": np.array([1.0, 2.0, 3.0])},
            held=held[:, 0],
            worst=worst,
            scenarios=rows,
            contributions=PositionValues(
                np.arange(5.0), include=np.array([True, False, True, True, False])
            ),
        ),
        PoolArrays(
            "USD",
            np.array([7.0, 8.0, 9.0]),
            np.array([7.0, 8.0, 9.0]),
            {"y": np.array([7.0, 8.0, 9.0])},
            held=held[:, 1],
            contributions=PositionValues(
                np.arange(5.0) * 10, ContributionKind.INITIAL_MARGIN, order=-np.arange(5)
            ),
            risk_measures={"confidence": 0.99, "es": np.array([1.0, 2.0, 3.0])},
        ),
    ]


def test_totals_build_no_detail() -> None:
    result = build_book_margin(
        BOOK,
        model="m",
        parameters="p@1",
        initial_margin_usd=np.ones(3),
        maintenance_margin_usd=np.zeros(3),
        detail=Detail.TOTALS,
    )
    assert result.detail is None and result.accounts == BOOK.accounts


@pytest.mark.parametrize("detail", [Detail.ACCOUNTS, Detail.EXPLAIN])
def test_accounts_show_their_pools(detail: Detail) -> None:
    result = build_book_margin(
        BOOK,
        model="m",
        parameters="p@1",
        initial_margin_usd=np.array([1.0, 2.0, 3.0]),
        maintenance_margin_usd=np.zeros(3),
        pools=_pools(detail is Detail.EXPLAIN),
        detail=detail,
    )
    assert result.detail is not None
    a, b, c = result.detail
    assert [p.currency for p in a.pools] == ["BTC", "USD"]
    assert [p.currency for p in b.pools] == ["BTC"]
    assert [p.currency for p in c.pools] == ["BTC", "USD"]
    assert a.pools[0].worst_scenario is not None and a.pools[0].worst_scenario.label == "s1"
    assert c.pools[1].risk_measures == {"confidence": 0.99, "es": 3.0}
    assert a.pools[1].worst_scenario is None
    if detail is Detail.ACCOUNTS:
        assert a.pools[0].scenarios is None and a.pools[0].contributions is None
        return
    assert a.pools[0].scenarios == (("s0", 0.0), ("s1", 1.0))
    assert a.pools[1].scenarios == ()
    assert [(x.instrument, x.pnl) for x in a.pools[0].contributions or ()] == [("X", 0.0)]
    assert [(x.instrument, x.initial_margin) for x in c.pools[1].contributions or ()] == [
        ("Z", 40.0),
        ("Y", 30.0),
    ]


def test_composition_patterns() -> None:
    comp = Composition({"a": 1.0, "*.im": 1.0}, {"a": 0.5})
    parts = {"a": 2.0, "x.im": 3.0, "y.im": 4.0, "b": 100.0}
    assert comp.initial_margin(parts) == 9.0
    assert comp.maintenance_margin(parts) == 1.0
    assert Composition.scaled({"a": 1.0}, 0.8).maintenance_margin(parts) == pytest.approx(1.6)
