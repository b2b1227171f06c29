"""Derive (ex-Lyra) v2 margin managers, reimplemented from their published rules and validated
against the upstream test vectors (docs/methodology/derive.md).

- :func:`pmrm2_margin`: portfolio margin PMRM_2 (model ``derive-pm``; sets ``derive-pm``,
  ``derive-pm-mainnet``);
- :func:`pmrm1_margin`: the older PMRM v1 (sets ``derive-pmrm1``, ``derive-pmrm1-mainnet``);
- :func:`srm_margin`: the Standard Manager (model ``derive-srm``, also ``--model standard
  --params derive-srm``; sets ``derive-srm``, ``derive-srm-mainnet``).

These margin one Derive sub-account; the models (:mod:`solvent.margin.derive.model`,
:mod:`solvent.margin.derive.srm_model`) margin a whole book at once with
:mod:`solvent.margin.derive.book_pm` and :mod:`solvent.margin.derive.book_srm`.

Margins follow Derive's sign: equity minus requirement (>= 0 passes); the results also expose the
positive requirements (``im_requirement``, ``mm_requirement``).
"""

from solvent.margin.derive.params import (
    CollateralSpec,
    PMRM1Params,
    PMRM2Params,
    Scenario,
    SRMParams,
    VolShock,
    load_pmrm1_params,
    load_pmrm2_params,
    load_srm_params,
)
from solvent.margin.derive.pmrm1 import PMRM1Result, pmrm1_margin
from solvent.margin.derive.pmrm2 import PMRM2Result, pmrm2_margin
from solvent.margin.derive.portfolio import (
    DeriveCollateral,
    DeriveExpiry,
    DeriveMarket,
    DeriveOptions,
    DerivePortfolio,
    DeriveSRMPortfolio,
    market_from_arrays,
)
from solvent.margin.derive.srm import SRMResult, srm_margin

__all__ = [
    "CollateralSpec",
    "DeriveCollateral",
    "DeriveExpiry",
    "DeriveMarket",
    "DeriveOptions",
    "DerivePortfolio",
    "DeriveSRMPortfolio",
    "PMRM1Params",
    "PMRM1Result",
    "PMRM2Params",
    "PMRM2Result",
    "SRMParams",
    "SRMResult",
    "Scenario",
    "VolShock",
    "load_pmrm1_params",
    "load_pmrm2_params",
    "load_srm_params",
    "market_from_arrays",
    "pmrm1_margin",
    "pmrm2_margin",
    "srm_margin",
]
