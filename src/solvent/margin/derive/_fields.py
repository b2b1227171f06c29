"""Derive parameter fields: each declares its upstream (Derive v2-core) name and its range.

:func:`param` is a dataclass field carrying a :func:`solvent.margin.params.number` declaration
whose alias is the upstream camelCase name, so a parameter file may use either spelling.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from solvent.margin.params import declared, number


def param(
    upstream: str,
    lo: float = -math.inf,
    hi: float = math.inf,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
    unit: str = "decimal",
) -> Any:
    """A float parameter field with its upstream name and its range ``[lo, hi]``.

    ``lo_open`` / ``hi_open`` make the corresponding bound strict.
    """
    spec = number(lo, hi, lo_open=lo_open, hi_open=hi_open, unit=unit, alias=upstream)
    return declared(spec, upstream=upstream)


def upstream_names(cls: type) -> dict[str, str]:
    """Map of our field name -> upstream Derive name for a parameter dataclass."""
    return {
        f.name: f.metadata["upstream"] for f in dataclasses.fields(cls) if "upstream" in f.metadata
    }
