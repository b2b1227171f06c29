"""``--model derive-srm``: Derive's Standard Manager (:mod:`solvent.margin.derive.srm`).

Also reachable as ``--model standard --params derive-srm`` (the public alias, see
:func:`solvent.margin.registry.resolve_alias`).
"""

from __future__ import annotations

from solvent.margin.derive.model import srm_margin_book
from solvent.margin.protocol import LegacyModel

MODEL = LegacyModel("derive-srm", "Derive v2 Standard Manager (per-market rules)", srm_margin_book)
