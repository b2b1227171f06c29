"""What a liquidation run did: per account, every step and why; the waterfall's flows.

Signs and units (docs/glossary.md):

- a step's ``quantity`` is the signed trade done by the liquidated account (``> 0`` buys, which
  closes a short); ``price`` and ``mark_price`` are in the instrument's price unit (USD per unit of
  the underlying for futures, perpetuals and spot, linear or inverse; the settlement asset per
  unit for options);
- every ``*_usd`` figure is a float in USD; ``slippage_usd`` and ``fee_usd`` are costs to the
  liquidated account (``> 0`` costs it), ``relief_usd`` is the maintenance margin freed by the
  step (``> 0`` frees margin);
- money that moves between accounts outside a trade is a :class:`Transfer` in exact integer base
  units of its asset (``solvent.collateral.assets``), the form the ledger books.

The outcome is data only; :mod:`solvent.liquidation.units` builds it and
:mod:`solvent.engine.liquidation` renders it (docs/formats.md 10).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from solvent.arrays import FloatArray

INSURANCE_ACCOUNT = "@insurance"
"""The insurance fund's account (a system account of the ledger)."""
VENUE_ACCOUNT = "@venue"
"""The counterparty of every fill into the market (the order book)."""


class Action(StrEnum):
    """What happened to an account, from the least to the most severe."""

    NONE = "none"
    """Healthy (equity >= maintenance margin): never touched."""
    PARTIAL = "partial"
    """Some positions (or slices of them) closed; the account ends at or above its target, or
    still holds positions once nothing left is worth closing."""
    FULL = "full"
    """Every position closed, the account solvent."""
    BANKRUPT = "bankrupt"
    """Equity went (or was) negative: the rest closed at the bankruptcy price and the deficit
    went down the waterfall (insurance fund, auto-deleveraging, socialized loss)."""


class StepKind(StrEnum):
    """How one step traded."""

    SLICE = "slice"
    """Partial policy: a slice of one position into the order book."""
    CLOSE = "close"
    """Full policy: a whole position into the order book."""
    AUCTION = "auction"
    """Auction policy: the account's share of a position sold to a bidder at a discount."""
    BANKRUPTCY = "bankruptcy"
    """A bankrupt account's remaining position closed at its bankruptcy price (against the
    insurance fund, ADL counterparties, or the market with the deficit socialized)."""


class TransferReason(StrEnum):
    """Why money moved outside a trade."""

    LIQUIDATION_FEE = "liquidation_fee"
    """Liquidated account -> insurance fund."""
    INSURANCE_COVER = "insurance_cover"
    """Insurance fund -> bankrupt account (its own deficit), or -> ``@venue`` (the loss it took
    over closing the account's positions at their bankruptcy prices)."""
    SOCIALIZED_LOSS = "socialized_loss"
    """A payer -> the bankrupt account, or ``@venue`` for the loss it took over at the
    bankruptcy price (the payer's share of what was left uncovered)."""
    UNCOVERED_LOSS = "uncovered_loss"
    """``@venue`` -> bankrupt account: a deficit nobody else could bear (the venue's capital)."""


@dataclass(frozen=True, slots=True)
class LiquidationStep:
    """One trade of a liquidation, explained (see the module docstring for units and signs).

    ``maintenance_margin_after_usd`` and ``equity_after_usd`` are the margin unit's (the account,
    or its cross group) after the step, re-margined with its own model. ``cost_usd`` is
    ``slippage_usd + fee_usd``; ``reason`` says in one line why this step was chosen."""

    account: str
    kind: StepKind
    instrument: str
    quantity: float
    price: float
    mark_price: float
    slippage_usd: float
    fee_usd: float
    maintenance_margin_after_usd: float
    equity_after_usd: float
    relief_usd: float
    cost_usd: float
    reason: str


@dataclass(frozen=True, slots=True)
class AdlFill:
    """A counterparty position closed against a bankrupt account at its bankruptcy price.

    ``quantity``: the signed trade done by the counterparty (a long deleveraged sells: ``< 0``);
    ``price``: the bankruptcy price (instrument price unit); ``loss_usd``: what the fill cost the
    counterparty against the mark (``>= 0``); ``against``: the bankrupt account."""

    account: str
    instrument: str
    quantity: float
    price: float
    against: str
    loss_usd: float


@dataclass(frozen=True, slots=True)
class SocializedCharge:
    """One account's share of a loss nobody else covered: ``units`` of ``asset`` (base units,
    ``> 0``) paid to ``against``, the bankrupt account (``amount_usd`` its USD value)."""

    account: str
    asset: str
    units: int
    amount_usd: float
    against: str


@dataclass(frozen=True, slots=True)
class Transfer:
    """A cash movement outside a trade: ``units`` (``> 0``, base units of ``asset``) from
    ``source`` to ``destination``; ``account`` is the liquidated account it belongs to."""

    source: str
    destination: str
    asset: str
    units: int
    reason: TransferReason
    account: str


@dataclass(frozen=True, slots=True)
class AccountOutcome:
    """One account's liquidation.

    ``equity_before_usd``/``maintenance_margin_before_usd``: its margin unit before anything;
    ``target_usd``: the equity the planner aimed at (``MM x (1 + buffer)``, or IM);
    ``deficit_usd``: the negative equity handed to the waterfall (``>= 0``), which
    ``insurance_covered_usd + adl_covered_usd + socialized_usd`` covers (all ``>= 0``), and
    ``uncovered_usd`` what nobody could bear (the venue's own loss)."""

    account: str
    action: Action
    steps: tuple[LiquidationStep, ...]
    equity_before_usd: float
    maintenance_margin_before_usd: float
    target_usd: float
    deficit_usd: float = 0.0
    insurance_covered_usd: float = 0.0
    adl_covered_usd: float = 0.0
    socialized_usd: float = 0.0
    uncovered_usd: float = 0.0


@dataclass(frozen=True, slots=True)
class InsuranceFundFlow:
    """The insurance fund over the run, USD: ``end = start + fees_in - deficits_covered``."""

    start_usd: float
    end_usd: float
    fees_in_usd: float
    deficits_covered_usd: float


@dataclass(frozen=True, slots=True)
class LiquidationOutcome:
    """A whole run: every account in input order (``action`` none included), the fund, the ADL
    fills and socialized charges, every transfer, and the conservation check.

    ``conservation[asset]``: net change, in base units, of the sum of all balances (users, the
    insurance fund and the market counterparty ``@venue``): ``0`` when nothing was created or
    lost. ``assets``/``balances_after``: every account's collateral after the run, its positions'
    P&L since entry settled in (positions are at the mark from then on) (coin,
    ``(accounts, assets)``, input order)."""

    policy: str
    model: str
    parameters: str
    accounts: tuple[AccountOutcome, ...]
    insurance_fund: InsuranceFundFlow
    adl: tuple[AdlFill, ...]
    socialized: tuple[SocializedCharge, ...]
    socialized_loss_usd: float
    transfers: tuple[Transfer, ...]
    conservation: Mapping[str, int]
    assets: tuple[str, ...]
    balances_after: FloatArray

    @property
    def liquidated(self) -> tuple[AccountOutcome, ...]:
        """The accounts something happened to."""
        return tuple(a for a in self.accounts if a.action is not Action.NONE)
