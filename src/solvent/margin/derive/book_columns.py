"""A Solvent book seen as Derive sub-accounts, as arrays (shared by derive-pm and derive-srm).

The mapping is the one of :mod:`solvent.margin.derive.reference` (module docstring there), done
once per market for every instrument (:class:`DeriveColumns`) and once per book for every
position (:class:`BookPositions`), instead of once per account:

- each instrument belongs to one underlying (a Derive market); its spot is the oracle index of
  that underlying (USD);
- options enter as Derive options of ``q * contract_size`` units; perpetuals and dated futures as
  perpetual-equivalent units ``q * F / spot * contract_size`` (same USD notional); spot as the
  base asset ``q * contract_size``;
- an option's expiry is ``time * 31,536,000`` seconds; options of one underlying with the same
  expiry form one Derive expiry (an *expiry group*), and a group's forward is the forward of the
  first option of the group an account holds (in book column order). Markets give every option of
  one expiry the same forward; :attr:`DeriveColumns.mixed_forward` flags the groups where they
  differ, which the kernels then price position by position.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from solvent.arrays import BoolArray, FloatArray, IntArray
from solvent.errors import SolventInputError
from solvent.instruments.table import KIND_CODES
from solvent.instruments.terms import InstrumentKind
from solvent.margin.protocol import PricedMarket
from solvent.portfolio.book import Book

SECONDS_PER_YEAR = 365.0 * 86400.0
SETTLEMENT_WINDOW_SEC = 1800.0
"""Derive's forward feed: the last 30 minutes before expiry are a TWAP window (fixed part)."""

_SPOT = KIND_CODES[InstrumentKind.SPOT]


@dataclass(frozen=True, slots=True)
class DeriveColumns:
    """Every instrument of a priced market as Derive inputs (one entry per instrument).

    ``spot`` USD index of the instrument's underlying; ``forward`` USD; ``sec`` seconds to expiry
    (options; 0 otherwise); ``group`` the expiry group of an option (-1 otherwise) and
    ``strike_group`` its (expiry group, strike) (-1 otherwise); ``is_perp`` perpetuals and dated
    futures (perpetual-equivalent units ``q F / spot``), ``is_spot`` the base asset.
    Per expiry group: ``group_underlying``, ``group_sec``. Variants (one per option and distinct
    forward of its group): ``variant_offset`` (per instrument, its first variant; -1 for
    non-options), ``forward_rank`` (per instrument, the rank of its own forward among its
    group's), ``variant_column`` and ``variant_forward`` (per variant: the instrument, the
    forward it is priced on). An option on its group's k-th forward is variant
    ``variant_offset + k``.
    """

    names: tuple[str, ...]
    underlyings: tuple[str, ...]
    underlying: IntArray
    underlying_spot: FloatArray
    spot: FloatArray
    is_option: BoolArray
    is_perp: BoolArray
    is_spot: BoolArray
    is_call: BoolArray
    strike: FloatArray
    contract_size: FloatArray
    forward: FloatArray
    vol: FloatArray
    sec: FloatArray
    group: IntArray
    strike_group: IntArray
    group_underlying: IntArray
    group_sec: FloatArray
    variant_offset: IntArray
    forward_rank: IntArray
    variant_column: IntArray
    variant_forward: FloatArray

    @property
    def n_groups(self) -> int:
        return int(self.group_sec.shape[0])

    @property
    def n_strike_groups(self) -> int:
        return int(self.strike_group.max(initial=-1)) + 1

    @classmethod
    def of(cls, market: PricedMarket) -> DeriveColumns:
        """The Derive view of ``market``; refuses an index, forward, strike or vol that no Derive
        manager accepts (naming ``positions[i]``)."""
        table, cols = market.table, market.columns
        n = len(table)
        spot_u = np.array(
            [market.snapshot.price_usd(u, "index") for u in table.underlyings], dtype=np.float64
        )
        u = np.asarray(table.underlying_code, dtype=np.intp)
        spot = spot_u[u] if n else np.zeros(0)
        is_opt = np.asarray(table.is_option, dtype=np.bool_)
        is_spot = np.asarray(table.kind == _SPOT, dtype=np.bool_)
        is_perp = ~is_opt & ~is_spot
        strike = np.where(is_opt, table.strike, 0.0)
        vol = np.where(is_opt, cols.vol, 0.0)
        forward = np.asarray(cols.forward, dtype=np.float64)
        sec = np.where(is_opt, cols.time * SECONDS_PER_YEAR, 0.0)
        for label, values, ok in (
            ("index", spot, np.isfinite(spot) & (spot > 0.0)),
            ("forward", forward, ~is_opt | (np.isfinite(forward) & (forward >= 0.0))),
            ("strike", strike, np.isfinite(strike) & (strike >= 0.0)),
            ("vol", vol, np.isfinite(vol) & (vol >= 0.0)),
            ("expiry", sec, np.isfinite(sec) & (sec >= 0.0)),
        ):
            bad = np.flatnonzero(~ok)
            if bad.size:
                i = int(bad[0])
                raise SolventInputError(
                    f"positions[{i}]", f"{table.names[i]}: {label} {values[i]!r} is not usable"
                )
        opt = np.flatnonzero(is_opt)
        group = np.full(n, -1, dtype=np.intp)
        strike_group = np.full(n, -1, dtype=np.intp)
        g_u = np.zeros(0, dtype=np.intp)
        g_sec = np.zeros(0)
        variant_offset = np.full(n, -1, dtype=np.intp)
        forward_rank = np.zeros(n, dtype=np.intp)
        v_col = np.zeros(0, dtype=np.intp)
        v_fwd = np.zeros(0)
        if opt.size:
            keys = np.stack([u[opt].astype(np.float64), sec[opt]], axis=1)
            uniq, inv = np.unique(keys, axis=0, return_inverse=True)
            inv = inv.reshape(-1)
            group[opt] = inv
            g_u = uniq[:, 0].astype(np.intp)
            g_sec = uniq[:, 1].copy()
            # distinct forwards per group, and each option's rank among its group's
            f_keys = np.stack([inv.astype(np.float64), forward[opt]], axis=1)
            f_uniq, f_inv = np.unique(f_keys, axis=0, return_inverse=True)
            f_group = f_uniq[:, 0].astype(np.intp)
            n_fwd = np.bincount(f_group, minlength=len(uniq))
            first_fwd = np.concatenate([[0], np.cumsum(n_fwd)[:-1]])
            forward_rank[opt] = f_inv.reshape(-1) - first_fwd[inv]
            count = n_fwd[inv]  # variants of each option
            variant_offset[opt] = np.concatenate([[0], np.cumsum(count)[:-1]])
            v_col = np.repeat(opt, count)
            within = np.arange(v_col.size) - np.repeat(variant_offset[opt], count)
            v_fwd = f_uniq[first_fwd[group[v_col]] + within, 1]
            s_keys = np.stack([inv.astype(np.float64), strike[opt]], axis=1)
            _, s_inv = np.unique(s_keys, axis=0, return_inverse=True)
            strike_group[opt] = s_inv.reshape(-1)
        return cls(
            names=tuple(table.names),
            underlyings=tuple(table.underlyings),
            underlying=u,
            underlying_spot=spot_u,
            spot=spot,
            is_option=is_opt,
            is_perp=is_perp,
            is_spot=is_spot,
            is_call=np.asarray(table.is_call, dtype=np.bool_),
            strike=strike,
            contract_size=np.asarray(table.contract_size, dtype=np.float64),
            forward=forward,
            vol=vol,
            sec=sec,
            group=group,
            strike_group=strike_group,
            group_underlying=g_u,
            group_sec=g_sec,
            variant_offset=variant_offset,
            forward_rank=forward_rank,
            variant_column=v_col,
            variant_forward=np.asarray(v_fwd, dtype=np.float64),
        )


def forward_split(forward: FloatArray, sec: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(fixed, variable) parts of each expiry's forward: fixed = F (1800 - s) / 1800 inside the
    settlement window, else 0 (the reference's test-fixture convention); variable = F - fixed."""
    with np.errstate(invalid="ignore"):
        fixed = np.where(
            sec < SETTLEMENT_WINDOW_SEC,
            forward * (SETTLEMENT_WINDOW_SEC - sec) / SETTLEMENT_WINDOW_SEC,
            0.0,
        )
    fixed = np.maximum(fixed, 0.0)
    return fixed, forward - fixed


@dataclass(frozen=True, slots=True)
class BookPositions:
    """Every position of a book as a Derive input, grouped into Derive sub-accounts.

    Per position (in CSR order: by account, then column): ``account``, ``column``, ``quantity``
    (the book's), ``units`` (Derive units: option amount, perpetual-equivalent or base units),
    ``sub`` its sub-account. Per sub-account (sorted by account, then underlying code, as the
    reference builds them): ``sub_account`` and ``sub_underlying``.
    """

    n_accounts: int
    account: IntArray
    column: IntArray
    quantity: FloatArray
    units: FloatArray
    sub: IntArray
    sub_account: IntArray
    sub_underlying: IntArray

    @property
    def n_subs(self) -> int:
        return int(self.sub_account.shape[0])

    @classmethod
    def of(cls, book: Book, cols: DeriveColumns) -> BookPositions:
        """The positions of ``book`` (whose columns are ``cols``); a PMRM sub-account is one
        (account, underlying), a Standard Manager market is the same pair."""
        q = book.quantities
        if not q.has_sorted_indices:
            q = sp.csr_array(q, copy=True)
            q.sort_indices()
        n_acc = q.shape[0]
        account = np.repeat(np.arange(n_acc, dtype=np.intp), np.diff(q.indptr))
        column = np.asarray(q.indices, dtype=np.intp)
        qty = np.asarray(q.data, dtype=np.float64)
        cs = cols.contract_size[column]
        perp = cols.is_perp[column]
        units = np.where(perp, qty * cols.forward[column] / cols.spot[column], qty) * cs
        n_u = max(len(cols.underlyings), 1)
        sub, subs = pair_index(account, cols.underlying[column], n_u)
        return cls(
            n_accounts=n_acc,
            account=account,
            column=column,
            quantity=qty,
            units=units,
            sub=sub,
            sub_account=(subs // n_u).astype(np.intp),
            sub_underlying=(subs % n_u).astype(np.intp),
        )

    def segment(self, index: IntArray, values: FloatArray, n: int) -> FloatArray:
        """Sum ``values`` by ``index`` (0..n-1), in position order."""
        return np.bincount(index, weights=values, minlength=n).astype(np.float64)


def pair_variants(
    cols: DeriveColumns, column: IntArray, pair: IntArray, n_pairs: int
) -> tuple[IntArray, IntArray]:
    """For option positions (``column``) grouped in (sub-account, expiry) ``pair``s: the variant
    each is priced with (its pair's forward is the forward of the pair's lowest column, the first
    in CSR order), and the first position of every pair."""
    _, first = np.unique(pair, return_index=True)
    first_of_pair = np.empty(n_pairs, dtype=np.intp)
    first_of_pair[pair[first]] = first
    rank = cols.forward_rank[column[first_of_pair]]
    return cols.variant_offset[column] + rank[pair], first_of_pair


def pair_index(first: IntArray, second: IntArray, n_second: int) -> tuple[IntArray, IntArray]:
    """Group rows by (first, second): (group of each row, sorted keys ``first * n + second``).

    Groups are numbered in key order. When the key space is small (a few times the rows), a
    presence table replaces the sort."""
    key = first.astype(np.int64) * max(n_second, 1) + second.astype(np.int64)
    if key.size == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.int64)
    space = int(key.max()) + 1
    if space <= 8 * key.size + 1024:
        present = np.zeros(space, dtype=np.bool_)
        present[key] = True
        uniq = np.flatnonzero(present)
        rank = np.cumsum(present) - 1
        return rank[key].astype(np.intp), uniq.astype(np.int64)
    uniq, inv = np.unique(key, return_inverse=True)
    return inv.reshape(-1).astype(np.intp), uniq
