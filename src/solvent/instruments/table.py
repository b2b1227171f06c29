"""The columnar instrument table: contract terms as numpy arrays, one row per instrument.

Kernels and risk arrays work on these columns, never on per-instrument objects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
from numpy.typing import NDArray

from solvent.instruments.terms import Instrument, InstrumentKind

KIND_CODES: Mapping[InstrumentKind, int] = MappingProxyType(
    {
        InstrumentKind.SPOT: 0,
        InstrumentKind.FUTURE: 1,
        InstrumentKind.PERPETUAL: 2,
        InstrumentKind.OPTION: 3,
    }
)


@dataclass(frozen=True, slots=True)
class InstrumentTable:
    """Terms of ``names`` as columns.

    ``kind``: codes of :data:`KIND_CODES`; ``is_option``, ``is_inverse``, ``is_call`` booleans
    (``is_call`` False for non-options); ``strike`` USD (NaN for non-options); ``contract_size``
    units of underlying per contract; ``underlying_code`` indexes ``underlyings``;
    ``settlement_code`` indexes ``settlement_assets``.
    """

    names: tuple[str, ...]
    instruments: tuple[Instrument, ...]
    kind: NDArray[np.int8]
    is_option: NDArray[np.bool_]
    is_inverse: NDArray[np.bool_]
    is_call: NDArray[np.bool_]
    strike: NDArray[np.float64]
    contract_size: NDArray[np.float64]
    underlyings: tuple[str, ...]
    underlying_code: NDArray[np.intp]
    settlement_assets: tuple[str, ...]
    settlement_code: NDArray[np.intp]

    def __len__(self) -> int:
        return len(self.names)

    @classmethod
    def from_instruments(cls, instruments: Sequence[Instrument]) -> InstrumentTable:
        underlyings = tuple(sorted({i.underlying for i in instruments}))
        settlements = tuple(sorted({i.settlement_asset for i in instruments}))
        u_pos = {u: k for k, u in enumerate(underlyings)}
        s_pos = {s: k for k, s in enumerate(settlements)}
        n = len(instruments)
        return cls(
            names=tuple(i.name for i in instruments),
            instruments=tuple(instruments),
            kind=np.fromiter((KIND_CODES[i.kind] for i in instruments), np.int8, n),
            is_option=np.fromiter((i.is_option for i in instruments), np.bool_, n),
            is_inverse=np.fromiter((i.is_inverse for i in instruments), np.bool_, n),
            is_call=np.fromiter((i.option_type == "call" for i in instruments), np.bool_, n),
            strike=np.fromiter(
                (np.nan if i.strike is None else i.strike for i in instruments), np.float64, n
            ),
            contract_size=np.fromiter((i.contract_size for i in instruments), np.float64, n),
            underlyings=underlyings,
            underlying_code=np.fromiter((u_pos[i.underlying] for i in instruments), np.intp, n),
            settlement_assets=settlements,
            settlement_code=np.fromiter(
                (s_pos[i.settlement_asset] for i in instruments), np.intp, n
            ),
        )
