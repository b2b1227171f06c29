"""ISDA SIMM (v2.6, 10-day and 1-day calibrations) from a CRIF file.

>>> from solvent.margin.simm import load_crif, load_calibration, compute_simm
>>> result = compute_simm(load_crif("crif.csv"), load_calibration("2.6", 10))  # doctest: +SKIP
"""

from solvent.margin.simm.calibration import SimmCalibration, load_calibration
from solvent.margin.simm.crif import Crif, ProductClass, RiskType, load_crif, parse_crif
from solvent.margin.simm.model import (
    ProductClassMargin,
    RiskClassMargin,
    SimmResult,
    compute_simm,
)

__all__ = [
    "Crif",
    "ProductClass",
    "ProductClassMargin",
    "RiskClassMargin",
    "RiskType",
    "SimmCalibration",
    "SimmResult",
    "compute_simm",
    "load_calibration",
    "load_crif",
    "parse_crif",
]
