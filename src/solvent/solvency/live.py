"""The proof of liabilities in real time: a tree kept current as balances change, published on a
schedule, serving the latest header and each account's proof (for the HTTP API).

Two snapshots live in memory:

- the *working* snapshot, number ``latest + 1``: its tree follows the ledger, one O(depth) update
  per changed account (:meth:`LiveSolvency.apply`, :meth:`LiveSolvency.refresh`); its nonces and
  leaf order were drawn when it was started;
- the *latest* published snapshot: signed, frozen, what :meth:`latest_header` and :meth:`proof`
  serve.

:meth:`LiveSolvency.publish` signs the working tree as it stands (chained to the latest header),
makes it the latest, and starts the next working snapshot from the same values with fresh nonces
and a fresh shuffle (a full rebuild, O(n): for a large ledger run it in a worker thread, or between
bursts of updates). Net amounts are integers of base units per asset: ``net = balance - debt``.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from solvent.errors import SolventInputError
from solvent.ledger.store import Ledger
from solvent.market.snapshot import MarketSnapshot
from solvent.solvency.liabilities import LEAF_LIMIT, AssetInfo, Liabilities, read_liabilities
from solvent.solvency.publish import Publication, write_publication
from solvent.solvency.reserves import Reserves, solvency_report
from solvent.solvency.snapshot import DEFAULT_DEPTH, Snapshot, build_snapshot, next_number
from solvent.validation import iso_timestamp


def _utc_now() -> datetime:
    return datetime.now(UTC)


class LiveSolvency:
    """A proof of liabilities kept current in memory (see the module docstring).

    ``liabilities``: the starting leaves; ``decimals``: the base-unit decimals of every asset that
    may appear (an asset new to the tree widens it: one rebuild); ``previous``: the last header
    already published (the chain continues from it); ``clock``: the time of each publication
    (default: the wall clock, UTC)."""

    def __init__(
        self,
        liabilities: Liabilities,
        key: Ed25519PrivateKey,
        decimals: Mapping[str, int],
        *,
        previous: Mapping[str, Any] | None = None,
        depth: int = DEFAULT_DEPTH,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.key = key
        self.clock = clock or _utc_now
        self.depth = depth
        self.decimals = dict(decimals)
        self._latest: Snapshot | None = None
        self._previous = dict(previous) if previous is not None else None
        self._working = build_snapshot(liabilities, next_number(previous), depth)

    @classmethod
    def from_ledger(
        cls,
        ledger: Ledger,
        market: MarketSnapshot,
        key: Ed25519PrivateKey,
        *,
        previous: Mapping[str, Any] | None = None,
        depth: int = DEFAULT_DEPTH,
    ) -> LiveSolvency:
        """Start from every account of ``ledger`` (positions marked with ``market``)."""
        decimals = {a.symbol: a.decimals for a in ledger.assets}
        return cls(read_liabilities(ledger, market), key, decimals, previous=previous, depth=depth)

    # --- reading -------------------------------------------------------------------------------

    @property
    def working(self) -> Snapshot:
        """The snapshot being kept current (not yet signed)."""
        return self._working

    def latest_header(self) -> dict[str, Any] | None:
        """The latest signed header (FORMATS 11), or ``None`` before the first publication."""
        return None if self._latest is None else self._latest.header

    def latest(self) -> Snapshot | None:
        """The latest published snapshot."""
        return self._latest

    def proof(self, account: str) -> dict[str, Any]:
        """``account``'s proof in the latest published snapshot (FORMATS 11)."""
        if self._latest is None:
            raise SolventInputError("account", "no snapshot has been published yet")
        return self._latest.proof(account)

    def report(self, reserves: Reserves) -> dict[str, Any]:
        """The solvency report of the latest header against ``reserves``."""
        header = self.latest_header()
        if header is None:
            raise SolventInputError("solvency", "no snapshot has been published yet")
        return solvency_report(header, reserves)

    # --- changing ------------------------------------------------------------------------------

    def apply(self, changes: Mapping[str, Mapping[str, int]]) -> None:
        """Set accounts' net amounts: ``{account: {asset: net base units}}`` gives each listed
        account's complete position per asset (an asset left out is 0; > 0 owed to the account,
        < 0 owed by it). Accounts new to the tree are added. O(depth) hashes per account."""
        symbols = {a.asset for a in self._working.assets}
        new_assets = sorted({s for amounts in changes.values() for s in amounts} - symbols)
        if new_assets:
            self._widen(new_assets)
        snapshot = self._working
        column = {a.asset: j for j, a in enumerate(snapshot.assets)}
        rows = np.zeros((len(changes), 2 * len(column)), dtype=np.int64)
        for r, (account, amounts) in enumerate(changes.items()):
            for asset, units in amounts.items():
                if isinstance(units, bool) or not isinstance(units, int):
                    raise SolventInputError(f"{account}.{asset}", "must be integer base units")
                if abs(units) >= LEAF_LIMIT:
                    raise SolventInputError(f"{account}.{asset}", "beyond 2^63 base units")
                rows[r, 2 * column[asset] + (0 if units >= 0 else 1)] = abs(units)
        known = [r for r, a in enumerate(changes) if a in snapshot.positions]
        names = list(changes)
        snapshot.tree.update([snapshot.positions[names[r]] for r in known], rows[known])
        for r, account in enumerate(names):
            if account not in snapshot.positions:
                nonce = secrets.token_bytes(32)
                snapshot.positions[account] = snapshot.tree.append(
                    account.encode("utf-8"), nonce, rows[r]
                )

    def refresh(
        self, ledger: Ledger, market: MarketSnapshot, accounts: Iterable[str] | None = None
    ) -> None:
        """Re-read ``accounts`` (default: every account; after a market move, every account with
        positions changes) from the ledger, positions marked with ``market``, and apply."""
        fresh = read_liabilities(ledger, market, accounts)
        net = fresh.balances - fresh.debts
        symbols = fresh.symbols
        self.apply(
            {
                account: {s: int(v) for s, v in zip(symbols, row.tolist(), strict=True) if v}
                for account, row in zip(fresh.accounts, net, strict=True)
            }
        )

    def _liabilities(self) -> Liabilities:
        snapshot = self._working
        values = snapshot.tree.leaf_matrix()
        accounts = [a.decode("utf-8") for a in snapshot.tree.accounts]
        return Liabilities(
            snapshot.assets,
            tuple(accounts),
            np.ascontiguousarray(values[:, 0::2]),
            np.ascontiguousarray(values[:, 1::2]),
        )

    def _widen(self, new_assets: list[str]) -> None:
        unknown = [s for s in new_assets if s not in self.decimals]
        if unknown:
            raise SolventInputError("asset", f"unknown asset {unknown[0]!r}")
        current = self._liabilities()
        assets = tuple(
            sorted(
                (*current.assets, *(AssetInfo(s, self.decimals[s]) for s in new_assets)),
                key=lambda a: a.asset,
            )
        )
        where = [
            [a.asset for a in assets].index(s) for s in current.symbols
        ]  # old columns in the new order
        shape = (len(current.accounts), len(assets))
        balances, debts = np.zeros(shape, dtype=np.int64), np.zeros(shape, dtype=np.int64)
        balances[:, where] = current.balances
        debts[:, where] = current.debts
        widened = Liabilities(assets, current.accounts, balances, debts)
        self._working = build_snapshot(widened, self._working.number, self.depth)

    # --- publishing ----------------------------------------------------------------------------

    def publish(self, now: datetime | None = None) -> dict[str, Any]:
        """Sign the working snapshot at ``now`` (default: the injected clock), chained to the latest
        header; it becomes the latest. Then start the next working snapshot. Returns the
        header."""
        moment = now or self.clock()
        previous = self._previous
        if previous is not None and iso_timestamp(previous["time"], "previous.time") >= moment:
            raise SolventInputError("now", "a snapshot must be later than the previous one")
        snapshot = self._working
        header = snapshot.sign(self.key, moment, previous)
        following = build_snapshot(self._liabilities(), snapshot.number + 1, self.depth)
        self._latest, self._previous, self._working = snapshot, header, following
        return header

    def publication(self, reserves: Reserves) -> Publication:
        """The latest snapshot as a :class:`Publication`, its report against ``reserves``."""
        latest, header = self._latest, self.latest_header()
        if latest is None or header is None:
            raise SolventInputError("solvency", "no snapshot has been published yet")
        return Publication(latest, header, solvency_report(header, reserves))


async def publish_periodically(
    live: LiveSolvency,
    every_seconds: float,
    *,
    refresh: Callable[[], None] | None = None,
    out_dir: str | Path | None = None,
    reserves: Callable[[], Reserves] | None = None,
    stop: asyncio.Event | None = None,
    on_header: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    """Publish every ``every_seconds`` until ``stop`` is set: call ``refresh`` first (bring the
    working tree up to date), publish, hand the header to ``on_header`` and, with ``out_dir``,
    write ``out_dir/NUMBER/`` (header, proofs, and the report against ``reserves()``, required
    with ``out_dir``)."""
    if not every_seconds > 0:
        raise SolventInputError("every_seconds", "must be > 0")
    if out_dir is not None and reserves is None:
        raise SolventInputError("reserves", "writing publications needs the reserves")
    stop = stop or asyncio.Event()
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_seconds)
            break
        if refresh is not None:
            refresh()
        header = live.publish()
        if on_header is not None:
            on_header(header)
        if out_dir is not None and reserves is not None:
            publication = live.publication(reserves())
            write_publication(publication, Path(out_dir) / str(header["snapshot"]))
