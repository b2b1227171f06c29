"""Books as columns: the fast JSON path agrees with ``parse_portfolio_or_book`` on every input
(well formed or not), and the group book equals the book of the merged portfolios."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solvent.errors import SolventInputError
from solvent.portfolio.account_book import AccountBook, parse_account_book
from solvent.portfolio.book import Book
from solvent.portfolio.groups import merge_cross_groups
from solvent.portfolio.portfolio import Portfolio, parse_portfolio_or_book

GOOD: dict[str, Any] = {
    "accounts": [
        {
            "account": "a",
            "collateral": {"BTC": 1.5, "USDC": 10},
            "positions": [
                {"instrument": "BTC-PERPETUAL", "quantity": 1},
                {"instrument": "X", "quantity": -0.5},
            ],
        },
        {"account": "b", "parent": "a", "positions": [{"instrument": "X", "quantity": 2.0}]},
        {"account": "c", "parent": "a", "mode": "isolated", "collateral": {"ETH": 0}},
        {"account": "d", "collateral": {}, "positions": []},
    ]
}


def _outcome(raw: object) -> tuple[str, object]:
    """What each parser makes of ``raw``: the error, or the portfolios."""
    try:
        slow = parse_portfolio_or_book(raw)
    except SolventInputError as exc:
        slow_out: tuple[str, object] = ("error", str(exc))
    else:
        slow_out = ("ok", (slow[0], slow[1]))
    try:
        book, is_book = parse_account_book(raw)
    except SolventInputError as exc:
        fast_out: tuple[str, object] = ("error", str(exc))
    else:
        fast_out = ("ok", (book.portfolios(), is_book))
    assert fast_out == slow_out
    return fast_out


def test_a_well_formed_book_takes_the_fast_path_and_keeps_everything() -> None:
    kind, (portfolios, is_book) = _outcome(GOOD)  # type: ignore[misc]
    assert kind == "ok" and is_book
    assert [p.account for p in portfolios] == ["a", "b", "c", "d"]
    assert dict(portfolios[2].collateral) == {"ETH": 0.0}  # a listed zero is kept


MUTATIONS: list[tuple[str, Any]] = [
    ("accounts", None),
    ("accounts", {}),
    ("top_extra", 1),
    ("account", ""),
    ("account", 7),
    ("account", None),
    ("collateral", None),
    ("collateral", []),
    ("collateral", {"BTC": "1"}),
    ("collateral", {"BTC": True}),
    ("collateral", {"BTC": float("nan")}),
    ("collateral", {"BTC": float("inf")}),
    ("collateral", {"BTC": 10**400}),
    ("collateral", {"BTC": -1.0}),
    ("collateral", {"BTC": 1e308}),
    ("positions", None),
    ("positions", {}),
    ("positions", [None]),
    ("positions", [{"instrument": "X"}]),
    ("positions", [{"instrument": "X", "quantity": 1, "extra": 1}]),
    ("positions", [{"instrument": "X", "qty": 1}]),
    ("positions", [{"instrument": "", "quantity": 1}]),
    ("positions", [{"instrument": 3, "quantity": 1}]),
    ("positions", [{"instrument": "X", "quantity": "1"}]),
    ("positions", [{"instrument": "X", "quantity": False}]),
    ("positions", [{"instrument": "X", "quantity": float("nan")}]),
    ("positions", [{"instrument": "X", "quantity": 10**400}]),
    ("positions", [{"instrument": "X", "quantity": 1e100}]),
    ("positions", [{"instrument": "X", "quantity": 0}]),
    ("parent", ""),
    ("parent", 5),
    ("parent", "nobody"),
    ("parent", "d"),
    ("parent", "b"),  # b's parent is a: a chain
    ("mode", "cross"),  # a mode without a parent
    ("mode", "sideways"),
    ("mode", ["cross"]),
    ("extra", 1),
    ("drop", "collateral"),
    ("drop", "positions"),
    ("drop", "account"),
    ("duplicate", None),
    ("self", None),
]


@pytest.mark.parametrize(("what", "value"), MUTATIONS, ids=lambda x: repr(x)[:30])
def test_the_fast_path_agrees_with_the_validator(what: str, value: Any) -> None:
    for target in (0, 2):  # a parent, and an isolated sub-account
        raw = copy.deepcopy(GOOD)
        acct = raw["accounts"][target]
        if what == "accounts":
            raw["accounts"] = value
        elif what == "top_extra":
            raw["other"] = value
        elif what == "drop":
            acct.pop(value, None)
        elif what == "duplicate":
            acct["account"] = "b"
        elif what == "self":
            acct["parent"] = acct["account"]
        elif what == "mode":
            acct.pop("parent", None)
            if value != "cross":
                acct["parent"] = "a" if target else "d"
            acct["mode"] = value
        else:
            acct[what] = value
        _outcome(raw)
        if what == "accounts":
            break
    single = copy.deepcopy(GOOD["accounts"][0])
    _outcome(single)
    _outcome(dict(single, parent="elsewhere"))  # a lone portfolio's parent is not checked
    _outcome([single])


def _portfolio(draw: st.DrawFn, i: int, n: int) -> dict[str, Any]:
    rec: dict[str, Any] = {"account": f"acct-{i}"}
    if draw(st.booleans()):
        assets = draw(st.lists(st.sampled_from(["BTC", "ETH", "USDC"]), unique=True))
        rec["collateral"] = {a: draw(st.floats(-10, 10) | st.integers(-5, 5)) for a in assets}
    if draw(st.booleans()):
        rec["positions"] = [
            {"instrument": draw(st.sampled_from("ABCDE")), "quantity": draw(st.floats(-3, 3))}
            for _ in range(draw(st.integers(0, 4)))
        ]
    if i and draw(st.booleans()):
        rec["parent"] = f"acct-{draw(st.integers(0, n - 1))}"
        if draw(st.booleans()):
            rec["mode"] = draw(st.sampled_from(["cross", "isolated"]))
    return rec


@st.composite
def books(draw: st.DrawFn) -> list[dict[str, Any]]:
    n = draw(st.integers(1, 12))
    return [_portfolio(draw, i, n) for i in range(n)]


@settings(max_examples=150, deadline=None)
@given(books())
def test_random_books_parse_alike_and_group_like_merged_portfolios(raw: list[Any]) -> None:
    kind, _ = _outcome({"accounts": raw})
    if kind != "ok":
        return
    portfolios, _ = parse_portfolio_or_book({"accounts": raw})
    columns, _ = parse_account_book({"accounts": raw})
    assert AccountBook.from_portfolios(portfolios).portfolios() == columns.portfolios()
    merged, group_of = merge_cross_groups(portfolios)
    groups = columns.groups()
    assert groups.group_of.tolist() == group_of
    book, balances = columns.group_book(groups)
    expected = Book.from_portfolios(merged)
    assert book.accounts == expected.accounts
    assert book.instruments == expected.instruments
    assert np.array_equal(book.quantities.indptr, expected.quantities.indptr)
    assert np.array_equal(book.quantities.indices, expected.quantities.indices)
    assert np.array_equal(book.quantities.data, expected.quantities.data)
    for g, m in enumerate(merged):
        held = {a: balances[g, j] for j, a in enumerate(columns.assets) if a in m.collateral}
        assert held == dict(m.collateral)


def test_portfolios_round_trip() -> None:
    p = Portfolio("x", {"BTC": 1.0}, ())
    assert AccountBook.from_portfolios([p]).portfolios()[0] == p
