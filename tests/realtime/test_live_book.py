"""The live order book: snapshot + diffs under Binance's sequence rules."""

from __future__ import annotations

import math

from solvent.realtime.live_book import BookStatus, Diff, DiffResult, LiveBook


def _spot() -> LiveBook:
    book = LiveBook(futures=False)
    assert book.apply_snapshot(100, [(99.0, 1.0), (98.0, 2.0)], [(101.0, 1.0), (102.0, 3.0)])
    return book


def test_diffs_in_sequence_update_the_touch() -> None:
    book = _spot()
    assert book.touch() == (99.0, 101.0)
    assert book.apply_diff(Diff(95, 101, None, ((99.5, 1.0),), ())) is DiffResult.APPLIED
    assert (
        book.apply_diff(Diff(102, 103, None, ((99.5, 0.0),), ((100.5, 2.0),))) is DiffResult.APPLIED
    )
    assert book.touch() == (99.0, 100.5)
    assert book.last_update_id == 103


def test_a_duplicate_is_ignored_and_a_gap_drops_the_book_until_a_snapshot() -> None:
    book = _spot()
    book.apply_diff(Diff(101, 101, None, ((99.2, 1.0),), ()))
    assert book.apply_diff(Diff(101, 101, None, ((50.0, 1.0),), ())) is DiffResult.DUPLICATE
    assert book.touch() == (99.2, 101.0)
    assert book.apply_diff(Diff(105, 106, None, (), ())) is DiffResult.GAP
    assert book.status is BookStatus.GAP and book.touch() is None
    assert book.apply_diff(Diff(107, 108, None, (), ())) is DiffResult.IGNORED
    book.apply_snapshot(200, [(90.0, 1.0)], [(91.0, 1.0)])
    assert book.touch() == (90.0, 91.0)


def test_diffs_before_the_snapshot_are_buffered_and_the_straddling_one_applies() -> None:
    book = LiveBook(futures=True)
    assert book.apply_diff(Diff(90, 95, 89, ((99.9, 1.0),), ())) is DiffResult.BUFFERED
    assert book.apply_diff(Diff(96, 104, 95, ((99.5, 1.0),), ())) is DiffResult.BUFFERED
    book.apply_snapshot(100, [(99.0, 1.0)], [(101.0, 1.0)])
    # the first diff is older than the snapshot (dropped), the second straddles it (applied)
    assert book.touch() == (99.5, 101.0)
    assert book.apply_diff(Diff(105, 106, 104, (), ((100.0, 1.0),))) is DiffResult.APPLIED
    assert book.apply_diff(Diff(107, 108, 105, (), ())) is DiffResult.GAP  # pu != previous u


def test_a_crossed_book_withholds_its_touch_and_an_invalid_level_drops_it() -> None:
    book = _spot()
    book.apply_diff(Diff(101, 101, None, ((101.5, 1.0),), ()))
    assert book.status is BookStatus.CROSSED and book.touch() is None
    book.apply_diff(Diff(102, 102, None, ((101.5, 0.0),), ()))
    assert book.touch() == (99.0, 101.0)
    assert book.apply_diff(Diff(103, 103, None, ((math.nan, 1.0),), ())) is DiffResult.INVALID
    assert book.status is BookStatus.GAP
    assert not LiveBook(False).apply_snapshot(1, [(1.0, -1.0)], [])
