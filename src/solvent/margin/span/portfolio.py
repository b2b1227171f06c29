"""A portfolio (docs/formats.md 2) read against a SPAN risk parameter file.

The portfolio's ``instrument`` names are product names of the file; the result is the signed
quantity vector over the file's products (``> 0`` long, ``< 0`` short, in the product's units).
Two positions in one product add up. Only ``account`` and ``positions`` are read; the other
portfolio fields (collateral, parent, mode, ...) play no part in a SPAN requirement.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from solvent.errors import SolventInputError
from solvent.files import read_json
from solvent.margin.span.risk_params import SpanRiskParameters


@dataclass(frozen=True, slots=True, eq=False)
class SpanPortfolio:
    """Signed quantities over the products of one risk parameter file (file order)."""

    account: str | None
    quantities: NDArray[np.float64]


def parse_span_portfolio(raw: Any, params: SpanRiskParameters) -> SpanPortfolio:
    """Validate a decoded portfolio and map its positions onto ``params``' products."""
    if not isinstance(raw, Mapping):
        raise SolventInputError("portfolio", "expected a JSON object")
    if "positions" not in raw:
        raise SolventInputError("positions", "missing required field")
    positions = raw["positions"]
    if not isinstance(positions, list):
        raise SolventInputError("positions", "expected a JSON array")
    account = raw.get("account")
    if account is not None and not isinstance(account, str):
        raise SolventInputError("account", f"expected a string, got {account!r}")
    index = params.table.index
    rows: list[int] = []
    amounts: list[float] = []
    for i, pos in enumerate(positions):
        path = f"positions[{i}]"
        if not isinstance(pos, Mapping):
            raise SolventInputError(path, "expected a JSON object")
        for key in ("instrument", "quantity"):
            if key not in pos:
                raise SolventInputError(f"{path}.{key}", "missing required field")
        name = pos["instrument"]
        if not isinstance(name, str):
            raise SolventInputError(f"{path}.instrument", f"expected a string, got {name!r}")
        if name not in index:
            raise SolventInputError(
                f"{path}.instrument", f"unknown product {name!r} (not in the risk parameter file)"
            )
        qty = pos["quantity"]
        if isinstance(qty, bool) or not isinstance(qty, int | float) or not math.isfinite(qty):
            raise SolventInputError(f"{path}.quantity", f"expected a finite number, got {qty!r}")
        rows.append(index[name])
        amounts.append(float(qty))
    quantities = np.zeros(len(params.table.names), dtype=np.float64)
    np.add.at(quantities, np.asarray(rows, dtype=np.intp), np.asarray(amounts, dtype=np.float64))
    return SpanPortfolio(account, quantities)


def load_span_portfolio(path: str | Path, params: SpanRiskParameters) -> SpanPortfolio:
    """Read a portfolio JSON file (docs/formats.md 2) whose instruments are ``params``' products."""
    return parse_span_portfolio(read_json(path, "portfolio"), params)
