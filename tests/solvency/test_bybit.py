"""``verify --format bybit``: Bybit's published sample verifies; proofs built here in that layout
(hashed inline, independently of the verifier) verify; the format's weaknesses are listed and
demonstrated."""

from __future__ import annotations

import copy
import hashlib
import json
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from solvent.cli.main import app
from solvent.solvency.bybit import LAYOUTS, WEAKNESSES, verify_bybit

SAMPLE = Path(__file__).parent / "data" / "bybit_mock_user_merkle_tree_path_40_v5.json"
ASSETS = LAYOUTS["Asset20"]


def h(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def plus(a: dict[str, str], b: dict[str, str]) -> dict[str, str]:
    return {
        k: format((Decimal(a[k]) + Decimal(b[k])).quantize(Decimal("1E-8"), ROUND_DOWN), "f")
        for k in ASSETS
    }


def concat(balance: dict[str, str]) -> str:
    return "".join(balance[a] for a in ASSETS)


def leaf(user: str, btc: str, usdt: str) -> dict[str, Any]:
    balance = {a: "0.00000000" for a in ASSETS} | {"BTC": btc, "USDT": usdt}
    return {"userHash": h(user), "balance": balance, "hash": h(h(user) + concat(balance))}


def build(leaves: list[dict[str, Any]], holder: int) -> dict[str, Any]:
    """A Bybit-layout proof for ``leaves[holder]`` in a tree of 4 leaves (heights 1-3)."""
    level = [{"hash": x["hash"], "balance": x["balance"]} for x in leaves]
    path, index, height = [], holder, 1
    while len(level) > 1:
        sibling = index ^ 1
        path.append({**level[sibling], "height": height, "type": 1 if sibling < index else 2})
        height += 1
        parents = []
        for i in range(0, len(level), 2):
            total = plus(level[i]["balance"], level[i + 1]["balance"])
            text = level[i]["hash"] + level[i + 1]["hash"] + concat(total) + str(height)
            parents.append({"hash": h(text), "balance": total})
        level, index = parents, index // 2
    path.append({**level[0], "height": height, "type": 3})
    own = leaves[holder]
    return {"self": {**own, "height": 1, "type": 2 if holder & 1 else 1}, "path": path}


LEAVES = [
    leaf("alice", "1.50000000", "100.00000000"),
    leaf("bob", "0.25000000", "0.00000000"),
    leaf("carol", "0.00000001", "2500.12345678"),
    leaf("dave", "3.00000000", "7.00000000"),
]


def failed(document: dict[str, Any], **kwargs: Any) -> set[str]:
    return {c.name for c in verify_bybit(document, **kwargs).checks if not c.ok and not c.weakness}


def test_bybit_published_sample_verifies() -> None:
    verdict = verify_bybit(json.loads(SAMPLE.read_text()))
    assert verdict.valid and verdict.layout == "Asset40V5"
    assert verdict.root == "c91d5de0554f97244e4d9f8056fad70fa0cb2cdb23c290ec597a042645dcbc03"
    assert verdict.balances["BTC"] == "6.69365260"
    weaknesses = [c.name for c in verdict.checks if c.weakness]
    assert weaknesses == [name for name, _ in WEAKNESSES]
    assert all(not c.ok for c in verdict.checks if c.weakness)


def test_bybit_sample_through_the_cli() -> None:
    result = CliRunner().invoke(app, ["solvency", "verify", str(SAMPLE), "--format", "bybit"])
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["valid"] is True and out["format"] == "bybit" and out["reason"] is None
    assert {"children_balances_bound", "negative_balances_rejected"} <= {
        c["name"] for c in out["checks"] if c["weakness"]
    }
    pinned = CliRunner().invoke(
        app, ["solvency", "verify", str(SAMPLE), "--format", "bybit", "--root", "ab" * 32]
    )
    assert pinned.exit_code == 1 and json.loads(pinned.stdout)["reason"].startswith("pinned_root")


def test_proofs_built_in_the_layout_verify() -> None:
    for holder in range(4):
        verdict = verify_bybit(build(LEAVES, holder))
        assert verdict.valid, (holder, verdict.reason)
        assert verdict.layout == "Asset20"


def test_tampering_is_caught() -> None:
    proof = build(LEAVES, 2)
    own = copy.deepcopy(proof)
    own["self"]["balance"]["BTC"] = "9.00000000"
    assert "leaf" in failed(own)
    sibling_hash = copy.deepcopy(proof)
    sibling_hash["path"][0]["hash"] = h("x")
    assert "root_hash" in failed(sibling_hash)
    height = copy.deepcopy(proof)
    height["path"][-1]["height"] = 9
    assert failed(height) == {"root_height"}
    sides = copy.deepcopy(proof)
    sides["path"][0]["type"] = sides["self"]["type"]
    assert "sides" in failed(sides)
    unknown = copy.deepcopy(proof)
    unknown["self"]["balance"]["NOPE"] = "1"
    assert failed(unknown) == {"format"}
    java = copy.deepcopy(proof)
    java["self"]["balance"]["BTC"] = "NaN"
    assert failed(java) == {"format"}


def test_the_weaknesses_are_real() -> None:
    """What the layout cannot catch: (1) a venue that shows a holder a shrunk sibling and
    re-hashes upwards passes; (2) a negative sibling (a fake debtor) passes the format's own rules
    and only this verifier's extra check refuses it."""
    shrunk = [
        LEAVES[0],
        LEAVES[1],
        LEAVES[2],
        {**LEAVES[3], "balance": LEAVES[3]["balance"] | {"BTC": "0.00000000"}},
    ]
    cheat = build(shrunk, 2)  # dave's 3 BTC vanish from carol's view; the hashes still chain
    assert verify_bybit(cheat).valid
    honest_root = build(LEAVES, 2)["path"][-1]
    shown, true = cheat["path"][-1]["balance"]["BTC"], honest_root["balance"]["BTC"]
    assert Decimal(true) - Decimal(shown) == 3

    debtor = [*LEAVES[:3], {**LEAVES[3], "balance": LEAVES[3]["balance"] | {"BTC": "-3.00000000"}}]
    assert failed(build(debtor, 2)) == {"non_negative"}
