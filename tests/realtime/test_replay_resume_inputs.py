"""A ledger's replay resumed with other inputs is refused: re-running ``solvent replay`` on a
finished replay's --db with another --path used to print the old run's summary (the new path's
first events skipped as already applied) as if it were the new one's."""

from __future__ import annotations

from pathlib import Path

import pytest

from solvent.errors import SolventInputError
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.account_book import AccountBook
from solvent.realtime.replay import replay


def test_resuming_with_another_path_or_fund_is_refused_and_the_same_inputs_resume(
    book: AccountBook, market: MarketSnapshot, price_path: Path, ledger_url: str, tmp_path: Path
) -> None:
    first = replay(book, market, path=price_path, db=ledger_url)
    again = replay(book, market, path=price_path, db=ledger_url)  # same inputs: resumes, done
    assert again.steps == first.steps and again.audit.ok
    lines = price_path.read_text().splitlines()
    other = tmp_path / "other.csv"
    other.write_text("\n".join(lines[:2]) + "\n")
    with pytest.raises(SolventInputError, match="other inputs") as caught:
        replay(book, market, path=other, db=ledger_url)
    assert caught.value.field == "db"
    with pytest.raises(SolventInputError, match="other inputs"):
        replay(book, market, path=price_path, db=ledger_url, insurance_fund_usd=1_000.0)
