"""The fhs-es requirement from the signed ES of its three scenario blocks (USD, each part >= 0).

::

    es              = max(ES_main, 0)
    stressed_period = max(0, w * (max(ES_stressed, 0) - es))             (overlay b, w > 0)
    floor           = max(0, max(ES_floor, 0) - es - stressed_period)    (overlay c)
    buffer          = b(ratio) * (es + stressed_period + floor)          (overlay a)

with ``b(ratio) = buffer_rate * clip((full - ratio) / (full - start), 0, 1)`` and ``ratio``
today's EWMA vol over the long-run vol. The model adds ``liquidity`` (order-book close-out).
Shared by the book-wide model and its backtest path, so both combine the blocks the same way.
"""

from __future__ import annotations

import numpy as np

from solvent.arrays import FloatArray
from solvent.margin.fhs_es.params import Overlays

COMPONENTS = ("es", "stressed_period", "floor", "buffer", "liquidity")
"""The additive components of the fhs-es initial margin, in report order."""

OVERLAY_VARIANTS: dict[str, Overlays] = {
    "none": Overlays(),
    "buffer": Overlays(buffer=True),
    "stressed_period": Overlays(stressed_weight=0.25),
    "floor": Overlays(floor=True),
    "all": Overlays(buffer=True, stressed_weight=0.25, floor=True),
}
"""The overlay variants a backtest reports (EMIR RTS 153/2013 art. 28 (a), (b), (c), all)."""


def buffer_fraction(overlays: Overlays, vol_ratio: float | FloatArray) -> FloatArray:
    """Buffer as a fraction of the margin: full below ``buffer_release_start``, linearly
    released to 0 at ``buffer_release_full`` (0 when the buffer overlay is off)."""
    if not overlays.buffer:
        return np.zeros_like(np.asarray(vol_ratio, dtype=np.float64))
    span = overlays.buffer_release_full - overlays.buffer_release_start
    left = np.clip((overlays.buffer_release_full - np.asarray(vol_ratio)) / span, 0.0, 1.0)
    out: FloatArray = overlays.buffer_rate * left
    return out


def combine(
    es: FloatArray,
    es_stressed: FloatArray,
    es_floor: FloatArray,
    overlays: Overlays,
    vol_ratio: float | FloatArray,
) -> dict[str, FloatArray]:
    """The ES-based components (all but liquidity) from the three blocks' signed ES (USD)."""
    base = np.maximum(es, 0.0)
    w = overlays.stressed_weight
    stressed = np.maximum(w * (np.maximum(es_stressed, 0.0) - base), 0.0)
    floor = (
        np.maximum(np.maximum(es_floor, 0.0) - base - stressed, 0.0)
        if overlays.floor
        else np.zeros_like(base)
    )
    buffer = buffer_fraction(overlays, vol_ratio) * (base + stressed + floor)
    return {"es": base, "stressed_period": stressed, "floor": floor, "buffer": buffer}
