"""Bulk account creation (``LedgerTransaction.create_accounts``, the replay seeding's path) and the
one chunked-read helper (``id_chunks``): the checks of a single creation, each, before anything is
written; reads of many ids split in chunks of ``IN_LIST_CHUNK``."""

from __future__ import annotations

from pathlib import Path

import pytest

from solvent.errors import SolventInputError
from solvent.ledger.liquidations import booked_among
from solvent.ledger.model import AccountKind
from solvent.ledger.store import IN_LIST_CHUNK, AccountRecord, Ledger, id_chunks
from solvent.portfolio.portfolio import SubAccountMode

USER = AccountKind.USER


def _user(name: str, parent: str | None = None) -> AccountRecord:
    mode = None if parent is None else SubAccountMode.CROSS
    return AccountRecord(name, USER, parent, mode, "standard")


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger.open(f"sqlite:///{tmp_path / 'l.db'}")


def test_creates_parents_then_sub_accounts_in_one_call(ledger: Ledger) -> None:
    records = [_user(f"u{i}") for i in range(1_200)] + [_user("s1", "u7"), _user("s2", "u7")]
    with ledger.transaction() as tx:
        tx.create_accounts(records)
    with ledger.transaction() as tx:
        assert [r.id for r in tx.family("u7")] == ["u7", "s1", "s2"]
        assert len(tx.accounts([r.id for r in records])) == len(records)


@pytest.mark.parametrize(
    ("records", "field", "message"),
    [
        ([_user("a"), _user("a")], "id", "already exists"),
        ([_user("old")], "id", "already exists"),
        ([_user("s", "nobody")], "parent", "unknown account"),
        ([_user("p"), _user("s", "p"), _user("t", "s")], "parent", "cannot have sub-accounts"),
        ([_user("ok"), _user("@venue2")], "id", "1-128 characters"),
        ([AccountRecord("x", USER, "old", None, "standard")], "mode", "needs both"),
    ],
)
def test_refusals_write_nothing(
    ledger: Ledger, records: list[AccountRecord], field: str, message: str
) -> None:
    ledger.create_account("old")
    with pytest.raises(SolventInputError, match=message) as caught, ledger.transaction() as tx:
        tx.create_accounts(records)
    assert caught.value.field == field
    with ledger.transaction() as tx:
        for r in records:
            if r.id != "old":
                with pytest.raises(SolventInputError, match="unknown account"):
                    tx.account(r.id)


def test_id_chunks_cover_every_id_once_in_order() -> None:
    ids = [f"x{i:05d}" for i in range(2 * IN_LIST_CHUNK + 1)]
    chunks = list(id_chunks(ids))
    assert [len(c) for c in chunks] == [IN_LIST_CHUNK, IN_LIST_CHUNK, 1]
    assert [i for c in chunks for i in c] == ids
    assert list(id_chunks([])) == []


def test_booked_among_reads_beyond_one_chunk(ledger: Ledger) -> None:
    ids = [f"run:{i:06d}" for i in range(IN_LIST_CHUNK + 3)]
    with ledger.transaction() as tx:
        assert booked_among(tx, ids) == set()
