"""The Merkle sum tree, in memory, built and updated in whole numpy columns.

The byte layout of every hash is :mod:`solvent.solvency.verifier`'s (the one definition holders
audit); this module produces the same bytes in bulk: each level's preimages are laid out as one
``uint8`` matrix (one row per parent: ``0x01 || left hash || left values || right hash || right
values``), and the only per-node Python work left is the SHA-256 call itself.

Values are integers of base units, per asset: ``balance`` (equity net of debt, >= 0) and ``debt``
(>= 0), interleaved as columns ``[balance_0, debt_0, balance_1, debt_1, ...]``. A leaf holds values
below 2^63 (the ledger's own bound); a parent holds the exact sum of its children as two 64-bit
limbs (``hi``, ``lo``), so with a depth of at most 64 no sum can reach 2^127, and the 128-bit
encoding never overflows.

Shape: ``depth`` levels above the leaves; level ``k`` holds ``ceil(n / 2^k)`` nodes; a missing right
child is the padding node (hash 32 zero bytes, values 0). Updates (:meth:`SumTree.update`) touch
only the changed leaves and their ancestors: O(depth) hashes per changed leaf, batched per level.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from solvent.solvency.verifier import (
    HASH_BYTES,
    LEAF_TAG,
    MAX_DEPTH,
    NODE_TAG,
    NONCE_BYTES,
    VALUE_BYTES,
)

U8 = npt.NDArray[np.uint8]
U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
CHUNK = 1 << 15
"""Nodes processed at once when building a level."""
LEAF_VALUE_LIMIT = 1 << 63
"""A leaf value must be below 2^63 (the ledger's 64-bit bound)."""

_sha256 = hashlib.sha256
_LEAF_FIXED = 1 + 8 + 8 + NONCE_BYTES
"""Bytes of a leaf preimage before its values: tag, snapshot, index, nonce."""


def _hash_rows(rows: U8) -> U8:
    """SHA-256 of every row of a ``(n, L)`` byte matrix -> ``(n, 32)``."""
    n, width = rows.shape
    if n == 0:
        return np.zeros((0, HASH_BYTES), dtype=np.uint8)
    view = memoryview(np.ascontiguousarray(rows).data).cast("B")
    digests = b"".join([_sha256(view[o : o + width]).digest() for o in range(0, n * width, width)])
    return np.frombuffer(digests, dtype=np.uint8).reshape(n, HASH_BYTES)


def _values_bytes(values: I64) -> U8:
    """``(k, W)`` leaf values (< 2^63) -> ``(k, 16 W)`` bytes, each value as BE128."""
    k, width = values.shape
    out = np.zeros((k, width, 2), dtype=">u8")
    out[:, :, 1] = values
    return out.view(np.uint8).reshape(k, width * VALUE_BYTES)


def _pair_sums(pairs: U8, side: int) -> U8:
    """Encoded sums of the children laid out in ``pairs`` (``(p, 2 side)``: left block, right
    block, each ``hash || values``) -> ``(p, 16 W)``: exact 128-bit sums as BE128."""
    p = pairs.shape[0]
    limbs = pairs.reshape(p, 2, side)[:, :, HASH_BYTES:].view(">u8")  # (p, 2, 2W) big-endian
    left_lo = limbs[:, 0, 1::2].astype(np.uint64)
    lo = left_lo + limbs[:, 1, 1::2]
    hi = limbs[:, 0, 0::2].astype(np.uint64) + limbs[:, 1, 0::2] + (lo < left_lo)
    out = np.empty((p, lo.shape[1], 2), dtype=">u8")
    out[:, :, 0] = hi
    out[:, :, 1] = lo
    return out.view(np.uint8).reshape(p, -1)


def _decode(data: bytes) -> list[int]:
    return [
        int.from_bytes(data[o : o + VALUE_BYTES], "big") for o in range(0, len(data), VALUE_BYTES)
    ]


class SumTree:
    """A Merkle sum tree of ``n`` leaves and fixed ``depth`` (see the module docstring).

    Leaves are keyed by ``snapshot`` (u64), their position, a 32-byte ``nonce`` and the UTF-8
    account id. ``values`` are ``(n, W)`` non-negative integers below 2^63 (``W`` = 2 x assets,
    balances and debts interleaved).

    Storage: one ``(rows, 32 + 16 W)`` byte block per level, each row a node's ``hash || values``
    exactly as its parent's preimage holds it; rows past a level's count are zero (the padding
    node), and every block has an even number of rows, so the preimages of a level's parents are
    the block itself read two rows at a time."""

    def __init__(
        self,
        snapshot: int,
        depth: int,
        values: npt.ArrayLike,
        nonces: npt.ArrayLike,
        accounts: Sequence[bytes],
    ) -> None:
        vals = np.asarray(values, dtype=np.int64)
        keys = np.asarray(nonces, dtype=np.uint8)
        n = len(accounts)
        if vals.ndim != 2 or vals.shape[0] != n or keys.shape != (n, NONCE_BYTES):
            raise ValueError("values, nonces and accounts must describe the same leaves")
        if not 1 <= depth <= MAX_DEPTH or not 1 <= n <= (1 << depth):
            raise ValueError(f"{n} leaves do not fit a tree of depth {depth}")
        if not 0 <= snapshot < (1 << 64):
            raise ValueError("snapshot must be a 64-bit unsigned integer")
        _check_leaf_values(vals)
        if b"\x00" in b"".join(accounts):
            raise ValueError("an account id holds a NUL byte")
        self.snapshot = snapshot
        self.depth = depth
        self.width = int(vals.shape[1])
        self.side = HASH_BYTES + self.width * VALUE_BYTES
        self.size = n
        self.accounts: list[bytes] = list(accounts)
        self._nonces = np.zeros((_rows(n), NONCE_BYTES), dtype=np.uint8)
        self._nonces[:n] = keys
        self._blocks: list[U8] = []
        self._build(vals)

    # --- shape ---------------------------------------------------------------------------------

    def count(self, level: int) -> int:
        """Nodes at ``level`` (0 = leaves): ``ceil(n / 2^level)``."""
        return -(-self.size // (1 << level))

    # --- building ------------------------------------------------------------------------------

    def _leaf_hashes(self, index: npt.NDArray[np.int64], contiguous: bool = False) -> U8:
        """Hashes of the leaves ``index`` (``contiguous``: a run ``start, start + 1, ...``) from
        their nonces, values (already in the leaf block) and account ids.

        The preimages are laid out as byte matrices, one per length of account id (ids of one
        length share a matrix: fixed part, then the id), so the loop does nothing but hash."""
        k = index.shape[0]
        fixed = _LEAF_FIXED + self.width * VALUE_BYTES
        rows = np.empty((k, fixed), dtype=np.uint8)
        rows[:, 0] = LEAF_TAG[0]
        rows[:, 1:9] = np.frombuffer(self.snapshot.to_bytes(8, "big"), dtype=np.uint8)
        rows[:, 9:17] = index.astype(">u8").view(np.uint8).reshape(k, 8)
        if contiguous and k:
            run = slice(int(index[0]), int(index[0]) + k)
            rows[:, 17:_LEAF_FIXED] = self._nonces[run]
            rows[:, _LEAF_FIXED:] = self._blocks[0][run, HASH_BYTES:]
            ids = np.array(self.accounts[run], dtype=bytes)
        else:
            rows[:, 17:_LEAF_FIXED] = self._nonces[index]
            rows[:, _LEAF_FIXED:] = self._blocks[0][index, HASH_BYTES:]
            ids = np.array([self.accounts[i] for i in index.tolist()], dtype=bytes)
        # ids as a zero-padded byte matrix (ids hold no NUL byte: see __init__), and their lengths
        lengths = np.char.str_len(ids) if ids.dtype.itemsize else np.zeros(k, dtype=np.int64)
        id_bytes = ids.view(np.uint8).reshape(k, ids.dtype.itemsize)
        out = np.empty((k, HASH_BYTES), dtype=np.uint8)
        for length in np.unique(lengths).tolist():
            chosen = np.flatnonzero(lengths == length)
            whole = chosen.shape[0] == k
            preimages = np.empty((chosen.shape[0], fixed + length), dtype=np.uint8)
            preimages[:, :fixed] = rows if whole else rows[chosen]
            preimages[:, fixed:] = id_bytes[:, :length] if whole else id_bytes[chosen, :length]
            out[chosen] = _hash_rows(preimages)
        return out

    def _build(self, values: I64) -> None:
        """Every level, bottom up, in runs of :data:`CHUNK` nodes (the temporaries stay small and
        are reused instead of faulting in hundreds of megabytes per level)."""
        n = self.size
        leaves = np.zeros((_rows(n), self.side), dtype=np.uint8)
        self._blocks = [leaves]
        for start in range(0, n, CHUNK):
            stop = min(n, start + CHUNK)
            leaves[start:stop, HASH_BYTES:] = _values_bytes(values[start:stop])
            run = np.arange(start, stop, dtype=np.int64)
            leaves[start:stop, :HASH_BYTES] = self._leaf_hashes(run, contiguous=True)
        for level in range(self.depth):
            child = self._blocks[level]
            parents = self.count(level + 1)
            block = np.zeros((_rows(child.shape[0] // 2), self.side), dtype=np.uint8)
            for start in range(0, parents, CHUNK):
                stop = min(parents, start + CHUNK)
                pairs = child[2 * start : 2 * stop].reshape(stop - start, 2 * self.side)
                block[start:stop, HASH_BYTES:] = _pair_sums(pairs, self.side)
                block[start:stop, :HASH_BYTES] = self._node_hashes(pairs)
            self._blocks.append(block)

    @staticmethod
    def _node_hashes(pairs: U8) -> U8:
        rows = np.empty((pairs.shape[0], 1 + pairs.shape[1]), dtype=np.uint8)
        rows[:, 0] = NODE_TAG[0]
        rows[:, 1:] = pairs
        return _hash_rows(rows)

    # --- reading -------------------------------------------------------------------------------

    def _value(self, level: int, index: int) -> list[int]:
        return _decode(self._blocks[level][index, HASH_BYTES:].tobytes())

    @property
    def root_hash(self) -> bytes:
        """The root's hash."""
        return self._blocks[self.depth][0, :HASH_BYTES].tobytes()

    @property
    def root_values(self) -> list[int]:
        """The root's values (exact totals), columns as the leaves'."""
        return self._value(self.depth, 0)

    def leaf_hash(self, index: int) -> bytes:
        """The hash of leaf ``index``."""
        return self._blocks[0][index, :HASH_BYTES].tobytes()

    def leaf_values(self, index: int) -> list[int]:
        """The values of leaf ``index``."""
        return self._value(0, index)

    def leaf_matrix(self) -> I64:
        """Every leaf's values, ``(n, W)`` int64 (a copy)."""
        limbs = self._blocks[0][: self.size, HASH_BYTES:].copy().view(">u8")
        return np.ascontiguousarray(limbs[:, 1::2].astype(np.int64))

    def nonce(self, index: int) -> bytes:
        """The nonce of leaf ``index``."""
        return bytes(self._nonces[index].tobytes())

    def path(self, index: int) -> list[tuple[bytes, list[int]]]:
        """The siblings of leaf ``index`` from the leaf up: ``(hash, values)`` each (a sibling
        past the level's count is the padding node: zero hash, zero values)."""
        if not 0 <= index < self.size:
            raise IndexError(f"leaf {index} is not in a tree of {self.size} leaves")
        out: list[tuple[bytes, list[int]]] = []
        for level in range(self.depth):
            row = self._blocks[level][(index >> level) ^ 1].tobytes()
            out.append((row[:HASH_BYTES], _decode(row[HASH_BYTES:])))
        return out

    # --- changing ------------------------------------------------------------------------------

    def update(self, index: npt.ArrayLike, values: npt.ArrayLike) -> None:
        """Set the values of the leaves ``index`` (``(k, W)`` values; the last of repeated
        indices wins) and rehash them and their ancestors: O(depth) hashes per leaf."""
        idx = np.asarray(index, dtype=np.int64).reshape(-1)
        vals = np.asarray(values, dtype=np.int64).reshape(idx.shape[0], self.width)
        if idx.size == 0:
            return
        if idx.min() < 0 or idx.max() >= self.size:
            raise IndexError("a leaf index is outside the tree")
        _check_leaf_values(vals)
        unique, last = np.unique(idx[::-1], return_index=True)
        self._blocks[0][unique, HASH_BYTES:] = _values_bytes(vals[idx.shape[0] - 1 - last])
        self._rehash(unique)

    def append(self, account: bytes, nonce: bytes, values: npt.ArrayLike) -> int:
        """Add a leaf at the end (index ``n``); returns its index. Capacity doubles as needed."""
        vals = np.asarray(values, dtype=np.int64).reshape(1, self.width)
        _check_leaf_values(vals)
        if len(nonce) != NONCE_BYTES:
            raise ValueError("a nonce is 32 bytes")
        if b"\x00" in account:
            raise ValueError("an account id holds a NUL byte")
        if self.size + 1 > (1 << self.depth):
            raise ValueError(f"a tree of depth {self.depth} is full")
        if self.size == self._blocks[0].shape[0]:
            self._grow(2 * self.size)
        index = self.size
        self.size += 1
        self.accounts.append(account)
        self._nonces[index] = np.frombuffer(nonce, dtype=np.uint8)
        self._blocks[0][index, HASH_BYTES:] = _values_bytes(vals)[0]
        self._rehash(np.array([index], dtype=np.int64))
        return index

    def _grow(self, capacity: int) -> None:
        nonces = np.zeros((_rows(capacity), NONCE_BYTES), dtype=np.uint8)
        nonces[: self._nonces.shape[0]] = self._nonces
        self._nonces = nonces
        rows = capacity
        for level, block in enumerate(self._blocks):
            grown = np.zeros((_rows(rows), self.side), dtype=np.uint8)
            grown[: block.shape[0]] = block
            self._blocks[level] = grown
            rows = -(-rows // 2)

    def _rehash(self, leaves: npt.NDArray[np.int64]) -> None:
        self._blocks[0][leaves, :HASH_BYTES] = self._leaf_hashes(leaves)
        index = leaves
        for level in range(self.depth):
            index = np.unique(index >> 1)
            child = self._blocks[level]
            pairs = child.reshape(child.shape[0] // 2, 2 * self.side)[index]
            block = self._blocks[level + 1]
            block[index, HASH_BYTES:] = _pair_sums(pairs, self.side)
            block[index, :HASH_BYTES] = self._node_hashes(pairs)


def _rows(n: int) -> int:
    """Rows of a level block holding ``n`` nodes: even (room for a padding right child), >= 2."""
    return max(2, n + (n & 1))


def _check_leaf_values(values: I64) -> None:
    if values.size and values.min() < 0:
        raise ValueError("a leaf value is negative")
