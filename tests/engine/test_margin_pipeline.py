"""The margin pipeline: cross sub-accounts, explain output, errors, every model wired in."""

from __future__ import annotations

import pytest

from helpers import BTC, market, portfolio
from solvent.engine.margin import margin_portfolios
from solvent.engine.views import report_to_json
from solvent.errors import SolventInputError
from solvent.margin.registry import model_names
from solvent.portfolio.portfolio import Portfolio, Position, SubAccountMode, parse_portfolio_or_book

SHORT_CALL = ("BTC-27MAR26-110000-C", -1.0)
LONG_CALL = ("BTC-27MAR26-110000-C", 1.0)


def _sub(
    account: str, parent: str, mode: SubAccountMode, *positions: tuple[str, float]
) -> Portfolio:
    return Portfolio(
        account, {}, tuple(Position(n, q) for n, q in positions), parent=parent, mode=mode
    )


def test_cross_sub_account_offsets_parent_isolated_does_not() -> None:
    parent = portfolio("p", SHORT_CALL, USDC=50_000.0)
    for mode, expect_offset in ((SubAccountMode.CROSS, True), (SubAccountMode.ISOLATED, False)):
        child = _sub("c", "p", mode, LONG_CALL)
        reports = margin_portfolios([parent, child], market(), "deribit-pm")
        if expect_offset:
            # the long call cancels the short call: the group carries no scenario risk
            assert reports[0].margin.initial_margin_usd == pytest.approx(0.0, abs=1e-9)
            assert reports[1].margin_group == "p"
            assert reports[1].equity_usd == pytest.approx(reports[0].equity_usd)
        else:
            assert reports[0].margin.initial_margin_usd > 1000.0
            assert reports[1].margin_group is None
            assert reports[1].collateral.value_usd == 0.0


def test_explain_contributions_add_up_to_the_worst_scenario() -> None:
    pf = portfolio("a", SHORT_CALL, ("BTC-27MAR26-90000-P", -2.0), ("BTC-PERPETUAL", 0.4))
    (report,) = margin_portfolios([pf], market(), "deribit-pm", explain=True)
    out = report_to_json(report, explain=True)
    pool = out["pools"][0]
    worst = pool["worst_scenario"]
    total = sum(c["pnl"] for c in pool["contributions"])
    assert total == pytest.approx(pool["scenarios"][worst["index"]]["pnl"], rel=1e-12)
    assert -total == pytest.approx(pool["components"]["worst_case"], rel=1e-12)
    assert len(pool["scenarios"]) == 35  # 27 standard + 8 extended


def test_equity_and_margin_ratio() -> None:
    pf = portfolio("a", ("BTC-PERPETUAL", 1.0), USDC=20_000.0)
    (report,) = margin_portfolios([pf], market(), "deribit-pm")
    out = report_to_json(report)
    assert out["equity_usd"] == pytest.approx(out["collateral_value_usd"])  # no options
    assert out["margin_ratio"] == pytest.approx(out["maintenance_margin_usd"] / out["equity_usd"])
    assert out["initial_margin_usd"] == pytest.approx((1 / 0.84 - 1 + 0.01) * BTC)


@pytest.mark.parametrize("model", ["standard", "deribit-pm", "span", "derive-pm"])
def test_every_scenario_model_margins_the_same_portfolio(model: str) -> None:
    pf = portfolio("a", SHORT_CALL, ("BTC-PERPETUAL", 0.25), USDC=10_000.0)
    (report,) = margin_portfolios([pf], market(), model)
    out = report_to_json(report)
    assert out["model"] == model
    assert out["initial_margin_usd"] >= out["maintenance_margin_usd"] > 0.0
    for pool in out["pools"]:
        assert set(pool) >= {"currency", "initial_margin", "maintenance_margin", "components"}


def test_derive_standard_manager_as_a_standard_parameter_set() -> None:
    pf = portfolio("a", SHORT_CALL, ("ETH-PERPETUAL", 2.0))
    (report,) = margin_portfolios([pf], market(), "standard", "derive-srm")
    assert report.margin.parameters.startswith("derive-srm@")
    assert report.margin.initial_margin_usd > report.margin.maintenance_margin_usd > 0.0


def test_errors_name_the_problem() -> None:
    with pytest.raises(SolventInputError, match="unknown model 'nope'"):
        margin_portfolios([portfolio("a")], market(), "nope")
    with pytest.raises(SolventInputError, match=r"positions\[0\].*no market data.*BTC-1JAN30"):
        margin_portfolios([portfolio("a", ("BTC-1JAN30", 1.0))], market(), "deribit-pm")
    with pytest.raises(SolventInputError, match=r"accounts\[1\]\.positions\[0\]\.quantity"):
        parse_portfolio_or_book(
            {
                "accounts": [
                    {"account": "a"},
                    {
                        "account": "b",
                        "positions": [{"instrument": "BTC-PERPETUAL", "quantity": "1"}],
                    },
                ]
            }
        )
    with pytest.raises(SolventInputError, match=r"accounts\[0\]\.parent"):
        parse_portfolio_or_book({"accounts": [{"account": "a", "parent": "zz"}]})


def test_model_names_cover_the_contract() -> None:
    assert set(model_names()) >= {"standard", "deribit-pm", "derive-pm", "span", "fhs-es", "simm"}


def test_derive_pm_explain_shares_add_up_and_pmrm1_variant() -> None:
    pf = portfolio("a", SHORT_CALL, ("BTC-27MAR26-90000-P", -1.0), ("BTC-PERPETUAL", 0.3))
    (report,) = margin_portfolios([pf], market(), "derive-pm", explain=True)
    (pool,) = report.margin.pools
    shares = [c.initial_margin for c in pool.contributions or ()]
    assert len(shares) == 3
    assert sum(shares) == pytest.approx(pool.initial_margin, rel=1e-4)  # type: ignore[arg-type]
    c = pool.components
    assert pool.initial_margin == pytest.approx(
        c["scenario_loss_im"] + c["mm_contingency"] + c["im_contingency"], rel=1e-12
    )
    (v1,) = margin_portfolios([pf], market(), "derive-pm", "derive-pmrm1")
    assert v1.margin.parameters.startswith("derive-pmrm1@")
    c1 = v1.margin.pools[0].components
    assert v1.margin.initial_margin_usd == pytest.approx(
        c1["scenario_loss_mm"] + c1["im_add_on"], rel=1e-12
    )
