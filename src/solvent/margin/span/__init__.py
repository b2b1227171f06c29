"""SPAN margin: the 16 standard scenarios, scan risk, tier spreads, inter-commodity credits, SOM.

Two sources of risk arrays:

- supplied: a risk parameter file (``SPAN.json``, docs/formats.md 6) read by
  :func:`load_span_params`, a portfolio mapped onto it by :func:`load_span_portfolio`, and the
  requirement computed by :func:`span_margin` (one portfolio) or :func:`span_book` (a book);
- computed for crypto instruments by full Black-76 revaluation: :func:`compute_risk_arrays` with
  a versioned parameter set (:func:`load_crypto_params`).

See docs/methodology/span.md.
"""

from solvent.margin.span.calc import (
    CombinedCommodityResult,
    SpanBookResult,
    SpanResult,
    account_result,
    span_book,
    span_margin,
)
from solvent.margin.span.portfolio import SpanPortfolio, load_span_portfolio, parse_span_portfolio
from solvent.margin.span.risk_params import (
    CombinedCommodity,
    InterLeg,
    InterSpread,
    IntraSpread,
    LegSide,
    SpanProduct,
    SpanRiskParameters,
    load_span_params,
    parse_span_params,
)
from solvent.margin.span.scenarios import LABELS, N_SCENARIOS, SCENARIOS, SpanScenario

__all__ = [
    "LABELS",
    "N_SCENARIOS",
    "SCENARIOS",
    "CombinedCommodity",
    "CombinedCommodityResult",
    "InterLeg",
    "InterSpread",
    "IntraSpread",
    "LegSide",
    "SpanBookResult",
    "SpanPortfolio",
    "SpanProduct",
    "SpanResult",
    "SpanRiskParameters",
    "SpanScenario",
    "account_result",
    "load_span_params",
    "load_span_portfolio",
    "parse_span_params",
    "parse_span_portfolio",
    "span_book",
    "span_margin",
]
