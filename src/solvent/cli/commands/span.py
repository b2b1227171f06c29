"""``solvent span PORTFOLIO --risk-params SPAN.json``: SPAN requirement from supplied risk arrays.

Output (docs/formats.md 6), one JSON object: ``currency``, ``combined_commodities`` (per held
combined commodity: ``scan_risk``, ``intra_spread_charge``, ``inter_spread_credit``,
``short_option_minimum``, ``requirement``), ``requirement`` (their sum). Optional extra fields:
``account``; per combined commodity ``initial_requirement`` (requirement x maintenance_to_initial),
``time_risk``, ``net_delta``, ``weighted_price_risk``, ``worst_scenario`` {index (0-based), label}
and ``net_option_value`` (when the file prices every held option); at the top level
``initial_requirement`` and ``net_option_value``. ``requirement`` is the maintenance requirement.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from solvent.cli.output import emit_json
from solvent.margin.span import (
    SpanResult,
    load_span_params,
    load_span_portfolio,
    span_margin,
)

_DECIMALS = 9  # printed amounts are rounded to 1e-9 of the currency (floating-point dust)


def _amount(x: float) -> float:
    return round(x, _DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0


def render_span_result(result: SpanResult, account: str | None = None) -> dict[str, Any]:
    """The docs/formats.md 6 output object of one SPAN result (plus the optional extra fields)."""
    ccs: dict[str, Any] = {}
    for cc in result.combined_commodities:
        entry: dict[str, Any] = {
            "scan_risk": _amount(cc.scan_risk),
            "intra_spread_charge": _amount(cc.intra_spread_charge),
            "inter_spread_credit": _amount(cc.inter_spread_credit),
            "short_option_minimum": _amount(cc.short_option_minimum),
            "requirement": _amount(cc.requirement),
            "initial_requirement": _amount(cc.initial_requirement),
            "time_risk": _amount(cc.time_risk),
            "net_delta": _amount(cc.net_delta),
            "weighted_price_risk": _amount(cc.weighted_price_risk),
            "worst_scenario": {"index": cc.worst_scenario, "label": cc.worst_scenario_label},
        }
        if cc.net_option_value is not None:
            entry["net_option_value"] = _amount(cc.net_option_value)
        ccs[cc.code] = entry
    out: dict[str, Any] = {}
    if account is not None:
        out["account"] = account
    out["currency"] = result.currency
    out["combined_commodities"] = ccs
    out["requirement"] = _amount(result.requirement)
    out["initial_requirement"] = _amount(result.initial_requirement)
    if result.net_option_value is not None:
        out["net_option_value"] = _amount(result.net_option_value)
    return out


def _run(portfolio: Path, risk_params: Path) -> dict[str, Any]:
    params = load_span_params(risk_params)
    book = load_span_portfolio(portfolio, params)
    return render_span_result(span_margin(params, book.quantities), book.account)


def register(app: typer.Typer) -> None:
    """Add the ``span`` command to ``app``."""

    @app.command("span")
    def span(
        portfolio: Annotated[Path, typer.Argument(help="Portfolio JSON (docs/formats.md 2).")],
        risk_params: Annotated[
            Path,
            typer.Option("--risk-params", help="SPAN risk parameter file (docs/formats.md 6)."),
        ],
    ) -> None:
        """SPAN requirement of PORTFOLIO from the supplied risk arrays (JSON on stdout)."""
        emit_json(_run(portfolio, risk_params))
