"""Every attack of issue 12 on a proof of liabilities fails verification, each on its own check.

A cheating venue holds the signing key, so most attacks below re-sign a doctored header: what
catches them is the arithmetic a holder redoes, not the signature.
"""

from __future__ import annotations

import copy
import hashlib
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from solvency_helpers import NOW, T0, liabilities, signed
from solvent.solvency import verifier
from solvent.solvency.snapshot import Snapshot, build_snapshot
from solvent.solvency.verifier import header_hash, header_message, verify_proof


def failed(verdict: verifier.Verdict) -> set[str]:
    return {c.name for c in verdict.checks if not c.ok}


def resign(header: dict[str, Any], key: Ed25519PrivateKey, **changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(header) | changes
    out["signature"] = key.sign(header_message(out)).hex()
    return out


def _enc(node: dict[str, Any], assets: list[str], signed_values: bool = False) -> bytes:
    return b"".join(
        node[kind][a].to_bytes(16, "big", signed=signed_values)
        for a in assets
        for kind in ("balances", "debts")
    )


def recompute_root(
    proof: dict[str, Any], header: dict[str, Any], *, leaf: bytes | None = None, signed_values=False
) -> tuple[str, dict[str, int], dict[str, int]]:
    """The root a (possibly cheating) venue gets from ``proof``'s leaf and path; with
    ``signed_values`` negative values are encoded in two's complement (a venue hiding a debtor)."""
    assets = [a["asset"] for a in header["assets"]]
    own = {"balances": proof["balances"], "debts": proof["debts"]}
    digest = leaf or verifier.leaf_hash(
        proof["snapshot"],
        proof["index"],
        bytes.fromhex(proof["nonce"]),
        proof["account"],
        [own["balances"][a] for a in assets],
        [own["debts"][a] for a in assets],
    )
    node = {"hash": digest.hex(), **own}
    for level, sibling in enumerate(proof["path"]):
        left, right = (sibling, node) if (proof["index"] >> level) & 1 else (node, sibling)
        digest = hashlib.sha256(
            b"\x01"
            + bytes.fromhex(left["hash"])
            + _enc(left, assets, signed_values)
            + bytes.fromhex(right["hash"])
            + _enc(right, assets, signed_values)
        ).digest()
        node = {
            "hash": digest.hex(),
            "balances": {a: left["balances"][a] + right["balances"][a] for a in assets},
            "debts": {a: left["debts"][a] + right["debts"][a] for a in assets},
        }
    return node["hash"], node["balances"], node["debts"]


def first(snapshot: Snapshot) -> str:
    """The account at leaf 0: its siblings on levels 0-3 are real nodes (11 leaves)."""
    return next(a for a, i in snapshot.positions.items() if i == 0)


def test_every_honest_proof_verifies(published: tuple[Snapshot, dict[str, Any]]) -> None:
    snapshot, header = published
    for account in snapshot.positions:
        verdict = verify_proof(snapshot.proof(account), header, now=NOW, max_age_seconds=3600)
        assert verdict.valid, (account, verdict.reason)
        assert verdict.root == header["root"]["hash"]
    names = [c.name for c in verify_proof(snapshot.proof("@insurance"), header).checks]
    assert "insurance_fund" in names and "padding" in names


def test_recomputed_by_an_independent_walk(published: tuple[Snapshot, dict[str, Any]]) -> None:
    snapshot, header = published
    root, balances, debts = recompute_root(snapshot.proof("u003"), header)
    assert (root, balances, debts) == (
        header["root"]["hash"],
        header["root"]["balances"],
        header["root"]["debts"],
    )
    assert balances["BTC"] == int(liabilities().balances[:, 0].sum())


def test_tampered_sibling_hash(published: tuple[Snapshot, dict[str, Any]]) -> None:
    snapshot, header = published
    proof = snapshot.proof(first(snapshot))
    digest = proof["path"][2]["hash"]
    proof["path"][2]["hash"] = format(int(digest[0], 16) ^ 1, "x") + digest[1:]
    assert "root_hash" in failed(verify_proof(proof, header))


def test_tampered_sibling_balance(published: tuple[Snapshot, dict[str, Any]]) -> None:
    snapshot, header = published
    proof = snapshot.proof(first(snapshot))
    proof["path"][1]["balances"]["BTC"] -= 1
    assert {"root_hash", "root_balances"} <= failed(verify_proof(proof, header))


def test_tampered_own_balance(published: tuple[Snapshot, dict[str, Any]]) -> None:
    snapshot, header = published
    proof = snapshot.proof("u004")
    proof["balances"]["USDC"] += 1
    assert "root_hash" in failed(verify_proof(proof, header))


def test_maxwell_under_reported_total(
    published: tuple[Snapshot, dict[str, Any]], key: Ed25519PrivateKey
) -> None:
    """The venue keeps honest hashes but signs a smaller total than the children's sum."""
    snapshot, header = published
    root = copy.deepcopy(header["root"])
    root["balances"]["ETH"] -= 10**9
    cheat = resign(header, key, root=root)
    verdict = verify_proof(snapshot.proof("u000"), cheat)
    assert failed(verdict) == {"root_balances"}


def test_maxwell_fabricated_sibling_sums(key: Ed25519PrivateKey) -> None:
    """Hu/Zhang/Guo: the venue shows each holder a sibling sum shrunk so that the total looks
    smaller, and signs the root one holder recomputes. Because a parent binds both children's
    values, the other holder's path leads elsewhere: caught."""
    snapshot = build_snapshot(liabilities(n=2), 9, depth=1)
    header = signed(snapshot, key)
    first, second = (snapshot.proof(a) for a in sorted(snapshot.positions))
    shrunk = copy.deepcopy(first)
    shrunk["path"][0]["balances"] = {a: 0 for a in shrunk["balances"]}
    root, balances, debts = recompute_root(shrunk, header)
    cheat = resign(header, key, root={"hash": root, "balances": balances, "debts": debts})
    assert verify_proof(shrunk, cheat).valid  # the holder shown the shrunk sibling is fooled...
    assert "root_hash" in failed(verify_proof(second, cheat))  # ...the other one is not


def test_negative_node_value(
    published: tuple[Snapshot, dict[str, Any]], key: Ed25519PrivateKey
) -> None:
    """A fake debtor: a negative sibling, hashed consistently (two's complement) and signed."""
    snapshot, header = published
    proof = snapshot.proof(first(snapshot))
    proof["path"][0]["balances"]["BTC"] = -(10**12)
    root, balances, debts = recompute_root(proof, header, signed_values=True)
    cheat = resign(header, key, root={"hash": root, "balances": balances, "debts": debts})
    verdict = verify_proof(proof, cheat)
    assert "non_negative" in failed(verdict) and not verdict.valid


def test_value_beyond_128_bits(published: tuple[Snapshot, dict[str, Any]]) -> None:
    snapshot, header = published
    proof = snapshot.proof("u005")
    proof["path"][3]["debts"]["ETH"] = 1 << 128
    assert "no_overflow" in failed(verify_proof(proof, header))


def test_sum_overflow_on_the_path(published: tuple[Snapshot, dict[str, Any]]) -> None:
    snapshot, header = published
    proof = snapshot.proof(first(snapshot))
    proof["path"][0]["debts"]["ETH"] = (1 << 128) - 1
    proof["path"][1]["debts"]["ETH"] = (1 << 128) - 1
    assert "no_overflow" in failed(verify_proof(proof, header))


def test_wrong_index_bits(published: tuple[Snapshot, dict[str, Any]]) -> None:
    snapshot, header = published
    proof = snapshot.proof("u006")
    proof["index"] ^= 1
    if proof["index"] >= header["leaf_count"]:
        proof["index"] ^= 2
    assert "root_hash" in failed(verify_proof(proof, header))
    proof["index"] = header["leaf_count"]
    assert "index" in failed(verify_proof(proof, header))


def test_wrong_depth(published: tuple[Snapshot, dict[str, Any]], key: Ed25519PrivateKey) -> None:
    snapshot, header = published
    proof = snapshot.proof("u007")
    short = copy.deepcopy(proof)
    short["path"].pop()
    assert "depth" in failed(verify_proof(short, header))
    deeper = resign(header, key, depth=header["depth"] + 1)
    assert "depth" in failed(verify_proof(proof, deeper))


def test_hidden_accounts_break_the_padding(
    published: tuple[Snapshot, dict[str, Any]], key: Ed25519PrivateKey
) -> None:
    """A header claiming fewer leaves than the tree holds: the last holders see a real sibling
    where padding should be."""
    snapshot, header = published
    fewer = resign(header, key, leaf_count=header["leaf_count"] - 2)
    last = max(snapshot.positions, key=lambda a: snapshot.positions[a])
    kept = min(snapshot.positions, key=lambda a: abs(snapshot.positions[a] - 8))
    assert "index" in failed(verify_proof(snapshot.proof(last), fewer))
    assert snapshot.positions[kept] == 8
    assert "padding" in failed(verify_proof(snapshot.proof(kept), fewer))


def test_fake_padding(published: tuple[Snapshot, dict[str, Any]]) -> None:
    snapshot, header = published
    proof = snapshot.proof("u001")
    proof["path"][-1] = {
        "hash": "11" * 32,
        "balances": dict.fromkeys(proof["balances"], 0),
        "debts": dict.fromkeys(proof["balances"], 0),
    }
    assert "padding" in failed(verify_proof(proof, header))


def test_stale_snapshot(key: Ed25519PrivateKey) -> None:
    old = build_snapshot(liabilities(), 5, depth=8)
    old_header = signed(old, key)
    new = build_snapshot(liabilities(seed=8), 6, depth=8)
    new_header = signed(new, key, T0 + timedelta(hours=1), old_header)
    verdict = verify_proof(old.proof("u001"), new_header)
    assert {"snapshot", "root_hash"} <= failed(verdict)
    late = T0 + timedelta(days=3)
    stale = verify_proof(old.proof("u001"), old_header, now=late, max_age_seconds=86_400)
    assert failed(stale) == {"fresh"}


def test_forged_signature(
    published: tuple[Snapshot, dict[str, Any]], key: Ed25519PrivateKey
) -> None:
    snapshot, header = published
    proof = snapshot.proof("u001")
    doctored = copy.deepcopy(header)
    doctored["leaf_count"] += 1
    assert "signature" in failed(verify_proof(proof, doctored))
    impostor = Ed25519PrivateKey.generate()
    forged = copy.deepcopy(header)
    forged["public_key"] = impostor.public_key().public_bytes_raw().hex()
    forged["signature"] = impostor.sign(header_message(forged)).hex()
    assert verify_proof(proof, forged).valid  # self-consistent...
    pinned = verify_proof(proof, forged, public_key=header["public_key"])
    assert failed(pinned) == {"public_key"}  # ...but not the venue's key
    bad = copy.deepcopy(header)
    bad["signature"] = "00" * 64
    assert "signature" in failed(verify_proof(proof, bad))


def test_header_chain(key: Ed25519PrivateKey) -> None:
    first = build_snapshot(liabilities(), 5, depth=8)
    first_header = signed(first, key)
    second = build_snapshot(liabilities(seed=9), 6, depth=8)
    second_header = signed(second, key, T0 + timedelta(hours=1), first_header)
    proof = second.proof("u000")
    assert second_header["previous"] == header_hash(first_header)
    assert verify_proof(proof, second_header, previous=first_header).valid

    broken = resign(second_header, key, previous="ab" * 32)
    assert failed(verify_proof(proof, broken, previous=first_header)) == {"chain"}
    other = Ed25519PrivateKey.generate()
    foreign = resign(first_header, other, public_key=other.public_key().public_bytes_raw().hex())
    relinked = resign(second_header, key, previous=header_hash(foreign))
    assert failed(verify_proof(proof, relinked, previous=foreign)) == {"chain"}
    backwards = resign(second_header, key, snapshot=5)
    assert "chain" in failed(verify_proof(proof, backwards, previous=first_header))


def test_leaf_moved_between_snapshots(key: Ed25519PrivateKey) -> None:
    """The venue copies a holder's leaf from snapshot 5 into snapshot 6 (where the holder's
    balance fell) and signs the resulting root: the holder's snapshot-6 leaf is keyed with
    snapshot 6 and recomputes to another hash."""
    old = build_snapshot(liabilities(), 5, depth=8)
    signed(old, key)
    new = build_snapshot(liabilities(), 6, depth=8)
    header = signed(new, key, T0 + timedelta(hours=1))
    moved = new.proof("u003")
    moved_leaf = old.tree.leaf_hash(old.positions["u003"])
    root, balances, debts = recompute_root(moved, header, leaf=moved_leaf)
    cheat = resign(header, key, root={"hash": root, "balances": balances, "debts": debts})
    assert "root_hash" in failed(verify_proof(moved, cheat))
    replayed = old.proof("u003")  # the old proof as a whole, against the new header
    assert {"snapshot", "root_hash"} <= failed(verify_proof(replayed, header))


def test_two_accounts_cannot_share_a_leaf(published: tuple[Snapshot, dict[str, Any]]) -> None:
    """Same balances, same nonce, same index: the account id is in the leaf."""
    snapshot, header = published
    proof = snapshot.proof("u002")
    proof["account"] = "u009"
    assert "root_hash" in failed(verify_proof(proof, header))


def test_insurance_fund_published(
    published: tuple[Snapshot, dict[str, Any]], key: Ed25519PrivateKey
) -> None:
    snapshot, header = published
    fund = header["insurance_fund"]
    proof = snapshot.proof("@insurance")
    assert fund["nonce"] == proof["nonce"] and fund["balances"] == proof["balances"]
    richer = copy.deepcopy(header)
    richer["insurance_fund"]["balances"]["BTC"] += 1
    richer = resign(richer, key)
    assert failed(verify_proof(proof, richer)) == {"insurance_fund"}


def test_pinned_root(published: tuple[Snapshot, dict[str, Any]]) -> None:
    snapshot, header = published
    proof = snapshot.proof("u001")
    assert verify_proof(proof, header, root=header["root"]["hash"].upper()).valid
    assert failed(verify_proof(proof, header, root="ab" * 32)) == {"pinned_root"}


def test_malformed_documents_are_invalid_not_errors(
    published: tuple[Snapshot, dict[str, Any]],
) -> None:
    snapshot, header = published
    proof = snapshot.proof("u001")
    for bad in (
        {**proof, "nonce": "zz"},
        {**proof, "balances": {"BTC": 1}},
        {**proof, "index": True},
        {**proof, "path": "x"},
        {**proof, "version": 2},
        [],
    ):
        verdict = verify_proof(bad, header)
        assert not verdict.valid and failed(verdict) == {"format"}
    assert failed(verify_proof(proof, {**header, "time": "yesterday"})) == {"format"}
