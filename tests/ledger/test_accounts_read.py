"""``LedgerTransaction.accounts``: many account records in one read, as ``account`` reads one."""

from __future__ import annotations

import pytest

from solvent.errors import SolventInputError
from solvent.ledger.store import Ledger


def test_accounts_reads_the_records_account_reads_sorted_and_refuses_an_unknown_one() -> None:
    ledger = Ledger.open("sqlite://")
    try:
        ledger.create_account("bob")
        ledger.create_account("alice")
        with ledger.transaction() as tx:
            records = tx.accounts(["bob", "alice", "bob"])
            assert records == [tx.account("alice"), tx.account("bob")]
            assert tx.accounts([]) == []
            with pytest.raises(SolventInputError, match="unknown account 'carol'") as refused:
                tx.accounts(["zed", "bob", "carol"], field="ids")
            assert refused.value.field == "ids"
    finally:
        ledger.close()
