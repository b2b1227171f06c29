"""CRIF (ISDA Common Risk Interchange Format) loader: a CSV with a header row -> numpy columns.

Columns used: ``ProductClass, RiskType, Qualifier, Bucket, Label1, Label2, Amount,
AmountCurrency, AmountUSD`` (extra columns are ignored). The amount used is ``AmountUSD``; when
that cell is empty, ``Amount`` is used if ``AmountCurrency`` is USD. Amounts keep the CRIF sign
(the "call" side: sensitivities of the portfolio whose margin is computed).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np
import numpy.typing as npt

from solvent.errors import SolventInputError
from solvent.files import csv_rows, read_text
from solvent.validation import shown

REQUIRED_COLUMNS: tuple[str, ...] = (
    "ProductClass",
    "RiskType",
    "Qualifier",
    "Bucket",
    "Label1",
    "Label2",
    "Amount",
    "AmountCurrency",
    "AmountUSD",
)


class ProductClass(Enum):
    """ISDA SIMM product classes (the order is the output order)."""

    RATES_FX = "RatesFX"
    CREDIT = "Credit"
    EQUITY = "Equity"
    COMMODITY = "Commodity"


class RiskType(Enum):
    """CRIF risk types supported (``Risk_`` prefix in the file)."""

    IR_CURVE = "Risk_IRCurve"
    INFLATION = "Risk_Inflation"
    XCCY_BASIS = "Risk_XCcyBasis"
    IR_VOL = "Risk_IRVol"
    INFLATION_VOL = "Risk_InflationVol"
    CREDIT_Q = "Risk_CreditQ"
    CREDIT_NON_Q = "Risk_CreditNonQ"
    CREDIT_VOL = "Risk_CreditVol"
    CREDIT_VOL_NON_Q = "Risk_CreditVolNonQ"
    BASE_CORR = "Risk_BaseCorr"
    EQUITY = "Risk_Equity"
    EQUITY_VOL = "Risk_EquityVol"
    COMMODITY = "Risk_Commodity"
    COMMODITY_VOL = "Risk_CommodityVol"
    FX = "Risk_FX"
    FX_VOL = "Risk_FXVol"


PRODUCT_CLASSES: tuple[ProductClass, ...] = tuple(ProductClass)
RISK_TYPES: tuple[RiskType, ...] = tuple(RiskType)
_PC_INDEX = {pc.value.lower(): i for i, pc in enumerate(PRODUCT_CLASSES)}
_RT_INDEX = {rt.value.lower(): i for i, rt in enumerate(RISK_TYPES)}

StrArray = npt.NDArray[np.str_]


@dataclass(frozen=True)
class Crif:
    """A CRIF as columns: one entry per line; ``product_class``/``risk_type`` are enum indices
    into :data:`PRODUCT_CLASSES`/:data:`RISK_TYPES`; ``amount_usd`` in USD; ``line`` is the
    1-based line number in the source file (header = line 1) for error messages."""

    product_class: npt.NDArray[np.int64]
    risk_type: npt.NDArray[np.int64]
    qualifier: StrArray
    bucket: StrArray
    label1: StrArray
    label2: StrArray
    amount_usd: npt.NDArray[np.float64]
    line: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.amount_usd.shape[0])

    def select(self, mask: npt.NDArray[np.bool_]) -> Crif:
        """The lines where ``mask`` is true."""
        return Crif(
            self.product_class[mask],
            self.risk_type[mask],
            self.qualifier[mask],
            self.bucket[mask],
            self.label1[mask],
            self.label2[mask],
            self.amount_usd[mask],
            self.line[mask],
        )


MAX_AMOUNT_USD = 1e15
"""Largest absolute sensitivity amount accepted (USD): SIMM squares and sums amounts, and 1e15
keeps every intermediate figure finite (docs/formats.md, "Validation rules")."""


def _parse_amount(text: str, field: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SolventInputError(field, f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise SolventInputError(field, f"not a finite number: {text!r}")
    if abs(value) > MAX_AMOUNT_USD:
        raise SolventInputError(
            field, f"{text!r} is beyond the largest amount accepted ({MAX_AMOUNT_USD:g} USD)"
        )
    return value


def parse_crif(text: str, source: str = "crif") -> Crif:
    """Parse CRIF CSV text (comma, tab or semicolon separated) into a :class:`Crif`.

    Raises :class:`SolventInputError` naming ``<source>[line].<Column>`` for a missing column,
    an unknown product class or risk type, or an amount that is not a finite number.
    """
    first = text.split("\n", 1)[0]
    delimiter = max((",", "\t", ";"), key=first.count)
    table = csv_rows(io.StringIO(text), source, source, delimiter)
    if not table:
        raise SolventInputError(source, "empty file (expected a CRIF header row)")
    header = [h.strip() for h in table[0]]
    header = [h.lstrip("\ufeff") for h in header]
    col = {name: i for i, name in enumerate(header)}
    for name in REQUIRED_COLUMNS:
        if name not in col:
            raise SolventInputError(f"{source}.{name}", "missing column in the header row")
    idx = [col[name] for name in REQUIRED_COLUMNS]
    width = max(idx) + 1

    rows: list[list[str]] = []
    lines: list[int] = []
    for lineno, row in enumerate(table[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) < width:
            row = row + [""] * (width - len(row))
        rows.append([row[i].strip() for i in idx])
        lines.append(lineno)
    n = len(rows)
    cols = np.array(rows, dtype=np.str_).reshape(n, len(REQUIRED_COLUMNS))
    line = np.asarray(lines, dtype=np.int64)

    def codes(j: int, table: dict[str, int], name: str) -> npt.NDArray[np.int64]:
        uniq, inverse = np.unique(np.char.lower(cols[:, j]), return_inverse=True)
        out = np.empty(len(uniq), dtype=np.int64)
        for k, u in enumerate(uniq.tolist()):
            if u not in table:
                bad = int(np.flatnonzero(inverse.reshape(-1) == k)[0])
                raise SolventInputError(
                    f"{source}[{line[bad]}].{name}",
                    f"unknown {name} {shown(cols[bad, j])} (supported: "
                    + ", ".join(
                        (pc.value for pc in PRODUCT_CLASSES)
                        if name == "ProductClass"
                        else (rt.value for rt in RISK_TYPES)
                    )
                    + ")",
                )
            out[k] = table[u]
        return out[inverse.reshape(-1)]

    product_class = codes(0, _PC_INDEX, "ProductClass")
    risk_type = codes(1, _RT_INDEX, "RiskType")

    usd_col, amt_col, ccy_col = cols[:, 8], cols[:, 6], cols[:, 7]
    use_amount = (usd_col == "") & (np.char.upper(ccy_col) == "USD")
    text_amount = np.where(use_amount, amt_col, usd_col)
    try:
        amount = text_amount.astype(np.float64)
        ok = bool(np.all(np.abs(amount) <= MAX_AMOUNT_USD))  # NaN fails too
    except ValueError:
        ok = False
    if not ok:  # find and name the first bad cell
        for i in range(n):
            column = "Amount" if use_amount[i] else "AmountUSD"
            if not text_amount[i]:
                raise SolventInputError(
                    f"{source}[{line[i]}].AmountUSD",
                    "empty (give AmountUSD, or Amount with AmountCurrency USD)",
                )
            _parse_amount(str(text_amount[i]), f"{source}[{line[i]}].{column}")
    return Crif(
        product_class=product_class,
        risk_type=risk_type,
        qualifier=cols[:, 2].copy(),
        bucket=cols[:, 3].copy(),
        label1=cols[:, 4].copy(),
        label2=cols[:, 5].copy(),
        amount_usd=amount,
        line=line,
    )


def load_crif(path: Path | str) -> Crif:
    """Read and parse the CRIF CSV file at ``path`` (see :func:`parse_crif`)."""
    p = Path(path)
    return parse_crif(read_text(p, "crif"), source=p.name)
