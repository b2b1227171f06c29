"""A snapshot of the liabilities: the tree, its signed header and every account's proof.

Per snapshot, every account gets a fresh random 32-byte nonce and the leaves are shuffled (a random
permutation from the operating system's generator), so a leaf reveals nothing, cannot be linked to
the same account's leaf in another snapshot and cannot be replayed in one. The insurance fund is a
leaf like the others whose nonce is published in the header, so anyone can recompute its leaf and
check its balances. Documents: FORMATS 11 (docs/formats.md), layout in docs/solvency.md.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from solvent.errors import SolventInputError
from solvent.ledger.model import INSURANCE
from solvent.solvency.keys import public_key_hex
from solvent.solvency.liabilities import AssetInfo, Liabilities
from solvent.solvency.tree import SumTree
from solvent.solvency.verifier import NONCE_BYTES, VERSION, header_hash, header_message
from solvent.validation import iso_utc

DEFAULT_DEPTH = 32
"""Fixed depth of every tree: room for 2^32 leaves; a proof always has 32 siblings, so its length
says nothing about the number of accounts (the header states it)."""


def _vector(symbols: tuple[str, ...], values: list[int]) -> tuple[dict[str, int], dict[str, int]]:
    """Interleaved ``[balance_0, debt_0, ...]`` -> ``({asset: balance}, {asset: debt})``."""
    return dict(zip(symbols, values[0::2], strict=True)), dict(
        zip(symbols, values[1::2], strict=True)
    )


def new_nonces(n: int) -> np.ndarray:
    """``n`` random 32-byte nonces from the operating system."""
    return np.frombuffer(os.urandom(NONCE_BYTES * n), dtype=np.uint8).reshape(n, NONCE_BYTES)


def shuffled(n: int) -> np.ndarray:
    """A uniformly random permutation of ``range(n)`` seeded from the operating system."""
    return np.random.default_rng(secrets.randbits(128)).permutation(n).astype(np.int64)


@dataclass
class Snapshot:
    """One snapshot: the tree over its leaves, and where each account sits.

    ``header`` is the signed FORMATS 11 header (``None`` until :meth:`sign`); ``assets`` gives the
    columns; ``positions[account]`` is the account's leaf index (built on first use)."""

    number: int
    assets: tuple[AssetInfo, ...]
    tree: SumTree
    header: dict[str, Any] | None = None

    @cached_property
    def positions(self) -> dict[str, int]:
        """Account -> leaf index."""
        return {a.decode("utf-8"): i for i, a in enumerate(self.tree.accounts)}

    @property
    def symbols(self) -> tuple[str, ...]:
        """Asset symbols in column order."""
        return tuple(a.asset for a in self.assets)

    def totals(self) -> tuple[dict[str, int], dict[str, int]]:
        """The root's totals: ``({asset: balances}, {asset: debts})`` in base units."""
        return _vector(self.symbols, self.tree.root_values)

    def account_values(self, account: str) -> tuple[dict[str, int], dict[str, int]]:
        """An account's leaf: ``({asset: balance}, {asset: debt})`` in base units."""
        return _vector(self.symbols, self.tree.leaf_values(self._index(account)))

    def _index(self, account: str) -> int:
        try:
            return self.positions[account]
        except KeyError:
            raise SolventInputError("account", f"{account!r} is not in the snapshot") from None

    def proof(self, account: str) -> dict[str, Any]:
        """The FORMATS 11 proof of ``account`` (its nonce, balances, index and siblings)."""
        index = self._index(account)
        balances, debts = self.account_values(account)
        path = []
        for digest, values in self.tree.path(index):
            b, d = _vector(self.symbols, values)
            path.append({"hash": digest.hex(), "balances": b, "debts": d})
        return {
            "version": VERSION,
            "snapshot": self.number,
            "account": account,
            "nonce": self.tree.nonce(index).hex(),
            "balances": balances,
            "debts": debts,
            "index": index,
            "path": path,
        }

    def sign(
        self,
        key: Ed25519PrivateKey,
        time: datetime,
        previous: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Write and sign the header (FORMATS 11) at ``time``, chained to ``previous``."""
        balances, debts = self.totals()
        header: dict[str, Any] = {
            "version": VERSION,
            "snapshot": self.number,
            "time": iso_utc(time),
            "assets": [{"asset": a.asset, "decimals": a.decimals} for a in self.assets],
            "depth": self.tree.depth,
            "leaf_count": self.tree.size,
            "root": {"hash": self.tree.root_hash.hex(), "balances": balances, "debts": debts},
            "previous": None if previous is None else header_hash(previous),
            "public_key": public_key_hex(key),
        }
        if INSURANCE in self.positions:
            fund_balances, fund_debts = self.account_values(INSURANCE)
            index = self.positions[INSURANCE]
            header["insurance_fund"] = {
                "account": INSURANCE,
                "index": index,
                "nonce": self.tree.nonce(index).hex(),
                "balances": fund_balances,
                "debts": fund_debts,
            }
        header["signature"] = key.sign(header_message(header)).hex()
        self.header = header
        return header


def next_number(previous: Mapping[str, Any] | None) -> int:
    """The snapshot number after ``previous`` (1 for the first)."""
    if previous is None:
        return 1
    number = previous.get("snapshot")
    if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number < (1 << 64) - 1:
        raise SolventInputError("previous.snapshot", "must be an unsigned 64-bit integer")
    return number + 1


def build_snapshot(liabilities: Liabilities, number: int, depth: int = DEFAULT_DEPTH) -> Snapshot:
    """The tree of ``liabilities`` for snapshot ``number``: fresh nonces, shuffled leaves."""
    n = len(liabilities.accounts)
    if n == 0:
        raise SolventInputError("ledger", "no account to prove: the tree needs at least one leaf")
    if n > (1 << depth):
        raise SolventInputError("ledger", f"{n} accounts do not fit a tree of depth {depth}")
    order = shuffled(n)  # leaf i holds account order[i]
    joined = "\x00".join(liabilities.accounts)
    if joined.count("\x00") != n - 1:
        raise SolventInputError("ledger", "an account id holds a NUL character")
    ids = np.empty(n, dtype=object)
    ids[:] = joined.encode("utf-8").split(b"\x00")  # every id as UTF-8, in one pass
    tree = SumTree(number, depth, liabilities.values()[order], new_nonces(n), ids[order].tolist())
    return Snapshot(number, liabilities.assets, tree)
