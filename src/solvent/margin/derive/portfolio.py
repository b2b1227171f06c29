"""Inputs of Derive's margin managers: one market (underlying) and the account's balances in it.

Units and signs (as in Derive v2): amounts are signed units of the underlying (> 0 long); prices,
strikes, forwards and cash in USD (the stable the account is margined in, priced at
``stable_price`` USD); vols decimals; ``sec_to_expiry`` seconds (years = sec / 31,536,000);
rates decimals, continuously compounded; confidences in [0, 1] (1 = the oracle is fully confident;
below the model's threshold a confidence charge applies).

- :class:`DeriveMarket` holds one underlying: spot (index) and its confidence, the perp (position,
  mark price, unsettled value), the base-asset balance (PMRM v1 and SRM), the option expiries and
  the options as columns (:class:`DeriveOptions`).
- :class:`DerivePortfolio` is one PMRM sub-account: cash, stable price, one market, and the extra
  collaterals (PMRM_2).
- :class:`DeriveSRMPortfolio` is one Standard Manager sub-account: cash, stable price and any
  number of markets.

:func:`market_from_arrays` builds a :class:`DeriveMarket` from generic instrument arrays.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from solvent.arrays import BoolArray, FloatArray, IntArray
from solvent.errors import SolventInputError
from solvent.validation import shown

SECONDS_PER_YEAR = 31_536_000.0
SECONDS_PER_DAY = 86_400.0


def _finite(value: float, path: str) -> float:
    v = float(value)
    if not math.isfinite(v):
        raise SolventInputError(path, f"must be a finite number, got {value!r}")
    return v


def _conf(value: float, path: str) -> float:
    v = _finite(value, path)
    if not 0.0 <= v <= 1.0:
        raise SolventInputError(path, f"a confidence must lie in [0, 1], got {v!r}")
    return v


def _positive(value: float, path: str) -> float:
    v = _finite(value, path)
    if v <= 0.0:
        raise SolventInputError(path, f"must be > 0, got {v!r}")
    return v


def _nonneg(value: float, path: str) -> float:
    v = _finite(value, path)
    if v < 0.0:
        raise SolventInputError(path, f"must be >= 0, got {v!r}")
    return v


@dataclass(frozen=True, slots=True)
class DeriveExpiry:
    """One option expiry as the manager sees it.

    ``forward_fixed`` + ``forward_variable`` = the forward (USD). Near expiry Derive's forward feed
    splits it: the fixed part is the settlement TWAP already accumulated, and only the variable
    part moves with the spot in scenarios. Far from expiry ``forward_fixed`` = 0.
    ``vol_confidence`` is the lowest confidence of the vol feed over the expiry's options.
    """

    sec_to_expiry: float
    forward_fixed: float
    forward_variable: float
    forward_confidence: float = 1.0
    rate: float = 0.0
    rate_confidence: float = 1.0
    vol_confidence: float = 1.0

    @property
    def forward(self) -> float:
        return self.forward_fixed + self.forward_variable

    def validate(self, path: str) -> None:
        _nonneg(self.sec_to_expiry, f"{path}.sec_to_expiry")
        _nonneg(self.forward_fixed, f"{path}.forward_fixed")
        _nonneg(self.forward_variable, f"{path}.forward_variable")
        _finite(self.rate, f"{path}.rate")
        _conf(self.forward_confidence, f"{path}.forward_confidence")
        _conf(self.rate_confidence, f"{path}.rate_confidence")
        _conf(self.vol_confidence, f"{path}.vol_confidence")

    @staticmethod
    def from_forward(sec_to_expiry: float, forward: float, **kw: float) -> DeriveExpiry:
        """An expiry whose forward moves wholly with the spot (``forward_fixed`` = 0)."""
        return DeriveExpiry(sec_to_expiry, 0.0, forward, **kw)


@dataclass(frozen=True, slots=True)
class DeriveOptions:
    """The options of one market as columns (one row per option series held).

    ``expiry_index`` points into :attr:`DeriveMarket.expiries`; ``strike`` USD; ``is_call``;
    ``amount`` signed units (> 0 long); ``vol`` the mark vol (decimal) of that series.
    """

    expiry_index: IntArray
    strike: FloatArray
    is_call: BoolArray
    amount: FloatArray
    vol: FloatArray

    @staticmethod
    def empty() -> DeriveOptions:
        return DeriveOptions.from_columns([], [], [], [], [])

    @staticmethod
    def from_columns(
        expiry_index: ArrayLike,
        strike: ArrayLike,
        is_call: ArrayLike,
        amount: ArrayLike,
        vol: ArrayLike,
    ) -> DeriveOptions:
        return DeriveOptions(
            expiry_index=np.asarray(expiry_index, dtype=np.int64).reshape(-1),
            strike=np.asarray(strike, dtype=np.float64).reshape(-1),
            is_call=np.asarray(is_call, dtype=np.bool_).reshape(-1),
            amount=np.asarray(amount, dtype=np.float64).reshape(-1),
            vol=np.asarray(vol, dtype=np.float64).reshape(-1),
        )

    def __len__(self) -> int:
        return int(self.amount.shape[0])

    def validate(self, n_expiries: int, path: str) -> None:
        n = len(self)
        for name in ("expiry_index", "strike", "is_call", "vol"):
            if getattr(self, name).shape != (n,):
                raise SolventInputError(f"{path}.{name}", f"must have {n} entries like amount")
        if n == 0:
            return
        bad = np.flatnonzero((self.expiry_index < 0) | (self.expiry_index >= n_expiries))
        if bad.size:
            raise SolventInputError(
                f"{path}[{bad[0]}].expiry_index", f"no such expiry (have {n_expiries})"
            )
        for name, lo in (("strike", 0.0), ("vol", 0.0)):
            col = getattr(self, name)
            bad = np.flatnonzero(~np.isfinite(col) | (col < lo))
            if bad.size:
                raise SolventInputError(f"{path}[{bad[0]}].{name}", f"must be finite and >= {lo}")
        bad = np.flatnonzero(~np.isfinite(self.amount))
        if bad.size:
            raise SolventInputError(f"{path}[{bad[0]}].amount", "must be finite")


@dataclass(frozen=True, slots=True)
class DeriveMarket:
    """One underlying: spot, perp, base balance, option expiries and options.

    ``perp_value`` is the perp's unsettled cash (unrealised P&L against the last settlement mark
    plus unrealised funding), USD; it adds to the mark-to-market. ``base_position`` (units of the
    underlying held spot) is used by PMRM v1 and the Standard Manager; PMRM_2 takes the base asset
    as a collateral instead.
    """

    spot: float
    spot_confidence: float = 1.0
    perp_position: float = 0.0
    perp_price: float = 0.0
    perp_confidence: float = 1.0
    perp_value: float = 0.0
    base_position: float = 0.0
    expiries: tuple[DeriveExpiry, ...] = ()
    options: DeriveOptions = field(default_factory=DeriveOptions.empty)
    name: str = ""

    def validate(self, path: str) -> None:
        _positive(self.spot, f"{path}.spot")
        _conf(self.spot_confidence, f"{path}.spot_confidence")
        _finite(self.perp_position, f"{path}.perp_position")
        _finite(self.perp_value, f"{path}.perp_value")
        _finite(self.base_position, f"{path}.base_position")
        _conf(self.perp_confidence, f"{path}.perp_confidence")
        if self.perp_position != 0.0:
            _positive(self.perp_price, f"{path}.perp_price")
        for i, e in enumerate(self.expiries):
            e.validate(f"{path}.expiries[{i}]")
        self.options.validate(len(self.expiries), f"{path}.options")

    def expiry_arrays(self) -> dict[str, FloatArray]:
        """Per-expiry columns: sec, fixed, variable, rate and the three confidences."""

        def col(attr: str) -> FloatArray:
            return np.array([getattr(e, attr) for e in self.expiries], dtype=np.float64)

        return {
            "sec": col("sec_to_expiry"),
            "fixed": col("forward_fixed"),
            "variable": col("forward_variable"),
            "rate": col("rate"),
            "fwd_conf": col("forward_confidence"),
            "rate_conf": col("rate_confidence"),
            "vol_conf": col("vol_confidence"),
        }


@dataclass(frozen=True, slots=True)
class DeriveCollateral:
    """A collateral balance: ``amount`` units priced at ``price`` USD with oracle ``confidence``.

    Its haircuts and whether it is risk-cancelling are manager parameters
    (:class:`solvent.margin.derive.params.CollateralSpec`), looked up by ``name``.
    """

    name: str
    amount: float
    price: float
    confidence: float = 1.0

    def validate(self, path: str) -> None:
        _finite(self.amount, f"{path}.amount")
        _nonneg(self.price, f"{path}.price")
        _conf(self.confidence, f"{path}.confidence")


@dataclass(frozen=True, slots=True)
class DerivePortfolio:
    """One PMRM sub-account: cash (USD stable units), the stable's USD price, one market.

    ``collaterals`` are PMRM_2's extra collateral assets (valued at amount * price / stable_price).
    """

    market: DeriveMarket
    cash: float = 0.0
    stable_price: float = 1.0
    collaterals: tuple[DeriveCollateral, ...] = ()

    def validate(self) -> None:
        _finite(self.cash, "cash")
        _positive(self.stable_price, "stable_price")
        self.market.validate("market")
        for i, c in enumerate(self.collaterals):
            c.validate(f"collaterals[{i}]")


@dataclass(frozen=True, slots=True)
class DeriveSRMPortfolio:
    """One Standard Manager sub-account: cash, stable price and any number of markets."""

    markets: tuple[DeriveMarket, ...]
    cash: float = 0.0
    stable_price: float = 1.0

    def validate(self) -> None:
        _finite(self.cash, "cash")
        _positive(self.stable_price, "stable_price")
        for i, m in enumerate(self.markets):
            m.validate(f"markets[{i}]")


def market_from_arrays(
    *,
    spot: float,
    kind: Sequence[str],
    expiry_sec: ArrayLike,
    strike: ArrayLike,
    is_call: ArrayLike,
    quantity: ArrayLike,
    forward: ArrayLike,
    iv: ArrayLike,
    perp_mark: float | None = None,
    perp_value: float = 0.0,
    rate: float | ArrayLike = 0.0,
    spot_confidence: float = 1.0,
    forward_confidence: float | ArrayLike = 1.0,
    vol_confidence: float | ArrayLike = 1.0,
    perp_confidence: float = 1.0,
    settlement_window_sec: float = 1800.0,
    name: str = "",
) -> DeriveMarket:
    """Build one underlying's :class:`DeriveMarket` from generic per-instrument arrays.

    One row per held instrument of this underlying. ``kind`` is ``"option"``, ``"perpetual"`` or
    ``"spot"`` (a base-asset balance). For options: ``expiry_sec`` seconds to expiry, ``strike``
    USD, ``is_call``, ``forward`` USD (of that expiry), ``iv`` decimal; ``quantity`` signed units.
    Perpetual rows add their quantity to the perp position (priced at ``perp_mark``, default the
    spot); spot rows add to ``base_position`` (PMRM v1 and the Standard Manager; PMRM_2 takes the
    base asset as a :class:`DeriveCollateral` and refuses a non-zero ``base_position``). Other
    columns are ignored on non-option rows (pass 0 / NaN). Rows of the same option series may
    repeat; amounts add up.

    Inputs Derive needs that a plain market snapshot may lack, and the defaults chosen here:

    - oracle confidences (``spot_confidence``, ``forward_confidence``, ``vol_confidence``,
      ``perp_confidence``): default 1 (fully confident, so no confidence charge);
    - the rate per expiry: default 0 (Derive floors rates at 0 anyway), so discount = 1;
    - the fixed/variable split of the forward near expiry: Derive's feed treats the last
      ``settlement_window_sec`` (30 min) as a TWAP window; we use its test-fixture convention
      fixed = F (1800 - s)/1800, variable = F s/1800 for s < 1800 s, else all variable;
    - the perp's unsettled value (unrealised P&L since the last settlement + funding):
      ``perp_value``, default 0 (i.e. the perp was just settled at ``perp_mark``);
    - spot vs forward: each expiry keeps its own forward, and the spot shock multiplies it, so the
      spot/forward divergence is what the snapshot implies.
    Expiries are keyed by ``expiry_sec``; the first forward seen per expiry is used.
    """
    kinds = np.asarray(list(kind), dtype=object)
    n = kinds.shape[0]

    def fcol(x: ArrayLike, label: str) -> FloatArray:
        a: FloatArray = np.asarray(x, dtype=np.float64).reshape(-1)
        if a.shape[0] == 1 and n != 1:
            a = np.repeat(a, n)
        if a.shape[0] != n:
            raise SolventInputError(label, f"must have {n} entries like kind")
        return a

    qty = fcol(quantity, "quantity")
    unknown = np.flatnonzero(~np.isin(kinds, ["option", "perpetual", "spot"]))
    if unknown.size:
        bad = int(unknown[0])
        raise SolventInputError(f"kind[{bad}]", f"unknown instrument kind {shown(kinds[bad])}")
    is_opt = kinds == "option"
    perp_pos = float(qty[kinds == "perpetual"].sum())
    base_pos = float(qty[kinds == "spot"].sum())
    sec = fcol(expiry_sec, "expiry_sec")[is_opt]
    fwd = fcol(forward, "forward")[is_opt]
    k = fcol(strike, "strike")[is_opt]
    cp = fcol(np.asarray(is_call, dtype=np.float64), "is_call")[is_opt] != 0.0
    vol = fcol(iv, "iv")[is_opt]
    q = qty[is_opt]
    rate_a = fcol(rate, "rate")[is_opt]
    fconf = fcol(forward_confidence, "forward_confidence")[is_opt]
    vconf = fcol(vol_confidence, "vol_confidence")[is_opt]
    uniq, first, inv = np.unique(sec, return_index=True, return_inverse=True)
    expiries = []
    for j, s in enumerate(uniq):
        f = float(fwd[first[j]])
        in_e = inv == j
        fixed = (
            f * (settlement_window_sec - s) / settlement_window_sec
            if s < settlement_window_sec
            else 0.0
        )
        expiries.append(
            DeriveExpiry(
                sec_to_expiry=float(s),
                forward_fixed=max(fixed, 0.0),
                forward_variable=f - max(fixed, 0.0),
                forward_confidence=float(fconf[in_e].min()),
                rate=float(rate_a[first[j]]),
                vol_confidence=float(vconf[in_e].min()),
            )
        )
    market = DeriveMarket(
        spot=spot,
        spot_confidence=spot_confidence,
        perp_position=perp_pos,
        perp_price=float(perp_mark if perp_mark is not None else spot),
        perp_confidence=perp_confidence,
        perp_value=perp_value,
        base_position=base_pos,
        expiries=tuple(expiries),
        options=DeriveOptions.from_columns(inv, k, cp, q, vol),
        name=name,
    )
    market.validate("market")
    return market
