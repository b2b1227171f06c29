"""Property tests: the verifiers never raise on hostile documents, and any change to a valid
proof or header (a value replaced, a field dropped) makes it invalid."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from solvency_helpers import liabilities, signed
from solvent.solvency.bybit import verify_bybit
from solvent.solvency.snapshot import build_snapshot
from solvent.solvency.verifier import verify_proof

KEY = Ed25519PrivateKey.generate()
SNAPSHOT = build_snapshot(liabilities(n=6), 3, depth=4)
HEADER = signed(SNAPSHOT, KEY)
PROOF = SNAPSHOT.proof("u001")
BYBIT = json.loads(
    (Path(__file__).parent / "data" / "bybit_mock_user_merkle_tree_path_40_v5.json").read_text()
)
HOSTILE = [
    None, True, False, -1, 0, 1, 2**64, 2**128, -(2**200), 1.5, float("nan"), "", "x", "00" * 32,
    "-1", "1E+3", [], {}, [1, 2], {"a": 1},
]  # fmt: skip


def paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += paths(v, (*prefix, i))
    return out


def same(a: Any, b: Any) -> bool:
    """Equal as JSON documents (``False`` is not ``0`` there)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def mutate(doc: Any, data: st.DataObject) -> Any:
    doc = copy.deepcopy(doc)
    path = data.draw(st.sampled_from(paths(doc)))
    node = doc
    for key in path[:-1]:
        node = node[key]
    if data.draw(st.booleans()):
        del node[path[-1]]
    else:
        node[path[-1]] = data.draw(st.sampled_from(HOSTILE))
    return doc


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_a_changed_proof_or_header_is_never_valid(data: st.DataObject) -> None:
    if data.draw(st.booleans()):
        proof, header = mutate(PROOF, data), HEADER
    else:
        proof, header = PROOF, mutate(HEADER, data)
    verdict = verify_proof(proof, header)
    if same(proof, PROOF) and same(header, HEADER):
        assert verdict.valid
    else:
        assert not verdict.valid and verdict.reason


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_a_mutated_bybit_proof_never_raises(data: st.DataObject) -> None:
    document = mutate(BYBIT, data)
    verdict = verify_bybit(document)  # fields outside the hashes (auditId, nonce) may change
    assert isinstance(verdict.valid, bool) and (verdict.valid or verdict.reason)


def test_the_unchanged_documents_are_valid() -> None:
    assert verify_proof(PROOF, HEADER).valid and verify_bybit(BYBIT).valid
