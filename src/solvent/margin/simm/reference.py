"""SIMM of a book account by account: the reference path the vectorized model equals.

The original per-account path (one CRIF and one :func:`compute_simm` per account, Euler shares by
finite differences), kept to test :mod:`solvent.margin.simm.margin_model` against and to benchmark
it (``benchmarks/bench_simm.py``).

Each account's delta and vega become CRIF lines (:mod:`solvent.margin.simm.book_crif`) and go
through the SIMM aggregation (:func:`solvent.margin.simm.model.compute_simm`) with the calibration
of the parameter set (``simm-crypto``: 2.6-crypto, 1-day; ``simm-crypto-10d``; or a file).

One USD pool. Components: ``delta``, ``vega``, ``curvature`` of the Commodity risk class that
carries crypto, plus ``other_risk_classes`` (the psi-aggregated remainder; zero for a crypto
book): ``IM = delta + vega + curvature + other_risk_classes``; ``MM = mm_factor * IM``.
``--explain`` gives each position's Euler share of IM, ``q_i * dIM/dq_i`` by a central finite
difference (they add up to IM exactly when no concentration threshold binds).
"""

from __future__ import annotations

import numpy as np

from solvent.arrays import FloatArray
from solvent.margin.explain import euler_contributions
from solvent.margin.result import AccountMargin, BookMargin, PoolMargin
from solvent.margin.simm.book_crif import BookSensitivities
from solvent.margin.simm.calibration import SimmCalibration, load_calibration
from solvent.margin.simm.margin_model import load_params
from solvent.margin.simm.model import SimmResult, compute_simm
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.book import Book

MODEL_NAME = "simm"


def _components(result: SimmResult) -> dict[str, float]:
    parts = {"delta": 0.0, "vega": 0.0, "curvature": 0.0}
    commodity = 0.0
    for pc in result.product_classes:
        for name, rc in pc.risk_classes:
            if pc.name == "Commodity" and name == "Commodity":
                parts["delta"] += rc.delta
                parts["vega"] += rc.vega
                parts["curvature"] += rc.curvature + rc.base_corr
                commodity += rc.total
    parts["other_risk_classes"] = result.simm - commodity
    return parts


def _simm_of(book: Book, market: MarketSnapshot, calibration: SimmCalibration) -> FloatArray:
    sens = BookSensitivities(book, market)
    return np.array([compute_simm(sens.crif(i), calibration).simm for i in range(len(book))])


def margin_book(
    book: Book,
    market: MarketSnapshot,
    params: str | None = None,
    detail: bool = True,
    explain: bool = False,
) -> BookMargin:
    """SIMM of every account of ``book`` (one SIMM aggregation per account)."""
    p = load_params(params)
    calibration = load_calibration(p.simm_version, p.mpor_days)
    sens = BookSensitivities(book, market)
    n = len(book)
    im = np.zeros(n)
    details = []
    for a in range(n):
        result = compute_simm(sens.crif(a), calibration)
        im[a] = result.simm
        if detail:
            contributions = (
                euler_contributions(book, a, lambda b: _simm_of(b, market, calibration))
                if explain
                else None
            )
            pool = PoolMargin(
                currency="USD",
                initial_margin=result.simm,
                maintenance_margin=p.mm_factor * result.simm,
                components=_components(result),
                scenarios=() if explain else None,
                contributions=contributions,
            )
            pools = (pool,) if book.row(a)[0].size else ()
            details.append(
                AccountMargin(
                    book.accounts[a],
                    MODEL_NAME,
                    p.label,
                    pools,
                    float(im[a]),
                    float(p.mm_factor * im[a]),
                )
            )
    return BookMargin(
        MODEL_NAME, p.label, book.accounts, im, p.mm_factor * im, tuple(details) if detail else None
    )
