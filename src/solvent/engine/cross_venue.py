"""Cross-venue what-if: margin per venue alone against margin of the netted portfolio.

A portfolio whose positions sit at several venues (``"venue"``; none: here) is margined twice
under one model, in one call on a book whose rows are the what-ifs (docs/cross-venue.md):

- **per venue**: each venue's positions alone, as that venue's own portfolio margin would see
  them if it used this model; their sum is what the trader posts when nothing nets;
- **netted**: every position in one portfolio, as Solvent margins it;
- **capital saved** = sum of the per-venue requirements - the netted requirement (USD, IM).

Explained per position by Euler allocation: position ``i`` of quantity ``q_i`` takes the share
``c_i = q_i x dIM/dq_i`` of a requirement (a central difference with a relative step of
:data:`STEP`), once inside its venue's portfolio and once inside the netted one; ``saved_usd =
c_i(venue) - c_i(netted)``. For a requirement that scales with the book (worst-case losses, ES,
SIMM's square roots, per-position charges) the shares add up to the requirement, so the
positions' savings add up to the capital saved; ``unexplained_usd`` is what they leave (fixed
floors, concentration terms that do not scale).

Per venue, ``offset_usd = -(IM(a + h b) - IM(a)) / h`` (``a`` the venue's positions, ``b`` every
other position, ``h`` = :data:`STEP`) is how much the other venues' positions lower the venue's
requirement to first order (its worst scenario's P&L of the other positions, for a worst-case
model). For a requirement convex in the positions, ``netted IM >= venue IM - offset_usd`` for
every venue: netting never gives less than the worst single venue minus what the offsets explain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from solvent.arrays import FloatArray
from solvent.errors import SolventInputError
from solvent.margin.protocol import Detail, PricedMarket
from solvent.margin.registry import get_model, resolve_alias
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.book import Book
from solvent.portfolio.portfolio import Portfolio
from solvent.venues.locations import LocationSet, load_locations

STEP = 1e-6
"""Relative step of the finite differences (Euler shares and offsets)."""


@dataclass(frozen=True, slots=True)
class VenueMargin:
    """One venue's positions margined alone (USD); ``venue`` ``None`` is this venue."""

    venue: str | None
    positions: int
    initial_margin_usd: float
    maintenance_margin_usd: float
    offset_usd: float


@dataclass(frozen=True, slots=True)
class PositionSaving:
    """Position ``instrument`` x ``quantity`` at ``venue``: its Euler share of its venue's
    requirement and of the netted one, and the difference (USD, IM)."""

    venue: str | None
    instrument: str
    quantity: float
    venue_margin_usd: float
    netted_margin_usd: float

    @property
    def saved_usd(self) -> float:
        """``venue_margin_usd - netted_margin_usd``."""
        return self.venue_margin_usd - self.netted_margin_usd


@dataclass(frozen=True, slots=True)
class CrossVenue:
    """The what-if of one portfolio (module docstring); USD throughout."""

    account: str
    model: str
    parameters: str
    venues: tuple[VenueMargin, ...]
    netted_initial_margin_usd: float
    netted_maintenance_margin_usd: float
    positions: tuple[PositionSaving, ...]

    @property
    def venues_initial_margin_usd(self) -> float:
        """Sum of the per-venue requirements."""
        return float(sum(v.initial_margin_usd for v in self.venues))

    @property
    def capital_saved_usd(self) -> float:
        """Sum of the per-venue IMs minus the netted IM."""
        return self.venues_initial_margin_usd - self.netted_initial_margin_usd

    @property
    def unexplained_usd(self) -> float:
        """Capital saved that the positions' Euler savings do not account for."""
        return self.capital_saved_usd - float(sum(p.saved_usd for p in self.positions))


def cross_venue(
    portfolio: Portfolio,
    market: MarketSnapshot,
    model: str = "standard",
    params: str | None = None,
    *,
    locations: LocationSet | str | None = None,
) -> CrossVenue:
    """The cross-venue what-if of ``portfolio`` under ``model`` (module docstring). Every venue
    must be a known location; every instrument must be in ``market``."""
    known = locations if isinstance(locations, LocationSet) else load_locations(locations)
    for k, p in enumerate(portfolio.positions):
        if p.venue is not None:
            known.get(p.venue, f"positions[{k}].venue")
    margin_model = get_model(resolve_alias(model, params))
    if not portfolio.positions:
        raise SolventInputError("positions", "no position to compare across venues")
    instruments = tuple(dict.fromkeys(p.instrument for p in portfolio.positions))
    column = {name: j for j, name in enumerate(instruments)}
    venues = tuple(dict.fromkeys(p.venue for p in portfolio.positions))
    n, v = len(portfolio.positions), len(venues)
    cols = np.array([column[p.instrument] for p in portfolio.positions], dtype=np.intp)
    qty = np.array([p.quantity for p in portfolio.positions], dtype=np.float64)
    venue_of = np.array([venues.index(p.venue) for p in portfolio.positions], dtype=np.intp)
    member = venue_of[None, :] == np.arange(v)[:, None]  # (venues, positions)
    # Rows: netted; each venue; offsets (venue + STEP x the others); then per position the
    # netted and its venue's row with that position scaled by (1 + STEP) and (1 - STEP).
    scale = np.ones((1 + 2 * v + 4 * n, n), dtype=np.float64)
    scale[1 : 1 + v] = member
    scale[1 + v : 1 + 2 * v] = np.where(member, 1.0, STEP)
    bump = np.arange(n)
    base = 1 + 2 * v
    bumps = ((False, 1.0 + STEP), (False, 1.0 - STEP), (True, 1.0 + STEP), (True, 1.0 - STEP))
    for block, (venue_only, factor) in enumerate(bumps):
        start = base + block * n
        if venue_only:
            scale[start : start + n] = member[venue_of]  # row i: position i's venue alone
        scale[start + bump, bump] *= factor
    book = Book.from_arrays(
        tuple(f"row-{r}" for r in range(scale.shape[0])),
        instruments,
        np.repeat(np.arange(scale.shape[0], dtype=np.intp), n),
        np.tile(cols, scale.shape[0]),
        (scale * qty[None, :]).reshape(-1),
    )
    loaded = margin_model.load_params(params)
    priced = PricedMarket.resolve(market, instruments)
    prepared = margin_model.prepare(priced, instruments, loaded)
    result = margin_model.margin(prepared, book, detail=Detail.TOTALS)
    im = np.asarray(result.initial_margin_usd, dtype=np.float64)
    mm = np.asarray(result.maintenance_margin_usd, dtype=np.float64)
    euler = _euler(im[base:], n)
    venue_rows = im[1 : 1 + v]
    offsets = -(im[1 + v : 1 + 2 * v] - venue_rows) / STEP
    return CrossVenue(
        account=portfolio.account,
        model=result.model,
        parameters=result.parameters,
        venues=tuple(
            VenueMargin(
                venue=venues[k],
                positions=int(member[k].sum()),
                initial_margin_usd=float(venue_rows[k]),
                maintenance_margin_usd=float(mm[1 + k]),
                offset_usd=float(offsets[k]),
            )
            for k in range(v)
        ),
        netted_initial_margin_usd=float(im[0]),
        netted_maintenance_margin_usd=float(mm[0]),
        positions=tuple(
            PositionSaving(p.venue, p.instrument, p.quantity, float(own), float(net))
            for p, net, own in zip(portfolio.positions, euler[0], euler[1], strict=True)
        ),
    )


def _euler(im: FloatArray, n: int) -> tuple[FloatArray, FloatArray]:
    """Euler shares (netted, venue) from the four blocks of bumped rows: ``(up - down) / (2h)``
    (a position's quantity times the derivative is the derivative along its own scaling)."""
    up, down, venue_up, venue_down = (im[k * n : (k + 1) * n] for k in range(4))
    return (up - down) / (2 * STEP), (venue_up - venue_down) / (2 * STEP)


def cross_venue_json(result: CrossVenue) -> dict[str, Any]:
    """The what-if as one JSON object (docs/formats.md 13, docs/cross-venue.md)."""
    return {
        "account": result.account,
        "model": result.model,
        "parameters": result.parameters,
        "venues": [
            {
                "venue": v.venue,
                "positions": v.positions,
                "initial_margin_usd": v.initial_margin_usd,
                "maintenance_margin_usd": v.maintenance_margin_usd,
                "offset_usd": v.offset_usd,
            }
            for v in result.venues
        ],
        "venues_initial_margin_usd": result.venues_initial_margin_usd,
        "netted": {
            "initial_margin_usd": result.netted_initial_margin_usd,
            "maintenance_margin_usd": result.netted_maintenance_margin_usd,
        },
        "capital_saved_usd": result.capital_saved_usd,
        "positions": [
            {
                "venue": p.venue,
                "instrument": p.instrument,
                "quantity": p.quantity,
                "venue_margin_usd": p.venue_margin_usd,
                "netted_margin_usd": p.netted_margin_usd,
                "saved_usd": p.saved_usd,
            }
            for p in result.positions
        ],
        "unexplained_usd": result.unexplained_usd,
    }


def cross_venue_book(
    portfolios: Sequence[Portfolio],
    market: MarketSnapshot,
    model: str = "standard",
    params: str | None = None,
    *,
    locations: LocationSet | str | None = None,
) -> list[CrossVenue]:
    """:func:`cross_venue` of every portfolio of a book, in input order (each account alone)."""
    if not portfolios:
        raise SolventInputError("accounts", "no account to compare")
    known = locations if isinstance(locations, LocationSet) else load_locations(locations)
    return [cross_venue(p, market, model, params, locations=known) for p in portfolios]
