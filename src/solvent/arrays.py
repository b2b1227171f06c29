"""The numpy array aliases every module annotates with (one definition each)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
"""A float64 array; the unit is the one the annotated name states."""

IntArray = NDArray[np.int64]
"""An int64 array (indices, counts or base-unit integers)."""

BoolArray = NDArray[np.bool_]
"""A boolean mask."""
