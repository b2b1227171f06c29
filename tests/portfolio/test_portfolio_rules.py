"""Issue 8, item 8: portfolio and book rules (docs/formats.md, validation rules)."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from solvent.errors import SolventInputError, SolventWarning
from solvent.portfolio.portfolio import MAX_AMOUNT, parse_portfolio, parse_portfolio_or_book


def _account(name: str, **extra: Any) -> dict[str, Any]:
    return {"account": name, "collateral": {}, "positions": [], **extra}


def test_negative_collateral_is_a_debt_within_the_limit() -> None:
    portfolio = parse_portfolio(_account("a", collateral={"BTC": -1.0, "USDC": 5.0}))
    assert portfolio.collateral["BTC"] == -1.0
    with pytest.raises(SolventInputError, match="must be in") as info:
        parse_portfolio(_account("a", collateral={"BTC": -1e300}))
    assert info.value.field == "portfolio.collateral.BTC"


def test_the_book_fast_path_keeps_the_rules() -> None:
    from solvent.portfolio.account_book import parse_account_book

    huge = {"accounts": [_account("a"), _account("b", collateral={"BTC": -1e300})]}
    with pytest.raises(SolventInputError, match="must be in") as info:
        parse_account_book(huge)
    assert info.value.field == "accounts[1].collateral.BTC"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parse_account_book({"accounts": [{"account": "a", "collateral": {}}]})
    assert [w.message.field for w in caught] == ["accounts[0].positions"]  # type: ignore[union-attr]
    looped = {"accounts": [_account("a", parent="b"), _account("b", parent="a")]}
    with pytest.raises(SolventInputError, match="cycle"):
        parse_account_book(looped)


@pytest.mark.parametrize("value", [1e100, -1e100, MAX_AMOUNT * 2])
def test_quantities_beyond_the_bound_are_refused(value: float) -> None:
    raw = _account("a", positions=[{"instrument": "BTC-PERPETUAL", "quantity": value}])
    with pytest.raises(SolventInputError) as info:
        parse_portfolio(raw)
    assert info.value.field == "portfolio.positions[0].quantity"
    raw["positions"][0]["quantity"] = MAX_AMOUNT
    assert parse_portfolio(raw).positions[0].quantity == MAX_AMOUNT


def test_missing_collateral_or_positions_is_accepted_with_a_warning() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        portfolio = parse_portfolio({"account": "a"})
    assert portfolio.collateral == {} and portfolio.positions == ()
    fields = [w.message.field for w in caught if isinstance(w.message, SolventWarning)]
    assert fields == ["portfolio.collateral", "portfolio.positions"]


def test_self_parented_and_cyclic_sub_accounts_are_refused() -> None:
    with pytest.raises(SolventInputError, match="cannot be its own parent") as info:
        parse_portfolio_or_book({"accounts": [_account("a", parent="a", mode="cross")]})
    assert info.value.field == "accounts[0].parent"
    book = {
        "accounts": [
            _account("a", parent="c", mode="cross"),
            _account("b", parent="a", mode="isolated"),
            _account("c", parent="b", mode="cross"),
        ]
    }
    with pytest.raises(SolventInputError, match="cycle: a -> c -> b -> a"):
        parse_portfolio_or_book(book)
    book["accounts"][0] = _account("a")
    assert len(parse_portfolio_or_book(book)[0]) == 3
