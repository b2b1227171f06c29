"""Standalone verifier of proofs in the layout of Bybit's proof of liabilities.

Reimplemented from the layout documented by Bybit's open-source verifier
(github.com/bybit-exchange/merkle-proof, MIT licence; no code copied). Like
:mod:`solvent.solvency.verifier` it uses only the standard library (it imports nothing from
Solvent), so it can be audited in one sitting.

The layout: a JSON object ``{"self": {...}, "path": [...]}``. ``self`` is the holder's leaf:
``{"userHash", "hash", "balance": {ASSET: "decimal string"}, "type", "height": 1, ...}``; ``path``
lists the siblings from the leaf up, each ``{"hash", "balance", "height", "type"}``, and ends with
the root (``type`` 3). ``type`` 1 is a left node, 2 a right node. With hashes as lowercase hex
strings and ``+`` string concatenation:

    leaf  = SHA256(userHash + balance strings concatenated in the layout's asset order)
    node  = SHA256(left hash + right hash + sum strings in asset order + str(height))
    sum   = (left + right) per asset, rounded DOWN to 8 decimals, as a plain decimal string

The asset order is the declaration order of the verifier's asset enum, which changed over the years
(renamed and added assets); :data:`LAYOUTS` lists the published ones and a proof is read with the
layout whose assets are exactly its own.

What this layout cannot prove is listed among the checks as ``weakness`` entries (``ok`` false,
not counted in ``valid``): a parent binds only the SUM of its children's balances, not each child's
balances (the summation flaw of Maxwell's original tree), so a venue can show each holder sibling
balances that add up to a smaller total; the format's own verifier does not reject negative
balances; the root is not signed nor tied to a date; the preimages are unseparated decimal
strings; sums are truncated to 8 decimals. This verifier additionally rejects negative balances on
the holder's own path.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal, localcontext
from typing import Any

_BASE = (
    "AGLA APT ATOM AVAX {BIT} BTC {BUSD} {DAI} DOGE DOT DYDX {EOS} ETH {FTM} LTC {MATIC} SOL USDC "
    "USDT XRP"
)
_MORE = (
    "SHIB OP SAND LDO LINK COMP UNI MANA CRV BLUR SUSHI PEPE WLD BEAM AGI FET IMX RENDER GALA "
    "APEX SHRAP USDE"
)


def _layout(base: dict[str, str], more: str = "") -> tuple[str, ...]:
    names = _BASE.format(**base) + " " + more
    return tuple(n for n in names.split() if n != "-")


LAYOUTS: dict[str, tuple[str, ...]] = {
    # Online assets of each published asset enum, in declaration order (BUSD is offline from
    # Asset40V2 on, so it is not part of the hashed balances).
    "Asset20": _layout(
        {"BIT": "BIT", "BUSD": "BUSD", "DAI": "DAI", "EOS": "EOS", "FTM": "FTM", "MATIC": "MATIC"}
    ),
    "Asset40V2": _layout(
        {"BIT": "MNT", "BUSD": "-", "DAI": "-", "EOS": "EOS", "FTM": "FTM", "MATIC": "MATIC"}, _MORE
    ),
    "Asset40V3": _layout(
        {"BIT": "MNT", "BUSD": "-", "DAI": "-", "EOS": "EOS", "FTM": "FTM", "MATIC": "POL"}, _MORE
    ),
    "Asset40V4": _layout(
        {"BIT": "MNT", "BUSD": "-", "DAI": "-", "EOS": "EOS", "FTM": "S", "MATIC": "POL"}, _MORE
    ),
    "Asset40V5": _layout(
        {"BIT": "MNT", "BUSD": "-", "DAI": "-", "EOS": "A", "FTM": "S", "MATIC": "POL"}, _MORE
    ),
    "Asset50": _layout(
        {"BIT": "MNT", "BUSD": "-", "DAI": "-", "EOS": "A", "FTM": "S", "MATIC": "POL"},
        _MORE + " GRAM XAUT HYPE STABLE ENA ARB ASTER ONDO AAVE USD1",
    ),
}
SCALE = Decimal("1E-8")
_JAVA_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
WEAKNESSES = (
    (
        "children_balances_bound",
        "a parent's hash binds only the sum of its children's balances, not each child's: sibling "
        "balances are not authenticated, so the total can be under-reported to each holder",
    ),
    (
        "negative_balances_rejected",
        "the format's own verifier accepts negative balances; only this holder's path is checked "
        "here, the other leaves cannot be",
    ),
    (
        "root_signed",
        "the root carries no signature, date or snapshot id: it is only as good as where it was "
        "read (pin it with --root)",
    ),
    (
        "unambiguous_encoding",
        "leaves and nodes hash unseparated decimal strings with no domain separation",
    ),
    ("exact_sums", "sums are truncated to 8 decimals"),
)


@dataclass(frozen=True, slots=True)
class Check:
    """One check; ``weakness`` marks what the format cannot prove (not counted in validity)."""

    name: str
    ok: bool
    detail: str = ""
    weakness: bool = False


@dataclass(frozen=True, slots=True)
class Verdict:
    """``account`` is the leaf's ``userHash``; ``balances`` its decimal strings as hashed."""

    valid: bool
    account: str | None
    balances: dict[str, str]
    root: str | None
    layout: str | None = None
    checks: list[Check] = field(default_factory=list)

    @property
    def reason(self) -> str | None:
        """The first failed check (weaknesses aside), or ``None`` when valid."""
        for check in self.checks:
            if not check.ok and not check.weakness:
                return f"{check.name}: {check.detail}" if check.detail else check.name
        return None


class FormatError(ValueError):
    """A file that does not have the layout."""


def sha256_hex(text: str) -> str:
    """SHA-256 of the UTF-8 text, 64 lowercase hex characters."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _decimal(text: Any, where: str) -> Decimal:
    if not isinstance(text, str) or not _JAVA_DECIMAL.fullmatch(text):
        raise FormatError(f"{where} must be a decimal string")
    return Decimal(text)


def add_balances(
    left: dict[str, str], right: dict[str, str], assets: tuple[str, ...]
) -> dict[str, str]:
    """Per asset ``left + right`` rounded down to 8 decimals, as plain decimal strings."""
    out = {}
    with localcontext() as ctx:
        ctx.prec = 200
        for asset in assets:
            total = (Decimal(left[asset]) + Decimal(right[asset])).quantize(SCALE, ROUND_DOWN)
            out[asset] = format(abs(total) if total == 0 else total, "f")
    return out


def _node(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise FormatError(f"{where} must be an object")
    digest, balance = raw.get("hash"), raw.get("balance")
    if not isinstance(digest, str) or not digest:
        raise FormatError(f"{where}.hash must be a string")
    if not isinstance(balance, dict) or not balance:
        raise FormatError(f"{where}.balance must be an object of decimal strings")
    for asset, text in balance.items():
        _decimal(text, f"{where}.balance.{asset}")
    for key in ("type", "height"):
        value = raw.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise FormatError(f"{where}.{key} must be an integer")
    return raw


def _pick_layout(assets: set[str]) -> tuple[str, tuple[str, ...]]:
    for name, order in LAYOUTS.items():
        if set(order) == assets:
            return name, order
    raise FormatError(f"no known Bybit asset layout has exactly the assets {sorted(assets)}")


def verify_bybit(document: Any, *, root: str | None = None) -> Verdict:
    """Verify a proof in Bybit's layout; ``root`` pins the root hash the venue published."""
    checks: list[Check] = []
    try:
        if not isinstance(document, dict):
            raise FormatError("the proof must be an object with self and path")
        own = _node(document.get("self"), "self")
        user = own.get("userHash")
        if not isinstance(user, str):
            raise FormatError("self.userHash must be a string")
        raw_path = document.get("path")
        if not isinstance(raw_path, list) or len(raw_path) < 2:
            raise FormatError("path must list the siblings and end with the root")
        path = [_node(p, f"path[{i}]") for i, p in enumerate(raw_path)]
        name, assets = _pick_layout(set(own["balance"]))
        for i, node in enumerate(path):
            if set(node["balance"]) != set(assets):
                raise FormatError(f"path[{i}].balance does not list the leaf's assets")
    except FormatError as exc:
        checks.append(Check("format", False, str(exc)))
        return Verdict(False, None, {}, None, None, checks)
    checks.append(Check("format", True))
    checks.append(Check("layout", True))
    balances = {a: own["balance"][a] for a in assets}
    leaf = sha256_hex(user + "".join(own["balance"][a] for a in assets))
    checks.append(Check("leaf", leaf == own["hash"], "self.hash is not the hash of the leaf"))
    sides_ok = own["type"] in (1, 2) and all(p["type"] in (1, 2) for p in path[:-1])
    sides_ok = sides_ok and path[0]["type"] != own["type"] and path[-1]["type"] == 3
    checks.append(Check("sides", sides_ok, "node types must be 1 (left) or 2 (right), root 3"))
    negative = [
        f"{where}.{a}"
        for where, node in [("self", own)] + [(f"path[{i}]", p) for i, p in enumerate(path)]
        for a in assets
        if Decimal(node["balance"][a]) < 0
    ]
    checks.append(Check("non_negative", not negative, f"negative balance at {negative[:1]}"))
    digest, total, height = own["hash"], balances, 1
    for sibling in path[:-1]:
        left, right = (
            (sibling["hash"], digest) if sibling["type"] == 1 else (digest, sibling["hash"])
        )
        total = add_balances(total, sibling["balance"], assets)
        height += 1
        digest = sha256_hex(left + right + "".join(total[a] for a in assets) + str(height))
    top = path[-1]
    checks.append(Check("root_hash", digest == top["hash"], "the path does not lead to the root"))
    same = all(total[a] == top["balance"][a] for a in assets)
    checks.append(Check("root_balances", same, "the recomputed totals differ from the root's"))
    checks.append(Check("root_height", height == top["height"], f"recomputed height {height}"))
    if root is not None:
        checks.append(Check("pinned_root", top["hash"] == root.lower(), "not the published root"))
    checks = [c if not c.ok else Check(c.name, True) for c in checks]  # details: failures only
    checks += [Check(n, False, d, weakness=True) for n, d in WEAKNESSES]
    valid = all(c.ok for c in checks if not c.weakness)
    return Verdict(valid, user, balances, digest, name, checks)
