"""The main job end to end, scaled down (``accounts``), through the same code path as
``make demo``: the venue book, margin under every model, capital efficiency, explanations, and
the report's figures checked against the computation (and the ledger once the replay runs)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from solvent.cli.main import app
from solvent.engine.demo import DEMO_MODELS, DemoResult, demo_market, run_demo
from solvent.engine.demo_report import read_figures, write_report
from solvent.engine.margin import margin_accounts
from solvent.engine.venue_book import ARCHETYPES, FUNDING, generate_venue_book
from solvent.errors import SolventInputError
from solvent.margin.protocol import Detail
from solvent.market.deribit import load_embedded_chain
from solvent.portfolio.portfolio import SubAccountMode

ACCOUNTS = 150


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    result = run_demo(accounts=ACCOUNTS, seed=7)
    return replace(result, report=write_report(result, tmp_path_factory.mktemp("report")))


def test_venue_book_is_deterministic_and_funded() -> None:
    market = load_embedded_chain()
    a = generate_venue_book(market, 120, seed=3)
    b = generate_venue_book(market, 120, seed=3)
    c = generate_venue_book(market, 120, seed=4)
    assert a.accounts.accounts == b.accounts.accounts
    np.testing.assert_array_equal(a.accounts.position_quantity, b.accounts.position_quantity)
    np.testing.assert_array_equal(a.accounts.collateral, b.accounts.collateral)
    assert not np.array_equal(a.accounts.collateral, c.accounts.collateral)
    assert len(a.archetype) == len(a.accounts) == 120
    assert {k for k, _ in ARCHETYPES} >= set(a.archetype)
    # sub-accounts: a parent with a cross and an isolated child
    modes = {m for m in a.accounts.mode if m is not None}
    assert modes == {SubAccountMode.CROSS, SubAccountMode.ISOLATED}
    # funded to between FUNDING[0] and FUNDING[1] x the standard initial margin (haircuts and
    # rounding aside), so every unit starts healthy
    run = margin_accounts(a.accounts, market, "standard", detail=Detail.TOTALS)
    im = np.asarray(run.result.initial_margin_usd)
    funded = im > 100.0
    ratio = run.equity.equity_usd[funded] / im[funded]
    assert ratio.min() >= FUNDING[0] * 0.99
    assert FUNDING[0] < np.median(ratio) < FUNDING[1]  # above it: long options worth more
    assert set(run.state_code.tolist()) == {0}


def test_bad_size_refused() -> None:
    market = load_embedded_chain()
    for bad in (0, 5, -1, 10**7):
        with pytest.raises(SolventInputError, match="accounts"):
            generate_venue_book(market, bad)


def test_side_by_side_equals_each_model_alone(demo: DemoResult) -> None:
    side = demo.side
    assert len(side.models) == len(DEMO_MODELS)
    assert side.initial_margin_usd.shape == (len(side.units), len(DEMO_MODELS))
    assert np.all(side.initial_margin_usd >= side.maintenance_margin_usd - 1e-6)
    for j, (model, params) in enumerate(DEMO_MODELS):
        run = margin_accounts(demo.book.accounts, demo.market, model, params, detail=Detail.TOTALS)
        np.testing.assert_allclose(side.initial_margin_usd[:, j], run.result.initial_margin_usd)


def test_efficiency_adds_up(demo: DemoResult) -> None:
    side = demo.side
    kinds = np.asarray(side.archetype)
    for e in demo.efficiency:
        j = side.models.index(e.model)
        rows = np.ones(len(kinds), bool) if e.archetype == "all" else kinds == e.archetype
        assert e.units == rows.sum()
        assert e.model_usd == pytest.approx(side.initial_margin_usd[rows, j].sum())
        assert e.baseline_usd == pytest.approx(side.initial_margin_usd[rows, 0].sum())
        higher = side.initial_margin_usd[rows, j] > side.initial_margin_usd[rows, 0] * (1 + 1e-9)
        assert e.higher == higher.sum()


def test_every_higher_case_is_explained_in_one_line(demo: DemoResult) -> None:
    side = demo.side
    kinds = np.asarray(side.archetype)
    im = side.initial_margin_usd
    expected = set()
    for j, model in enumerate(side.models):
        if j == 0 or model == "derive-srm":
            continue
        for kind, _ in ARCHETYPES:
            if np.any((kinds == kind) & (im[:, j] > im[:, 0] * (1 + 1e-9))):
                expected.add((model, kind))
    got = {(e.model, e.archetype) for e in demo.explanations}
    assert got == expected and expected
    for e in demo.explanations:
        assert "\n" not in e.text
        assert e.model_usd > e.baseline_usd
        assert e.text.startswith(f"{e.account} ({e.archetype}): {e.model}")
    # a naked perpetual is where portfolio margin is higher: the scenario range against 2 %
    assert any(e.archetype == "leveraged-perp" and "PERPETUAL" in e.text for e in demo.explanations)


def test_report_figures_match_the_computation(demo: DemoResult) -> None:
    assert demo.report is not None and demo.report.name == "index.html"
    folder = demo.report.parent
    for png in ("vol_surface.png", "margin_by_model.png"):
        data = (folder / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    figures = read_figures(demo.report)
    side = demo.side
    assert figures["accounts"] == ACCOUNTS
    assert figures["margin_units"] == len(side.units)
    for j, model in enumerate(side.models):
        assert figures["initial_margin_usd"][model] == pytest.approx(
            side.initial_margin_usd[:, j].sum()
        )
    assert figures["explanations"] == [e.text for e in demo.explanations]
    html = demo.report.read_text()
    assert 'src="vol_surface.png"' in html and 'src="margin_by_model.png"' in html


def test_cli(tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["demo", "--accounts", "60", "--seed", "2", "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert "Capital efficiency" in result.stdout
    assert str(out / "index.html") in result.stdout.replace("\n", "")
    assert (out / "index.html").is_file()
    bad = CliRunner().invoke(app, ["demo", "--accounts", "3"])
    assert bad.exit_code == 2 and "--accounts" in bad.stderr
    not_dir = tmp_path / "file"
    not_dir.write_text("x")
    bad = CliRunner().invoke(app, ["demo", "--accounts", "60", "--out", str(not_dir)])
    assert bad.exit_code == 2 and "--out" in bad.stderr


def test_demo_market_has_depth_at_each_index() -> None:
    """The shipped Binance depth stands at every index, with the same USD depth."""
    market = demo_market()
    usd_depth = []
    for underlying, index in market.index.items():
        book = market.order_books[underlying]
        mid = 0.5 * (book.bid_prices[0] + book.ask_prices[0])
        assert mid == pytest.approx(index, rel=1e-9)
        assert np.all(np.diff(book.bid_prices) < 0) and np.all(np.diff(book.ask_prices) > 0)
        usd_depth.append(float((book.bid_sizes * book.bid_prices).sum()))
    assert len(usd_depth) == 2
    assert usd_depth[0] == pytest.approx(usd_depth[1], rel=1e-9)
