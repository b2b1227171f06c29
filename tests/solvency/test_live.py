"""The real-time proof of liabilities: O(depth) updates, scheduled publication, proofs served."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from solvency_helpers import NOW, T0, liabilities
from solvent.errors import SolventInputError
from solvent.solvency.live import LiveSolvency, publish_periodically
from solvent.solvency.reserves import Reserves
from solvent.solvency.tree import SumTree
from solvent.solvency.verifier import verify_proof

DECIMALS = {"BTC": 8, "ETH": 9, "USDC": 6, "SOL": 9}


def all_valid(live: LiveSolvency, previous: dict | None = None) -> None:
    header = live.latest_header()
    assert header is not None
    latest = live.latest()
    assert latest is not None
    for account in latest.positions:
        verdict = verify_proof(live.proof(account), header, previous=previous)
        assert verdict.valid, (account, verdict.reason)


def test_updates_publish_and_chain(key: Ed25519PrivateKey) -> None:
    start = liabilities()
    live = LiveSolvency(start, key, DECIMALS, depth=10)
    with pytest.raises(SolventInputError):
        live.proof("u001")
    first = live.publish(T0)
    assert first["snapshot"] == 1 and first["previous"] is None
    all_valid(live)
    before = live.proof("u001")

    live.apply({"u001": {"BTC": 5, "USDC": -7}, "new-1": {"ETH": 3}, "@insurance": {"BTC": 10**9}})
    assert live.proof("u001") == before  # the published snapshot does not move
    second = live.publish(T0 + timedelta(seconds=10))
    assert second["snapshot"] == 2
    all_valid(live, previous=first)
    assert live.proof("u001")["balances"] == {"BTC": 5, "ETH": 0, "USDC": 0}
    assert live.proof("u001")["debts"] == {"BTC": 0, "ETH": 0, "USDC": 7}
    assert live.proof("new-1")["balances"]["ETH"] == 3
    assert second["insurance_fund"]["balances"] == {"BTC": 10**9, "ETH": 0, "USDC": 0}

    expected = start.balances.copy()
    rows = {a: i for i, a in enumerate(start.accounts)}
    expected[rows["u001"]] = [5, 0, 0]
    expected[rows["@insurance"]] = [10**9, 0, 0]
    totals = expected.sum(axis=0).tolist()
    totals[1] += 3
    assert list(second["root"]["balances"].values()) == totals
    assert second["root"]["debts"]["USDC"] == 7
    with pytest.raises(SolventInputError):
        live.publish(T0)  # not later than the previous header


def test_incremental_tree_equals_a_rebuilt_one() -> None:
    rng = np.random.default_rng(3)
    n, width = 37, 6
    values = rng.integers(0, 1 << 62, (n, width))
    nonces = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    accounts = [f"a{i}".encode() for i in range(n)]
    live = SumTree(4, 9, values[:30], nonces[:30], accounts[:30])
    for i in range(30, n):
        live.append(accounts[i], nonces[i].tobytes(), values[i])
    for _ in range(5):
        index = rng.integers(0, n, 8)
        new = rng.integers(0, 1 << 62, (8, width))
        live.update(index, new)
        for i, row in zip(index.tolist(), new, strict=True):
            values[i] = row  # the last of repeated indices wins, as in update()
    rebuilt = SumTree(4, 9, values, nonces, accounts)
    assert live.root_hash == rebuilt.root_hash
    assert live.root_values == [int(v) for v in values.sum(axis=0, dtype=object)]
    assert (live.leaf_matrix() == values).all()


def test_a_new_asset_widens_the_tree(key: Ed25519PrivateKey) -> None:
    live = LiveSolvency(liabilities(), key, DECIMALS, depth=10)
    live.apply({"u002": {"SOL": 4}})
    header = live.publish(T0)
    assert [a["asset"] for a in header["assets"]] == ["BTC", "ETH", "SOL", "USDC"]
    assert header["root"]["balances"]["SOL"] == 4
    all_valid(live)
    with pytest.raises(SolventInputError):
        live.apply({"u002": {"NOPE": 1}})
    with pytest.raises(SolventInputError):
        live.apply({"u002": {"BTC": 1 << 63}})


def test_publish_periodically(key: Ed25519PrivateKey, tmp_path: Path) -> None:
    live = LiveSolvency(liabilities(), key, DECIMALS, depth=10)
    headers: list[dict] = []
    refreshed: list[int] = []
    reserves = Reserves(NOW, {"BTC": 10**15}, (), "statement")

    async def main() -> None:
        stop = asyncio.Event()

        def on_header(header: dict) -> None:
            headers.append(header)
            if len(headers) == 3:
                stop.set()

        await publish_periodically(
            live,
            0.01,
            refresh=lambda: refreshed.append(1),
            out_dir=tmp_path,
            reserves=lambda: reserves,
            stop=stop,
            on_header=on_header,
        )

    asyncio.run(main())
    assert [h["snapshot"] for h in headers] == [1, 2, 3] and len(refreshed) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1", "2", "3"]
    assert (tmp_path / "3" / "proofs" / "@insurance.json").exists()
    all_valid(live, previous=headers[1])


def test_a_tree_built_in_chunks_equals_one_updated_leaf_by_leaf() -> None:
    from solvent.solvency.tree import CHUNK

    rng = np.random.default_rng(5)
    n, width = 2 * CHUNK + 3, 4
    values = rng.integers(0, 1 << 40, (n, width))
    nonces = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    accounts = [f"id-{i}".encode() for i in range(n)]  # ids of several lengths
    built = SumTree(2, 18, values, nonces, accounts)
    updated = SumTree(2, 18, np.zeros_like(values), nonces, accounts)
    updated.update(np.arange(n), values)
    assert built.root_hash == updated.root_hash
    assert built.root_values == [int(v) for v in values.sum(axis=0)]
