"""A crypto book as CRIF sensitivities, so ISDA SIMM margins the same portfolios as the scenario
models (``solvent margin --model simm``).

Per account, with the crypto calibration's convention (crypto carried in the Commodity risk
class, product class Commodity; bucket by asset, see ``calibrate_crypto.BUCKETS``):

- **Delta** (``Risk_Commodity``, qualifier = underlying): the USD value change for a 1 % relative
  rise of the underlying's price, ``0.01 * sum q * delta * F`` (Black delta for options, 1 for
  delta-1 contracts; an inverse contract's coin P&L valued in USD has the same first-order
  exposure as a linear one).
- **Vega** (``Risk_CommodityVol``, qualifier = underlying, Label1 = ISDA tenor): the USD value
  change for a 1 vol-point rise of the option's implied vol, ``q * vega / 100``, split between the
  two ISDA tenors around the option's expiry in proportion to the distance in days (all on the
  first or last tenor outside their range), as ISDA prescribes for vega bucketing.

Assets without a bucket in the calibration go to bucket 4 (alts), the widest non-stable bucket.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from solvent.margin.simm.calibrate_crypto import BUCKETS
from solvent.margin.simm.crif import PRODUCT_CLASSES, RISK_TYPES, Crif, ProductClass, RiskType
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.book import Book
from solvent.pricing.unit_greeks import unit_greeks

TENORS = ("2w", "1m", "3m", "6m", "1y", "2y", "3y", "5y", "10y", "15y", "20y", "30y")
TENOR_YEARS = np.array([14 / 365, 1 / 12, 0.25, 0.5, 1, 2, 3, 5, 10, 15, 20, 30], dtype=np.float64)
OTHER_BUCKET = "4"
_BUCKET_OF = {asset: b for b, assets in BUCKETS.items() for asset in assets}


def tenor_weights(time_years: NDArray[np.float64]) -> NDArray[np.float64]:
    """(n, 12) weights splitting each expiry between its two neighbouring ISDA tenors."""
    t = np.clip(time_years, TENOR_YEARS[0], TENOR_YEARS[-1])
    hi = np.clip(np.searchsorted(TENOR_YEARS, t, side="left"), 1, TENOR_YEARS.size - 1)
    lo = hi - 1
    w_hi = (t - TENOR_YEARS[lo]) / (TENOR_YEARS[hi] - TENOR_YEARS[lo])
    out = np.zeros((t.size, TENOR_YEARS.size))
    rows = np.arange(t.size)
    out[rows, lo] = 1.0 - w_hi
    out[rows, hi] += w_hi
    return out


def bucket_of(asset: str) -> str:
    return _BUCKET_OF.get(asset, OTHER_BUCKET)


class BookSensitivities:
    """Delta (accounts x underlyings) and vega (accounts x underlyings x tenors) of a book, USD."""

    def __init__(self, book: Book, market: MarketSnapshot) -> None:
        table = market.table(book.instruments, "positions")
        cols = market.columns(table)
        g = unit_greeks(table, cols)
        delta_1pct = 0.01 * g.delta * cols.forward
        vega_1pt = g.vega / 100.0
        n_u, n_t = len(table.underlyings), TENOR_YEARS.size
        rows = np.arange(len(table))
        to_underlying = sp.csr_array(
            (delta_1pct, (rows, table.underlying_code)), shape=(len(table), n_u)
        )
        weights = tenor_weights(cols.time) * vega_1pt[:, None]
        cols_vt = table.underlying_code[:, None] * n_t + np.arange(n_t)[None, :]
        to_vega = sp.csr_array(
            (weights.ravel(), (np.repeat(rows, n_t), cols_vt.ravel())),
            shape=(len(table), n_u * n_t),
        )
        self.underlyings = table.underlyings
        self.delta = (book.quantities @ to_underlying).toarray()
        self.vega = (book.quantities @ to_vega).toarray().reshape(len(book), n_u, n_t)

    def crif(self, account: int) -> Crif:
        """The account's CRIF lines (non-zero sensitivities only)."""
        u_idx = np.flatnonzero(self.delta[account] != 0.0)
        vu, vt = np.nonzero(self.vega[account] != 0.0)
        n_d, n_v = u_idx.size, vu.size
        names = np.array(self.underlyings, dtype=np.str_)
        qualifier = np.concatenate([names[u_idx], names[vu]]) if n_d + n_v else np.array([], str)
        return Crif(
            product_class=np.full(n_d + n_v, PRODUCT_CLASSES.index(ProductClass.COMMODITY)),
            risk_type=np.concatenate(
                [
                    np.full(n_d, RISK_TYPES.index(RiskType.COMMODITY)),
                    np.full(n_v, RISK_TYPES.index(RiskType.COMMODITY_VOL)),
                ]
            ).astype(np.int64),
            qualifier=qualifier.astype(np.str_),
            bucket=np.array([bucket_of(str(q)) for q in qualifier], dtype=np.str_),
            label1=np.concatenate(
                [np.full(n_d, "", dtype="<U3"), np.array(TENORS, dtype=np.str_)[vt]]
            ).astype(np.str_),
            label2=np.full(n_d + n_v, "", dtype=np.str_),
            amount_usd=np.concatenate([self.delta[account, u_idx], self.vega[account, vu, vt]]),
            line=np.arange(2, n_d + n_v + 2, dtype=np.int64),
        )
