"""Ids starting with '@' are the venue's own accounts (@venue, @insurance, @fees): a book or
portfolio that names a user so was accepted, and `solvent liquidate` then mixed that user's
money with the venue's counterparty or insurance fund (and `replay` said the ledger "already
holds account '@venue' but not the whole book")."""

from __future__ import annotations

import pytest

from solvent.errors import SolventInputError
from solvent.portfolio.account_book import parse_account_book


@pytest.mark.parametrize("name", ["@venue", "@insurance", "@fees", "@anything"])
def test_a_book_account_named_like_a_venue_account_is_refused(name: str) -> None:
    book = {
        "accounts": [
            {"account": "ok", "collateral": {"BTC": 1.0}, "positions": []},
            {"account": name, "collateral": {"BTC": 1.0}, "positions": []},
        ]
    }
    with pytest.raises(SolventInputError) as caught:
        parse_account_book(book)
    assert caught.value.field == "accounts[1].account"
    assert "venue's own accounts" in caught.value.message


def test_a_portfolio_named_like_a_venue_account_is_refused() -> None:
    with pytest.raises(SolventInputError) as caught:
        parse_account_book({"account": "@venue", "collateral": {"BTC": 1.0}, "positions": []})
    assert caught.value.field.endswith("account")
