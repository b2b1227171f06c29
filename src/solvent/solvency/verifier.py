"""Standalone verifier of Solvent's proofs of liabilities (docs/solvency.md).

This module is meant to be read and audited in one sitting. It depends only on the Python standard
library and on ``cryptography`` (for Ed25519); it imports nothing else from Solvent, so it can be
copied next to a proof and run on its own (a test enforces this).

What a holder checks with it, from their own proof file and the venue's signed header:

- their leaf, recomputed from their own nonce, account id and balances;
- every parent on the path up to the root: the parent hash binds BOTH children's hashes and BOTH
  children's balance vectors, and each parent's balances are recomputed as the exact sum of its
  children (never read from the proof);
- no value on the path is negative, and no value or sum reaches 2^128 (the encoding's width);
- the depth of the path and the bits of the leaf index against the header (index < leaf_count,
  siblings wholly beyond leaf_count are the padding node, and no other sibling is);
- the recomputed root hash and totals against the header;
- the header's Ed25519 signature (and, optionally, the venue's pinned public key, a pinned root
  hash, the chain to the previous header and the header's age).

Byte layout (all integers big-endian, hashes SHA-256, values in base units of each asset):

    values(v)  = for each asset of header.assets, in order: BE128(balance) || BE128(debt)
    leaf       = SHA256(0x00 || BE64(snapshot) || BE64(index) || nonce[32] || values(leaf)
                        || UTF-8(account))
    node       = SHA256(0x01 || hash(left) || values(left) || hash(right) || values(right))
    padding    = hash 32 x 0x00, every value 0 (the node standing for an empty subtree)
    header msg = b"solvent-solvency-header-v1\\n" || canonical JSON of the header without
                 "signature" (keys sorted, no spaces, ASCII; only strings, integers, lists, objects)
    signature  = Ed25519(header msg);  header hash = SHA256(header msg)  (what "previous" holds)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

VERSION = 1
LEAF_TAG = b"\x00"
NODE_TAG = b"\x01"
HEADER_TAG = b"solvent-solvency-header-v1\n"
VALUE_BYTES = 16
VALUE_LIMIT = 1 << (8 * VALUE_BYTES)
"""Every balance and every sum must be below 2^128 (the width of its encoding)."""
MAX_DEPTH = 64
HASH_BYTES = 32
NONCE_BYTES = 32
PADDING_HASH = bytes(HASH_BYTES)


# --- the hashes ----------------------------------------------------------------------------------


def encode_values(balances: Sequence[int], debts: Sequence[int]) -> bytes:
    """``BE128(balance) || BE128(debt)`` per asset, in the header's asset order."""
    return b"".join(
        [v.to_bytes(VALUE_BYTES, "big") for pair in zip(balances, debts, strict=True) for v in pair]
    )


def leaf_hash(
    snapshot: int,
    index: int,
    nonce: bytes,
    account: str,
    balances: Sequence[int],
    debts: Sequence[int],
) -> bytes:
    """The leaf of ``account``: keyed by its per-snapshot ``nonce``, bound to the snapshot, to
    its position and to its balances; the account id comes last, so its length is implied."""
    return hashlib.sha256(
        LEAF_TAG
        + snapshot.to_bytes(8, "big")
        + index.to_bytes(8, "big")
        + nonce
        + encode_values(balances, debts)
        + account.encode("utf-8")
    ).digest()


def node_hash(left: bytes, left_values: bytes, right: bytes, right_values: bytes) -> bytes:
    """A parent: both children's hashes and both children's encoded balance vectors."""
    return hashlib.sha256(NODE_TAG + left + left_values + right + right_values).digest()


def header_message(header: Mapping[str, Any]) -> bytes:
    """The bytes the venue signs: the header without its signature, canonical JSON."""
    body = {k: v for k, v in header.items() if k != "signature"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return HEADER_TAG + text.encode("ascii")


def header_hash(header: Mapping[str, Any]) -> str:
    """What the next header's ``previous`` holds (hex)."""
    return hashlib.sha256(header_message(header)).hexdigest()


# --- the verdict ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Check:
    """One check and its outcome; ``detail`` says what was found when it failed."""

    name: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    """The result: ``valid`` only when every check passed. ``balances`` and ``debts`` are the
    holder's own (base units per asset), ``root`` the recomputed root hash (hex) if it could be
    recomputed."""

    valid: bool
    account: str | None
    balances: dict[str, int]
    debts: dict[str, int]
    root: str | None
    checks: list[Check] = field(default_factory=list)

    @property
    def reason(self) -> str | None:
        """The first failed check, or ``None`` when valid."""
        for check in self.checks:
            if not check.ok:
                return f"{check.name}: {check.detail}" if check.detail else check.name
        return None


def check(name: str, ok: bool, detail: str = "") -> Check:
    """A :class:`Check`; ``detail`` is kept only when it failed."""
    return Check(name, ok, "" if ok else detail)


class FormatError(ValueError):
    """A proof or header that does not have the documented shape."""


# --- reading the files ---------------------------------------------------------------------------


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FormatError(f"{where} must be an integer")
    return value


def _hex(value: Any, size: int, where: str) -> bytes:
    if not isinstance(value, str) or len(value) != 2 * size or value != value.lower():
        raise FormatError(f"{where} must be {2 * size} lowercase hex characters")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise FormatError(f"{where} must be {2 * size} lowercase hex characters") from None


def _vector(raw: Any, assets: Sequence[str], where: str) -> list[int]:
    if not isinstance(raw, dict) or len(raw) != len(assets):
        raise FormatError(f"{where} must give exactly the header's assets {list(assets)}")
    try:
        values = [raw[a] for a in assets]
    except KeyError:
        raise FormatError(f"{where} must give exactly the header's assets {list(assets)}") from None
    if any(type(v) is not int for v in values):
        raise FormatError(f"{where}: every amount must be an integer")
    return values


def _assets(header: Mapping[str, Any]) -> list[str]:
    raw = header.get("assets")
    if not isinstance(raw, list):
        raise FormatError("header.assets must be a list")
    names = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("asset"), str):
            raise FormatError(f"header.assets[{i}] must be {{asset, decimals}}")
        _int(item.get("decimals"), f"header.assets[{i}].decimals")
        names.append(item["asset"])
    if len(set(names)) != len(names):
        raise FormatError("header.assets lists an asset twice")
    return names


class _Node:
    """A node on the path: its hash, balances and debts (in the header's asset order), and the
    encoding of its values as the parent's preimage holds them."""

    __slots__ = ("balances", "debts", "encoded", "hash")

    def __init__(self, digest: bytes, balances: list[int], debts: list[int], encode: bool) -> None:
        self.hash = digest
        self.balances = balances
        self.debts = debts
        self.encoded = encode_values(balances, debts) if encode else b""

    def values(self) -> list[int]:
        return self.balances + self.debts


def _node(raw: Any, assets: Sequence[str], where: str) -> _Node:
    if not isinstance(raw, dict):
        raise FormatError(f"{where} must be an object")
    return _Node(
        _hex(raw.get("hash"), HASH_BYTES, f"{where}.hash"),
        _vector(raw.get("balances"), assets, f"{where}.balances"),
        _vector(raw.get("debts"), assets, f"{where}.debts"),
        encode=False,
    )


def _time(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise FormatError(f"{where} must be an ISO 8601 time")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise FormatError(f"{where} must be an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise FormatError(f"{where} needs a timezone")
    return moment


def _check_header_shape(header: Any, where: str) -> None:
    if not isinstance(header, dict) or _int(header.get("version"), "version") != VERSION:
        raise FormatError(f"{where} must be an object with version {VERSION}")
    for key in ("snapshot", "depth", "leaf_count"):
        _int(header.get(key), f"{where}.{key}")
    _time(header.get("time"), f"{where}.time")
    _hex(header.get("public_key"), 32, f"{where}.public_key")
    _hex(header.get("signature"), 64, f"{where}.signature")
    if header.get("previous") is not None:
        _hex(header["previous"], HASH_BYTES, f"{where}.previous")
    _node(header.get("root"), _assets(header), f"{where}.root")


# --- the checks ----------------------------------------------------------------------------------


def signature_ok(header: Mapping[str, Any]) -> bool:
    """Whether ``header.signature`` is the Ed25519 signature of the header by
    ``header.public_key``."""
    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(header["public_key"]))
        key.verify(bytes.fromhex(header["signature"]), header_message(header))
    except (InvalidSignature, ValueError, KeyError, TypeError):
        return False
    return True


def _chain(header: Mapping[str, Any], previous: Mapping[str, Any]) -> Check:
    if not signature_ok(previous):
        return check("chain", False, "the previous header's signature is not valid")
    if header.get("previous") != header_hash(previous):
        return check("chain", False, "header.previous is not the hash of the previous header")
    if previous["public_key"] != header["public_key"]:
        return check("chain", False, "the previous header was signed by another key")
    if not previous["snapshot"] < header["snapshot"]:
        return check("chain", False, "the snapshot number does not increase")
    if not _time(previous["time"], "previous.time") < _time(header["time"], "header.time"):
        return check("chain", False, "the header is not later than the previous one")
    return check("chain", True)


def _walk(leaf: _Node, index: int, path: Sequence[_Node]) -> tuple[_Node, list[Check]]:
    """Recompute the root from the leaf and its siblings; the padding check uses the index."""
    node = leaf
    overflow = ""
    for level, sibling in enumerate(path):
        if (index >> level) & 1:
            left, right = sibling, node
        else:
            left, right = node, sibling
        balances = [a + b for a, b in zip(left.balances, right.balances, strict=True)]
        debts = [a + b for a, b in zip(left.debts, right.debts, strict=True)]
        if not overflow and any(v >= VALUE_LIMIT for v in balances + debts):
            overflow = f"a sum reaches 2^128 at level {level + 1}"
            break
        digest = node_hash(left.hash, left.encoded, right.hash, right.encoded)
        node = _Node(digest, balances, debts, encode=True)
    return node, [check("no_overflow", not overflow, overflow)]


def _padding(index: int, leaf_count: int, path: Sequence[_Node]) -> Check:
    """A sibling whose whole subtree lies at or beyond ``leaf_count`` must be the padding node
    (hash zero, values zero); any other sibling must not be."""
    for level, sibling in enumerate(path):
        first_leaf = ((index >> level) ^ 1) << level
        empty = sibling.hash == PADDING_HASH and not any(sibling.values())
        if (first_leaf >= leaf_count) != empty:
            what = "should be" if first_leaf >= leaf_count else "is"
            return check("padding", False, f"the sibling at level {level} {what} padding")
    return check("padding", True)


def verify_proof(
    proof: Any,
    header: Any,
    *,
    previous: Any = None,
    root: str | None = None,
    public_key: str | None = None,
    now: datetime | None = None,
    max_age_seconds: float | None = None,
) -> Verdict:
    """Verify a holder's ``proof`` against the venue's signed ``header`` (both parsed JSON).

    ``previous``: the previous header, to check the chain; ``root``: a root hash the venue
    published elsewhere (pinned); ``public_key``: the venue's key (hex) the holder already knows;
    ``max_age_seconds``: how old the header may be at ``now`` (default: the clock)."""
    checks: list[Check] = []
    try:
        _check_header_shape(header, "header")
        if previous is not None:
            _check_header_shape(previous, "previous")
        assets = _assets(header)
        if not isinstance(proof, dict) or _int(proof.get("version"), "version") != VERSION:
            raise FormatError(f"proof must be an object with version {VERSION}")
        account = proof.get("account")
        if not isinstance(account, str):
            raise FormatError("proof.account must be a string")
        nonce = _hex(proof.get("nonce"), NONCE_BYTES, "proof.nonce")
        index = _int(proof.get("index"), "proof.index")
        snapshot = _int(proof.get("snapshot"), "proof.snapshot")
        if not 0 <= snapshot < 1 << 64:
            raise FormatError("proof.snapshot must be an unsigned 64-bit integer")
        balances = _vector(proof.get("balances"), assets, "proof.balances")
        debts = _vector(proof.get("debts"), assets, "proof.debts")
        raw_path = proof.get("path")
        if not isinstance(raw_path, list):
            raise FormatError("proof.path must be a list")
        path = [_node(p, assets, f"proof.path[{i}]") for i, p in enumerate(raw_path)]
        top = _node(header["root"], assets, "header.root")
    except FormatError as exc:
        checks.append(check("format", False, str(exc)))
        return Verdict(False, None, {}, {}, None, checks)
    checks.append(check("format", True))
    own = dict(zip(assets, balances, strict=True))
    own_debts = dict(zip(assets, debts, strict=True))

    checks.append(check("signature", signature_ok(header), "not signed by header.public_key"))
    if public_key is not None:
        checks.append(
            check("public_key", header["public_key"] == public_key.lower(), "not the venue's key")
        )
    checks.append(
        check(
            "snapshot",
            snapshot == header["snapshot"],
            f"the proof is of snapshot {snapshot}, the header of {header['snapshot']}",
        )
    )
    depth, leaf_count = header["depth"], header["leaf_count"]
    depth_ok = 1 <= depth <= MAX_DEPTH and len(path) == depth
    checks.append(check("depth", depth_ok, f"path of {len(path)} levels, header depth {depth}"))
    index_ok = 0 <= index < leaf_count <= (1 << min(max(depth, 0), MAX_DEPTH))
    checks.append(
        check("index", index_ok, f"index {index} outside the {leaf_count} leaves of depth {depth}")
    )
    every_value = balances + debts + [v for n in path for v in n.values()] + top.values()
    negative = [v for v in every_value if v < 0]
    checks.append(check("non_negative", not negative, f"negative value {min(negative or [0])}"))
    too_big = any(v >= VALUE_LIMIT for v in every_value)
    recomputed: str | None = None
    if negative or too_big or not depth_ok or not index_ok:
        checks.append(check("no_overflow", not too_big, "a value reaches 2^128"))
        checks.append(check("root_hash", False, "not recomputed: the checks above failed"))
    else:
        checks.append(_padding(index, leaf_count, path))
        leaf = _Node(
            leaf_hash(snapshot, index, nonce, account, balances, debts), balances, debts, True
        )
        for sibling in path:  # values checked in range above: now encode them
            sibling.encoded = encode_values(sibling.balances, sibling.debts)
        computed, overflow = _walk(leaf, index, path)
        checks += overflow
        if overflow[0].ok:
            recomputed = computed.hash.hex()
            checks.append(
                check("root_hash", computed.hash == top.hash, "the path does not lead to the root")
            )
            checks.append(
                check(
                    "root_balances",
                    computed.values() == top.values(),
                    "the recomputed totals differ from the header's",
                )
            )
        else:
            checks.append(check("root_hash", False, "not recomputed: overflow"))
    if root is not None:
        checks.append(check("pinned_root", header["root"]["hash"] == root.lower(), "not the root"))
    if previous is not None:
        checks.append(_chain(header, previous))
    if max_age_seconds is not None:
        age = ((now or datetime.now(UTC)) - _time(header["time"], "header.time")).total_seconds()
        checks.append(
            check("fresh", -60 <= age <= max_age_seconds, f"the header is {age:.0f} s old")
        )
    fund = header.get("insurance_fund")
    if isinstance(fund, dict) and fund.get("account") == account:
        same = (
            fund.get("nonce") == proof["nonce"]
            and fund.get("index") == index
            and fund.get("balances") == own
            and fund.get("debts") == own_debts
        )
        checks.append(check("insurance_fund", same, "differs from the header's insurance fund"))
    valid = all(c.ok for c in checks)
    return Verdict(valid, account, own, own_debts, recomputed, checks)
