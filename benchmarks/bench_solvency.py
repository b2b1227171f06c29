"""Proof-of-liabilities benchmarks (no asserts; prints timings and ratios against in-run
baselines). Targets of issue 12: build a tree of 1,000,000 accounts x 5 assets in under 10 s
(goal 3 s), verify one proof in under 1 ms, apply 10,000 balance changes in under 1 s.

1. Build: the whole tree (1,000,000 leaves, 10 columns: balance and debt of 5 assets, depth 32),
   against the floor of any Python SHA-256 tree: the bare hashlib calls on the same number of
   preimages of the same sizes, measured in the same run.
2. Verify one proof with the standalone verifier (32 levels, signature included), against the
   same proof's bare hashing (33 SHA-256 calls).
3. 10,000 balance changes applied to the 1,000,000-leaf tree (one batch, O(depth) each), against a
   full rebuild.

Times are CPU seconds of this process (``time.process_time``; the build: the better of two): the
machine is shared, and wall time under load says more about the neighbours than about the code;
the wall time and the load average are printed too.

Run: ``.venv/bin/python -m benchmarks solvency`` (``SOLVENCY_BENCH_N`` sets the tree size).
"""

from __future__ import annotations

import hashlib
import os
import time
from datetime import UTC, datetime

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from solvent.solvency.liabilities import AssetInfo, Liabilities
from solvent.solvency.snapshot import build_snapshot
from solvent.solvency.tree import SumTree
from solvent.solvency.verifier import verify_proof

ASSETS = tuple(
    AssetInfo(s, d) for s, d in (("BTC", 8), ("ETH", 9), ("SOL", 9), ("USDC", 6), ("USDT", 6))
)


def _clock() -> tuple[float, float]:
    return time.process_time(), time.perf_counter()


def _since(started: tuple[float, float]) -> tuple[float, float]:
    cpu, wall = _clock()
    return cpu - started[0], wall - started[1]


def _bare_hashes(count: int, size: int) -> float:
    """Seconds for ``count`` SHA-256 calls on ``size``-byte preimages (the Python floor)."""
    data = os.urandom(size * min(count, 1 << 16))
    view = memoryview(data)
    sha = hashlib.sha256
    chunk = len(data) // size
    start = time.process_time()
    done = 0
    while done < count:
        k = min(chunk, count - done)
        _ = [sha(view[o : o + size]).digest() for o in range(0, k * size, size)]
        done += k
    return time.process_time() - start


def main() -> None:
    n = int(os.environ.get("SOLVENCY_BENCH_N", "1000000"))
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    rng = np.random.default_rng(12)
    balances = rng.integers(0, 10**13, (n, len(ASSETS)), dtype=np.int64)
    debts = np.where(rng.random((n, len(ASSETS))) < 0.01, rng.integers(0, 10**9, (n, 5)), 0)
    balances = np.where(debts > 0, 0, balances)
    accounts = tuple(f"acct-{i:07d}" for i in range(n))
    liabilities = Liabilities(ASSETS, accounts, balances, debts.astype(np.int64))

    build, build_wall = float("inf"), float("inf")
    for _ in range(2):  # the better of two builds: the machine is shared
        start = _clock()
        snapshot = build_snapshot(liabilities, 1, depth=32)
        cpu, wall = _since(start)
        build, build_wall = min(build, cpu), min(build_wall, wall)
    width = 2 * len(ASSETS)
    leaf_size = 1 + 8 + 8 + 32 + 16 * width + 12
    node_size = 1 + 2 * (32 + 16 * width)
    floor = _bare_hashes(n, leaf_size) + _bare_hashes(n, node_size)
    print(
        f"build {n:,} accounts x {len(ASSETS)} assets (depth 32): {build:.2f} s CPU "
        f"({build_wall:.2f} s wall) "
        f"(target < 10 s, goal 3 s); bare SHA-256 of the same preimages {floor:.2f} s, "
        f"ratio {build / floor:.2f}x"
    )

    key = Ed25519PrivateKey.generate()
    header = snapshot.sign(key, datetime.now(UTC))
    proof = snapshot.proof(accounts[n // 2])
    rounds = 300
    start = _clock()
    for _ in range(rounds):
        verdict = verify_proof(proof, header)
    one, one_wall = (t / rounds for t in _since(start))
    assert verdict.valid
    bare = _bare_hashes(33 * rounds, node_size) / rounds
    print(
        f"verify one proof (32 levels, signature): {one * 1e3:.3f} ms CPU "
        f"({one_wall * 1e3:.3f} ms wall; target < 1 ms); "
        f"bare hashing {bare * 1e3:.3f} ms, ratio {one / bare:.1f}x"
    )

    tree: SumTree = snapshot.tree
    changes = 10_000
    index = rng.integers(0, n, changes)
    values = rng.integers(0, 10**13, (changes, width))
    start = _clock()
    tree.update(index, values)
    update, update_wall = _since(start)
    print(
        f"{changes:,} balance changes: {update:.3f} s CPU ({update_wall:.3f} s wall; "
        f"target < 1 s); full rebuild {build:.2f} s, "
        f"{build / update:.0f}x slower"
    )


if __name__ == "__main__":
    main()
